//! State machine definitions as the project writes them: a JSON file with `${...}` references
//! (`${function:ENTRY}`, `${activity:NAME}`, `${state_machine:NAME}`, `${region}`, `${account}`,
//! `${partition}`, `${app}`, `${stage}`) that the deploy and the local cloud both resolve here,
//! each with its own [`Location`].

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::{Config, StateMachine};
use crate::names::{Location, Names};

/// A state machine's definition file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// A state machine's definition file cannot be read.
    #[error("{}: cannot read the definition of state machine `{machine}`: {source}", path.display())]
    ReadDefinition {
        /// The file.
        path: PathBuf,
        /// The state machine.
        machine: String,
        /// Why.
        source: std::io::Error,
    },
    /// A `${...}` reference names nothing.
    #[error("{}:{line}: `${{{reference}}}` in state machine `{machine}` names nothing; {hint}", path.display())]
    Substitution {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// The state machine.
        machine: String,
        /// The reference, without `${` `}`.
        reference: String,
        /// What it could have been.
        hint: String,
    },
    /// After substitution the definition is not JSON.
    #[error("{}:{line}:{column}: the definition of state machine `{machine}` is not valid JSON: {message}", path.display())]
    DefinitionJson {
        /// The file.
        path: PathBuf,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// The state machine.
        machine: String,
        /// serde's message.
        message: String,
    },
}

/// The definition of `machine`: its file (relative to `config_dir`) read, every `${...}`
/// replaced with the names and ARNs of `names` at `loc`, parsed. `entries` are the app's entry
/// points (`${function:ENTRY}`). `portico local` uses it too, with the local cloud's location.
///
/// # Errors
/// When the file is unreadable, a reference names nothing, or the result is not JSON.
pub fn state_machine_definition(
    config: &Config,
    machine: &StateMachine,
    names: &Names,
    loc: &Location,
    entries: &[&String],
    config_dir: &Path,
) -> Result<Value, DefinitionError> {
    let key = machine.name.get_ref();
    let path = config_dir.join(machine.definition.get_ref());
    let text =
        std::fs::read_to_string(&path).map_err(|source| DefinitionError::ReadDefinition {
            path: path.clone(),
            machine: key.clone(),
            source,
        })?;
    let definition = substitute(&text, &path, key, &|reference| {
        resolve(reference, config, names, loc, entries)
    })?;
    serde_json::from_str(&definition).map_err(|e| DefinitionError::DefinitionJson {
        path: path.clone(),
        line: e.line(),
        column: e.column(),
        machine: key.clone(),
        message: e.to_string(),
    })
}

/// What `${reference}` in a definition stands for, or why it names nothing.
fn resolve(
    reference: &str,
    config: &Config,
    names: &Names,
    loc: &Location,
    entries: &[&String],
) -> Result<String, String> {
    let (kind, name) = reference.split_once(':').unwrap_or((reference, ""));
    let known = |items: Vec<&str>| {
        if items.is_empty() {
            "none is declared".to_owned()
        } else {
            format!("declared: {}", items.join(", "))
        }
    };
    match (kind, name) {
        ("region", "") => Ok(loc.region.clone()),
        ("account", "") => Ok(loc.account.clone()),
        ("partition", "") => Ok(loc.partition.clone()),
        ("app", "") => Ok(names.app.clone()),
        ("stage", "") => Ok(names.stage.clone()),
        ("activity", n) => {
            let all: Vec<&str> = config.activities.iter().map(|a| a.name.get_ref().as_str()).collect();
            if all.contains(&n) {
                Ok(loc.activity_arn(&names.scoped(n)))
            } else {
                Err(format!("add an [[activities]] entry `{n}` to portico.toml ({})", known(all)))
            }
        }
        ("state_machine", n) => {
            let all: Vec<&str> = config
                .state_machines
                .iter()
                .map(|m| m.name.get_ref().as_str())
                .collect();
            if all.contains(&n) {
                Ok(loc.state_machine_arn(&names.scoped(n)))
            } else {
                Err(format!("no [[state_machines]] entry `{n}` ({})", known(all)))
            }
        }
        ("function", n) => {
            if entries.iter().any(|e| e.as_str() == n) {
                Ok(loc.function_arn(&names.function(n)))
            } else {
                Err(format!(
                    "the app's entry points are: {}",
                    entries.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
                ))
            }
        }
        _ => Err(
            "use ${activity:NAME}, ${function:ENTRY}, ${state_machine:NAME}, ${region}, ${account}, ${partition}, ${app} or ${stage}"
                .to_owned(),
        ),
    }
}

/// Replaces every `${...}` of `text` through `resolve`.
fn substitute(
    text: &str,
    path: &Path,
    machine: &str,
    resolve: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, DefinitionError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let offset = text.len() - rest.len() + start;
        let line = text[..offset].matches('\n').count() + 1;
        let Some(end) = after.find('}') else {
            return Err(DefinitionError::Substitution {
                path: path.to_owned(),
                line,
                machine: machine.to_owned(),
                reference: after.lines().next().unwrap_or_default().to_owned(),
                hint: "the `${` is never closed with `}`".to_owned(),
            });
        };
        let reference = &after[..end];
        let value = resolve(reference).map_err(|hint| DefinitionError::Substitution {
            path: path.to_owned(),
            line,
            machine: machine.to_owned(),
            reference: reference.to_owned(),
            hint,
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
