//! The deployed-resources record, `.portico/deployed/<stage>.json`: what `portico deploy`
//! made, written after each step that succeeded, so `url`, `invoke`, `logs` and `delete` find
//! the stage's resources, and a re-run knows what left the config.
//!
//! It holds names, ids and ARNs; never an API key's value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format version this CLI writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// Reading or writing the record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a record this CLI understands.
    #[error("{}: not a deployment record this version of portico reads ({message}); move it aside and deploy again: resources are found by name and tags", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A resource known by name and ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
}

impl Named {
    /// `name` with `arn`.
    pub fn new(name: impl Into<String>, arn: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            arn: arn.into(),
        }
    }
}

/// A resource known by name and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identified {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
}

impl Identified {
    /// `name` with `id`.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            id: id.into(),
        }
    }
}

/// A deployed function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFunction {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Lambda's CodeSha256 of the code it runs.
    pub code_sha256: String,
    /// The log group it writes to, when not Lambda's `/aws/lambda/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
}

impl RecordFunction {
    /// The log group it writes to.
    pub fn log_group(&self) -> String {
        self.log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{}", self.name))
    }
}

/// The REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordApi {
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// Stage name.
    pub stage: String,
    /// The stage's base URL (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`).
    pub url: String,
    /// The hash of the API definition the stage serves, once it is deployed.
    pub deployed_hash: Option<String>,
}

/// What exists of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The app.
    pub app: String,
    /// The stage.
    pub stage: String,
    /// Region.
    pub region: String,
    /// Account.
    pub account: String,
    /// The custom endpoint deployed to (moto, LocalStack), if any.
    pub endpoint_url: Option<String>,
    /// Roles: `functions` and `state_machines`.
    #[serde(default)]
    pub roles: BTreeMap<String, Named>,
    /// The managed policies Portico attached, by role name: `deploy` detaches only these
    /// when the config drops them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attached_policies: BTreeMap<String, BTreeSet<String>>,
    /// Log groups.
    #[serde(default)]
    pub log_groups: BTreeSet<String>,
    /// Functions by entry point (`api`, schedules).
    #[serde(default)]
    pub functions: BTreeMap<String, RecordFunction>,
    /// The REST API.
    #[serde(default)]
    pub api: Option<RecordApi>,
    /// Usage plans by config name.
    #[serde(default)]
    pub usage_plans: BTreeMap<String, Identified>,
    /// API keys by config name (ids only).
    #[serde(default)]
    pub api_keys: BTreeMap<String, Identified>,
    /// Rules by schedule.
    #[serde(default)]
    pub rules: BTreeMap<String, Named>,
    /// Activities by config name.
    #[serde(default)]
    pub activities: BTreeMap<String, Named>,
    /// State machines by config name.
    #[serde(default)]
    pub state_machines: BTreeMap<String, Named>,
    /// The S3 object of the code, when it went through S3.
    #[serde(default)]
    pub code_object: Option<String>,
    /// The deploy that wrote it ran every step: the record names everything the stage has, so
    /// the next deploy reads only that and the config's resources. A record of an interrupted
    /// deploy (or of an older portico) makes the next one look for the stage by name and tags.
    #[serde(default)]
    pub complete: bool,
}

impl Record {
    /// An empty record for a stage.
    pub fn new(
        app: &str,
        stage: &str,
        region: &str,
        account: &str,
        endpoint_url: Option<&str>,
    ) -> Self {
        Self {
            version: RECORD_VERSION,
            app: app.to_owned(),
            stage: stage.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            endpoint_url: endpoint_url.map(str::to_owned),
            roles: BTreeMap::new(),
            attached_policies: BTreeMap::new(),
            log_groups: BTreeSet::new(),
            functions: BTreeMap::new(),
            api: None,
            usage_plans: BTreeMap::new(),
            api_keys: BTreeMap::new(),
            rules: BTreeMap::new(),
            activities: BTreeMap::new(),
            state_machines: BTreeMap::new(),
            code_object: None,
            complete: false,
        }
    }

    /// `<app dir>/.portico/deployed/<stage>.json`.
    pub fn path(app_dir: &Path, stage: &str) -> PathBuf {
        app_dir
            .join(".portico")
            .join("deployed")
            .join(format!("{stage}.json"))
    }

    /// The record at `path`, or `None` when there is none.
    ///
    /// # Errors
    /// When it exists but cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Option<Self>, RecordError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(RecordError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let record: Self = serde_json::from_str(&text).map_err(|e| RecordError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if record.version != RECORD_VERSION {
            return Err(RecordError::Invalid {
                path: path.to_owned(),
                message: format!("version {}, expected {RECORD_VERSION}", record.version),
            });
        }
        Ok(Some(record))
    }

    /// Writes the record to `path` atomically (a temporary file renamed over it), so a
    /// process killed mid-write leaves the previous record.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), RecordError> {
        let io = |source| RecordError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut text = serde_json::to_string_pretty(self).expect("a record serializes");
        text.push('\n');
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_missing_one_is_none() {
        let tmp = crate::test_support::TempDir::new("record", "round-trip");
        let dir = &tmp.0;
        let path = Record::path(dir, "dev");
        assert_eq!(Record::load(&path).unwrap(), None);
        let mut record = Record::new("shop", "dev", "eu-west-1", "123456789012", None);
        record.functions.insert(
            "api".into(),
            RecordFunction {
                name: "shop-dev-api".into(),
                arn: "arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-api".into(),
                code_sha256: "abc".into(),
                log_group: Some("/custom/shop".into()),
            },
        );
        record.save(&path).unwrap();
        assert_eq!(Record::load(&path).unwrap(), Some(record));
        std::fs::write(&path, "{\"version\": 9}").unwrap();
        let err = Record::load(&path).unwrap_err().to_string();
        assert!(err.contains("move it aside"), "{err}");
    }
}
