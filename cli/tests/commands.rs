//! `portico url`, `invoke`, `delete` and `package` against moto in server mode: the fixture
//! app is deployed with the real CLI binary, then each command runs as a child process and the
//! AWS SDK checks what exists.
//!
//! The deploy helpers are a copy of `deploy.rs`'s (each integration test is its own crate).

#![allow(dead_code, reason = "helpers shared in shape with deploy.rs")]

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

type ApiShape = BTreeMap<String, BTreeMap<String, (bool, String, String, String)>>;

type FunctionConfig =
    aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;

/// Runs `portico ARGS --app DIR` against moto with `stdin`.
fn portico(moto: &Moto, app: &App, args: &[&str], stdin: &str) -> Run {
    use std::io::Write as _;
    let started = Instant::now();
    let mut cmd = Command::new(common::PORTICO);
    cmd.args(args)
        .arg("--app")
        .arg(&app.dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in moto::env(&moto.endpoint()) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run portico");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall_ms: started.elapsed().as_millis(),
    }
}

fn ok(run: &Run) -> &str {
    assert_eq!(run.code, Some(0), "failed:\n{}\n{}", run.stdout, run.stderr);
    &run.stdout
}

#[test]
fn url_invoke_and_delete_a_deployed_stage() {
    let moto = start_moto();
    let sdk = Sdk::new(&moto);
    let app = App::new("cli/tests/fixtures/deploy-fixture", "fixture-cmds");
    let binary = &common::apps().fixture;

    // Nothing deployed: each command says so and how to fix it.
    let url = portico(&moto, &app, &["url", "--stage", STAGE], "");
    assert_ne!(url.code, Some(0));
    assert!(
        url.stderr
            .contains("run `portico deploy --stage dev` first"),
        "{}",
        url.stderr
    );
    let invoke = portico(&moto, &app, &["invoke", "--stage", STAGE], "{}");
    assert_ne!(invoke.code, Some(0));
    assert!(
        invoke.stderr.contains("portico deploy --stage dev")
            && invoke.stderr.contains(&format!("{}-api", app.prefix())),
        "{}",
        invoke.stderr
    );

    let deployed = deploy(&moto, &app, binary, &[], &[]).json();
    let deployed_url = deployed["url"].as_str().unwrap().to_owned();
    assert!(
        sdk.census(&app).values().all(|n| *n > 0),
        "{:?}",
        sdk.census(&app)
    );

    // url: from the record, then by name and tags without it.
    let from_record = portico(&moto, &app, &["url", "--stage", STAGE], "");
    assert_eq!(ok(&from_record).trim(), deployed_url);
    let record = std::fs::read_to_string(app.record()).unwrap();
    std::fs::remove_file(app.record()).unwrap();
    let from_aws = portico(&moto, &app, &["url", "--stage", STAGE], "");
    assert_eq!(ok(&from_aws).trim(), deployed_url);
    std::fs::write(app.record(), &record).unwrap();

    // invoke: moto runs no code; with Docker off it answers the queued result.
    moto.request(
        "POST",
        "/moto-api/config",
        r#"{"lambda":{"use_docker":false}}"#,
    )
    .unwrap();
    moto.request(
        "POST",
        "/moto-api/static/lambda-simple/response",
        r#"{"results":["{\"answer\":42}"],"region":"us-east-1"}"#,
    )
    .unwrap();
    let invoked = portico(
        &moto,
        &app,
        &["invoke", "--stage", STAGE, "-n", "api"],
        "{}",
    );
    assert_eq!(ok(&invoked).trim(), r#"{"answer":42}"#);
    // (moto's Docker-less Invoke answers the queue for any name, so an unknown function is
    // checked above, before the deploy, where moto says ResourceNotFound.)
    let not_json = portico(&moto, &app, &["invoke"], "{oops");
    assert!(
        not_json.stderr.contains("not valid JSON"),
        "{}",
        not_json.stderr
    );

    // delete: refuses without --yes off a terminal, then removes everything.
    let unconfirmed = portico(&moto, &app, &["delete", "--stage", STAGE], "");
    assert_ne!(unconfirmed.code, Some(0));
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );
    let deleted = portico(&moto, &app, &["delete", "--stage", STAGE, "--yes"], "");
    let text = ok(&deleted).to_owned();
    assert!(text.contains("delete REST API"), "{text}");
    let census = sdk.census(&app);
    assert!(census.values().all(|n| *n == 0), "{census:?}\n{text}");
    assert!(!app.record().exists());

    let again = portico(&moto, &app, &["delete", "--stage", STAGE, "--yes"], "");
    assert!(ok(&again).contains("nothing to delete"), "{}", again.stdout);

    // Without the record, by name and tags.
    deploy(&moto, &app, binary, &[], &[]).json();
    std::fs::remove_file(app.record()).unwrap();
    let blind = portico(&moto, &app, &["delete", "--stage", STAGE, "--yes"], "");
    ok(&blind);
    let census = sdk.census(&app);
    assert!(
        census.values().all(|n| *n == 0),
        "{census:?}\n{}",
        blind.stdout
    );
}
fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&decoded).unwrap()
    })
}
