//! S3: the bucket that carries code zips over Lambda's 50 MB direct-upload limit.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use super::{Aws, AwsError, AwsResultExt, SdkResultExt};

impl Aws {
    /// Whether bucket `bucket` exists (and is ours to use).
    ///
    /// # Errors
    /// When the call fails for another reason than "not found".
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, AwsError> {
        let result = self.s3.head_bucket().bucket(bucket).send().await;
        match result.context("S3", "HeadBucket", format!("bucket {bucket}")) {
            Ok(_) => Ok(true),
            // HeadBucket has no body: a 404 arrives without a code.
            Err(err) if err.is_not_found() || err.message.contains("NotFound") => Ok(false),
            Err(err) => Err(err),
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
        call.send()
            .await
            .context("S3", "CreateBucket", format!("bucket {bucket}"))
            .unless_code("BucketAlreadyOwnedByYou")
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
            .context("S3", "PutObject", format!("s3://{bucket}/{key}"))?;
        Ok(())
    }

    /// Deletes object `key` of `bucket` (gone already is fine; the bucket stays: other stages
    /// share it).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .context("S3", "DeleteObject", format!("s3://{bucket}/{key}"))
            .gone_is_fine()
    }
}
