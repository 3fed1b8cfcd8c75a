//! `portico package --out DIR`: the stage as a CloudFormation template, for deploying with
//! CloudFormation instead of `portico deploy`.
//!
//! The build phase is deploy's ([`crate::deploy::build`]: the same checks, the same
//! deterministic zip), and the template describes the same [`Desired`] model deploy plans
//! from, so both make the same resources with the same names, settings, policies and tags.
//! The account, region and partition are CloudFormation's pseudo parameters: `Desired` is
//! computed for a [`Location`] whose fields are `${AWS::AccountId}`, `${AWS::Region}` and
//! `${AWS::Partition}`, and every string holding one becomes an `Fn::Sub`. Resources of the
//! stack refer to each other with `Ref` / `Fn::GetAtt` (or `DependsOn` where an ARN is
//! derived), so CloudFormation creates them in order.
//!
//! The code is not in the template: parameters `CodeS3Bucket` and `CodeS3Key` name the zip
//! in S3 (`aws s3 cp` it there first; docs/deploy.md). API keys with a literal value get a
//! `NoEcho` parameter each, so key values are never written to the template; so does each
//! `[[secrets]]` entry ([`secret_parameters`]), without a default: the stack's creator passes
//! a random value (`$(openssl rand -base64 32)`), and CloudFormation keeps it on updates
//! that leave the parameter out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::{SecretEncoding, SecretFormat};
use crate::deploy::desired::{Desired, Inputs, Location, SecretSpec};
use crate::deploy::plan::{RULE_TARGET_ID, stage_description};
use crate::deploy::secrets::encoded_len;
use crate::deploy::{self, Built, OutputFormat};
use crate::{AppStage, CliError};

/// The template's file name in `--out`.
pub const TEMPLATE_FILE: &str = "template.json";
/// The zip's file name in `--out`.
pub const ZIP_FILE: &str = "bootstrap.zip";
/// The parameter naming the code's bucket.
pub const BUCKET_PARAMETER: &str = "CodeS3Bucket";
/// The parameter naming the code's key.
pub const KEY_PARAMETER: &str = "CodeS3Key";

/// Arguments of `portico package`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    app_stage: AppStage,
    /// The directory to write `bootstrap.zip` and `template.json` to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// `text` for people, `json` for scripts.
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// Package this prebuilt Linux binary instead of building (checked and zipped the same
    /// way).
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
    /// Compile for this target triple instead of choosing one.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
}

/// The location CloudFormation fills in: its pseudo parameters.
fn pseudo_location() -> Location {
    Location {
        partition: "${AWS::Partition}".to_owned(),
        region: "${AWS::Region}".to_owned(),
        account: "${AWS::AccountId}".to_owned(),
    }
}

