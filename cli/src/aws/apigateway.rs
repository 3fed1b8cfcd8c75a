//! API Gateway (REST APIs, v1): the API, its resources, methods and integrations, gateway
//! responses, deployments and stages, usage plans and API keys.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{
    EndpointConfiguration, EndpointType, GatewayResponseType, IntegrationType, Op, PatchOperation,
    QuotaPeriodType, QuotaSettings, ThrottleSettings,
};
use serde::Serialize;

use super::{Aws, AwsError, AwsResultExt, SdkResultExt};

/// A REST API as it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestApi {
    /// Id (the first label of its execute-api host).
    pub id: String,
    /// Name.
    pub name: String,
    /// Binary media types, sorted.
    pub binary_media_types: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Creation time, seconds since the epoch (to pick the oldest of duplicates).
    pub created: i64,
}

/// A resource with its methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Id.
    pub id: String,
    /// Full path (`/`, `/{proxy+}`, `/private`).
    pub path: String,
    /// Methods by HTTP method (`ANY`, `GET`, …).
    pub methods: BTreeMap<String, Method>,
}

/// A method of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// `NONE`, `AWS_IAM`, …
    pub authorization: String,
    /// Whether the gateway demands an API key.
    pub api_key_required: bool,
    /// Its integration, if any.
    pub integration: Option<Integration>,
}

/// A method's integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// `AWS_PROXY`, `MOCK`, …
    pub kind: String,
    /// The backend URI (for `AWS_PROXY`: the Lambda invocation URI).
    pub uri: String,
    /// Integration timeout, ms.
    pub timeout_ms: u32,
}

/// A gateway response (`DEFAULT_4XX`, …) as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayResponse {
    /// Header mappings (`gatewayresponse.header.X` → `'value'`).
    pub parameters: BTreeMap<String, String>,
}

/// A stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The deployment it serves.
    pub deployment_id: String,
    /// Its description (Portico keeps the API definition's hash there).
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A usage plan's throttle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UsagePlanThrottle {
    /// Requests per second.
    pub rate: f64,
    /// Bucket size.
    pub burst: u32,
}

/// A usage plan's quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsagePlanQuota {
    /// Requests per period.
    pub limit: u64,
    /// `DAY`, `WEEK`, `MONTH`.
    pub period: String,
}

/// A usage plan as it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlan {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Throttle.
    pub throttle: Option<UsagePlanThrottle>,
    /// Quota.
    pub quota: Option<UsagePlanQuota>,
    /// Bound stages: (API id, stage name).
    pub api_stages: Vec<(String, String)>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// An API key as it exists (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn tag_map(tags: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    tags.unwrap_or_default().into_iter().collect()
}

fn hash_map(tags: &BTreeMap<String, String>) -> HashMap<String, String> {
    tags.clone().into_iter().collect()
}

/// A path segment inside a patch path: `/` is written `~1`.
fn escape_patch(value: &str) -> String {
    value.replace('~', "~0").replace('/', "~1")
}

fn patch(op: Op, path: &str, value: Option<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .set_value(value)
        .build()
}

/// Binds (`Add`) or unbinds (`Remove`) stage `stage` of API `api` in a usage plan.
fn api_stage_patch(op: Op, api: &str, stage: &str) -> PatchOperation {
    patch(op, "/apiStages", Some(format!("{api}:{stage}")))
}

const APIGW: &str = "API Gateway";

