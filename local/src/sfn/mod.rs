//! The local Step Functions service: the AWS JSON 1.0 API (`X-Amz-Target:
//! AWSStepFunctions.<Operation>`) on the services endpoint ([`api`]), an Amazon States
//! Language interpreter ([`asl`]) and an engine keeping activities, state machines,
//! executions, task tokens and timers in the local cloud's SQLite store ([`engine`]), so a
//! restart of `portico local` loses nothing.
//!
//! At start, `portico local` creates every `[[activities]]` and `[[state_machines]]` of
//! `portico.toml` ([`create_from_config`]), named as `portico deploy` names them
//! (`<app>-<stage>-<Name>`), with definitions substituted as deploy does, but with the local
//! cloud's account and region.

pub mod api;
pub mod asl;
pub mod engine;
pub mod token;

use std::path::Path;

use crate::invoker::{ACCOUNT, REGION};
pub use engine::StepFunctions;
use portico_spec::config::Config;
use portico_spec::definition::state_machine_definition;
use portico_spec::names::{Location, Names};
pub use token::{random_token, token_is_well_formed};

/// A random UUID (version 4).
pub fn random_uuid() -> String {
    crate::ids::uuid_v4()
}

/// What `portico local` created at start, for the banner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    /// `(name in portico.toml, ARN)` of each activity.
    pub activities: Vec<(String, String)>,
    /// `(name in portico.toml, ARN)` of each state machine.
    pub state_machines: Vec<(String, String)>,
}

/// Creates the activities and state machines of `config` for `stage`. `entries` are the app's
/// entry points (`${function:ENTRY}`); definition files are relative to `config_dir`.
///
/// # Errors
/// A definition that cannot be read or substituted, or that the interpreter does not
/// support: the message names the file, the state and the field.
pub fn create_from_config<I: crate::invoker::Invoker>(
    engine: &StepFunctions<I>,
    config: &Config,
    stage: &str,
    entries: &[String],
    config_dir: &Path,
) -> Result<Created, String> {
    let names = Names {
        app: config.app.name.get_ref().clone(),
        stage: stage.to_owned(),
    };
    let location = Location::new(REGION, ACCOUNT);
    let mut created = Created::default();
    for activity in &config.activities {
        let key = activity.name.get_ref();
        let (arn, _) = engine
            .create_activity(&names.scoped(key))
            .map_err(|e| e.message)?;
        created.activities.push((key.clone(), arn));
    }
    let entries: Vec<&String> = entries.iter().collect();
    let role = location.role_arn(&names.states_role());
    for machine in &config.state_machines {
        let key = machine.name.get_ref();
        let definition =
            state_machine_definition(config, machine, &names, &location, &entries, config_dir)
                .map_err(|e| e.to_string())?;
        let text = definition.to_string();
        asl::Definition::from_value(&definition).map_err(|e| {
            format!(
                "{}: state machine `{key}` cannot run under portico local: {e}",
                config_dir.join(machine.definition.get_ref()).display()
            )
        })?;
        let (arn, _) = engine
            .create_state_machine(&names.scoped(key), &text, &role, true)
            .map_err(|e| e.message)?;
        created.state_machines.push((key.clone(), arn));
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::testing::StubHost;
    use std::sync::Arc;

    fn engine() -> StepFunctions<StubHost> {
        StepFunctions::new(
            Arc::new(Store::in_memory()),
            Arc::new(StubHost::default()),
            "approval-dev-".to_owned(),
            Arc::new(crate::clock::SystemClock),
            None,
        )
    }

    #[test]
    fn the_approval_example_loads_with_local_arns() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/approval");
        let config = Config::load(&dir.join("portico.toml")).unwrap();
        let entries = ["api", "notify", "worker"].map(String::from);
        let engine = engine();
        let created = create_from_config(&engine, &config, "dev", &entries, &dir).unwrap();
        assert_eq!(
            created.activities,
            [(
                "ManualStep".to_owned(),
                "arn:aws:states:us-east-1:000000000000:activity:approval-dev-ManualStep".to_owned()
            )]
        );
        let callback = engine
            .state_machine(
                "arn:aws:states:us-east-1:000000000000:stateMachine:approval-dev-PromotionApprovalCallback",
            )
            .unwrap();
        assert!(
            callback.definition.contains(
                "\"FunctionName\":\"arn:aws:lambda:us-east-1:000000000000:function:approval-dev-notify\""
            ),
            "{}",
            callback.definition
        );
        assert_eq!(
            callback.role_arn,
            "arn:aws:iam::000000000000:role/approval-dev-states"
        );
        assert_eq!(created.state_machines.len(), 2);
        // Loading again (a restart) keeps the same resources.
        assert_eq!(
            create_from_config(&engine, &config, "dev", &entries, &dir).unwrap(),
            created
        );
    }

    #[test]
    fn definitions_portico_local_cannot_run_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("portico.toml"),
            "[app]\nname = \"a\"\n[[state_machines]]\nname = \"Fan\"\ndefinition = \"fan.json\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("fan.json"),
            r#"{"StartAt": "Each", "States": {"Each": {"Type": "Parallel", "Branches": [], "End": true}}}"#,
        )
        .unwrap();
        let config = Config::load(&dir.path().join("portico.toml")).unwrap();
        let err = create_from_config(&engine(), &config, "dev", &[], dir.path()).unwrap_err();
        assert!(
            err.contains("fan.json: state machine `Fan` cannot run under portico local")
                && err.contains("at /States/Each/Branches"),
            "{err}"
        );
    }

    #[test]
    fn tokens_are_random_and_checked_for_shape() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert!(token_is_well_formed(&a));
        assert!(!token_is_well_formed("ptk1.short"));
        assert!(!token_is_well_formed(&a.replace("ptk1.", "ptk2.")));
        assert_eq!(random_uuid().len(), 36);
    }
}
