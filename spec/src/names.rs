//! The names and ARNs of one stage's resources, derived from the app, the stage, the region
//! and the account alone — so the deploy planner can compare before anything exists, `delete`,
//! `url` and `invoke` find the same resources again, and the local cloud names its activities,
//! state machines and functions exactly as a deployed stage does.

/// The names of one stage's resources: `<app>-<stage>-…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `app.name`.
    pub app: String,
    /// The stage.
    pub stage: String,
}

impl Names {
    /// `<app>-<stage>`: the REST API.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.app, self.stage)
    }

    /// The one execution role every function shared before each got its own: a redeploy
    /// removes it (when it carries the stage's tags), `delete` too.
    pub fn shared_role(&self) -> String {
        self.prefix()
    }

    /// The execution role of entry point `entry`'s function (named like the function).
    pub fn function_role(&self, entry: &str) -> String {
        self.function(entry)
    }

    /// The state machines' role.
    pub fn states_role(&self) -> String {
        format!("{}-states", self.prefix())
    }

    /// The function of entry point `entry` (`api` or a schedule).
    pub fn function(&self, entry: &str) -> String {
        format!("{}-{entry}", self.prefix())
    }

    /// A function's log group.
    pub fn log_group(&self, entry: &str) -> String {
        format!("/aws/lambda/{}", self.function(entry))
    }

    /// The REST API.
    pub fn rest_api(&self) -> String {
        self.prefix()
    }

    /// The rule of schedule `schedule`.
    pub fn rule(&self, schedule: &str) -> String {
        self.function(schedule)
    }

    /// A usage plan, an API key, an activity, a state machine, a table, a queue or a topic
    /// named `name` in the config (a FIFO queue's or topic's real name adds `.fifo`).
    pub fn scoped(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix())
    }

    /// Bucket `name` of the config in `account`: bucket names are global, so the account is
    /// part of it, and S3 takes lower case only (`<app>-<stage>-<name>-<account>`).
    pub fn bucket(&self, name: &str, account: &str) -> String {
        format!("{}-{name}-{account}", self.prefix()).to_ascii_lowercase()
    }
}

/// Where the ARNs live.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Location {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The region.
    pub region: String,
    /// The account id.
    pub account: String,
}

impl Location {
    /// The location for `region` and `account`, with the partition the region belongs to.
    pub fn new(region: &str, account: &str) -> Self {
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        Self {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
        }
    }

    fn arn(&self, service: &str, regional: bool, resource: &str) -> String {
        let region = if regional { self.region.as_str() } else { "" };
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            self.partition, self.account
        )
    }

    /// An IAM role's ARN.
    pub fn role_arn(&self, name: &str) -> String {
        self.arn("iam", false, &format!("role/{name}"))
    }

    /// A function's ARN.
    pub fn function_arn(&self, name: &str) -> String {
        self.arn("lambda", true, &format!("function:{name}"))
    }

    /// A log group's ARN (with the `:*` that covers its streams).
    pub fn log_group_arn(&self, name: &str) -> String {
        self.arn("logs", true, &format!("log-group:{name}:*"))
    }

    /// An activity's ARN.
    pub fn activity_arn(&self, name: &str) -> String {
        self.arn("states", true, &format!("activity:{name}"))
    }

    /// A state machine's ARN.
    pub fn state_machine_arn(&self, name: &str) -> String {
        self.arn("states", true, &format!("stateMachine:{name}"))
    }

    /// The ARN pattern of a state machine's executions.
    pub fn executions_arn(&self, name: &str) -> String {
        self.arn("states", true, &format!("execution:{name}:*"))
    }

    /// An SES identity's ARN.
    pub fn ses_identity_arn(&self, identity: &str) -> String {
        self.arn("ses", true, &format!("identity/{identity}"))
    }

    /// A DynamoDB table's ARN.
    pub fn table_arn(&self, name: &str) -> String {
        self.arn("dynamodb", true, &format!("table/{name}"))
    }

    /// An S3 bucket's ARN (S3's ARNs carry no region or account).
    pub fn bucket_arn(&self, name: &str) -> String {
        format!("arn:{}:s3:::{name}", self.partition)
    }

    /// An SQS queue's ARN.
    pub fn queue_arn(&self, name: &str) -> String {
        self.arn("sqs", true, name)
    }

    /// An SQS queue's URL.
    pub fn queue_url(&self, name: &str) -> String {
        let domain = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!(
            "https://sqs.{}.{domain}/{}/{name}",
            self.region, self.account
        )
    }

    /// An SNS topic's ARN.
    pub fn topic_arn(&self, name: &str) -> String {
        self.arn("sns", true, name)
    }

    /// A rule's ARN.
    pub fn rule_arn(&self, name: &str) -> String {
        self.arn("events", true, &format!("rule/{name}"))
    }

    /// The `SourceArn` that lets every method and stage of API `api_id` invoke a function.
    pub fn execute_api_arn(&self, api_id: &str) -> String {
        self.arn("execute-api", true, &format!("{api_id}/*"))
    }

    /// The ARN API Gateway's tagging API takes for REST API `api_id`.
    pub fn rest_api_arn(&self, api_id: &str) -> String {
        format!(
            "arn:{}:apigateway:{}::/restapis/{api_id}",
            self.partition, self.region
        )
    }

    /// The ARN API Gateway's tagging API takes for usage plan `id`.
    pub fn usage_plan_arn(&self, id: &str) -> String {
        format!(
            "arn:{}:apigateway:{}::/usageplans/{id}",
            self.partition, self.region
        )
    }

    /// The ARN API Gateway's tagging API takes for API key `id`.
    pub fn api_key_arn(&self, id: &str) -> String {
        format!(
            "arn:{}:apigateway:{}::/apikeys/{id}",
            self.partition, self.region
        )
    }

    /// The URI of an `AWS_PROXY` integration calling function `function_arn`.
    pub fn lambda_integration_uri(&self, function_arn: &str) -> String {
        format!(
            "arn:{}:apigateway:{}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
            self.partition, self.region
        )
    }
}
