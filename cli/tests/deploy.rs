//! `portico deploy` against moto in server mode: the real CLI binary deploys the hello example
//! and the fixture app (schedules, API keys and usage plans, CORS, Step Functions), and the
//! tests check every resource with the AWS SDK's own describe calls; then redeploys that must
//! change nothing, a code-only change, interrupted deploys, and a deploy without the record.
//!
//! Each test starts its own moto (`portico_e2e::moto`) and gives its app a unique name.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::deploy_as;
use common::{
    App, STAGE, Sdk, assert_no_wildcard_actions, changed_copy, deploy, env_of, fixture_stage,
    mutating, stage,
};
use portico_e2e::moto::{self, Moto};
use serde_json::Value;

/// The fixture's `[[secrets]]` entry.
const SECRET: &str = "FIXTURE_LINK_KEY";
/// The fixture's functions.
const ENTRIES: [&str; 4] = ["api", "tick", "nightly", "notify"];

/// What the fixture app deploys: how many resources of each kind.
const FIXTURE_CENSUS: [(&str, usize); 10] = [
    ("activities", 1),
    ("api_keys", 2),
    ("api_resources", 4),
    ("functions", 4),
    ("log_groups", 4),
    ("rest_apis", 1),
    ("roles", 5),
    ("rules", 2),
    ("state_machines", 1),
    ("usage_plans", 2),
];

/// Deploying again, with nothing changed, changes nothing.
#[track_caller]
fn assert_redeploy_changes_nothing(moto: &Moto, app: &App, binary: &Path) {
    let again = deploy(moto, app, binary, &[], &[]).json();
    assert_eq!(mutating(&again), Vec::<String>::new(), "{again}");
}

/// The value of the fixture's secret, the same in every function (asserted).
fn link_key(sdk: &Sdk, app: &App) -> String {
    let values: Vec<Option<String>> = ENTRIES
        .iter()
        .map(|entry| {
            env_of(&sdk.function(&format!("{}-{entry}", app.prefix())))
                .get(SECRET)
                .cloned()
        })
        .collect();
    let first = values[0].clone().expect("the API function has the secret");
    assert!(
        values.iter().all(|v| v.as_deref() == Some(first.as_str())),
        "every function has the same value"
    );
    first
}

/// Whether `value` appears in what a run printed.
fn printed(run: &common::Run, value: &str) -> bool {
    run.stdout.contains(value) || run.stderr.contains(value)
}

fn check_hello(sdk: &Sdk, app: &App) {
    let prefix = app.prefix();
    // The API function's own role (named like it); no role shared by every function.
    let trust = sdk.role_trust(&format!("{prefix}-api"));
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert!(!sdk.role_exists(&prefix), "no shared role {prefix}");
    let policies = sdk.role_policies(&format!("{prefix}-api"));
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
            .ends_with(&format!(":role/{prefix}-api"))
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
    assert_eq!(
        statement["Condition"]["StringEquals"]["AWS:SourceAccount"],
        "123456789012"
    );
    assert_eq!(sdk.log_groups(&format!("/aws/lambda/{prefix}")).len(), 1);
}

