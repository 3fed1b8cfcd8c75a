//! `portico url`, `invoke` and `delete` against moto in server mode: the fixture app is
//! deployed with the real CLI binary, then each command runs as a child process and the AWS
//! SDK checks what exists. The deploy helpers are `common`'s.

mod common;

use std::process::Command;
use std::time::Instant;

use common::{App, Run, STAGE, Sdk, deploy, fixture_stage, stage};
use portico_e2e::moto::{self, Moto};

/// Runs `portico ARGS --app DIR` against moto with `stdin`.
fn portico(moto: &Moto, app: &App, args: &[&str], stdin: &str) -> Run {
    portico_with(moto, app, args, stdin, &[])
}

/// [`portico`] with environment variables `env` set.
fn portico_with(moto: &Moto, app: &App, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
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
    for (k, v) in env {
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
    let (moto, sdk, app, binary) = fixture_stage("fixture-cmds");

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

#[test]
fn delete_removes_a_custom_log_group_of_the_stage_and_nothing_like_it() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-del-logs");
    let (custom, _) = app.with_custom_nightly_log_group();
    // A group whose name starts like the custom one, not the app's (no tags).
    let foreign = format!("{custom}-archive");
    sdk.rt
        .block_on(sdk.logs.create_log_group().log_group_name(&foreign).send())
        .unwrap();

    deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(sdk.log_groups(&custom).len(), 2, "custom and foreign");

    // With the record, then (deployed again) without it: the config names the group.
    for with_record in [true, false] {
        if !with_record {
            deploy(&moto, &app, binary, &[], &[]).json();
            std::fs::remove_file(app.record()).unwrap();
        }
        let deleted = portico(&moto, &app, &["delete", "--stage", STAGE, "--yes"], "");
        let text = ok(&deleted).to_owned();
        assert!(
            text.contains(&format!("delete log group {custom}\n")),
            "{text}"
        );
        assert_eq!(
            sdk.log_groups(&custom).into_keys().collect::<Vec<_>>(),
            std::slice::from_ref(&foreign),
            "only the stage's own group goes ({with_record})"
        );
        let census = sdk.census(&app);
        assert!(census.values().all(|n| *n == 0), "{census:?}\n{text}");
    }
}

#[test]
fn delete_leaves_same_named_resources_without_the_stages_tags() {
    let (moto, sdk, app) = stage("cli/tests/fixtures/deploy-fixture", "fixture-del-foreign");
    let prefix = app.prefix();
    // Another team's resources named as the stage's would be (the function's role among
    // them, named like the shared role of older deployments): never deployed by this stage.
    let (function_arn, activity_arn, machine_arn) = sdk.foreign_resources(
        &prefix,
        &format!("{prefix}-api"),
        &format!("{prefix}-ManualStep"),
        &format!("{prefix}-Promotion"),
    );
    let still_there = |sdk: &Sdk| {
        let census = sdk.census(&app);
        assert_eq!(
            (
                census["functions"],
                census["activities"],
                census["state_machines"],
                census["roles"]
            ),
            (1, 1, 1, 1),
            "{census:?}"
        );
        assert!(sdk.role_exists(&prefix));
    };
    let deleted = portico(&moto, &app, &["delete", "--stage", STAGE, "--yes"], "");
    let text = ok(&deleted).to_owned();
    assert!(text.contains("nothing to delete"), "{text}");
    still_there(&sdk);

    assert!(sdk.sfn_tags(&activity_arn).is_empty());
    assert!(sdk.sfn_tags(&machine_arn).is_empty());
    assert!(
        sdk.rt
            .block_on(
                sdk.lambda
                    .get_function()
                    .function_name(&function_arn)
                    .send()
            )
            .is_ok()
    );
}

#[test]
fn a_dry_run_delete_lists_the_deletions_and_changes_nothing() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-del-dry");
    let prefix = app.prefix();
    deploy(&moto, &app, binary, &[], &[]).json();
    let before = sdk.census(&app);
    let record = std::fs::read_to_string(app.record()).unwrap();

    let dry = portico(&moto, &app, &["delete", "--stage", STAGE, "--dry-run"], "");
    let text = ok(&dry).to_owned();
    for step in [
        format!("delete function {prefix}-api\n"),
        format!("delete rule {prefix}-tick\n"),
        format!("delete REST API {prefix} ("),
        format!("delete usage plan {prefix}-gold ("),
        format!("delete state machine {prefix}-Promotion\n"),
        format!("delete role {prefix}-api\n"),
    ] {
        assert!(text.contains(&step), "{step} missing:\n{text}");
    }
    // The plan's own count of the calls that change something, and what moto holds.
    assert!(text.contains(", 0 changing something)"), "{text}");
    assert!(!text.contains("[1/"), "{text}");
    assert_eq!(sdk.census(&app), before);
    assert_eq!(std::fs::read_to_string(app.record()).unwrap(), record);
}