/// Builds, then writes the zip and the template.
///
/// # Errors
/// When the build or a check fails, the model cannot be computed, or a file cannot be written.
pub fn run(args: Args) -> Result<(), CliError> {
    let Built {
        project,
        artifact,
        manifest,
        ..
    } = deploy::build(
        &args.app_stage.app,
        &args.app_stage.stage,
        args.binary.as_ref(),
        args.target.as_ref(),
    )?;
    let text = args.output == OutputFormat::Text;
    if text {
        println!(
            "build  {} ({}, {})",
            artifact.zip_path.display(),
            crate::artifact::human_size(artifact.zip_len()),
            artifact.architecture
        );
        for verdict in artifact.verdicts() {
            println!("check  {verdict}");
        }
    }
    let desired = Desired::new(
        &project.config,
        &manifest,
        &Inputs {
            stage: &args.app_stage.stage,
            location: pseudo_location(),
            code_sha256: artifact.sha256_base64.clone(),
            code_s3: None,
            architecture: artifact.architecture.lambda_name(),
            config_dir: &project.dir,
        },
    )?;
    let code_key = format!(
        "{}/{}/{}.zip",
        desired.app, desired.stage, artifact.sha256_hex
    );
    let template = template(&desired, &code_key);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("{}: cannot create the directory: {e}", args.out.display()))?;
    let zip_path = args.out.join(ZIP_FILE);
    let template_path = args.out.join(TEMPLATE_FILE);
    write(&zip_path, &artifact.zip_bytes)?;
    let mut body = serde_json::to_string_pretty(&template)?;
    body.push('\n');
    write(&template_path, body.as_bytes())?;

    let key_parameters: Vec<String> = template["Parameters"]
        .as_object()
        .map(|p| {
            p.keys()
                .filter(|k| k.starts_with("ApiKeyValue"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let stack = format!("{}-{}", desired.app, desired.stage);
    let resources = template["Resources"].as_object().map_or(0, Map::len);
    if text {
        println!(
            "wrote  {} ({} resources)",
            template_path.display(),
            resources
        );
        println!(
            "wrote  {} (sha256 {})",
            zip_path.display(),
            artifact.sha256_base64
        );
        let secrets = secret_parameters(&desired);
        let overrides: String = key_parameters
            .iter()
            .map(|k| format!(" {k}=<value>"))
            .chain(secrets.iter().map(|(spec, id)| {
                format!(
                    " {id}=\"{}\"",
                    spec.format().map(random_command).unwrap_or_default()
                )
            }))
            .collect();
        let next = if crate::color::stdout_has_color() {
            let bold = crate::color::BOLD;
            format!("{bold}next{bold:#}")
        } else {
            "next".to_owned()
        };
        println!("{next}   upload the code, then create or update the stack:");
        println!("  aws s3 cp {} s3://BUCKET/{code_key}", zip_path.display());
        println!(
            "  aws cloudformation deploy --template-file {} --stack-name {stack} --capabilities CAPABILITY_NAMED_IAM --parameter-overrides {BUCKET_PARAMETER}=BUCKET {KEY_PARAMETER}={code_key}{overrides}",
            template_path.display()
        );
        if !secrets.is_empty() {
            let ids: Vec<&str> = secrets.iter().map(|(_, id)| id.as_str()).collect();
            println!(
                "  (later updates: leave {} out of --parameter-overrides to keep the value; a new one rotates it)",
                ids.join(", ")
            );
        }
    } else {
        let out = json!({
            "app": desired.app,
            "stage": desired.stage,
            "zip": zip_path,
            "template": template_path,
            "code_sha256": artifact.sha256_base64,
            "code_key": code_key,
            "resources": resources,
            "parameters": template["Parameters"].as_object().map(|p| p.keys().cloned().collect::<Vec<_>>()),
            "stack_name": stack,
            "secret_parameters": secret_parameters(&desired)
                .into_iter()
                .map(|(spec, id)| (spec.name.clone(), Value::String(id)))
                .collect::<Map<String, Value>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// The `[[secrets]]` some function gets, each with its parameter's logical id
/// (`Secret` + the name in CamelCase).
pub fn secret_parameters(desired: &Desired) -> Vec<(&SecretSpec, String)> {
    let mut ids = Ids::default();
    desired
        .secrets
        .iter()
        .filter(|spec| {
            desired
                .functions
                .iter()
                .any(|f| f.secrets.contains(&spec.name))
        })
        .map(|spec| (spec, ids.get("Secret", &spec.name.to_ascii_lowercase())))
        .collect()
}

/// A shell command substitution printing a random value of `format`.
fn random_command(format: SecretFormat) -> String {
    let n = format.bytes;
    match format.encoding {
        // `openssl rand -base64` wraps its output after 64 characters (48 bytes).
        SecretEncoding::Base64 if n > 48 => format!("$(openssl rand -base64 {n} | tr -d '\\n')"),
        SecretEncoding::Base64 => format!("$(openssl rand -base64 {n})"),
        SecretEncoding::Base64Url => {
            format!("$(openssl rand -base64 {n} | tr -d '\\n=' | tr '+/' '-_')")
        }
        SecretEncoding::Hex => format!("$(openssl rand -hex {n})"),
    }
}

/// A secret's `NoEcho` parameter: no default, the exact length and alphabet of its format.
fn secret_parameter(spec: &SecretSpec) -> Value {
    let mut parameter = json!({
        "Type": "String",
        "NoEcho": true,
        "Description": format!(
            "Secret {}: the environment variable every function gets, {} random bytes `{}` (e.g. {})",
            spec.name,
            spec.format().map_or(0, |f| f.bytes),
            spec.generate,
            spec.format().map(random_command).unwrap_or_default(),
        ),
    });
    if let Some(format) = spec.format() {
        let len = encoded_len(format);
        let pattern = match format.encoding {
            SecretEncoding::Base64 => "^[A-Za-z0-9+/]*={0,2}$",
            SecretEncoding::Base64Url => "^[A-Za-z0-9_-]*$",
            SecretEncoding::Hex => "^[0-9a-f]*$",
        };
        parameter["MinLength"] = json!(len);
        parameter["MaxLength"] = json!(len);
        parameter["AllowedPattern"] = json!(pattern);
        parameter["ConstraintDescription"] = json!(format!(
            "{} random bytes, `{}`: {len} characters, e.g. {}",
            format.bytes,
            spec.generate,
            random_command(format)
        ));
    }
    parameter
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: cannot write: {e}", path.display()).into())
}

/// Logical ids: `Kind` + the name in CamelCase (letters and digits only), made unique with a
/// hash of the name when two names would give the same id.
#[derive(Default)]
struct Ids {
    by_name: BTreeMap<(String, String), String>,
    taken: BTreeMap<String, (String, String)>,
}

impl Ids {
    fn get(&mut self, kind: &str, name: &str) -> String {
        let key = (kind.to_owned(), name.to_owned());
        if let Some(id) = self.by_name.get(&key) {
            return id.clone();
        }
        let mut id = kind.to_owned();
        let mut upper = true;
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                id.push(if upper { c.to_ascii_uppercase() } else { c });
                upper = false;
            } else {
                upper = true;
            }
        }
        if self.taken.contains_key(&id) {
            let digest = Sha256::digest(format!("{kind}/{name}").as_bytes());
            let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
            id = format!("{id}X{hex}");
        }
        self.taken.insert(id.clone(), key.clone());
        self.by_name.insert(key, id.clone());
        id
    }
}

/// `{"Ref": id}`.
fn r(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attribute]}`.
fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// Every string of `value` that names a pseudo parameter becomes an `Fn::Sub` (other `${`
/// in it are escaped as `${!`, CloudFormation's literal form).
fn sub(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains("${AWS::") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                if rest[i..].starts_with("${AWS::") {
                    out.push_str("${");
                } else {
                    out.push_str("${!");
                }
                rest = &rest[i + 2..];
            }
            out.push_str(rest);
            json!({ "Fn::Sub": out })
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sub).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, sub(v))).collect()),
        other => other,
    }
}

/// Tags as CloudFormation's list of `{Key, Value}`.
fn tag_list(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect(),
    )
}

/// The CloudFormation template of `desired` (computed for [`pseudo_location`]); the code is
/// at parameters `CodeS3Bucket` / `CodeS3Key` (default `code_key`).
#[allow(
    clippy::too_many_lines,
    reason = "one block per kind of resource, in deploy's order"
)]
pub fn template(desired: &Desired, code_key: &str) -> Value {
    let mut ids = Ids::default();
    let mut resources = Map::new();
    let mut parameters = Map::new();
    let tags = tag_list(&desired.tags);
    let names = desired.names();
    parameters.insert(
        BUCKET_PARAMETER.to_owned(),
        json!({
            "Type": "String",
            "Description": "The S3 bucket holding the code zip (`aws s3 cp bootstrap.zip s3://BUCKET/KEY`)",
        }),
    );
    parameters.insert(
        KEY_PARAMETER.to_owned(),
        json!({
            "Type": "String",
            "Default": code_key,
            "Description": "The code zip's key in the bucket (by default named after its SHA-256, so new code is a new key)",
        }),
    );

    let secrets = secret_parameters(desired);
    for (spec, id) in &secrets {
        parameters.insert(id.clone(), secret_parameter(spec));
    }

    // Roles, with the same inline and managed policies as deploy's.
    let role_resource = |spec: &crate::deploy::desired::RoleSpec| {
        let mut role = json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": spec.name,
                "AssumeRolePolicyDocument": sub(spec.assume_policy.clone()),
                "Policies": spec.policies.iter().map(|(name, document)| json!({
                    "PolicyName": name,
                    "PolicyDocument": sub(document.clone()),
                })).collect::<Vec<_>>(),
                "Tags": tags,
            }
        });
        if !spec.managed_policies.is_empty() {
            role["Properties"]["ManagedPolicyArns"] = json!(spec.managed_policies);
        }
        role
    };
    // Each function its own role, as deploy makes them; none for a `role_arn` of the app's
    // own, which the function names as it is.
    let mut role_ids = BTreeMap::new();
    for f in desired.functions.iter().filter(|f| f.own_role) {
        let id = ids.get("Role", &format!("function {}", f.entry));
        resources.insert(id.clone(), role_resource(&f.role));
        role_ids.insert(f.entry.clone(), id);
    }
    let states_role_id = desired.states_role.as_ref().map(|spec| {
        let id = ids.get("Role", "state-machines");
        resources.insert(id.clone(), role_resource(spec));
        id
    });

    // Log groups and functions.
    let mut function_ids = BTreeMap::new();
    // Functions may share a custom log group: one resource per group.
    let mut log_ids: BTreeMap<&String, String> = BTreeMap::new();
    for f in &desired.functions {
        let log_id = if let Some(id) = log_ids.get(&f.log_group) {
            id.clone()
        } else {
            let log_id = ids.get("LogGroup", &f.entry);
            let mut log = json!({
                "Type": "AWS::Logs::LogGroup",
                "Properties": { "LogGroupName": f.log_group, "Tags": tags },
            });
            if let Some(days) = desired.log_retention {
                log["Properties"]["RetentionInDays"] = json!(days);
            }
            resources.insert(log_id.clone(), log);
            log_ids.insert(&f.log_group, log_id.clone());
            log_id
        };
        let id = ids.get("Function", &f.entry);
        let c = &f.config;
        let mut variables = sub(json!(c.env));
        for (spec, parameter) in &secrets {
            if f.secrets.contains(&spec.name) {
                variables[spec.name.as_str()] = r(parameter);
            }
        }
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::Lambda::Function",
                "DependsOn": [log_id],
                "Properties": {
                    "FunctionName": f.name,
                    "Role": role_ids
                        .get(&f.entry)
                        .map_or_else(|| json!(c.role_arn), |id| get_att(id, "Arn")),
                    "Runtime": c.runtime,
                    "Handler": c.handler,
                    "Architectures": [c.architecture],
                    "MemorySize": c.memory,
                    "Timeout": c.timeout,
                    "Environment": { "Variables": variables },
                    "LoggingConfig": { "LogGroup": r(&log_id), "LogFormat": "Text" },
                    "Code": { "S3Bucket": r(BUCKET_PARAMETER), "S3Key": r(KEY_PARAMETER) },
                    "Tags": tags,
                }
            }),
        );
        function_ids.insert(f.entry.clone(), id);
    }

    // Step Functions.
    let mut activity_ids = Vec::new();
    for a in &desired.activities {
        let id = ids.get("Activity", &a.key);
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::StepFunctions::Activity",
                "Properties": { "Name": a.name, "Tags": tags },
            }),
        );
        activity_ids.push(id);
    }
    if let Some(states_role_id) = &states_role_id {
        // The definitions name functions and activities by ARN: they come first.
        let mut depends: Vec<String> = function_ids.values().cloned().collect();
        depends.extend(activity_ids.iter().cloned());
        for m in &desired.state_machines {
            let id = ids.get("StateMachine", &m.key);
            resources.insert(
                id,
                json!({
                    "Type": "AWS::StepFunctions::StateMachine",
                    "DependsOn": depends,
                    "Properties": {
                        "StateMachineName": m.name,
                        "DefinitionString": sub(json!(m.definition.clone().unwrap_or_default())),
                        "RoleArn": get_att(states_role_id, "Arn"),
                        "Tags": tags,
                    }
                }),
            );
        }
    }

    // The REST API.
    let api = &desired.api;
    let api_id = ids.get("RestApi", "api");
    let mut api_properties = json!({
        "Name": api.name,
        "Description": "Managed by portico (CloudFormation)",
        "EndpointConfiguration": { "Types": ["REGIONAL"] },
        "Tags": tags,
    });
    if !api.binary_media_types.is_empty() {
        api_properties["BinaryMediaTypes"] = json!(api.binary_media_types);
    }
    resources.insert(
        api_id.clone(),
        json!({ "Type": "AWS::ApiGateway::RestApi", "Properties": api_properties }),
    );
    let mut method_ids = Vec::new();
    for (path, methods) in &api.resources {
        let resource = if path == "/" {
            get_att(&api_id, "RootResourceId")
        } else {
            let (parent, part) = path.rsplit_once('/').unwrap_or(("", path));
            let parent = if parent.is_empty() {
                get_att(&api_id, "RootResourceId")
            } else {
                r(&ids.get("Resource", parent))
            };
            let id = ids.get("Resource", path);
            resources.insert(
                id.clone(),
                json!({
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": { "RestApiId": r(&api_id), "ParentId": parent, "PathPart": part },
                }),
            );
            r(&id)
        };
        for (method, spec) in methods {
            let id = ids.get("Method", &format!("{method} {path}"));
            resources.insert(
                id.clone(),
                json!({
                    "Type": "AWS::ApiGateway::Method",
                    "Properties": {
                        "RestApiId": r(&api_id),
                        "ResourceId": resource,
                        "HttpMethod": method,
                        "AuthorizationType": "NONE",
                        "ApiKeyRequired": spec.api_key_required,
                        "Integration": {
                            "Type": "AWS_PROXY",
                            "IntegrationHttpMethod": "POST",
                            "Uri": sub(json!(api.integration_uri)),
                            "TimeoutInMillis": api.timeout_ms,
                        },
                    }
                }),
            );
            method_ids.push(id);
        }
    }
    for (kind, parameters) in &api.gateway_responses {
        let id = ids.get("GatewayResponse", kind);
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::ApiGateway::GatewayResponse",
                "Properties": {
                    "RestApiId": r(&api_id),
                    "ResponseType": kind,
                    "ResponseParameters": parameters,
                }
            }),
        );
        method_ids.push(id);
    }
    // A new logical id per API definition: CloudFormation then makes a new deployment when the
    // definition changes, as deploy does.
    let deployment_id = ids.get("Deployment", &api.hash);
    resources.insert(
        deployment_id.clone(),
        json!({
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": method_ids,
            "Properties": { "RestApiId": r(&api_id), "Description": stage_description(&api.hash) },
        }),
    );
    let stage_id = ids.get("Stage", &api.stage);
    resources.insert(
        stage_id.clone(),
        json!({
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": r(&api_id),
                "StageName": api.stage,
                "DeploymentId": r(&deployment_id),
                "Description": stage_description(&api.hash),
                "Tags": tags,
            }
        }),
    );
    if let Some(function) = function_ids.get("api") {
        resources.insert(
            ids.get("Permission", "api"),
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": r(function),
                    "Action": "lambda:InvokeFunction",
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": {
                        "Fn::Sub": format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/*")
                    },
                    "SourceAccount": r("AWS::AccountId"),
                }
            }),
        );
    }

    // API keys (literal values through NoEcho parameters) and usage plans.
    let mut key_ids = BTreeMap::new();
    for k in &desired.api_keys {
        let id = ids.get("ApiKey", &k.key);
        let mut properties = json!({
            "Name": k.name,
            "Enabled": true,
            "Description": "Managed by portico (CloudFormation)",
            "Tags": tags,
        });
        if k.value.is_some() {
            let parameter = ids.get("ApiKeyValue", &k.key);
            parameters.insert(
                parameter.clone(),
                json!({
                    "Type": "String",
                    "NoEcho": true,
                    "MinLength": 20,
                    "MaxLength": 128,
                    "Description": format!("The value of API key {} (`value` in portico.toml)", k.key),
                }),
            );
            properties["Value"] = r(&parameter);
        }
        resources.insert(
            id.clone(),
            json!({ "Type": "AWS::ApiGateway::ApiKey", "Properties": properties }),
        );
        key_ids.insert(k.key.clone(), id);
    }
    for p in &desired.usage_plans {
        let id = ids.get("UsagePlan", &p.key);
        let mut properties = json!({
            "UsagePlanName": p.name,
            "Description": "Managed by portico (CloudFormation)",
            "ApiStages": [{ "ApiId": r(&api_id), "Stage": r(&stage_id) }],
            "Tags": tags,
        });
        if let Some(t) = p.throttle {
            properties["Throttle"] = json!({ "RateLimit": t.rate, "BurstLimit": t.burst });
        }
        if let Some(q) = &p.quota {
            properties["Quota"] = json!({ "Limit": q.limit, "Period": q.period });
        }
        resources.insert(
            id.clone(),
            json!({ "Type": "AWS::ApiGateway::UsagePlan", "Properties": properties }),
        );
        for key in &p.api_keys {
            if let Some(key_id) = key_ids.get(key) {
                resources.insert(
                    ids.get("UsagePlanKey", &format!("{} {key}", p.key)),
                    json!({
                        "Type": "AWS::ApiGateway::UsagePlanKey",
                        "Properties": {
                            "KeyId": r(key_id),
                            "KeyType": "API_KEY",
                            "UsagePlanId": r(&id),
                        }
                    }),
                );
            }
        }
    }

    // Schedules: a rule per schedule, its target, and the permission to invoke.
    for s in &desired.schedules {
        let Some(function) = function_ids.get(&s.entry) else {
            continue;
        };
        let id = ids.get("Rule", &s.entry);
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": s.rule,
                    "Description": format!("portico: runs {} on schedule", s.function),
                    "ScheduleExpression": s.expression,
                    "State": "ENABLED",
                    "Targets": [{ "Id": RULE_TARGET_ID, "Arn": get_att(function, "Arn") }],
                }
            }),
        );
        resources.insert(
            ids.get("Permission", &s.entry),
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": r(function),
                    "Action": "lambda:InvokeFunction",
                    "Principal": "events.amazonaws.com",
                    "SourceArn": get_att(&id, "Arn"),
                    "SourceAccount": r("AWS::AccountId"),
                }
            }),
        );
    }

    let mut outputs = Map::new();
    outputs.insert(
        "ApiUrl".to_owned(),
        json!({
            "Description": "The base URL of the API's stage",
            "Value": { "Fn::Sub": format!("https://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}", api.stage) },
        }),
    );
    outputs.insert(
        "RestApiId".to_owned(),
        json!({ "Description": "The REST API's id", "Value": r(&api_id) }),
    );
    for (entry, id) in &function_ids {
        outputs.insert(
            ids.get("FunctionArnOutput", entry),
            json!({
                "Description": format!("The function of entry point {entry}"),
                "Value": get_att(id, "Arn"),
            }),
        );
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("{} stage {}: made by portico package from portico.toml and the app's manifest", names.app, names.stage),
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::deploy::desired::tests::{config, manifest};

    const CONFIG: &str = include_str!("fixtures/package-shop.toml");

    fn desired(dir: &Path) -> Desired {
        desired_with(dir, CONFIG)
    }

    fn desired_with(dir: &Path, text: &str) -> Desired {
        std::fs::write(
            dir.join("sm.json"),
            r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${activity:Approve}", "Next": "B"},
               "B": {"Type": "Task", "Resource": "${function:notify}", "End": true}}}"#,
        )
        .unwrap();
        let mut m = manifest(&[("GET", "/private")], &[("cleanup", "rate(5 minutes)")]);
        // A direct-invocation entry point: a function without a rule.
        m.entry_points.push("notify".to_owned());
        Desired::new(
            &config(text),
            &m,
            &Inputs {
                stage: "dev",
                location: pseudo_location(),
                code_sha256: "c2hh".into(),
                code_s3: None,
                architecture: "x86_64",
                config_dir: dir,
            },
        )
        .unwrap()
    }

    /// The resource of type `kind` whose property `key` is `value`, with its logical id.
    fn resource_with<'a>(
        t: &'a Value,
        kind: &str,
        key: &str,
        value: &str,
    ) -> (&'a String, &'a Value) {
        of_type(t, kind)
            .into_iter()
            .find(|(_, r)| r["Properties"][key] == value)
            .unwrap_or_else(|| panic!("no {kind} with {key} = {value}"))
    }

    fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
        t["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .collect()
    }

    /// Every `Ref`, `Fn::GetAtt` and `${X}` of an `Fn::Sub` in `value`.
    fn references(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(id)) = map.get("Ref") {
                    out.push(id.clone());
                }
                if let Some(Value::Array(att)) = map.get("Fn::GetAtt") {
                    out.push(att[0].as_str().unwrap().to_owned());
                }
                if let Some(Value::String(text)) = map.get("Fn::Sub") {
                    let mut rest = text.as_str();
                    while let Some(i) = rest.find("${") {
                        let after = &rest[i + 2..];
                        let end = after.find('}').unwrap();
                        if !after.starts_with('!') {
                            out.push(after[..end].split('.').next().unwrap().to_owned());
                        }
                        rest = &after[end..];
                    }
                }
                for v in map.values() {
                    references(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_names_a_resource_a_parameter_or_a_pseudo_parameter() {
        let tmp = crate::test_support::TempDir::new("package", "refs");
        let t = template(&desired(&tmp.0), "shop/dev/abc.zip");
        let resources = t["Resources"].as_object().unwrap();
        let parameters = t["Parameters"].as_object().unwrap();
        let mut refs = Vec::new();
        references(&t["Resources"], &mut refs);
        references(&t["Outputs"], &mut refs);
        assert!(refs.len() > 50, "{refs:?}");
        for id in &refs {
            assert!(
                resources.contains_key(id)
                    || parameters.contains_key(id)
                    || [
                        "AWS::Partition",
                        "AWS::Region",
                        "AWS::AccountId",
                        "AWS::URLSuffix"
                    ]
                    .contains(&id.as_str()),
                "{id} is declared nowhere"
            );
        }
        for (id, resource) in resources {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric()),
                "logical id {id}"
            );
            for dep in resource["DependsOn"].as_array().into_iter().flatten() {
                assert!(resources.contains_key(dep.as_str().unwrap()), "{id}: {dep}");
            }
        }
        // Nothing is left unresolved outside an Fn::Sub.
        let mut plain = Vec::new();
        fn strings(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                Value::Object(m) if !m.contains_key("Fn::Sub") => {
                    m.values().for_each(|v| strings(v, out));
                }
                _ => {}
            }
        }
        strings(&t["Resources"], &mut plain);
        assert!(
            !plain.iter().any(|s| s.contains("${")),
            "{:?}",
            plain
                .iter()
                .filter(|s| s.contains("${"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn policies_are_deploys_and_name_no_wildcard_action() {
        let tmp = crate::test_support::TempDir::new("package", "policies");
        let d = desired(&tmp.0);
        let t = template(&d, "k");
        let text = t.to_string();
        assert!(!text.contains(r#""Action":"*""#), "{text}");
        assert!(!text.contains("states:*"), "{text}");
        assert!(
            !text.contains("partner-key-0123456789abcdef"),
            "no key value"
        );
        let roles = of_type(&t, "AWS::IAM::Role");
        assert_eq!(
            roles.len(),
            4,
            "a role per function, and the state machines'"
        );
        for (_, role) in roles {
            for policy in role["Properties"]["Policies"].as_array().unwrap() {
                for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                    for action in statement["Action"].as_array().unwrap() {
                        let action = action.as_str().unwrap();
                        assert!(!action.contains('*'), "{action}");
                    }
                    let resources = statement["Resource"].as_array().unwrap();
                    assert!(!resources.iter().any(|r| r == "*"), "{statement}");
                }
            }
        }
        // Each function's role: deploy's name, policy names and statements, with pseudo
        // parameters, and the function runs under it.
        let policy_names = |role: &Value| -> Vec<String> {
            role["Policies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["PolicyName"].as_str().unwrap().to_owned())
                .collect()
        };
        for f in &d.functions {
            let (id, role) = resource_with(&t, "AWS::IAM::Role", "RoleName", &f.role.name);
            let properties = &role["Properties"];
            assert_eq!(
                policy_names(properties),
                f.role.policies.keys().cloned().collect::<Vec<_>>()
            );
            assert_eq!(
                properties["AssumeRolePolicyDocument"], f.role.assume_policy,
                "{}",
                f.entry
            );
            let function = resource_with(&t, "AWS::Lambda::Function", "FunctionName", &f.name).1;
            assert_eq!(
                function["Properties"]["Role"],
                json!({"Fn::GetAtt": [id, "Arn"]})
            );
        }
        let notify = &t["Resources"]["RoleFunctionNotify"]["Properties"];
        assert_eq!(policy_names(notify), ["logs", "ses"]);
        assert_eq!(
            notify["Policies"][1]["PolicyDocument"]["Statement"][0]["Resource"][0],
            json!({"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/hr@example.com"})
        );
        assert_eq!(
            notify["Policies"][1]["PolicyDocument"]["Statement"][0]["Action"],
            d.function("notify").unwrap().role.policies["ses"]["Statement"][0]["Action"]
        );
        // The internet-facing function gets only its own actions.
        let api = &t["Resources"]["RoleFunctionApi"]["Properties"];
        assert_eq!(policy_names(api), ["logs", "step-functions"]);
        let api_text = api.to_string();
        for absent in ["GetActivityTask", "StopExecution", "ses:"] {
            assert!(!api_text.contains(absent), "{absent}: {api_text}");
        }
        // The states role: only this account's state machines of the stage may assume it.
        let states = resource_with(&t, "AWS::IAM::Role", "RoleName", "shop-dev-states").1;
        assert_eq!(
            states["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"],
            json!({
                "StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}},
                "ArnLike": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:shop-dev-*"}},
            })
        );
        // Invoke permissions carry the source and the account.
        for (_, permission) in of_type(&t, "AWS::Lambda::Permission") {
            let p = &permission["Properties"];
            assert_eq!(p["SourceAccount"], json!({"Ref": "AWS::AccountId"}), "{p}");
            assert!(p.get("SourceArn").is_some(), "{p}");
        }
    }

    #[test]
    fn the_template_has_what_deploy_makes() {
        let tmp = crate::test_support::TempDir::new("package", "shape");
        let d = desired(&tmp.0);
        let t = template(&d, "shop/dev/abc.zip");
        let names = |kind: &str, property: &str| -> BTreeSet<String> {
            of_type(&t, kind)
                .iter()
                .map(|(_, r)| r["Properties"][property].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            names("AWS::Lambda::Function", "FunctionName"),
            BTreeSet::from([
                "shop-dev-api".to_owned(),
                "shop-dev-cleanup".to_owned(),
                "shop-dev-notify".to_owned()
            ])
        );
        assert_eq!(
            names("AWS::Events::Rule", "Name"),
            BTreeSet::from(["shop-dev-cleanup".to_owned()]),
            "rules for schedules only"
        );
        assert_eq!(
            names("AWS::Logs::LogGroup", "LogGroupName").len(),
            3,
            "a log group per function"
        );
        for (_, group) in of_type(&t, "AWS::Logs::LogGroup") {
            assert_eq!(group["Properties"]["RetentionInDays"], 14);
        }
        let api = &t["Resources"]["FunctionApi"]["Properties"];
        assert_eq!(api["Environment"]["Variables"]["PORTICO_HANDLER"], "api");
        assert_eq!(api["Code"]["S3Key"], json!({"Ref": "CodeS3Key"}));
        assert_eq!(api["Tags"], tag_list(&d.tags));
        assert_eq!(t["Parameters"]["CodeS3Key"]["Default"], "shop/dev/abc.zip");
        // `/` and `/{proxy+}` ANY, plus the keyed route's own resources.
        let methods: BTreeSet<(String, bool)> = of_type(&t, "AWS::ApiGateway::Method")
            .iter()
            .map(|(_, m)| {
                let p = &m["Properties"];
                assert_eq!(p["Integration"]["Type"], "AWS_PROXY");
                (
                    p["HttpMethod"].as_str().unwrap().to_owned(),
                    p["ApiKeyRequired"].as_bool().unwrap(),
                )
            })
            .collect();
        assert!(methods.contains(&("GET".to_owned(), true)), "{methods:?}");
        assert!(
            methods.contains(&("OPTIONS".to_owned(), false)),
            "{methods:?}"
        );
        assert_eq!(
            of_type(&t, "AWS::ApiGateway::Method").len(),
            d.api.resources.values().map(BTreeMap::len).sum::<usize>()
        );
        assert_eq!(
            of_type(&t, "AWS::ApiGateway::Resource").len(),
            d.api.resources.len() - 1
        );
        assert_eq!(of_type(&t, "AWS::ApiGateway::GatewayResponse").len(), 2);
        assert_eq!(
            t["Resources"]["RestApiApi"]["Properties"]["BinaryMediaTypes"],
            json!(["image/png"])
        );
        assert_eq!(of_type(&t, "AWS::ApiGateway::UsagePlanKey").len(), 2);
        assert_eq!(of_type(&t, "AWS::Lambda::Permission").len(), 2);
        assert_eq!(of_type(&t, "AWS::StepFunctions::Activity").len(), 1);
        let machine = &of_type(&t, "AWS::StepFunctions::StateMachine")[0].1;
        let definition = machine["Properties"]["DefinitionString"]["Fn::Sub"]
            .as_str()
            .unwrap();
        assert!(
            definition.contains(
                "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:activity:shop-dev-Approve"
            ),
            "{definition}"
        );
        assert!(
            definition.contains(":function:shop-dev-notify"),
            "{definition}"
        );
        // A secret is a NoEcho parameter without a default, every function refers to it;
        // one the stage's env sets has none.
        let secret = &t["Parameters"]["SecretLinkKey"];
        assert_eq!(secret["NoEcho"], true, "{secret}");
        assert!(secret.get("Default").is_none(), "{secret}");
        assert_eq!(
            (&secret["MinLength"], &secret["MaxLength"]),
            (&json!(44), &json!(44))
        );
        assert!(t["Parameters"].get("SecretPinned").is_none());
        for (_, f) in of_type(&t, "AWS::Lambda::Function") {
            let variables = &f["Properties"]["Environment"]["Variables"];
            assert_eq!(
                variables["LINK_KEY"],
                json!({"Ref": "SecretLinkKey"}),
                "{variables}"
            );
            assert_eq!(variables["pinned"], "from-the-stage", "{variables}");
        }
        assert!(
            random_command(SecretFormat::parse("base64-64").unwrap()).contains("tr -d"),
            "openssl wraps long base64"
        );
        // A literal key value is a NoEcho parameter; a generated one has none.
        assert_eq!(t["Parameters"]["ApiKeyValuePartner"]["NoEcho"], true);
        assert!(t["Parameters"].get("ApiKeyValueGenerated").is_none());
        assert_eq!(
            t["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"],
            "https://${RestApiApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/dev"
        );
    }

    #[test]
    fn iam_statements_managed_policies_and_role_arn_are_deploys() {
        let tmp = crate::test_support::TempDir::new("package", "iam");
        let text = CONFIG.replace(
            "[logs]",
            r#"[[functions.api.iam.statements]]
actions = ["dynamodb:GetItem"]
resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"]

[functions.api.iam]
managed_policies = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]

[functions.cleanup.iam]
role_arn = "arn:aws:iam::123456789012:role/cleanup-jobs"

[logs]"#,
        );
        let d = desired_with(&tmp.0, &text);
        let t = template(&d, "k");
        let api = &t["Resources"]["RoleFunctionApi"]["Properties"];
        assert_eq!(
            api["ManagedPolicyArns"],
            json!(["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"])
        );
        let statements = api["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["PolicyName"] == "statements")
            .expect("the statements policy");
        assert_eq!(
            statements["PolicyDocument"]["Statement"][0]["Action"],
            json!(["dynamodb:GetItem"])
        );
        // No role for the function with its own; it names that role.
        let roles = of_type(&t, "AWS::IAM::Role");
        assert!(
            !roles
                .iter()
                .any(|(_, r)| r["Properties"]["RoleName"] == "shop-dev-cleanup"),
            "{roles:?}"
        );
        let cleanup = resource_with(
            &t,
            "AWS::Lambda::Function",
            "FunctionName",
            "shop-dev-cleanup",
        )
        .1;
        assert_eq!(
            cleanup["Properties"]["Role"],
            "arn:aws:iam::123456789012:role/cleanup-jobs"
        );
    }

    #[test]
    fn a_custom_log_group_is_the_functions_logging_config() {
        let tmp = crate::test_support::TempDir::new("package", "custom-log-group");
        let text = CONFIG
            .replace(
                "[logs]",
                "[functions.cleanup]\nlog_group = \"/shop/cleanup\"\n\n[logs]",
            )
            .replace(
                "[functions.notify]\n",
                "[functions.notify]\nlog_group = \"/shop/cleanup\"\n",
            );
        let d = desired_with(&tmp.0, &text);
        let t = template(&d, "shop/dev/abc.zip");
        let groups: BTreeMap<&String, &Value> = of_type(&t, "AWS::Logs::LogGroup")
            .into_iter()
            .map(|(id, g)| (id, &g["Properties"]["LogGroupName"]))
            .collect();
        // One resource for the group the two functions share.
        assert_eq!(groups.len(), 2, "{groups:?}");
        let id_of = |name: &str| {
            groups
                .iter()
                .find(|(_, n)| **n == name)
                .map(|(id, _)| (*id).clone())
                .unwrap_or_else(|| panic!("no log group {name}: {groups:?}"))
        };
        let custom = id_of("/shop/cleanup");
        let default = id_of("/aws/lambda/shop-dev-api");
        for (function, group) in [
            ("FunctionApi", &default),
            ("FunctionCleanup", &custom),
            ("FunctionNotify", &custom),
        ] {
            let f = &t["Resources"][function];
            assert_eq!(
                f["Properties"]["LoggingConfig"],
                json!({"LogGroup": {"Ref": group}, "LogFormat": "Text"}),
                "{function}"
            );
            assert_eq!(f["DependsOn"], json!([group]), "{function}");
        }
        assert_eq!(t["Resources"][&custom]["Properties"]["RetentionInDays"], 14);
        // The two functions' roles may write to the shared group, not to a default one.
        for role in ["RoleFunctionCleanup", "RoleFunctionNotify"] {
            let logs = t["Resources"][role]["Properties"]["Policies"][0].to_string();
            assert!(logs.contains("log-group:/shop/cleanup:*"), "{logs}");
            assert!(!logs.contains("/aws/lambda/"), "{logs}");
        }
    }

    #[test]
    fn strings_with_pseudo_parameters_become_subs_and_other_dollars_stay_literal() {
        assert_eq!(
            sub(json!({"a": ["x:${AWS::Region}:${HOME}", "plain ${HOME}"]})),
            json!({"a": [{"Fn::Sub": "x:${AWS::Region}:${!HOME}"}, "plain ${HOME}"]})
        );
        let mut ids = Ids::default();
        assert_eq!(ids.get("Resource", "/a-b"), "ResourceAB");
        assert_eq!(ids.get("Resource", "/a-b"), "ResourceAB");
        let other = ids.get("Resource", "/a_b");
        assert!(
            other.starts_with("ResourceABX") && other.len() == 19,
            "{other}"
        );
    }
}