#[test]
fn the_hello_example_deploys_and_redeploys_only_what_changed() {
    let (moto, sdk, app) = stage("examples/hello", "hello-e2e");
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
    assert_redeploy_changes_nothing(&moto, &app, &v2);
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

    // Each function its own role with least-privilege policies: exactly the actions of its
    // `permissions`, on the app's own resources.
    let machine = arn("states", &format!("stateMachine:{prefix}-Promotion"));
    let activity = arn("states", &format!("activity:{prefix}-ManualStep"));
    let executions = arn("states", &format!("execution:{prefix}-Promotion:*"));
    let log = |entry: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [arn("logs", &format!("log-group:/aws/lambda/{prefix}-{entry}:*"))]}]})
    };
    let ses = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["ses:SendEmail"], "Resource": [arn("ses", "identity/hr@example.com")]}]});
    let api_policies = sdk.role_policies(&format!("{prefix}-api"));
    assert_eq!(
        api_policies,
        BTreeMap::from([
            ("logs".to_owned(), log("api")),
            (
                "step-functions".to_owned(),
                serde_json::json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine]},
                    {"Effect": "Allow", "Action": ["states:DescribeExecution"], "Resource": [executions]},
                    {"Effect": "Allow", "Action": ["states:SendTaskFailure", "states:SendTaskSuccess"],
                     "Resource": [activity, machine]},
                ]})
            ),
        ])
    );
    let tick_policies = sdk.role_policies(&format!("{prefix}-tick"));
    assert_eq!(
        tick_policies,
        BTreeMap::from([
            ("logs".to_owned(), log("tick")),
            ("ses".to_owned(), ses.clone()),
            (
                "step-functions".to_owned(),
                serde_json::json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": ["states:GetActivityTask"], "Resource": [activity]},
                ]})
            ),
        ])
    );
    assert_eq!(
        sdk.role_policies(&format!("{prefix}-notify")),
        BTreeMap::from([("logs".to_owned(), log("notify")), ("ses".to_owned(), ses)])
    );
    assert_eq!(
        sdk.role_policies(&format!("{prefix}-nightly")),
        BTreeMap::from([("logs".to_owned(), log("nightly"))])
    );
    let states_policies = sdk.role_policies(&format!("{prefix}-states"));
    assert_no_wildcard_actions(&states_policies);
    // Only this account's state machines of the stage may assume the states role.
    let states_trust = sdk.role_trust(&format!("{prefix}-states"));
    assert_eq!(
        states_trust["Statement"][0]["Condition"],
        serde_json::json!({
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": arn("states", &format!("stateMachine:{prefix}-*"))},
        })
    );
    assert!(
        states_policies["invoke-functions"]
            .to_string()
            .contains(&format!("function:{prefix}-tick"))
    );

    // Functions: one per entry point, same code, entry point by environment.
    let api = sdk.function(&format!("{prefix}-api"));
    let tick = sdk.function(&format!("{prefix}-tick"));
    let nightly = sdk.function(&format!("{prefix}-nightly"));
    // A direct-invocation entry point: a function, and no rule.
    let notify = sdk.function(&format!("{prefix}-notify"));
    assert_eq!((api.memory_size(), api.timeout()), (Some(256), Some(20)));
    assert_eq!(
        (nightly.memory_size(), nightly.timeout()),
        (Some(128), Some(300))
    );
    assert_eq!(api.code_sha256(), tick.code_sha256());
    for (f, entry) in [
        (&api, "api"),
        (&tick, "tick"),
        (&nightly, "nightly"),
        (&notify, "notify"),
    ] {
        let env = env_of(f);
        assert_eq!(env["PORTICO_HANDLER"], entry);
        assert_eq!(env["FIXTURE_STAGE"], "dev");
    }
    // The generated secret: every function has the same value, of the declared format.
    let key = link_key(sdk, app);
    assert_eq!(key.len(), 43, "32 bytes, base64url without padding");
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&key)
            .map(|b| b.len())
            .ok(),
        Some(32)
    );
    let groups = sdk.log_groups(&format!("/aws/lambda/{prefix}"));
    assert_eq!(groups.len(), 4, "{groups:?}");
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
        assert_eq!(
            sdk.rule_targets(&rule_name),
            [arn("lambda", &format!("function:{rule_name}"))]
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
    let (moto, sdk, app, binary) = fixture_stage("fixture-full");

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

    assert_redeploy_changes_nothing(&moto, &app, binary);

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
    let (moto, sdk, app, binary) = fixture_stage("fixture-crash");

    // Killed after a few steps (role and policies done), then after more steps of the resumed
    // plan (inside the REST API), then an AWS error in the middle, then killed again with the
    // record gone (a fresh checkout), then a clean run.
    for (env, record_kept) in [
        (("PORTICO_FAIL_AFTER_STEP", "3"), true),
        (("PORTICO_FAIL_AFTER_STEP", "22"), true),
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
    assert_eq!(
        sdk.census(&app),
        BTreeMap::from(FIXTURE_CENSUS),
        "nothing duplicated"
    );
    assert_redeploy_changes_nothing(&moto, &app, binary);
}

#[test]
fn config_changes_are_applied_in_place() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-change");
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

    assert_redeploy_changes_nothing(&moto, &app, binary);
}

#[test]
fn code_can_go_through_s3() {
    let (moto, sdk, app) = stage("examples/hello", "hello-s3");
    let hello = &common::apps().hello;
    let via_s3 = [("PORTICO_UPLOAD_VIA_S3", "1")];
    let first = deploy(&moto, &app, hello, &[], &via_s3).json();
    assert_eq!(first["plan"][0]["action"], "create_role");
    let plan = first["plan"].as_array().unwrap();
    let upload = plan.iter().find(|s| s["action"] == "upload_code");
    let upload = upload.expect("an upload step");
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

/// The binary inside a zip of one deflated entry (the layout `portico` writes).
fn unzipped(zip: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    let size = u32::from_le_bytes(zip[18..22].try_into().unwrap()) as usize;
    let start = 30 + u16_at(26) + u16_at(28);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&zip[start..start + size])
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The zip is kept for the next deploy of the same binary, never for another one: a rebuild
/// at the same path, with the same size and modification time and one byte apart, is zipped
/// anew and uploaded, and the function runs exactly its bytes.
#[test]
fn a_changed_binary_is_always_zipped_anew_and_uploaded() {
    let (moto, sdk, app) = stage("examples/hello", "hello-zip");
    // Stripped first, so the zip holds the very bytes given (nothing for portico to strip).
    let stripped = app.dir.join("stripped");
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(&common::apps().hello)
        .status()
        .expect("run strip (binutils)");
    assert!(status.success());
    let stripped = std::fs::read(&stripped).unwrap();
    let binary = app.dir.join("bootstrap");
    let mtime = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let put = |version: u8| {
        let mut bytes = stripped.clone();
        bytes.extend_from_slice(&[b'v', version, b'\n']);
        std::fs::write(&binary, &bytes).unwrap();
        let file = std::fs::File::options().write(true).open(&binary).unwrap();
        file.set_modified(mtime).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        bytes
    };
    let zip_path = app.dir.join(".portico/build/x86_64/bootstrap.zip");
    let deployed_sha = || {
        sdk.function(&format!("{}-api", app.prefix()))
            .code_sha256()
            .unwrap()
            .to_owned()
    };
    let sha_of = |zip: &[u8]| {
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip))
    };

    let a = put(b'a');
    let first = deploy(&moto, &app, &binary, &[], &[]).json();
    assert_eq!(first["zip"]["reused"], false, "{first}");
    let zip_a = std::fs::read(&zip_path).unwrap();
    assert_eq!(unzipped(&zip_a), a);
    assert_eq!(deployed_sha(), sha_of(&zip_a));

    let same = deploy(&moto, &app, &binary, &[], &[]).json();
    assert_eq!(same["zip"]["reused"], true, "{same}");
    assert_eq!(mutating(&same), Vec::<String>::new(), "{same}");

    let b = put(b'b');
    assert_eq!(a.len(), b.len());
    let second = deploy(&moto, &app, &binary, &[], &[]).json();
    assert_eq!(second["zip"]["reused"], false, "{second}");
    assert_eq!(mutating(&second), ["Lambda.UpdateFunctionCode"], "{second}");
    let zip_b = std::fs::read(&zip_path).unwrap();
    assert_eq!(unzipped(&zip_b), b, "the zip holds the new binary");
    assert_eq!(deployed_sha(), sha_of(&zip_b), "the function runs it");
    assert_eq!(record_sha(&app), sha_of(&zip_b));

    // Back to the first binary: zipped anew (only the last zip is kept) and uploaded.
    put(b'a');
    let back = deploy(&moto, &app, &binary, &[], &[]).json();
    assert_eq!(back["zip"]["reused"], false, "{back}");
    assert_eq!(mutating(&back), ["Lambda.UpdateFunctionCode"], "{back}");
    assert_eq!(deployed_sha(), sha_of(&zip_a));
}