#[test]
fn an_interrupted_delete_finishes_when_run_again() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-del-resume");
    let prefix = app.prefix();
    deploy(&moto, &app, binary, &[], &[]).json();

    // Killed after its third deletion (the testing hook the deploy executor shares).
    let args = ["delete", "--stage", STAGE, "--yes"];
    let killed = portico_with(&moto, &app, &args, "", &[("PORTICO_FAIL_AFTER_STEP", "3")]);
    assert_eq!(
        killed.code,
        Some(86),
        "{}\n{}",
        killed.stdout,
        killed.stderr
    );
    let first_plan = killed.stdout.clone();
    // The steps it finished, from their progress lines (`[ 1/31] delete …`).
    let done: Vec<&str> = first_plan
        .lines()
        .filter(|l| l.starts_with('['))
        .filter_map(|l| l.split_once("] ").map(|(_, d)| d))
        .collect();
    assert_eq!(done.len(), 3, "{first_plan}");
    assert!(
        first_plan.contains(&format!("delete function {prefix}-api\n")),
        "{first_plan}"
    );
    assert!(app.record().exists());
    let census = sdk.census(&app);
    assert!(
        census["functions"] == 4 && census["rest_apis"] == 1,
        "{census:?}"
    );

    // Meanwhile the API function is deleted by hand.
    sdk.rt
        .block_on(
            sdk.lambda
                .delete_function()
                .function_name(format!("{prefix}-api"))
                .send(),
        )
        .unwrap();

    let resumed = portico(&moto, &app, &args, "");
    let text = ok(&resumed).to_owned();
    // Only what is left is planned: not the three deletions done, nor the function gone.
    for step in done {
        assert!(!text.contains(step), "{step} planned again:\n{text}");
    }
    // Each step of the plan, and whether it is planned.
    for (step, planned) in [
        (format!("delete function {prefix}-api\n"), false),
        (format!("delete function {prefix}-tick\n"), true),
        (format!("delete log group /aws/lambda/{prefix}-api\n"), true),
    ] {
        assert_eq!(text.contains(&step), planned, "{step}in:\n{text}");
    }
    let census = sdk.census(&app);
    assert!(census.values().all(|n| *n == 0), "{census:?}\n{text}");
    assert!(!app.record().exists());
    let again = portico(&moto, &app, &args, "");
    assert!(ok(&again).contains("nothing to delete"), "{}", again.stdout);
}

/// The managed policies attached to `role`.
fn attached(sdk: &Sdk, role: &str) -> Vec<String> {
    let out = sdk
        .rt
        .block_on(sdk.iam.list_attached_role_policies().role_name(role).send())
        .unwrap();
    let mut arns: Vec<String> = out
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    arns.sort();
    arns
}

