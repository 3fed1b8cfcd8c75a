//! Tagging: the stage's tags onto any kind of resource a deploy makes, through one call.

use std::collections::{BTreeMap, HashMap};

use super::{Aws, AwsError, SdkResultExt, events, iam, sfn};

/// A resource to tag, by the handle its service tags it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged<'a> {
    /// An IAM role, by name.
    Role(&'a str),
    /// A Lambda function, by ARN.
    Function(&'a str),
    /// A CloudWatch log group, by ARN (without the `:*` suffix).
    LogGroup(&'a str),
    /// An EventBridge rule, by ARN.
    Rule(&'a str),
    /// A Step Functions activity or state machine, by ARN.
    StepFunctions(&'a str),
    /// An API Gateway REST API, usage plan or API key, by ARN.
    ApiGateway(&'a str),
}

impl Aws {
    /// Adds (or overwrites) `tags` on `resource`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn tag(
        &self,
        resource: Tagged<'_>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let map = || -> HashMap<String, String> { tags.clone().into_iter().collect() };
        match resource {
            Tagged::Role(name) => self
                .iam
                .tag_role()
                .role_name(name)
                .set_tags(Some(iam::tags(tags)))
                .send()
                .await
                .map(drop)
                .context("IAM", "TagRole", format!("role {name}")),
            Tagged::Function(arn) => self
                .lambda
                .tag_resource()
                .resource(arn)
                .set_tags(Some(map()))
                .send()
                .await
                .map(drop)
                .context("Lambda", "TagResource", format!("function {arn}")),
            Tagged::LogGroup(arn) => self
                .logs
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(map()))
                .send()
                .await
                .map(drop)
                .context("CloudWatch Logs", "TagResource", format!("log group {arn}")),
            Tagged::Rule(arn) => self
                .events
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(events::tags(tags)))
                .send()
                .await
                .map(drop)
                .context("EventBridge", "TagResource", format!("rule {arn}")),
            Tagged::StepFunctions(arn) => self
                .sfn
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(sfn::tags(tags)))
                .send()
                .await
                .map(drop)
                .context("Step Functions", "TagResource", arn),
            Tagged::ApiGateway(arn) => self
                .apigateway
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(map()))
                .send()
                .await
                .map(drop)
                .context("API Gateway", "TagResource", arn),
        }
    }
}