/// `--binary` from a copy of the example outside the workspace: its `Cargo.toml` inherits
/// from a workspace that is not there, and Cargo is not asked.
#[test]
fn a_prebuilt_binary_deploys_from_an_app_folder_outside_a_workspace() {
    let (moto, sdk, app) = stage("examples/hello", "hello-outside");
    std::fs::copy(
        common::workspace().join("examples/hello/Cargo.toml"),
        app.dir.join("Cargo.toml"),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(app.dir.join("Cargo.toml"))
            .unwrap()
            .contains("version.workspace = true")
    );
    let run = deploy(&moto, &app, &common::apps().hello, &[], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    check_hello(&sdk, &app);
}

fn record_sha(app: &App) -> String {
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    record["functions"]["api"]["code_sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The fixture's config without the `metered` plan, the `generated` key, the activity and the
/// state machine (and the Step Functions actions of the functions' `permissions`).
fn without_extras(config: &str) -> String {
    let cut = |text: String, block: &str| {
        assert!(text.contains(block), "the fixture has {block:?}");
        text.replace(block, "")
    };
    let text = cut(config.to_owned(), "[[api_keys]]\nname = \"generated\"\n\n");
    let text = cut(
        text,
        "[[usage_plans]]\nname = \"metered\"\nquota = { limit = 3, period = \"DAY\" }\napi_keys = [\"partner\"]\n\n",
    );
    let text = cut(
        text,
        "[[activities]]\nname = \"ManualStep\"\n\n[[state_machines]]\nname = \"Promotion\"\ndefinition = \"promotion.asl.json\"\n\n",
    );
    let text = cut(
        text,
        "permissions = [\"states:StartExecution\", \"states:DescribeExecution\", \"states:SendTaskSuccess\", \"states:SendTaskFailure\"]\n",
    );
    let text = text.replace(
        "permissions = [\"states:GetActivityTask\", \"ses:SendEmail\"]",
        "permissions = [\"ses:SendEmail\"]",
    );
    text.replace(
        "api_keys = [\"partner\", \"generated\"]",
        "api_keys = [\"partner\"]",
    )
}

fn operations(result: &Value) -> Vec<String> {
    let mut ops: Vec<String> = mutating(result)
        .into_iter()
        .map(|op| op.rsplit('.').next().unwrap().to_owned())
        .collect();
    ops.sort();
    ops
}

#[test]
fn resources_that_leave_the_config_are_removed_with_or_without_the_record() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-shrink");
    let config_path = app.dir.join("portico.toml");
    let full = std::fs::read_to_string(&config_path).unwrap();
    let shrunk = without_extras(&full);
    let full_census = BTreeMap::from(FIXTURE_CENSUS);
    let shrunk_census = BTreeMap::from([
        ("activities", 0),
        ("api_keys", 1),
        ("api_resources", 4),
        ("functions", 4),
        ("log_groups", 4),
        ("rest_apis", 1),
        ("roles", 4),
        ("rules", 2),
        ("state_machines", 0),
        ("usage_plans", 1),
    ]);
    let removals = [
        "DeleteActivity",
        "DeleteApiKey",
        "DeleteRole",
        "DeleteRolePolicy",
        "DeleteRolePolicy",
        "DeleteRolePolicy",
        "DeleteStateMachine",
        "DeleteUsagePlan",
        "DeleteUsagePlanKey",
        "UpdateUsagePlan",
    ];

    // With the record, then from a fresh checkout (found by name prefix and tags).
    for with_record in [true, false] {
        std::fs::write(&config_path, &full).unwrap();
        deploy(&moto, &app, binary, &[], &[]).json();
        assert_eq!(sdk.census(&app), full_census);
        let api = sdk.rest_apis(&app.prefix())[0].id.clone().unwrap();
        let shape = sdk.api_shape(&api);
        if !with_record {
            std::fs::remove_file(app.record()).unwrap();
        }

        std::fs::write(&config_path, &shrunk).unwrap();
        let removed = deploy(&moto, &app, binary, &[], &[]).json();
        assert_eq!(operations(&removed), removals, "{removed}");
        assert_eq!(
            sdk.census(&app),
            shrunk_census,
            "with record: {with_record}"
        );
        assert_eq!(sdk.api_shape(&api), shape, "the API is untouched");
        let gold = &sdk.usage_plans(&format!("{}-gold", app.prefix()))[0];
        let keys = sdk
            .rt
            .block_on(
                sdk.apigw
                    .get_usage_plan_keys()
                    .usage_plan_id(gold.id.as_deref().unwrap())
                    .send(),
            )
            .unwrap();
        let key_names: Vec<String> = keys
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| k.name)
            .collect();
        assert_eq!(key_names, [format!("{}-partner", app.prefix())]);
        for entry in ENTRIES {
            let policies = sdk.role_policies(&format!("{}-{entry}", app.prefix()));
            assert!(
                !policies.contains_key("step-functions"),
                "{entry} loses the Step Functions permissions: {policies:?}"
            );
        }
        let record: Value =
            serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
        assert_eq!(record["activities"], serde_json::json!({}), "{record}");
        assert_eq!(record["state_machines"], serde_json::json!({}), "{record}");
        assert!(record["usage_plans"].get("metered").is_none(), "{record}");
        assert!(record["api_keys"].get("generated").is_none(), "{record}");
        assert!(record["roles"].get("state_machines").is_none(), "{record}");

        assert_redeploy_changes_nothing(&moto, &app, binary);
    }
}

#[test]
fn step_functions_tags_are_checked_and_put_back() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-tags");
    deploy(&moto, &app, binary, &[], &[]).json();
    let (activity, machine) = sdk.rt.block_on(async {
        let a = sdk.sfn.list_activities().send().await.unwrap().activities[0]
            .activity_arn
            .clone();
        let m = sdk
            .sfn
            .list_state_machines()
            .send()
            .await
            .unwrap()
            .state_machines[0]
            .state_machine_arn
            .clone();
        (a, m)
    });
    for (arn, keys) in [
        (&activity, vec!["portico:stage"]),
        (&machine, vec!["portico:app", "team"]),
    ] {
        sdk.rt
            .block_on(
                sdk.sfn
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys.into_iter().map(str::to_owned).collect()))
                    .send(),
            )
            .unwrap();
    }
    let repaired = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(
        operations(&repaired),
        ["TagResource", "TagResource"],
        "{repaired}"
    );
    for arn in [&activity, &machine] {
        let tags = sdk.sfn_tags(arn);
        assert_eq!(tags["portico:app"], app.name, "{arn}: {tags:?}");
        assert_eq!(tags["portico:stage"], STAGE, "{arn}: {tags:?}");
        assert_eq!(tags["team"], "platform", "{arn}: {tags:?}");
    }
    assert_redeploy_changes_nothing(&moto, &app, binary);
}

