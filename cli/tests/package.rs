//! `portico package` against moto in server mode: the real CLI writes the zip and the
//! CloudFormation template of the fixture app, the zip goes to moto's S3, and moto's
//! CloudFormation creates the stack from the template; the AWS SDK then checks what exists.
//!
//! moto 5.2.5's CloudFormation skips resource types it does not implement (it warns and
//! creates nothing for them, and the stack still completes): `AWS::ApiGateway::Stage`,
//! `UsagePlan`, `ApiKey`, `UsagePlanKey`, `GatewayResponse` and `AWS::StepFunctions::Activity`.
//! Those are checked in the template here (their shapes are CloudFormation's documented ones,
//! and the unit tests of `cli/src/package.rs` check their references); everything moto does
//! implement is checked as created. Two more moto quirks are worked around where they show:
//! inline policies come back as Python's `repr` of the document, and state machines made by
//! CloudFormation are listed only with moto's Step Functions execution engine off.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use base64::Engine as _;
use common::{App, STAGE, Sdk, assert_no_wildcard_actions, env_of, stage};
use portico_e2e::moto;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The resource types moto's CloudFormation does not create (see the module docs).
const NOT_IN_MOTO: [&str; 6] = [
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::StepFunctions::Activity",
];

#[test]
fn the_packaged_template_creates_the_stack_in_cloudformation() {
    let (moto, sdk, app) = stage("cli/tests/fixtures/deploy-fixture", "fixture-pkg");
    let out_dir = app.dir.join("out");

    // Package: no AWS call, the same checked zip as deploy, and the template.
    let mut cmd = Command::new(common::PORTICO);
    cmd.args(["package", "--stage", STAGE, "--output", "json", "--app"])
        .arg(&app.dir)
        .arg("--out")
        .arg(&out_dir)
        .arg("--binary")
        .arg(&common::apps().fixture);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let zip = std::fs::read(out_dir.join("bootstrap.zip")).unwrap();
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
    assert_eq!(result["code_sha256"], sha.as_str(), "{result}");
    let template_text = std::fs::read_to_string(out_dir.join("template.json")).unwrap();
    assert!(
        !template_text.contains("partner-key-0123456789abcdef"),
        "key values are parameters, never in the template"
    );
    let template: Value = serde_json::from_str(&template_text).unwrap();
    // The secret: a NoEcho parameter without a default, of the declared length, that every
    // function refers to; no value anywhere.
    let secret_id = result["secret_parameters"]["FIXTURE_LINK_KEY"]
        .as_str()
        .unwrap_or_else(|| panic!("{result}"));
    assert_eq!(secret_id, "SecretFixtureLinkKey");
    let secret = &template["Parameters"][secret_id];
    assert_eq!(secret["NoEcho"], true, "{secret}");
    assert!(secret.get("Default").is_none(), "{secret}");
    assert_eq!(secret["MinLength"], 43, "{secret}");
    let functions: Vec<&Value> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Function")
        .collect();
    assert_eq!(functions.len(), 4);
    for f in functions {
        assert_eq!(
            f["Properties"]["Environment"]["Variables"]["FIXTURE_LINK_KEY"],
            serde_json::json!({ "Ref": secret_id })
        );
    }
    let secret_value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    let types: BTreeMap<String, usize> =
        template["Resources"]
            .as_object()
            .unwrap()
            .values()
            .fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r["Type"].as_str().unwrap().to_owned()).or_default() += 1;
                m
            });
    for (kind, n) in [
        ("AWS::IAM::Role", 5),
        ("AWS::Lambda::Function", 4),
        ("AWS::Logs::LogGroup", 4),
        ("AWS::Events::Rule", 2),
        ("AWS::Lambda::Permission", 3),
        ("AWS::ApiGateway::RestApi", 1),
        ("AWS::ApiGateway::Deployment", 1),
        ("AWS::ApiGateway::Stage", 1),
        ("AWS::ApiGateway::GatewayResponse", 2),
        ("AWS::ApiGateway::UsagePlan", 2),
        ("AWS::ApiGateway::ApiKey", 2),
        ("AWS::ApiGateway::UsagePlanKey", 3),
        ("AWS::StepFunctions::Activity", 1),
        ("AWS::StepFunctions::StateMachine", 1),
    ] {
        assert_eq!(types.get(kind), Some(&n), "{kind}: {types:?}");
    }

    // Upload the code (path-style, as against any local endpoint), then create the stack.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk.config)
            .force_path_style(true)
            .build(),
    );
    let cfn = aws_sdk_cloudformation::Client::new(&sdk.config);
    let bucket = "portico-package-tests";
    let key = result["code_key"].as_str().unwrap().to_owned();
    assert_eq!(key, format!("{}/{STAGE}/{}.zip", app.name, hex(&zip)));
    let stack = result["stack_name"].as_str().unwrap().to_owned();
    let status = sdk.rt.block_on(async {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(zip.clone().into())
            .send()
            .await
            .unwrap();
        cfn.create_stack()
            .stack_name(&stack)
            .template_body(&template_text)
            .capabilities(Capability::CapabilityNamedIam)
            .parameters(
                Parameter::builder()
                    .parameter_key("CodeS3Bucket")
                    .parameter_value(bucket)
                    .build(),
            )
            .parameters(
                Parameter::builder()
                    .parameter_key(secret_id)
                    .parameter_value(&secret_value)
                    .build(),
            )
            .parameters(
                Parameter::builder()
                    .parameter_key("ApiKeyValuePartner")
                    .parameter_value("partner-key-0123456789abcdef")
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateStack: {e:?}"));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stacks = cfn
                .describe_stacks()
                .stack_name(&stack)
                .send()
                .await
                .unwrap();
            let status = stacks.stacks()[0].stack_status().cloned().unwrap();
            if status != StackStatus::CreateInProgress || Instant::now() > deadline {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let events = sdk
        .rt
        .block_on(cfn.describe_stack_events().stack_name(&stack).send())
        .map(|e| format!("{:#?}", e.stack_events()))
        .unwrap_or_default();
    assert_eq!(status, StackStatus::CreateComplete, "{events}");

    // What CloudFormation made, by the stack's own account of it, then by each service.
    let made: BTreeSet<(String, String)> = sdk
        .rt
        .block_on(cfn.list_stack_resources().stack_name(&stack).send())
        .unwrap()
        .stack_resource_summaries()
        .iter()
        .map(|r| {
            (
                r.resource_type().unwrap_or_default().to_owned(),
                r.logical_resource_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap();
        if !NOT_IN_MOTO.contains(&kind) {
            assert!(
                made.contains(&(kind.to_owned(), id.clone())),
                "{kind} {id} not in the stack: {made:?}"
            );
        }
    }
    let prefix = app.prefix();
    for entry in ["api", "tick", "nightly", "notify"] {
        let f = sdk.function(&format!("{prefix}-{entry}"));
        assert_eq!(env_of(&f)["PORTICO_HANDLER"], entry);
        assert_eq!(env_of(&f)["FIXTURE_STAGE"], "dev");
        assert_eq!(
            env_of(&f)["FIXTURE_LINK_KEY"],
            secret_value,
            "the parameter's value"
        );
        assert!(
            f.role()
                .unwrap()
                .ends_with(&format!(":role/{prefix}-{entry}")),
            "its own role: {:?}",
            f.role()
        );
    }
    assert_eq!(
        sdk.function(&format!("{prefix}-api")).memory_size(),
        Some(256)
    );
    // Each function's role has the policies of its `permissions` only, as deploy makes them.
    for (entry, names) in [
        ("api", &["logs", "step-functions"][..]),
        ("tick", &["logs", "ses", "step-functions"][..]),
        ("nightly", &["logs"][..]),
        ("notify", &["logs", "ses"][..]),
    ] {
        let policies = role_policies(&sdk, &format!("{prefix}-{entry}"));
        assert_eq!(policies.keys().collect::<Vec<_>>(), names, "{entry}");
        assert_no_wildcard_actions(&policies);
    }
    let states_policies = role_policies(&sdk, &format!("{prefix}-states"));
    assert_no_wildcard_actions(&states_policies);
    assert!(
        states_policies["invoke-functions"]
            .to_string()
            .contains(&format!(":function:{prefix}-tick")),
        "{states_policies:?}"
    );
    let apis = sdk.rest_apis(&prefix);
    assert_eq!(apis.len(), 1);
    let shape = sdk.api_shape(apis[0].id.as_deref().unwrap());
    assert!(shape.contains_key("/{proxy+}"), "{shape:?}");
    let keyed = shape
        .values()
        .flat_map(|methods| methods.values())
        .filter(|(key_required, ..)| *key_required)
        .count();
    assert!(keyed >= 1, "the API-key route: {shape:?}");
    for (_, (_, auth, kind, uri)) in shape.values().flat_map(|m| m.iter()) {
        assert_eq!((auth.as_str(), kind.as_str()), ("NONE", "AWS_PROXY"));
        assert!(
            uri.ends_with(&format!(":function:{prefix}-api/invocations")),
            "{uri}"
        );
    }
    for (entry, expression) in [("tick", "rate(1 minute)"), ("nightly", "cron(0 3 * * ? *)")] {
        let rule = sdk
            .rt
            .block_on(
                sdk.events
                    .describe_rule()
                    .name(format!("{prefix}-{entry}"))
                    .send(),
            )
            .unwrap();
        assert_eq!(rule.schedule_expression(), Some(expression));
    }
    let groups = sdk.log_groups(&format!("/aws/lambda/{prefix}"));
    assert_eq!(groups.len(), 4, "{groups:?}");
    assert!(groups.values().all(|r| *r == Some(14)), "{groups:?}");
    // moto's CloudFormation puts state machines in its plain Step Functions backend, which
    // the API serves only with the execution engine (the harness turns it on) off.
    moto.request(
        "POST",
        "/moto-api/config",
        r#"{"stepfunctions":{"execute_state_machine":false}}"#,
    )
    .unwrap();
    let machines = sdk
        .rt
        .block_on(sdk.sfn.list_state_machines().send())
        .unwrap();
    let machine = machines
        .state_machines()
        .iter()
        .find(|m| m.name() == format!("{prefix}-Promotion"))
        .unwrap_or_else(|| panic!("the state machine: {machines:?}\n{made:?}"));
    let definition = sdk
        .rt
        .block_on(
            sdk.sfn
                .describe_state_machine()
                .state_machine_arn(machine.state_machine_arn())
                .send(),
        )
        .unwrap();
    let definition: Value = serde_json::from_str(definition.definition()).unwrap();
    assert_eq!(
        definition["States"]["ManualStep"]["Resource"],
        format!("arn:aws:states:us-east-1:123456789012:activity:{prefix}-ManualStep"),
        "the pseudo parameters are substituted"
    );

    // The usage plans, keys and stage moto does not create: in the template, as deploy has them.
    let resources = template["Resources"].as_object().unwrap();
    let gold = resources
        .values()
        .find(|r| r["Properties"]["UsagePlanName"] == format!("{prefix}-gold"))
        .expect("usage plan gold");
    assert_eq!(gold["Properties"]["Throttle"]["BurstLimit"], 200);
    assert_eq!(gold["Properties"]["Quota"]["Period"], "MONTH");
    assert_eq!(
        gold["Properties"]["ApiStages"][0]["Stage"]["Ref"],
        "StageDev"
    );
}

/// Role `role`'s inline policies. moto's CloudFormation stores a template's policy documents
/// as Python's `repr` of them (`{'Version': '2012-10-17', ...}`), which `GetRolePolicy` then
/// returns: read that form too (the documents have no quotes of their own).
fn role_policies(sdk: &Sdk, role: &str) -> BTreeMap<String, Value> {
    sdk.role_policies_read_as(role, |text| {
        let text = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&text)
            .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
            .unwrap_or_else(|e| panic!("policy of {role}: {e}: {text}"))
    })
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_next_step_shows_how_to_pass_each_secret() {
    let app = App::new("cli/tests/fixtures/deploy-fixture", "fixture-pkg-text");
    let out = Command::new(common::PORTICO)
        .args(["package", "--stage", STAGE, "--app"])
        .arg(&app.dir)
        .arg("--out")
        .arg(app.dir.join("out"))
        .arg("--binary")
        .arg(&common::apps().fixture)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "SecretFixtureLinkKey=\"$(openssl rand -base64 32 | tr -d '\\n=' | tr '+/' '-_')\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("leave SecretFixtureLinkKey out of --parameter-overrides"),
        "{stdout}"
    );
}

#[test]
fn package_refuses_a_stage_that_is_not_declared() {
    let app = App::new("cli/tests/fixtures/deploy-fixture", "fixture-pkg-bad");
    let out = Command::new(common::PORTICO)
        .args(["package", "--stage", "nope", "--app"])
        .arg(&app.dir)
        .arg("--out")
        .arg(app.dir.join("out"))
        .arg("--binary")
        .arg(&common::apps().fixture)
        .envs(moto::env("http://127.0.0.1:9"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(!app.dir.join("out").exists(), "nothing written");
}