#[test]
fn iam_statements_managed_policies_and_own_roles_deploy_and_delete() {
    let (moto, sdk, app, binary) = fixture_stage("fixture-iam");
    let prefix = app.prefix();
    // Two customer managed policies (one for the config, one attached by hand) and a role of
    // the app's own.
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
    let create_policy = |name: &str| {
        sdk.rt
            .block_on(
                sdk.iam
                    .create_policy()
                    .policy_name(name)
                    .policy_document(document)
                    .send(),
            )
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap()
    };
    let declared = create_policy(&format!("{}-declared", app.name));
    let by_hand = create_policy(&format!("{}-by-hand", app.name));
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let own_role = format!("{}-own-jobs", app.name);
    let own_role_arn = sdk
        .rt
        .block_on(
            sdk.iam
                .create_role()
                .role_name(&own_role)
                .assume_role_policy_document(trust)
                .send(),
        )
        .unwrap()
        .role
        .unwrap()
        .arn;

    // First without `[iam]`: nightly gets a role of Portico's, which goes once it has its own.
    deploy(&moto, &app, binary, &[], &[]).json();
    let nightly_role = format!("{prefix}-nightly");
    assert!(sdk.role_exists(&nightly_role));
    let config_path = app.dir.join("portico.toml");
    let base = std::fs::read_to_string(&config_path).unwrap();
    let iam = format!(
        r#"
[iam]
managed_policies = ["{declared}"]

[[iam.statements]]
actions = ["dynamodb:GetItem", "dynamodb:Query"]
resources = ["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]

[[functions.api.iam.statements]]
actions = ["s3:PutObject"]
resources = ["arn:aws:s3:::uploads/*"]
condition = {{ StringEquals = {{ "s3:x-amz-acl" = "private" }} }}

[functions.nightly.iam]
role_arn = "{own_role_arn}"
"#
    );
    std::fs::write(&config_path, format!("{base}{iam}")).unwrap();
    let switched = deploy(&moto, &app, binary, &[], &[]).json();
    let operations = common::mutating(&switched);
    for op in [
        "IAM.AttachRolePolicy",
        "IAM.PutRolePolicy",
        "IAM.DeleteRole",
    ] {
        assert!(operations.iter().any(|o| o == op), "{op}: {switched}");
    }

    // The roles Portico makes: the statements in their own inline policy, the managed policy.
    let api_role = format!("{prefix}-api");
    let api = sdk.role_policies(&api_role);
    assert_eq!(
        api["statements"]["Statement"],
        serde_json::json!([
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
             "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::uploads/*"],
             "Condition": {"StringEquals": {"s3:x-amz-acl": "private"}}}
        ])
    );
    assert!(
        api.contains_key("logs") && api.contains_key("step-functions"),
        "{api:?}"
    );
    let tick = sdk.role_policies(&format!("{prefix}-tick"));
    assert_eq!(
        tick["statements"]["Statement"].as_array().unwrap().len(),
        1,
        "the app-wide statement only"
    );
    for entry in ["api", "tick", "notify"] {
        assert_eq!(
            attached(&sdk, &format!("{prefix}-{entry}")),
            std::slice::from_ref(&declared),
            "{entry}"
        );
    }
    // The function with a role of its own: no role made, the function runs under the given one.
    assert!(
        !sdk.role_exists(&nightly_role),
        "nightly's former role is deleted"
    );
    assert_eq!(
        sdk.function(&format!("{prefix}-nightly")).role(),
        Some(own_role_arn.as_str())
    );

    // By hand: an inline policy and a managed policy on a role Portico made. Deploy leaves
    // both alone and changes nothing.
    sdk.rt
        .block_on(
            sdk.iam
                .put_role_policy()
                .role_name(&api_role)
                .policy_name("added-by-hand")
                .policy_document(document)
                .send(),
        )
        .unwrap();
    sdk.rt
        .block_on(
            sdk.iam
                .attach_role_policy()
                .role_name(&api_role)
                .policy_arn(&by_hand)
                .send(),
        )
        .unwrap();
    let noop = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(common::mutating(&noop), Vec::<String>::new(), "{noop}");
    assert!(sdk.role_policies(&api_role).contains_key("added-by-hand"));

    // The managed policy leaves the config: detached from each role, the hand-attached one
    // stays.
    let without =
        format!("{base}{iam}").replace(&format!("managed_policies = [\"{declared}\"]\n"), "");
    std::fs::write(&config_path, without).unwrap();
    let detached = deploy(&moto, &app, binary, &[], &[]).json();
    assert_eq!(
        common::mutating(&detached),
        ["IAM.DetachRolePolicy"; 3],
        "{detached}"
    );
    assert_eq!(attached(&sdk, &api_role), std::slice::from_ref(&by_hand));
    assert_eq!(
        attached(&sdk, &format!("{prefix}-tick")),
        Vec::<String>::new()
    );

    // Delete: the hand-attached policy is detached and the hand-made inline policy deleted so
    // the role can go; the app's own role stays, with its policies.
    let deleted = portico(&moto, &app, &["delete", "--stage", STAGE, "--yes"], "");
    let text = ok(&deleted).to_owned();
    assert!(
        text.contains(&format!(
            "detach managed policy {by_hand} from role {api_role}"
        )),
        "{text}"
    );
    assert!(!sdk.role_exists(&api_role), "{text}");
    assert!(sdk.role_exists(&own_role), "the app's own role stays");
    assert!(!text.contains(&own_role), "{text}");
    let census = sdk.census(&app);
    assert!(census.values().all(|n| *n == 0), "{census:?}\n{text}");
}