#[test]
fn secrets_are_generated_once_kept_from_the_functions_and_never_shown() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-secret");
    let config_path = app.dir.join("portico.toml");
    let full = std::fs::read_to_string(&config_path).unwrap();

    // First deploy: generated, every function gets it.
    let first_run = deploy(&moto, &app, binary, &[], &[]);
    let first = first_run.json();
    assert_eq!(first["secrets"][SECRET], "generated", "{first}");
    check_fixture(&sdk, &app);
    let key = link_key(&sdk, &app);
    assert!(!printed(&first_run, &key), "deploy printed the secret");

    // A no-op redeploy: kept, nothing changed.
    let noop_run = deploy(&moto, &app, binary, &[], &[]);
    let noop = noop_run.json();
    assert_eq!(noop["secrets"][SECRET], "kept");
    assert_eq!(mutating(&noop), Vec::<String>::new(), "{noop}");
    assert_eq!(link_key(&sdk, &app), key);

    // Neither the dry runs nor the text output nor the record show it.
    let runs = [
        deploy(&moto, &app, binary, &["--dry-run"], &[]),
        deploy_as(&moto, &app, binary, "text", &["--dry-run"], &[]),
        deploy_as(&moto, &app, binary, "text", &[], &[]),
        noop_run,
    ];
    for run in &runs {
        assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
        assert!(!printed(run, &key), "printed the secret:\n{}", run.stdout);
    }
    assert!(
        runs[2].stdout.contains("nothing changed"),
        "{}",
        runs[2].stdout
    );
    let record = std::fs::read_to_string(app.record()).unwrap();
    assert!(!record.contains(&key), "the record holds no secret");
    assert!(!record.contains(SECRET), "nor its name");

    // A fresh checkout (no record): the value is read back from the functions.
    std::fs::remove_dir_all(app.dir.join(".portico")).unwrap();
    let fresh = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(fresh["secrets"][SECRET], "kept");
    assert_eq!(mutating(&fresh), Vec::<String>::new(), "{fresh}");
    assert_eq!(link_key(&sdk, &app), key);

    // A function that lost it gets the API function's value back; only it is updated.
    let tick = format!("{}-tick", app.prefix());
    let mut env = env_of(&sdk.function(&tick));
    env.remove(SECRET);
    sdk.rt
        .block_on(
            sdk.lambda
                .update_function_configuration()
                .function_name(&tick)
                .environment(
                    aws_sdk_lambda::types::Environment::builder()
                        .set_variables(Some(env.into_iter().collect()))
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let repaired = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(
        mutating(&repaired),
        ["Lambda.UpdateFunctionConfiguration"],
        "{repaired}"
    );
    assert_eq!(link_key(&sdk, &app), key);

    // --rotate-secret: a new value, in every function.
    let rotated_run = deploy(&moto, &app, binary, &["--rotate-secret", SECRET], &[]);
    let rotated = rotated_run.json();
    assert_eq!(rotated["secrets"][SECRET], "rotated");
    assert_eq!(operations(&rotated), ["UpdateFunctionConfiguration"; 4]);
    let new_key = link_key(&sdk, &app);
    assert_ne!(new_key, key);
    assert!(!printed(&rotated_run, &new_key) && !printed(&rotated_run, &key));
    let unknown = deploy(&moto, &app, binary, &["--rotate-secret", "NOPE"], &[]);
    assert_ne!(unknown.code, Some(0));
    assert!(unknown.stderr.contains("NOPE"), "{}", unknown.stderr);

    // Removed from the config: the variable goes from every function, and nothing else.
    let without = full.replace(
        "[[secrets]]\nname = \"FIXTURE_LINK_KEY\"\ngenerate = \"base64url-32\"\n\n",
        "",
    );
    assert_ne!(without, full);
    std::fs::write(&config_path, &without).unwrap();
    let removed = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(operations(&removed), ["UpdateFunctionConfiguration"; 4]);
    for entry in ENTRIES {
        let env = env_of(&sdk.function(&format!("{}-{entry}", app.prefix())));
        assert!(!env.contains_key(SECRET), "{entry}: {:?}", env.keys());
    }

    // Declared again: exactly the configuration updates, with a new value.
    std::fs::write(&config_path, &full).unwrap();
    let added = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(added["secrets"][SECRET], "generated");
    assert_eq!(operations(&added), ["UpdateFunctionConfiguration"; 4]);
    let again = link_key(&sdk, &app);
    assert!(again != key && again != new_key);

    // A stage env var of the same name overrides it.
    std::fs::write(
        &config_path,
        full.replace(
            "env = { FIXTURE_STAGE = \"dev\" }",
            "env = { FIXTURE_STAGE = \"dev\", FIXTURE_LINK_KEY = \"pinned\" }",
        ),
    )
    .unwrap();
    let pinned = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(pinned["secrets"][SECRET], "overridden");
    assert_eq!(operations(&pinned), ["UpdateFunctionConfiguration"; 4]);
    assert_eq!(link_key(&sdk, &app), "pinned");
}

#[test]
fn the_approval_example_deploys_its_workflow_with_scoped_permissions() {
    let (moto, sdk, app) = stage("examples/approval", "approval-e2e");
    // The definitions live in a subdirectory, which `App::new` does not copy.
    let machines = app.dir.join("statemachines");
    std::fs::create_dir_all(&machines).unwrap();
    for file in ["activity.asl.json", "callback.asl.json"] {
        std::fs::copy(
            common::workspace()
                .join("examples/approval/statemachines")
                .join(file),
            machines.join(file),
        )
        .unwrap();
    }
    let binary = common::approval_binary();

    let first = deploy(&moto, &app, binary, &[], &[]).json();
    let prefix = app.prefix();
    let arn = |service: &str, resource: &str| {
        format!("arn:aws:{service}:us-east-1:123456789012:{resource}")
    };

    // Functions: the API, the activity worker (its schedule and long-poll timeout) and the
    // callback design's notify function, all with the generated link key and the settings.
    let api = sdk.function(&format!("{prefix}-api"));
    let worker = sdk.function(&format!("{prefix}-worker"));
    let notify = sdk.function(&format!("{prefix}-notify"));
    assert_eq!(worker.timeout(), Some(75));
    let key = env_of(&api)["APPROVAL_LINK_KEY"].clone();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&key)
            .map(|b| b.len())
            .ok(),
        Some(32),
        "a 32-byte base64 key"
    );
    for (f, entry) in [(&api, "api"), (&worker, "worker"), (&notify, "notify")] {
        let env = env_of(f);
        assert_eq!(env["PORTICO_HANDLER"], entry);
        assert_eq!(env["APPROVAL_DESIGN"], "activity");
        assert_eq!(env["APPROVAL_SENDER"], "hr@example.com");
        assert_eq!(env["APPROVAL_LINK_KEY"], key, "one key for every function");
    }
    assert!(
        !first.to_string().contains(&key),
        "the key is not in the output"
    );

    // The worker's schedule; notify has no rule.
    let rules = sdk.schedule_rules(&prefix);
    assert_eq!(
        rules,
        [(format!("{prefix}-worker"), "rate(1 minute)".to_owned())]
    );
    assert_eq!(
        sdk.rule_targets(&format!("{prefix}-worker")),
        [worker.function_arn().unwrap()],
        "the rule runs the worker"
    );

    // Step Functions: the activity and both state machines, definitions with real ARNs.
    let activities = sdk.rt.block_on(sdk.sfn.list_activities().send()).unwrap();
    let activity_arn = arn("states", &format!("activity:{prefix}-ManualStep"));
    assert!(
        activities
            .activities()
            .iter()
            .any(|a| a.activity_arn() == activity_arn),
        "{activities:?}"
    );
    let definition = |name: &str| -> Value {
        let out = sdk
            .rt
            .block_on(
                sdk.sfn
                    .describe_state_machine()
                    .state_machine_arn(arn("states", &format!("stateMachine:{prefix}-{name}")))
                    .send(),
            )
            .unwrap_or_else(|e| panic!("state machine {name}: {e:?}"));
        serde_json::from_str(out.definition()).unwrap()
    };
    let activity_design = definition("PromotionApproval");
    assert_eq!(
        activity_design["States"]["ManualApproval"]["Resource"],
        activity_arn.as_str()
    );
    let callback_design = definition("PromotionApprovalCallback");
    assert_eq!(
        callback_design["States"]["ManualApproval"]["Parameters"]["FunctionName"],
        notify.function_arn().unwrap()
    );

    // Least privilege: each function its own role with what its entry point calls, on the
    // declared activity, state machines and identity only; the state machines' role may
    // invoke exactly notify.
    let machines = [
        arn(
            "states",
            &format!("stateMachine:{prefix}-PromotionApproval"),
        ),
        arn(
            "states",
            &format!("stateMachine:{prefix}-PromotionApprovalCallback"),
        ),
    ];
    let executions: Vec<String> = ["PromotionApproval", "PromotionApprovalCallback"]
        .iter()
        .map(|m| arn("states", &format!("execution:{prefix}-{m}:*")))
        .collect();
    let identity = serde_json::json!([arn("ses", "identity/hr@example.com")]);
    let actions = |policies: &BTreeMap<String, Value>| -> Vec<(String, Value)> {
        policies
            .iter()
            .filter(|(name, _)| name.as_str() != "logs")
            .flat_map(|(_, p)| p["Statement"].as_array().unwrap().clone())
            .map(|s| (s["Action"].to_string(), s["Resource"].clone()))
            .collect()
    };
    let tasks = serde_json::json!([
        activity_arn.clone(),
        machines[0].clone(),
        machines[1].clone()
    ]);
    let api = sdk.role_policies(&format!("{prefix}-api"));
    assert_no_wildcard_actions(&api);
    assert_eq!(
        actions(&api),
        [
            (
                r#"["states:StartExecution"]"#.to_owned(),
                serde_json::json!(machines)
            ),
            (
                r#"["states:DescribeExecution"]"#.to_owned(),
                serde_json::json!(executions)
            ),
            (
                r#"["states:SendTaskFailure","states:SendTaskSuccess"]"#.to_owned(),
                tasks.clone()
            ),
        ],
        "the internet-facing function: no activity polling, no mail, no StopExecution"
    );
    let worker = sdk.role_policies(&format!("{prefix}-worker"));
    assert_no_wildcard_actions(&worker);
    assert_eq!(
        actions(&worker),
        [
            (r#"["ses:SendEmail"]"#.to_owned(), identity.clone()),
            (
                r#"["states:GetActivityTask"]"#.to_owned(),
                serde_json::json!([activity_arn.clone()])
            ),
            (r#"["states:SendTaskFailure"]"#.to_owned(), tasks),
        ]
    );
    let notify_role = sdk.role_policies(&format!("{prefix}-notify"));
    assert_eq!(
        actions(&notify_role),
        [(r#"["ses:SendEmail"]"#.to_owned(), identity)]
    );
    let states = sdk.role_policies(&format!("{prefix}-states"));
    assert_no_wildcard_actions(&states);
    let invoke = states["invoke-functions"].to_string();
    assert!(invoke.contains(notify.function_arn().unwrap()), "{invoke}");
    assert!(
        !invoke.contains(&format!("function:{prefix}-api")),
        "{invoke}"
    );

    // The HR system's usage plan and key, bound to the stage.
    let plans = sdk.usage_plans(&format!("{prefix}-hr"));
    assert_eq!(plans.len(), 1, "{plans:?}");
    let plan = &plans[0];
    let throttle = plan.throttle().unwrap();
    assert_eq!((throttle.rate_limit(), throttle.burst_limit()), (5.0, 10));
    let quota = plan.quota().unwrap();
    assert_eq!(quota.limit(), 1000);
    assert_eq!(quota.period().map(|p| p.as_str()), Some("DAY"));
    assert_eq!(
        plan.api_stages()
            .iter()
            .map(|s| s.stage().unwrap_or_default())
            .collect::<Vec<_>>(),
        [STAGE]
    );
    assert_eq!(sdk.api_keys(&format!("{prefix}-hr-system")).len(), 1);

    // Deployed as declared: a second deploy changes nothing.
    assert_redeploy_changes_nothing(&moto, &app, binary);
}

/// The tags of log group `name`.
fn log_group_tags(sdk: &Sdk, name: &str) -> BTreeMap<String, String> {
    let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}");
    sdk.rt
        .block_on(sdk.logs.list_tags_for_resource().resource_arn(arn).send())
        .unwrap()
        .tags
        .unwrap_or_default()
        .into_iter()
        .collect()
}

#[test]
fn a_custom_log_group_is_created_granted_recorded_and_removed_only_when_ours() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-loggroup");
    let (custom, full) = app.with_custom_nightly_log_group();
    let config_path = app.dir.join("portico.toml");
    let prefix = app.prefix();
    let default_group = format!("/aws/lambda/{prefix}-nightly");

    deploy(&moto, &app, binary, &[], &[]).json();
    // The custom group, with the retention and the stage's tags; no default group for it.
    assert_eq!(
        sdk.log_groups(&custom),
        BTreeMap::from([(custom.clone(), Some(14))])
    );
    let tags = log_group_tags(&sdk, &custom);
    assert_eq!(tags.get("portico:app"), Some(&app.name), "{tags:?}");
    assert_eq!(tags.get("portico:stage").map(String::as_str), Some(STAGE));
    let defaults = sdk.log_groups(&format!("/aws/lambda/{prefix}"));
    assert!(!defaults.contains_key(&default_group), "{defaults:?}");
    assert_eq!(
        defaults.len(),
        3,
        "the other functions' groups: {defaults:?}"
    );
    // Each function's role may write to exactly its own group.
    let arn = |g: &str| format!("arn:aws:logs:us-east-1:123456789012:log-group:{g}:*");
    for entry in ENTRIES {
        let policies = sdk.role_policies(&format!("{prefix}-{entry}"));
        let group = if entry == "nightly" {
            custom.clone()
        } else {
            format!("/aws/lambda/{prefix}-{entry}")
        };
        assert_eq!(
            policies["logs"]["Statement"][0]["Resource"],
            serde_json::json!([arn(&group)]),
            "{entry}"
        );
    }
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    assert_eq!(record["functions"]["nightly"]["log_group"], custom.as_str());
    assert!(
        record["functions"]["api"].get("log_group").is_none(),
        "{record}"
    );
    assert!(
        record["log_groups"]
            .as_array()
            .unwrap()
            .contains(&Value::from(custom.as_str())),
        "{record}"
    );

    // Nothing to do: moto does not report LoggingConfig, and the comparison tolerates it.
    assert_redeploy_changes_nothing(&moto, &app, binary);

    // A group in the record that the app did not make (no tags) is never deleted.
    let foreign = format!("/custom/{}/not-ours", app.name);
    sdk.rt
        .block_on(sdk.logs.create_log_group().log_group_name(&foreign).send())
        .unwrap();
    let mut record = record;
    record["log_groups"]
        .as_array_mut()
        .unwrap()
        .push(Value::from(foreign.as_str()));
    std::fs::write(app.record(), record.to_string()).unwrap();

    // Back to the default group: the custom one (ours, tagged) goes.
    std::fs::write(&config_path, &full).unwrap();
    let back = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(
        operations(&back),
        [
            "CreateLogGroup",
            "DeleteLogGroup",
            "PutRetentionPolicy",
            "PutRolePolicy"
        ],
        "{back}"
    );
    assert!(
        sdk.log_groups(&custom).is_empty(),
        "the custom group is gone"
    );
    assert_eq!(
        sdk.log_groups(&foreign).len(),
        1,
        "a group without the stage's tags is left alone"
    );
    assert_eq!(
        sdk.log_groups(&default_group),
        BTreeMap::from([(default_group.clone(), Some(14))])
    );
    assert_redeploy_changes_nothing(&moto, &app, binary);
}

#[test]
fn same_named_resources_without_the_stages_tags_stop_the_deploy_untouched() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-clash");
    let prefix = app.prefix();
    // Another team's function, activity and state machine that happen to have the names this
    // stage would give its own; none carries the stage's tags, no record lists them.
    let (function_arn, activity_arn, machine_arn) = sdk.foreign_resources(
        "another-team",
        &format!("{prefix}-api"),
        &format!("{prefix}-ManualStep"),
        &format!("{prefix}-Promotion"),
    );
    let untouched = |sdk: &Sdk| {
        let f = sdk.function(&format!("{prefix}-api"));
        assert_eq!(f.memory_size(), Some(1024));
        assert!(f.role().unwrap().ends_with(":role/another-team"));
        assert_eq!(
            env_of(&f),
            BTreeMap::from([("OWNER".to_owned(), "another-team".to_owned())])
        );
        let tags = sdk
            .rt
            .block_on(sdk.lambda.list_tags().resource(&function_arn).send())
            .unwrap()
            .tags
            .unwrap_or_default();
        assert!(tags.is_empty(), "{tags:?}");
        assert!(sdk.sfn_tags(&activity_arn).is_empty());
        assert!(sdk.sfn_tags(&machine_arn).is_empty());
        let definition = sdk
            .rt
            .block_on(
                sdk.sfn
                    .describe_state_machine()
                    .state_machine_arn(&machine_arn)
                    .send(),
            )
            .unwrap()
            .definition;
        assert_eq!(definition, common::FOREIGN_DEFINITION);
    };

    for dry_run in [true, false] {
        let extra: &[&str] = if dry_run { &["--dry-run"] } else { &[] };
        let run = deploy(&moto, &app, binary, extra, &[]);
        assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
        let err = &run.stderr;
        assert!(
            err.contains(&format!(
                "stage dev of app {} would take over 3 resources that it did not create",
                app.name
            )) && err.contains("nothing was changed"),
            "{err}"
        );
        for line in [
            format!("  function {prefix}-api\n"),
            format!("  activity {prefix}-ManualStep\n"),
            format!("  state machine {prefix}-Promotion\n"),
            format!(
                "aws lambda tag-resource --resource {function_arn} --tags portico:app={},portico:stage=dev",
                app.name
            ),
            format!(
                "aws stepfunctions tag-resource --resource-arn {activity_arn} --tags key=portico:app,value={} key=portico:stage,value=dev",
                app.name
            ),
            "deploy under another name".to_owned(),
        ] {
            assert!(err.contains(&line), "{line:?} in {err}");
        }
        untouched(&sdk);
        // Nothing of the stage was made either.
        let census = sdk.census(&app);
        assert_eq!(
            (
                census["roles"],
                census["log_groups"],
                census["rest_apis"],
                census["functions"]
            ),
            (0, 0, 0, 1),
            "{census:?}"
        );
        assert!(!app.record().exists());
    }

    // Marked as the stage's, as the error says, they are deployed over like its own.
    sdk.rt.block_on(async {
        let tags = [("portico:app", app.name.as_str()), ("portico:stage", STAGE)];
        let mut call = sdk.lambda.tag_resource().resource(&function_arn);
        for (k, v) in tags {
            call = call.tags(k, v);
        }
        call.send().await.unwrap();
        for arn in [&activity_arn, &machine_arn] {
            let mut call = sdk.sfn.tag_resource().resource_arn(arn);
            for (k, v) in tags {
                call = call.tags(aws_sdk_sfn::types::Tag::builder().key(k).value(v).build());
            }
            call.send().await.unwrap();
        }
    });
    deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(
        sdk.function(&format!("{prefix}-api")).memory_size(),
        Some(256)
    );
}