impl Aws {
    /// Every REST API named `name`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn find_rest_apis(&self, name: &str) -> Result<Vec<RestApi>, AwsError> {
        let apis = self.apigateway.get_rest_apis().limit(500).into_paginator();
        Ok(apis
            .items()
            .send()
            .try_collect()
            .await
            .context(APIGW, "GetRestApis", format!("REST APIs named {name}"))?
            .into_iter()
            .filter(|api| api.name.as_deref() == Some(name))
            .map(|api| RestApi {
                id: api.id.unwrap_or_default(),
                name: api.name.unwrap_or_default(),
                binary_media_types: sorted(api.binary_media_types.unwrap_or_default()),
                tags: tag_map(api.tags),
                created: api.created_date.map_or(0, |d| d.secs()),
            })
            .collect())
    }

    /// The REST API `id`, or `None`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn get_rest_api(&self, id: &str) -> Result<Option<RestApi>, AwsError> {
        let result = self.apigateway.get_rest_api().rest_api_id(id).send().await;
        let api = result
            .context(APIGW, "GetRestApi", format!("REST API {id}"))
            .found()?;
        Ok(api.map(|api| RestApi {
            id: api.id.unwrap_or_default(),
            name: api.name.unwrap_or_default(),
            binary_media_types: sorted(api.binary_media_types.unwrap_or_default()),
            tags: tag_map(api.tags),
            created: api.created_date.map_or(0, |d| d.secs()),
        }))
    }

    /// Creates a regional REST API (binary media types are set by
    /// [`Aws::update_binary_media_types`]: moto ignores them here); returns its id and its root
    /// resource's id.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_rest_api(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(String, String), AwsError> {
        let out = self
            .apigateway
            .create_rest_api()
            .name(name)
            .description("Managed by portico deploy")
            .endpoint_configuration(
                EndpointConfiguration::builder()
                    .types(EndpointType::Regional)
                    .build(),
            )
            .set_tags(Some(hash_map(tags)))
            .send()
            .await
            .context(APIGW, "CreateRestApi", format!("REST API {name}"))?;
        Ok((
            out.id.unwrap_or_default(),
            out.root_resource_id.unwrap_or_default(),
        ))
    }

    /// Adds and removes binary media types of API `id`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn update_binary_media_types(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), AwsError> {
        // AWS takes the type in the path only; moto reads it from `value` (and would add an
        // empty type without it), so emulators get both.
        let value = |t: &String| self.endpoint_url.is_some().then(|| t.clone());
        let ops = remove
            .iter()
            .map(|t| {
                patch(
                    Op::Remove,
                    &format!("/binaryMediaTypes/{}", escape_patch(t)),
                    value(t),
                )
            })
            .chain(add.iter().map(|t| {
                patch(
                    Op::Add,
                    &format!("/binaryMediaTypes/{}", escape_patch(t)),
                    value(t),
                )
            }))
            .collect();
        self.apigateway
            .update_rest_api()
            .rest_api_id(id)
            .set_patch_operations(Some(ops))
            .send()
            .await
            .context(APIGW, "UpdateRestApi", format!("REST API {id}"))?;
        Ok(())
    }

    /// Every resource of API `id` with its methods and integrations.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn get_resources(&self, id: &str) -> Result<Vec<Resource>, AwsError> {
        let resources = self
            .apigateway
            .get_resources()
            .rest_api_id(id)
            .embed("methods")
            .limit(500)
            .into_paginator();
        Ok(resources
            .items()
            .send()
            .try_collect()
            .await
            .context(APIGW, "GetResources", format!("REST API {id}"))?
            .into_iter()
            .map(|r| Resource {
                id: r.id.unwrap_or_default(),
                path: r.path.unwrap_or_default(),
                methods: r
                    .resource_methods
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, m)| {
                        let integration = m.method_integration.map(|i| Integration {
                            kind: i.r#type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                            uri: i.uri.unwrap_or_default(),
                            timeout_ms: u32::try_from(i.timeout_in_millis).unwrap_or(0),
                        });
                        let method = Method {
                            authorization: m.authorization_type.unwrap_or_default(),
                            api_key_required: m.api_key_required.unwrap_or(false),
                            integration,
                        };
                        (name, method)
                    })
                    .collect(),
            })
            .collect())
    }

    /// Creates resource `path_part` under `parent_id`; returns its id.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_resource(
        &self,
        api: &str,
        parent_id: &str,
        path_part: &str,
    ) -> Result<String, AwsError> {
        let out = self
            .apigateway
            .create_resource()
            .rest_api_id(api)
            .parent_id(parent_id)
            .path_part(path_part)
            .send()
            .await
            .context(
                APIGW,
                "CreateResource",
                format!("resource {path_part} of REST API {api}"),
            )?;
        Ok(out.id.unwrap_or_default())
    }

    /// Deletes resource `resource` (and everything under it).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_resource(&self, api: &str, resource: &str) -> Result<(), AwsError> {
        self.apigateway
            .delete_resource()
            .rest_api_id(api)
            .resource_id(resource)
            .send()
            .await
            .context(
                APIGW,
                "DeleteResource",
                format!("resource {resource} of REST API {api}"),
            )
            .gone_is_fine()
    }

    /// Adds method `method` (no authorizer) to a resource.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn put_method(
        &self,
        api: &str,
        resource: &str,
        method: &str,
        api_key_required: bool,
    ) -> Result<(), AwsError> {
        self.apigateway
            .put_method()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method(method)
            .authorization_type("NONE")
            .api_key_required(api_key_required)
            .send()
            .await
            .context(
                APIGW,
                "PutMethod",
                format!("{method} on resource {resource} of REST API {api}"),
            )?;
        Ok(())
    }

    /// Removes method `method` from a resource.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_method(
        &self,
        api: &str,
        resource: &str,
        method: &str,
    ) -> Result<(), AwsError> {
        self.apigateway
            .delete_method()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method(method)
            .send()
            .await
            .context(
                APIGW,
                "DeleteMethod",
                format!("{method} on resource {resource} of REST API {api}"),
            )
            .gone_is_fine()
    }

    /// Sets a method's integration to a Lambda proxy (`AWS_PROXY`) call of `uri`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn put_proxy_integration(
        &self,
        api: &str,
        resource: &str,
        method: &str,
        uri: &str,
        timeout_ms: u32,
    ) -> Result<(), AwsError> {
        self.apigateway
            .put_integration()
            .rest_api_id(api)
            .resource_id(resource)
            .http_method(method)
            .r#type(IntegrationType::AwsProxy)
            .integration_http_method("POST")
            .uri(uri)
            .timeout_in_millis(i32::try_from(timeout_ms).unwrap_or(29_000))
            .send()
            .await
            .context(
                APIGW,
                "PutIntegration",
                format!("{method} on resource {resource} of REST API {api}"),
            )?;
        Ok(())
    }

    /// The gateway responses of API `id` that were set (not AWS's defaults).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn get_gateway_responses(
        &self,
        api: &str,
    ) -> Result<BTreeMap<String, GatewayResponse>, AwsError> {
        let out = self
            .apigateway
            .get_gateway_responses()
            .rest_api_id(api)
            .limit(500)
            .send()
            .await
            .context(APIGW, "GetGatewayResponses", format!("REST API {api}"))?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter(|r| !r.default_response)
            .filter_map(|r| {
                Some((
                    r.response_type?.as_str().to_owned(),
                    GatewayResponse {
                        parameters: r
                            .response_parameters
                            .unwrap_or_default()
                            .into_iter()
                            .collect(),
                    },
                ))
            })
            .collect())
    }

    /// Sets gateway response `kind` (`DEFAULT_4XX`, …) to carry `parameters`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn put_gateway_response(
        &self,
        api: &str,
        kind: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.apigateway
            .put_gateway_response()
            .rest_api_id(api)
            .response_type(GatewayResponseType::from(kind))
            .set_response_parameters(Some(parameters.clone().into_iter().collect()))
            .send()
            .await
            .context(
                APIGW,
                "PutGatewayResponse",
                format!("{kind} of REST API {api}"),
            )?;
        Ok(())
    }

    /// Resets gateway response `kind` to AWS's default.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_gateway_response(&self, api: &str, kind: &str) -> Result<(), AwsError> {
        self.apigateway
            .delete_gateway_response()
            .rest_api_id(api)
            .response_type(GatewayResponseType::from(kind))
            .send()
            .await
            .context(
                APIGW,
                "DeleteGatewayResponse",
                format!("{kind} of REST API {api}"),
            )
            .gone_is_fine()
    }

    /// Stage `stage` of API `api`, or `None`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn get_stage(&self, api: &str, stage: &str) -> Result<Option<Stage>, AwsError> {
        let result = self
            .apigateway
            .get_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .send()
            .await;
        let out = result.context(
            APIGW,
            "GetStage",
            format!("stage {stage} of REST API {api}"),
        );
        Ok(out.found()?.map(|out| Stage {
            deployment_id: out.deployment_id.unwrap_or_default(),
            description: out.description.unwrap_or_default(),
            tags: tag_map(out.tags),
        }))
    }

    /// Snapshots API `api` as a deployment; returns its id.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_deployment(
        &self,
        api: &str,
        description: &str,
    ) -> Result<String, AwsError> {
        let out = self
            .apigateway
            .create_deployment()
            .rest_api_id(api)
            .description(description)
            .send()
            .await
            .context(APIGW, "CreateDeployment", format!("REST API {api}"))?;
        Ok(out.id.unwrap_or_default())
    }

    /// Creates stage `stage` serving `deployment`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_stage(
        &self,
        api: &str,
        stage: &str,
        deployment: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.apigateway
            .create_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .deployment_id(deployment)
            .description(description)
            .set_tags(Some(hash_map(tags)))
            .send()
            .await
            .context(
                APIGW,
                "CreateStage",
                format!("stage {stage} of REST API {api}"),
            )?;
        Ok(())
    }

    /// Points stage `stage` at `deployment`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn update_stage(
        &self,
        api: &str,
        stage: &str,
        deployment: &str,
        description: &str,
    ) -> Result<(), AwsError> {
        self.apigateway
            .update_stage()
            .rest_api_id(api)
            .stage_name(stage)
            .patch_operations(patch(
                Op::Replace,
                "/deploymentId",
                Some(deployment.to_owned()),
            ))
            .patch_operations(patch(
                Op::Replace,
                "/description",
                Some(description.to_owned()),
            ))
            .send()
            .await
            .context(
                APIGW,
                "UpdateStage",
                format!("stage {stage} of REST API {api}"),
            )?;
        Ok(())
    }

    /// Every usage plan named in `names`, by name.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_usage_plans(&self) -> Result<Vec<UsagePlan>, AwsError> {
        let plans = self
            .apigateway
            .get_usage_plans()
            .limit(500)
            .into_paginator();
        Ok(plans
            .items()
            .send()
            .try_collect()
            .await
            .context(APIGW, "GetUsagePlans", "usage plans")?
            .into_iter()
            .map(|p| UsagePlan {
                id: p.id.unwrap_or_default(),
                name: p.name.unwrap_or_default(),
                throttle: p.throttle.map(|t| UsagePlanThrottle {
                    rate: t.rate_limit,
                    burst: u32::try_from(t.burst_limit).unwrap_or(0),
                }),
                quota: p.quota.map(|q| UsagePlanQuota {
                    limit: u64::try_from(q.limit).unwrap_or(0),
                    period: q.period.map(|p| p.as_str().to_owned()).unwrap_or_default(),
                }),
                api_stages: p
                    .api_stages
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| (s.api_id.unwrap_or_default(), s.stage.unwrap_or_default()))
                    .collect(),
                tags: tag_map(p.tags),
            })
            .collect())
    }

    /// Creates a usage plan; returns its id.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_usage_plan(
        &self,
        name: &str,
        throttle: Option<UsagePlanThrottle>,
        quota: Option<&UsagePlanQuota>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .apigateway
            .create_usage_plan()
            .name(name)
            .description("Managed by portico deploy")
            .set_throttle(throttle.map(|t| {
                ThrottleSettings::builder()
                    .rate_limit(t.rate)
                    .burst_limit(i32::try_from(t.burst).unwrap_or(i32::MAX))
                    .build()
            }))
            .set_quota(quota.map(|q| {
                QuotaSettings::builder()
                    .limit(i32::try_from(q.limit).unwrap_or(i32::MAX))
                    .period(QuotaPeriodType::from(q.period.as_str()))
                    .build()
            }))
            .set_tags(Some(hash_map(tags)))
            .send()
            .await
            .context(APIGW, "CreateUsagePlan", format!("usage plan {name}"))?;
        Ok(out.id.unwrap_or_default())
    }

    /// Changes a usage plan's throttle and/or quota: `Some(None)` removes one, `Some(Some(_))`
    /// sets it, `None` leaves it as it is.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn update_usage_plan_limits(
        &self,
        id: &str,
        throttle: Option<Option<UsagePlanThrottle>>,
        quota: Option<Option<&UsagePlanQuota>>,
    ) -> Result<(), AwsError> {
        let mut ops = Vec::new();
        match throttle {
            Some(Some(t)) => {
                ops.push(patch(
                    Op::Replace,
                    "/throttle/rateLimit",
                    Some(t.rate.to_string()),
                ));
                ops.push(patch(
                    Op::Replace,
                    "/throttle/burstLimit",
                    Some(t.burst.to_string()),
                ));
            }
            Some(None) => ops.push(patch(Op::Remove, "/throttle", None)),
            None => {}
        }
        match quota {
            Some(Some(q)) => {
                ops.push(patch(
                    Op::Replace,
                    "/quota/limit",
                    Some(q.limit.to_string()),
                ));
                ops.push(patch(Op::Replace, "/quota/period", Some(q.period.clone())));
            }
            Some(None) => ops.push(patch(Op::Remove, "/quota", None)),
            None => {}
        }
        self.patch_usage_plan(id, ops).await
    }

    /// Applies `ops` to usage plan `id`.
    async fn patch_usage_plan(&self, id: &str, ops: Vec<PatchOperation>) -> Result<(), AwsError> {
        self.apigateway
            .update_usage_plan()
            .usage_plan_id(id)
            .set_patch_operations(Some(ops))
            .send()
            .await
            .map(drop)
            .context(APIGW, "UpdateUsagePlan", format!("usage plan {id}"))
    }

    /// Binds stage `stage` of API `api` to usage plan `id`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn add_usage_plan_stage(
        &self,
        id: &str,
        api: &str,
        stage: &str,
    ) -> Result<(), AwsError> {
        let bind = api_stage_patch(Op::Add, api, stage);
        self.patch_usage_plan(id, vec![bind]).await
    }

    /// The ids of the keys in usage plan `id`.
    ///
    /// # Errors
    /// When a call fails.
    pub async fn get_usage_plan_key_ids(&self, id: &str) -> Result<Vec<String>, AwsError> {
        let keys = self
            .apigateway
            .get_usage_plan_keys()
            .usage_plan_id(id)
            .limit(500);
        Ok(keys
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .context(APIGW, "GetUsagePlanKeys", format!("usage plan {id}"))?
            .into_iter()
            .filter_map(|k| k.id)
            .collect())
    }

    /// Puts key `key` into usage plan `plan`.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_usage_plan_key(&self, plan: &str, key: &str) -> Result<(), AwsError> {
        self.apigateway
            .create_usage_plan_key()
            .usage_plan_id(plan)
            .key_id(key)
            .key_type("API_KEY")
            .send()
            .await
            .context(
                APIGW,
                "CreateUsagePlanKey",
                format!("key {key} in usage plan {plan}"),
            )
            .unless_code("ConflictException")
    }

    /// Every API key (names, ids, tags; never values).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, AwsError> {
        let keys = self
            .apigateway
            .get_api_keys()
            .include_values(false)
            .limit(500);
        Ok(keys
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .context(APIGW, "GetApiKeys", "API keys")?
            .into_iter()
            .map(|k| ApiKey {
                id: k.id.unwrap_or_default(),
                name: k.name.unwrap_or_default(),
                tags: tag_map(k.tags),
            })
            .collect())
    }

    /// Creates an enabled API key with `value` (or one API Gateway generates); returns its id.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn create_api_key(
        &self,
        name: &str,
        value: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let out = self
            .apigateway
            .create_api_key()
            .name(name)
            .enabled(true)
            .description("Managed by portico deploy")
            .set_value(value.map(str::to_owned))
            .set_tags(Some(hash_map(tags)))
            .send()
            .await
            .context(APIGW, "CreateApiKey", format!("API key {name}"))
            .map_err(|mut err| {
                if err.code.as_deref() == Some("ConflictException") && value.is_some() {
                    err.message.push_str(
                        "; key values are unique per account and region, and another key (of \
                         another stage or app?) has this one: give this key another `value` in \
                         portico.toml, or `value = \"generate\"`",
                    );
                }
                err
            })?;
        Ok(out.id.unwrap_or_default())
    }

    /// Deletes REST API `id` with its stages and deployments (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_rest_api(&self, id: &str) -> Result<(), AwsError> {
        self.apigateway
            .delete_rest_api()
            .rest_api_id(id)
            .send()
            .await
            .context(APIGW, "DeleteRestApi", format!("REST API {id}"))
            .gone_is_fine()
    }

    /// Detaches the API stages `(api id, stage)` from usage plan `id`, then deletes it (gone
    /// already is fine).
    ///
    /// # Errors
    /// When a call fails.
    pub async fn delete_usage_plan(
        &self,
        id: &str,
        api_stages: &[(String, String)],
    ) -> Result<(), AwsError> {
        if !api_stages.is_empty() {
            let ops = api_stages
                .iter()
                .map(|(api, stage)| api_stage_patch(Op::Remove, api, stage))
                .collect();
            self.patch_usage_plan(id, ops).await.gone_is_fine()?;
        }
        self.apigateway
            .delete_usage_plan()
            .usage_plan_id(id)
            .send()
            .await
            .context(APIGW, "DeleteUsagePlan", format!("usage plan {id}"))
            .gone_is_fine()
    }

    /// Removes key `key` from usage plan `plan` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_usage_plan_key(&self, plan: &str, key: &str) -> Result<(), AwsError> {
        self.apigateway
            .delete_usage_plan_key()
            .usage_plan_id(plan)
            .key_id(key)
            .send()
            .await
            .context(
                APIGW,
                "DeleteUsagePlanKey",
                format!("usage plan {plan} key {key}"),
            )
            .gone_is_fine()
    }

    /// Deletes API key `id` (gone already is fine).
    ///
    /// # Errors
    /// When the call fails.
    pub async fn delete_api_key(&self, id: &str) -> Result<(), AwsError> {
        self.apigateway
            .delete_api_key()
            .api_key(id)
            .send()
            .await
            .context(APIGW, "DeleteApiKey", format!("API key {id}"))
            .gone_is_fine()
    }
}
