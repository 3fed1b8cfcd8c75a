//! `portico deploy` against moto in server mode: the real CLI binary deploys the hello example
//! and the fixture app (schedules, API keys and usage plans, CORS, Step Functions), and the
//! tests check every resource with the AWS SDK's own describe calls; then redeploys that must
//! change nothing, a code-only change, interrupted deploys, and a deploy without the record.
//!
//! Each test starts its own moto (`portico_e2e::moto`) and gives its app a unique name.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use portico_e2e::moto::{self, Moto};
use serde_json::Value;

const STAGE: &str = "dev";

/// A temporary app directory: a copy of a fixture directory with the app renamed.
struct App {
    dir: PathBuf,
    name: String,
}

impl App {
    fn new(fixture: &str, name: &str) -> Self {
        let dir = std::env::temp_dir()
            .join(format!("portico-deploy-tests-{}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let from = common::workspace().join(fixture);
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            // The config and its definition files; not the crate (the binary is prebuilt).
            if !entry.path().is_file() || entry.file_name() == "Cargo.toml" {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text = if entry.file_name() == "portico.toml" {
                rename_app(&text, name)
            } else {
                text
            };
            std::fs::write(dir.join(entry.file_name()), text).unwrap();
        }
        Self {
            dir,
            name: name.to_owned(),
        }
    }

    fn record(&self) -> PathBuf {
        self.dir
            .join(".portico")
            .join("deployed")
            .join(format!("{STAGE}.json"))
    }

    fn prefix(&self) -> String {
        format!("{}-{STAGE}", self.name)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // The process's directory goes with its last app (removing a non-empty one fails).
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn rename_app(config: &str, name: &str) -> String {
    let mut out = String::new();
    for line in config.lines() {
        if line.starts_with("name = ") && out.trim_end().ends_with("[app]") {
            out.push_str(&format!("name = \"{name}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What one `portico deploy` did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall_ms: u128,
}

impl Run {
    fn json(&self) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "deploy failed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

fn deploy(moto: &Moto, app: &App, binary: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut cmd = Command::new(common::PORTICO);
    cmd.args(["deploy", "--stage", STAGE, "--output", "json", "--app"])
        .arg(&app.dir)
        .arg("--binary")
        .arg(binary)
        .args(extra)
        .env_remove("PORTICO_FAIL_AFTER_STEP")
        .env_remove("PORTICO_FAIL_MUTATING_CALL");
    for (k, v) in moto::env(&moto.endpoint()) {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run portico deploy");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall_ms: started.elapsed().as_millis(),
    }
}

fn mutating(result: &Value) -> Vec<String> {
    result["calls"]["mutating"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn start_moto() -> Moto {
    Moto::start().unwrap_or_else(|e| panic!("{e}"))
}

/// The AWS SDK pointed at moto, for checking what a deploy made.
struct Sdk {
    rt: tokio::runtime::Runtime,
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    apigw: aws_sdk_apigateway::Client,
    events: aws_sdk_eventbridge::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    sfn: aws_sdk_sfn::Client,
}

impl Sdk {
    fn new(moto: &Moto) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(moto.endpoint())
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_iam::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .load(),
        );
        Self {
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            apigw: aws_sdk_apigateway::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            rt,
        }
    }

    fn role_policies(&self, role: &str) -> BTreeMap<String, Value> {
        self.rt.block_on(async {
            let names = self
                .iam
                .list_role_policies()
                .role_name(role)
                .send()
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for name in names.policy_names {
                let doc = self
                    .iam
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(&name)
                    .send()
                    .await
                    .unwrap()
                    .policy_document;
                out.insert(name, parse_policy(&doc));
            }
            out
        })
    }

    fn function(&self, name: &str) -> FunctionConfig {
        self.rt
            .block_on(
                self.lambda
                    .get_function_configuration()
                    .function_name(name)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("function {name}: {e:?}"))
    }

    fn function_policy(&self, name: &str) -> Value {
        let out = self
            .rt
            .block_on(self.lambda.get_policy().function_name(name).send())
            .unwrap_or_else(|e| panic!("policy of {name}: {e:?}"));
        serde_json::from_str(out.policy().unwrap()).unwrap()
    }

    fn rest_apis(&self, name: &str) -> Vec<aws_sdk_apigateway::types::RestApi> {
        let out = self
            .rt
            .block_on(self.apigw.get_rest_apis().limit(500).send())
            .unwrap();
        out.items
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.name.as_deref() == Some(name))
            .collect()
    }

    fn api_shape(&self, api: &str) -> ApiShape {
        self.rt.block_on(async {
            let resources = self
                .apigw
                .get_resources()
                .rest_api_id(api)
                .limit(500)
                .send()
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for r in resources.items.unwrap_or_default() {
                let mut methods = BTreeMap::new();
                for m in r.resource_methods.clone().unwrap_or_default().keys() {
                    let method = self
                        .apigw
                        .get_method()
                        .rest_api_id(api)
                        .resource_id(r.id.as_deref().unwrap())
                        .http_method(m)
                        .send()
                        .await
                        .unwrap();
                    let integration = self
                        .apigw
                        .get_integration()
                        .rest_api_id(api)
                        .resource_id(r.id.as_deref().unwrap())
                        .http_method(m)
                        .send()
                        .await
                        .unwrap();
                    methods.insert(
                        m.clone(),
                        (
                            method.api_key_required.unwrap_or(false),
                            method.authorization_type.unwrap_or_default(),
                            integration
                                .r#type
                                .map(|t| t.as_str().to_owned())
                                .unwrap_or_default(),
                            integration.uri.unwrap_or_default(),
                        ),
                    );
                }
                out.insert(r.path.unwrap_or_default(), methods);
            }
            out
        })
    }

    fn usage_plans(&self, name: &str) -> Vec<aws_sdk_apigateway::types::UsagePlan> {
        let out = self
            .rt
            .block_on(self.apigw.get_usage_plans().limit(500).send())
            .unwrap();
        out.items
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.name.as_deref() == Some(name))
            .collect()
    }

    fn api_keys(&self, name: &str) -> Vec<aws_sdk_apigateway::types::ApiKey> {
        let out = self
            .rt
            .block_on(self.apigw.get_api_keys().limit(500).send())
            .unwrap();
        out.items
            .unwrap_or_default()
            .into_iter()
            .filter(|k| k.name.as_deref() == Some(name))
            .collect()
    }

    fn log_groups(&self, prefix: &str) -> BTreeMap<String, Option<i32>> {
        let out = self
            .rt
            .block_on(
                self.logs
                    .describe_log_groups()
                    .log_group_name_prefix(prefix)
                    .send(),
            )
            .unwrap();
        out.log_groups
            .unwrap_or_default()
            .into_iter()
            .map(|g| (g.log_group_name.unwrap_or_default(), g.retention_in_days))
            .collect()
    }

    /// How many of each kind of resource carry the app's names: the duplicate check, and
    /// (all zeros) the check that nothing is left, for `portico delete`'s tests.
    fn census(&self, app: &App) -> BTreeMap<&'static str, usize> {
        let prefix = app.prefix();
        let mut out = BTreeMap::new();
        out.insert("rest_apis", self.rest_apis(&prefix).len());
        let plans = self
            .rt
            .block_on(self.apigw.get_usage_plans().limit(500).send())
            .unwrap();
        out.insert(
            "usage_plans",
            plans
                .items
                .unwrap_or_default()
                .iter()
                .filter(|p| p.name.as_deref().unwrap_or("").starts_with(&prefix))
                .count(),
        );
        let keys = self
            .rt
            .block_on(self.apigw.get_api_keys().limit(500).send())
            .unwrap();
        out.insert(
            "api_keys",
            keys.items
                .unwrap_or_default()
                .iter()
                .filter(|k| k.name.as_deref().unwrap_or("").starts_with(&prefix))
                .count(),
        );
        let functions = self
            .rt
            .block_on(self.lambda.list_functions().send())
            .unwrap();
        out.insert(
            "functions",
            functions
                .functions
                .unwrap_or_default()
                .iter()
                .filter(|f| {
                    f.function_name
                        .as_deref()
                        .unwrap_or("")
                        .starts_with(&prefix)
                })
                .count(),
        );
        let rules = self
            .rt
            .block_on(self.events.list_rules().name_prefix(&prefix).send())
            .unwrap();
        out.insert("rules", rules.rules.unwrap_or_default().len());
        out.insert(
            "log_groups",
            self.log_groups(&format!("/aws/lambda/{prefix}")).len(),
        );
        let roles = self.rt.block_on(self.iam.list_roles().send()).unwrap();
        out.insert(
            "roles",
            roles
                .roles
                .iter()
                .filter(|r| r.role_name.starts_with(&prefix))
                .count(),
        );
        let activities = self.rt.block_on(self.sfn.list_activities().send()).unwrap();
        out.insert(
            "activities",
            activities
                .activities
                .iter()
                .filter(|a| a.name.starts_with(&prefix))
                .count(),
        );
        let machines = self
            .rt
            .block_on(self.sfn.list_state_machines().send())
            .unwrap();
        out.insert(
            "state_machines",
            machines
                .state_machines
                .iter()
                .filter(|m| m.name.starts_with(&prefix))
                .count(),
        );
        if let Some(api) = self.rest_apis(&prefix).first() {
            out.insert(
                "api_resources",
                self.api_shape(api.id.as_deref().unwrap()).len(),
            );
        }
        out
    }
}

fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&decoded).unwrap()
    })
}

/// Every action of every statement: none is `*` or a whole service (`states:*`).
fn assert_no_wildcard_actions(policies: &BTreeMap<String, Value>) {
    for (name, doc) in policies {
        for statement in doc["Statement"].as_array().unwrap() {
            let actions = match &statement["Action"] {
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
                Value::String(s) => vec![s.clone()],
                other => panic!("{name}: Action {other}"),
            };
            for action in actions {
                assert!(
                    !action.contains('*'),
                    "policy {name} has a wildcard action {action}"
                );
            }
            let resources = match &statement["Resource"] {
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
                Value::String(s) => vec![s.clone()],
                other => panic!("{name}: Resource {other}"),
            };
            assert!(
                !resources.iter().any(|r| r == "*"),
                "policy {name} is on every resource"
            );
        }
    }
}

/// Path → method → (apiKeyRequired, authorization, integration type, integration URI).
type ApiShape = BTreeMap<String, BTreeMap<String, (bool, String, String, String)>>;

type FunctionConfig =
    aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;

fn env_of(f: &FunctionConfig) -> BTreeMap<String, String> {
    f.environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A copy of `binary` with bytes appended: the same app, different code.
fn changed_copy(binary: &Path, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(binary).unwrap();
    bytes.extend_from_slice(b"portico-test: new code\n");
    let path = dir.join("bootstrap-v2");
    std::fs::write(&path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

fn check_hello(sdk: &Sdk, app: &App) {
    let prefix = app.prefix();
    let trust = sdk
        .rt
        .block_on(sdk.iam.get_role().role_name(&prefix).send())
        .unwrap();
    let trust = parse_policy(trust.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    let policies = sdk.role_policies(&prefix);
    assert_eq!(policies.keys().collect::<Vec<_>>(), ["logs"]);
    assert_no_wildcard_actions(&policies);
    assert_eq!(
        policies["logs"]["Statement"][0]["Resource"],
        serde_json::json!([format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{prefix}-api:*"
        )])
    );

    let function = sdk.function(&format!("{prefix}-api"));
    assert_eq!(
        function.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(function.handler(), Some("bootstrap"));
    assert_eq!(
        (function.memory_size(), function.timeout()),
        (Some(128), Some(29))
    );
    assert_eq!(env_of(&function)["PORTICO_HANDLER"], "api");
    assert!(
        function
            .role()
            .unwrap()
            .ends_with(&format!(":role/{prefix}"))
    );

    let apis = sdk.rest_apis(&prefix);
    assert_eq!(apis.len(), 1, "one REST API");
    let api = apis[0].id.clone().unwrap();
    let shape = sdk.api_shape(&api);
    assert_eq!(shape.keys().collect::<Vec<_>>(), ["/", "/{proxy+}"]);
    for (path, methods) in &shape {
        let (key, auth, kind, uri) = &methods["ANY"];
        assert_eq!(
            (*key, auth.as_str(), kind.as_str()),
            (false, "NONE", "AWS_PROXY"),
            "{path}"
        );
        assert!(
            uri.ends_with(&format!("function:{prefix}-api/invocations")),
            "{uri}"
        );
        assert_eq!(methods.len(), 1, "{path}: {methods:?}");
    }
    let stage = sdk
        .rt
        .block_on(
            sdk.apigw
                .get_stage()
                .rest_api_id(&api)
                .stage_name(STAGE)
                .send(),
        )
        .unwrap();
    assert!(stage.deployment_id.is_some());

    let policy = sdk.function_policy(&format!("{prefix}-api"));
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"]["Service"],
        "apigateway.amazonaws.com"
    );
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:execute-api:us-east-1:123456789012:{api}/*")
    );
    assert_eq!(sdk.log_groups(&format!("/aws/lambda/{prefix}")).len(), 1);
}

#[test]
fn the_hello_example_deploys_and_redeploys_only_what_changed() {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    let app = App::new("examples/hello", "hello-e2e");
    let hello = &common::apps().hello;

    let first = deploy(&moto, &app, hello, &[], &[]);
    let first_json = first.json();
    assert!(first_json["url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(
        first_json["smoke"]["outcome"], "skipped",
        "moto runs no Lambda code"
    );
    assert!(app.record().is_file(), "the record is written");
    check_hello(&sdk, &app);

    let noop = deploy(&moto, &app, hello, &[], &[]);
    let noop_json = noop.json();
    assert_eq!(noop_json["plan"], serde_json::json!([]));
    assert_eq!(
        mutating(&noop_json),
        Vec::<String>::new(),
        "a no-op redeploy changes nothing"
    );

    let v2 = changed_copy(hello, &app.dir);
    let code = deploy(&moto, &app, &v2, &[], &[]);
    let code_json = code.json();
    assert_eq!(
        mutating(&code_json),
        ["Lambda.UpdateFunctionCode"],
        "{code_json}"
    );
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    let function = sdk.function(&format!("{}-api", app.prefix()));
    assert_eq!(
        record["functions"]["api"]["code_sha256"].as_str(),
        function.code_sha256()
    );

    // A fresh checkout: no record. The same resources are found; nothing is created.
    std::fs::remove_dir_all(app.dir.join(".portico").join("deployed")).unwrap();
    let fresh = deploy(&moto, &app, &v2, &[], &[]).json();
    assert_eq!(mutating(&fresh), Vec::<String>::new(), "{fresh}");
    assert_eq!(sdk.census(&app)["rest_apis"], 1);
    check_hello(&sdk, &app);

    for (what, run, json) in [
        ("first deploy", &first, &first_json),
        ("no-op redeploy", &noop, &noop_json),
        ("code-only redeploy", &code, &code_json),
    ] {
        eprintln!(
            "PERF hello {what}: {} ms wall (process), phases {}, {} AWS calls, {} mutating",
            run.wall_ms,
            json["phases_ms"],
            json["calls"]["total"],
            mutating(json).len()
        );
    }
}

fn check_fixture(sdk: &Sdk, app: &App) {
    let prefix = app.prefix();
    let arn = |service: &str, resource: &str| {
        format!("arn:aws:{service}:us-east-1:123456789012:{resource}")
    };

    // Roles and least-privilege policies.
    let policies = sdk.role_policies(&prefix);
    assert_eq!(
        policies.keys().collect::<Vec<_>>(),
        ["logs", "ses", "step-functions"]
    );
    assert_no_wildcard_actions(&policies);
    assert_eq!(
        policies["ses"]["Statement"][0]["Resource"],
        serde_json::json!([arn("ses", "identity/hr@example.com")])
    );
    let sfn = policies["step-functions"].to_string();
    assert!(
        sfn.contains(&arn("states", &format!("activity:{prefix}-ManualStep"))),
        "{sfn}"
    );
    assert!(
        sfn.contains(&arn("states", &format!("stateMachine:{prefix}-Promotion"))),
        "{sfn}"
    );
    let states_policies = sdk.role_policies(&format!("{prefix}-states"));
    assert_no_wildcard_actions(&states_policies);
    assert!(
        states_policies["invoke-functions"]
            .to_string()
            .contains(&format!("function:{prefix}-tick"))
    );

    // Functions: one per entry point, same code, entry point by environment.
    let api = sdk.function(&format!("{prefix}-api"));
    let tick = sdk.function(&format!("{prefix}-tick"));
    let nightly = sdk.function(&format!("{prefix}-nightly"));
    assert_eq!((api.memory_size(), api.timeout()), (Some(256), Some(20)));
    assert_eq!(
        (nightly.memory_size(), nightly.timeout()),
        (Some(128), Some(300))
    );
    assert_eq!(api.code_sha256(), tick.code_sha256());
    for (f, entry) in [(&api, "api"), (&tick, "tick"), (&nightly, "nightly")] {
        let env = env_of(f);
        assert_eq!(env["PORTICO_HANDLER"], entry);
        assert_eq!(env["FIXTURE_STAGE"], "dev");
    }
    let groups = sdk.log_groups(&format!("/aws/lambda/{prefix}"));
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert!(groups.values().all(|r| *r == Some(14)), "{groups:?}");

    // The REST API: proxy resources plus the API-key route's own.
    let apis = sdk.rest_apis(&prefix);
    assert_eq!(apis.len(), 1);
    let api_id = apis[0].id.clone().unwrap();
    let mut binary = apis[0].binary_media_types.clone().unwrap_or_default();
    binary.sort();
    assert_eq!(binary, ["application/octet-stream", "image/*"]);
    let shape = sdk.api_shape(&api_id);
    assert_eq!(
        shape.keys().collect::<Vec<_>>(),
        ["/", "/private", "/private/{proxy+}", "/{proxy+}"]
    );
    let keyed: BTreeMap<&String, bool> = shape["/private"].iter().map(|(m, v)| (m, v.0)).collect();
    assert_eq!(
        keyed,
        BTreeMap::from([
            (&"ANY".to_owned(), false),
            (&"GET".to_owned(), true),
            (&"OPTIONS".to_owned(), false)
        ])
    );
    for methods in shape.values() {
        for (key, auth, kind, uri) in methods.values() {
            let _ = key;
            assert_eq!((auth.as_str(), kind.as_str()), ("NONE", "AWS_PROXY"));
            assert!(uri.contains(&format!("function:{prefix}-api/")), "{uri}");
        }
    }
    let responses = sdk
        .rt
        .block_on(
            sdk.apigw
                .get_gateway_response()
                .rest_api_id(&api_id)
                .response_type(aws_sdk_apigateway::types::GatewayResponseType::Default4Xx)
                .send(),
        )
        .unwrap();
    let parameters = responses.response_parameters.unwrap_or_default();
    assert_eq!(
        parameters["gatewayresponse.header.Access-Control-Allow-Origin"],
        "'https://app.example.com'"
    );
    assert_eq!(
        parameters["gatewayresponse.header.Access-Control-Allow-Credentials"],
        "'true'"
    );
    assert!(
        sdk.rt
            .block_on(
                sdk.apigw
                    .get_gateway_response()
                    .rest_api_id(&api_id)
                    .response_type(aws_sdk_apigateway::types::GatewayResponseType::Default5Xx)
                    .send()
            )
            .is_ok()
    );

    // Usage plans bound to the stage, with their keys.
    let gold = sdk.usage_plans(&format!("{prefix}-gold"));
    assert_eq!(gold.len(), 1);
    let gold = &gold[0];
    let throttle = gold.throttle.as_ref().unwrap();
    assert_eq!((throttle.rate_limit, throttle.burst_limit), (100.0, 200));
    let quota = gold.quota.as_ref().unwrap();
    assert_eq!(
        (quota.limit, quota.period.as_ref().map(|p| p.as_str())),
        (10000, Some("MONTH"))
    );
    let stages: Vec<(String, String)> = gold
        .api_stages
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.api_id.unwrap_or_default(), s.stage.unwrap_or_default()))
        .collect();
    assert_eq!(stages, [(api_id.clone(), STAGE.to_owned())]);
    let partner = sdk.api_keys(&format!("{prefix}-partner"));
    let generated = sdk.api_keys(&format!("{prefix}-generated"));
    assert_eq!((partner.len(), generated.len()), (1, 1));
    let keys_of = |plan: &str| -> Vec<String> {
        let mut ids: Vec<String> = sdk
            .rt
            .block_on(sdk.apigw.get_usage_plan_keys().usage_plan_id(plan).send())
            .unwrap()
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| k.id)
            .collect();
        ids.sort();
        ids
    };
    let mut want = vec![
        partner[0].id.clone().unwrap(),
        generated[0].id.clone().unwrap(),
    ];
    want.sort();
    assert_eq!(keys_of(gold.id.as_deref().unwrap()), want);
    let metered = &sdk.usage_plans(&format!("{prefix}-metered"))[0];
    assert!(metered.throttle.is_none());
    assert_eq!(
        keys_of(metered.id.as_deref().unwrap()),
        [partner[0].id.clone().unwrap()]
    );

    // Schedules: rule → target → permission.
    for (entry, expression) in [("tick", "rate(1 minute)"), ("nightly", "cron(0 3 * * ? *)")] {
        let rule_name = format!("{prefix}-{entry}");
        let rule = sdk
            .rt
            .block_on(sdk.events.describe_rule().name(&rule_name).send())
            .unwrap();
        assert_eq!(rule.schedule_expression(), Some(expression));
        let targets = sdk
            .rt
            .block_on(sdk.events.list_targets_by_rule().rule(&rule_name).send())
            .unwrap();
        let targets = targets.targets.unwrap_or_default();
        assert_eq!(targets.len(), 1);
        assert_eq!(
            targets[0].arn,
            arn("lambda", &format!("function:{rule_name}"))
        );
        let policy = sdk.function_policy(&rule_name);
        assert_eq!(
            policy["Statement"][0]["Principal"]["Service"],
            "events.amazonaws.com"
        );
        assert_eq!(
            policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"],
            rule.arn().unwrap()
        );
    }

    // Step Functions, with ARNs substituted into the definition.
    let machines = sdk
        .rt
        .block_on(sdk.sfn.list_state_machines().send())
        .unwrap();
    let machine = machines
        .state_machines
        .iter()
        .find(|m| m.name == format!("{prefix}-Promotion"))
        .expect("the state machine");
    let described = sdk
        .rt
        .block_on(
            sdk.sfn
                .describe_state_machine()
                .state_machine_arn(&machine.state_machine_arn)
                .send(),
        )
        .unwrap();
    let definition: Value = serde_json::from_str(&described.definition).unwrap();
    assert_eq!(
        definition["States"]["ManualStep"]["Resource"],
        arn("states", &format!("activity:{prefix}-ManualStep"))
    );
    assert_eq!(
        definition["States"]["Notify"]["Resource"],
        arn("lambda", &format!("function:{prefix}-tick"))
    );
    assert!(
        described
            .role_arn
            .ends_with(&format!("role/{prefix}-states"))
    );
}

#[test]
fn the_fixture_app_deploys_schedules_keys_cors_and_step_functions() {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    let app = App::new("cli/tests/fixtures/deploy-fixture", "fixture-full");
    let binary = &common::apps().fixture;

    // The dry run reads only, and shows the plan.
    let dry = deploy(&moto, &app, binary, &["--dry-run"], &[]).json();
    assert_eq!(mutating(&dry), Vec::<String>::new());
    let plan = dry["plan"].as_array().unwrap();
    assert_eq!(plan[0]["action"], "create_role");
    assert!(plan.iter().any(|s| s["action"] == "create_api_key"));
    assert!(
        !dry.to_string().contains("partner-key-0123456789abcdef"),
        "never print key values"
    );
    assert!(
        sdk.census(&app).values().all(|n| *n == 0),
        "the dry run created nothing"
    );
    assert!(!app.record().exists());

    let first = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(
        first["plan"].as_array().unwrap().len(),
        plan.len(),
        "the dry run's plan is what ran"
    );
    check_fixture(&sdk, &app);
    let record = std::fs::read_to_string(app.record()).unwrap();
    assert!(
        !record.contains("partner-key-0123456789abcdef"),
        "the record has no key values"
    );

    let again = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(mutating(&again), Vec::<String>::new(), "{again}");

    // The text output: short step lines, then the URL on its own last line.
    let text = {
        let mut cmd = Command::new(common::PORTICO);
        cmd.args(["deploy", "--stage", STAGE, "--app"])
            .arg(&app.dir)
            .arg("--binary")
            .arg(binary);
        for (k, v) in moto::env(&moto.endpoint()) {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("https://") && last.ends_with("/dev"),
        "{text}"
    );
    assert!(text.contains("nothing changed"), "{text}");
}

#[test]
fn interrupted_deploys_converge_without_duplicates() {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    let app = App::new("cli/tests/fixtures/deploy-fixture", "fixture-crash");
    let binary = &common::apps().fixture;

    // Killed after a few steps (role and policies done), then after more steps of the resumed
    // plan (inside the REST API), then an AWS error in the middle, then killed again with the
    // record gone (a fresh checkout), then a clean run.
    for (env, record_kept) in [
        (("PORTICO_FAIL_AFTER_STEP", "3"), true),
        (("PORTICO_FAIL_AFTER_STEP", "14"), true),
        (("PORTICO_FAIL_MUTATING_CALL", "9"), true),
        (("PORTICO_FAIL_AFTER_STEP", "6"), false),
    ] {
        if !record_kept {
            std::fs::remove_file(app.record()).unwrap();
        }
        let run = deploy(&moto, &app, binary, &[], &[env]);
        assert_ne!(
            run.code,
            Some(0),
            "{env:?} should stop the deploy: {}",
            run.stdout
        );
        if env.0 == "PORTICO_FAIL_AFTER_STEP" {
            assert_eq!(run.code, Some(86), "{}", run.stderr);
        } else {
            assert!(
                run.stderr.contains("failed")
                    && run.stderr.contains("run the same `portico deploy` again"),
                "{}",
                run.stderr
            );
        }
        assert!(
            app.record().is_file(),
            "the record is written as steps succeed"
        );
    }
    let last = deploy(&moto, &app, binary, &[], &[]).json();
    assert!(!mutating(&last).is_empty());
    check_fixture(&sdk, &app);
    let census = sdk.census(&app);
    assert_eq!(
        census,
        BTreeMap::from([
            ("activities", 1),
            ("api_keys", 2),
            ("api_resources", 4),
            ("functions", 3),
            ("log_groups", 3),
            ("rest_apis", 1),
            ("roles", 2),
            ("rules", 2),
            ("state_machines", 1),
            ("usage_plans", 2),
        ]),
        "nothing duplicated"
    );
    let noop = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(mutating(&noop), Vec::<String>::new(), "{noop}");
}

#[test]
fn config_changes_are_applied_in_place() {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    let app = App::new("cli/tests/fixtures/deploy-fixture", "fixture-change");
    let binary = &common::apps().fixture;
    deploy(&moto, &app, binary, &[], &[]).json();
    let api_before = sdk.rest_apis(&app.prefix())[0].id.clone();

    let config = std::fs::read_to_string(app.dir.join("portico.toml")).unwrap();
    let config = config
        .replace("memory = 256", "memory = 512\nenv = { NEW = \"1\" }")
        .replace("throttle = { rate = 100.0, burst = 200 }", "throttle = { rate = 50.0, burst = 100 }")
        .replace("retention_days = 14", "retention_days = 30")
        .replace("cors = { allow_origin = \"https://app.example.com\", expose_headers = [\"X-Fixture\"], allow_credentials = true }\n", "")
        .replace("[\"image/*\", \"application/octet-stream\"]", "[\"image/png\", \"application/octet-stream\"]");
    std::fs::write(app.dir.join("portico.toml"), config).unwrap();
    let definition = std::fs::read_to_string(app.dir.join("promotion.asl.json")).unwrap();
    std::fs::write(
        app.dir.join("promotion.asl.json"),
        definition.replace("\"TimeoutSeconds\": 3600", "\"TimeoutSeconds\": 60"),
    )
    .unwrap();

    let changed = deploy(&moto, &app, binary, &[], &[]).json();
    let mut operations: Vec<String> = mutating(&changed)
        .into_iter()
        .map(|op| op.rsplit('.').next().unwrap().to_owned())
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "CreateDeployment",
            "DeleteGatewayResponse",
            "DeleteGatewayResponse",
            "DeleteMethod",
            "PutRetentionPolicy",
            "PutRetentionPolicy",
            "PutRetentionPolicy",
            "UpdateFunctionConfiguration",
            "UpdateRestApi",
            "UpdateStage",
            "UpdateStateMachine",
            "UpdateUsagePlan",
        ],
        "{changed}"
    );
    assert_eq!(
        sdk.rest_apis(&app.prefix())[0].id,
        api_before,
        "the same API, updated"
    );
    let api = sdk.function(&format!("{}-api", app.prefix()));
    assert_eq!(api.memory_size(), Some(512));
    assert_eq!(env_of(&api)["NEW"], "1");
    assert_eq!(env_of(&api)["PORTICO_HANDLER"], "api");
    let gold = &sdk.usage_plans(&format!("{}-gold", app.prefix()))[0];
    assert_eq!(
        gold.throttle
            .as_ref()
            .map(|t| (t.rate_limit, t.burst_limit)),
        Some((50.0, 100))
    );
    let groups = sdk.log_groups(&format!("/aws/lambda/{}", app.prefix()));
    assert!(groups.values().all(|r| *r == Some(30)), "{groups:?}");

    let again = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(mutating(&again), Vec::<String>::new(), "{again}");
}

#[test]
fn code_can_go_through_s3() {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    let app = App::new("examples/hello", "hello-s3");
    let hello = &common::apps().hello;
    let via_s3 = [("PORTICO_UPLOAD_VIA_S3", "1")];
    let first = deploy(&moto, &app, hello, &[], &via_s3).json();
    assert_eq!(first["plan"][0]["action"], "create_role");
    let upload = first["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "upload_code")
        .expect("an upload step");
    let bucket = upload["bucket"].as_str().unwrap();
    assert_eq!(bucket, "portico-code-123456789012-us-east-1");
    check_hello(&sdk, &app);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    assert!(
        record["code_object"]
            .as_str()
            .unwrap()
            .starts_with(&format!("s3://{bucket}/hello-s3/dev/")),
        "{record}"
    );

    let v2 = changed_copy(hello, &app.dir);
    let code = deploy(&moto, &app, &v2, &[], &via_s3).json();
    let ops: Vec<String> = mutating(&code)
        .into_iter()
        .map(|op| op.rsplit('.').next().unwrap().to_owned())
        .collect();
    assert_eq!(ops, ["PutObject", "UpdateFunctionCode"], "{code}");
    let function = sdk.function(&format!("{}-api", app.prefix()));
    assert_eq!(
        record_sha(&app),
        function.code_sha256().unwrap(),
        "the function runs the uploaded object"
    );
}

fn record_sha(app: &App) -> String {
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    record["functions"]["api"]["code_sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}