#[test]
fn a_shared_role_deployment_moves_to_per_function_roles() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-upgrade");
    let prefix = app.prefix();
    deploy(&moto, &app, binary, &[], &[]).json();

    // Turn the stage into what a deploy from before per-function roles left: one role named
    // `<app>-<stage>` with the stage's tags and the union of the policies, every function
    // running under it, invoke permissions without the account condition, and a record
    // naming that role.
    let shared_arn = sdk.rt.block_on(async {
        let tags = [("portico:app", app.name.as_str()), ("portico:stage", STAGE)];
        let arn = sdk.create_lambda_role(&prefix, &tags).await;
        for (name, document) in [
            ("logs", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:PutLogEvents"],"Resource":["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*"]}]}"#),
            ("ses", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendRawEmail"],"Resource":["arn:aws:ses:us-east-1:123456789012:identity/hr@example.com"]}]}"#),
        ] {
            sdk.iam
                .put_role_policy()
                .role_name(&prefix)
                .policy_name(name)
                .policy_document(document)
                .send()
                .await
                .unwrap();
        }
        for entry in ENTRIES {
            let function = format!("{prefix}-{entry}");
            sdk.lambda
                .update_function_configuration()
                .function_name(&function)
                .role(&arn)
                .send()
                .await
                .unwrap();
            let role = function.clone();
            let policies = sdk
                .iam
                .list_role_policies()
                .role_name(&role)
                .send()
                .await
                .unwrap()
                .policy_names;
            for policy in policies {
                sdk.iam
                    .delete_role_policy()
                    .role_name(&role)
                    .policy_name(policy)
                    .send()
                    .await
                    .unwrap();
            }
            sdk.iam.delete_role().role_name(&role).send().await.unwrap();
        }
        let api = sdk.lambda.get_policy().function_name(format!("{prefix}-api"));
        let policy: Value = serde_json::from_str(&api.send().await.unwrap().policy.unwrap()).unwrap();
        let source = policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .unwrap()
            .to_owned();
        sdk.lambda
            .remove_permission()
            .function_name(format!("{prefix}-api"))
            .statement_id("portico-apigateway")
            .send()
            .await
            .unwrap();
        sdk.lambda
            .add_permission()
            .function_name(format!("{prefix}-api"))
            .statement_id("portico-apigateway")
            .action("lambda:InvokeFunction")
            .principal("apigateway.amazonaws.com")
            .source_arn(source)
            .send()
            .await
            .unwrap();
        arn
    });
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    let roles = record["roles"].as_object_mut().unwrap();
    roles.retain(|k, _| !k.starts_with("function:"));
    roles.insert(
        "functions".to_owned(),
        serde_json::json!({"name": prefix, "arn": shared_arn}),
    );
    std::fs::write(app.record(), record.to_string()).unwrap();

    let upgraded = deploy(&moto, &app, binary, &[], &[]).json();
    let mut expected = vec!["AddPermission", "RemovePermission"];
    expected.extend(["CreateRole"; 4]);
    expected.extend(["DeleteRole"]);
    expected.extend(["DeleteRolePolicy"; 2]);
    // api 2 (logs, step-functions), tick 3 (and ses), nightly 1, notify 2.
    expected.extend(["PutRolePolicy"; 8]);
    expected.extend(["UpdateFunctionConfiguration"; 4]);
    expected.sort_unstable();
    assert_eq!(operations(&upgraded), expected, "{upgraded}");
    assert!(!sdk.role_exists(&prefix), "the shared role is gone");
    for entry in ENTRIES {
        let f = sdk.function(&format!("{prefix}-{entry}"));
        assert!(
            f.role()
                .unwrap()
                .ends_with(&format!(":role/{prefix}-{entry}")),
            "{entry}"
        );
    }
    check_fixture(&sdk, &app);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(app.record()).unwrap()).unwrap();
    assert!(record["roles"].get("functions").is_none(), "{record}");
    assert_eq!(
        record["roles"]["function:api"]["name"],
        format!("{prefix}-api"),
        "{record}"
    );

    // A role of that name without the stage's tags is not the stage's: left alone.
    sdk.rt
        .block_on(
            sdk.iam
                .create_role()
                .role_name(&prefix)
                .assume_role_policy_document(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                )
                .send(),
        )
        .unwrap();
    assert_redeploy_changes_nothing(&moto, &app, binary);
    assert!(sdk.role_exists(&prefix));
}
