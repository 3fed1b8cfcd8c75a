//! S3: the bucket that carries code zips over Lambda's 50 MB direct-upload limit.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use super::{Aws, AwsError, gone_is_fine};

impl Aws {
    /// Whether bucket `bucket` exists (and is ours to use).
    ///
    /// # Errors
    /// When the call fails for another reason than "not found".
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, AwsError> {
        match self.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = AwsError::from_sdk("S3", "HeadBucket", format!("bucket {bucket}"), e);
                // HeadBucket has no body: a 404 arrives without a code.
                if err.is_not_found() || err.message.contains("NotFound") {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Creates bucket `bucket` in this client's region.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        let mut call = self.s3.create_bucket().bucket(bucket);
        if self.region != "us-east-1" {
            call = call.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        let result = call
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("S3", "CreateBucket", format!("bucket {bucket}"), e));
        AwsError::unless_code(result, "BucketAlreadyOwnedByYou")
    }

    /// Uploads `bytes` as `bucket/key` unless that key already exists (keys carry the zip's
    /// hash, so an existing key has the same bytes).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn upload_if_absent(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
    ) -> Result<(), AwsError> {
        if self
            .s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await
            .map_err(|e| {
                AwsError::from_sdk("S3", "PutObject", format!("s3://{bucket}/{key}"), e)
            })?;
        Ok(())
    }

    /// Deletes object `key` of `bucket` (gone already is fine; the bucket stays: other stages
    /// share it).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.s3
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    AwsError::from_sdk("S3", "DeleteObject", format!("s3://{bucket}/{key}"), e)
                }),
        )
    }
}
