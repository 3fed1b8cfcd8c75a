//! `portico.toml`: the app's deployment and local-cloud configuration.
//!
//! Every table rejects unknown keys, and every error names the file, the line and the key.
//! The reference for each key is `docs/config.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

mod iam;
mod resources;

pub use iam::{IamSection, IamStatement, PERMISSIONS, PermissionScope, permission_scope};
pub use resources::{
    Bucket, DeadLetter, KeyAttribute, Queue, ResourceKind, StageResource, Table, Topic,
};

/// The file name looked up beside the app's `Cargo.toml`.
pub const FILE_NAME: &str = "portico.toml";

/// A configuration error: where, what, how to fix.
#[derive(Debug)]
pub struct ConfigError {
    path: PathBuf,
    line: Option<usize>,
    message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[app]`.
    pub app: AppSection,
    /// `[stages.<name>]`; a `dev` stage exists even when not written.
    #[serde(default)]
    pub stages: BTreeMap<String, Stage>,
    /// `[functions.<entry point>]`: defaults for every stage.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionSettings>,
    /// `[api]`.
    #[serde(default)]
    pub api: ApiSection,
    /// `[[usage_plans]]`.
    #[serde(default)]
    pub usage_plans: Vec<UsagePlan>,
    /// `[[api_keys]]`.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// `[logs]`.
    #[serde(default)]
    pub logs: LogsSection,
    /// `[tags]`: added to every resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `[[activities]]`: Step Functions activities the app owns.
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// `[[state_machines]]`: Step Functions state machines the app owns.
    #[serde(default)]
    pub state_machines: Vec<StateMachine>,
    /// `[[email_identities]]`: SES identities the app's functions may send from.
    #[serde(default)]
    pub email_identities: Vec<EmailIdentity>,
    /// `[[secrets]]`: environment variables whose values are generated, never written here.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// `[iam]`: what every function's role gets beyond Portico's own policies.
    #[serde(default)]
    pub iam: IamSection,
    /// `[[tables]]`: DynamoDB tables.
    #[serde(default)]
    pub tables: Vec<Table>,
    /// `[[buckets]]`: S3 buckets.
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    /// `[[queues]]`: SQS queues.
    #[serde(default)]
    pub queues: Vec<Queue>,
    /// `[[topics]]`: SNS topics.
    #[serde(default)]
    pub topics: Vec<Topic>,
}

/// `[[secrets]]`: a variable every function gets, its value random bytes generated once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// The environment variable's name.
    pub name: Spanned<String>,
    /// How to generate it: `<encoding>-<bytes>`, e.g. `base64-32` (see [`SecretFormat`]).
    pub generate: Spanned<String>,
}

impl Secret {
    /// The parsed `generate` (validated at load, so always `Some` on a loaded config).
    pub fn format(&self) -> Option<SecretFormat> {
        SecretFormat::parse(self.generate.get_ref())
    }
}

/// How a secret's random bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 without padding.
    Base64Url,
    /// Lower-case hexadecimal.
    Hex,
}

/// A secret's `generate` value: `base64-32`, `base64url-16`, `hex-64`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretFormat {
    /// The encoding.
    pub encoding: SecretEncoding,
    /// How many random bytes, 16-64.
    pub bytes: usize,
}

impl SecretFormat {
    /// `<encoding>-<bytes>` with encoding `base64`, `base64url` or `hex` and 16-64 bytes.
    pub fn parse(text: &str) -> Option<Self> {
        let (encoding, bytes) = text.rsplit_once('-')?;
        let encoding = match encoding {
            "base64" => SecretEncoding::Base64,
            "base64url" => SecretEncoding::Base64Url,
            "hex" => SecretEncoding::Hex,
            _ => return None,
        };
        if bytes.is_empty() || !bytes.bytes().all(|b| b.is_ascii_digit()) || bytes.len() > 2 {
            return None;
        }
        let bytes: usize = bytes.parse().ok()?;
        (16..=64)
            .contains(&bytes)
            .then_some(Self { encoding, bytes })
    }
}

/// `[[activities]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// The name the app and definitions use (`${activity:NAME}`); deployed as
    /// `<app>-<stage>-NAME`.
    pub name: Spanned<String>,
}

/// `[[state_machines]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateMachine {
    /// The name definitions use (`${state_machine:NAME}`); deployed as `<app>-<stage>-NAME`.
    pub name: Spanned<String>,
    /// The Amazon States Language file, relative to `portico.toml`. It may refer to ARNs as
    /// `${activity:NAME}`, `${function:ENTRY}`, `${state_machine:NAME}`, and to `${region}`,
    /// `${account}`, `${partition}`, `${app}` and `${stage}`.
    pub definition: Spanned<String>,
}

/// `[[email_identities]]`: exactly one of `address` and `domain`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailIdentity {
    /// A verified sender address.
    pub address: Option<Spanned<String>>,
    /// A verified domain (any address at it).
    pub domain: Option<Spanned<String>>,
}

impl EmailIdentity {
    /// The SES identity: the address or the domain.
    pub fn identity(&self) -> &str {
        self.address
            .as_ref()
            .or(self.domain.as_ref())
            .map_or("", |s| s.get_ref().as_str())
    }
}

/// `[app]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// The app's name: prefix of every AWS resource (`<name>-<stage>-…`).
    pub name: Spanned<String>,
    /// The Cargo package of the app, when the directory holds a workspace.
    pub package: Option<String>,
    /// The binary target (default: `bootstrap`, else the package's only binary).
    pub binary: Option<String>,
    /// `x86_64` (default) or `arm64`.
    pub architecture: Option<Spanned<String>>,
}

/// `[stages.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// AWS region (default: the SDK's region chain, else `us-east-1`).
    pub region: Option<String>,
    /// API Gateway stage name (default: the stage's name).
    pub api_stage: Option<Spanned<String>>,
    /// Environment variables for every function of the stage.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Per-function overrides for this stage.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionSettings>,
}

/// Settings of one function (`api` or a schedule's name).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSettings {
    /// Memory in MB, 128–10240.
    pub memory: Option<Spanned<u32>>,
    /// Timeout in seconds, 1–900.
    pub timeout: Option<Spanned<u32>>,
    /// A CloudWatch log group to write to instead of `/aws/lambda/<function>`.
    pub log_group: Option<Spanned<String>>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The AWS actions the function's own role allows, each scoped to the app's declared
    /// resources ([`permission_scope`]); a stage's list replaces the default one.
    pub permissions: Option<Vec<Spanned<String>>>,
    /// `[functions.<entry>.iam]`: this function's extra statements, managed policies, or own
    /// role (added to `[iam]`'s; a stage's `role_arn` replaces the default one).
    pub iam: Option<IamSection>,
}

/// `[api]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// `rest` (default) or `http`.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    /// Media types API Gateway treats as binary.
    #[serde(default)]
    pub binary_media_types: Vec<String>,
    /// Gateway-level CORS (on gateway-made errors and preflights).
    pub cors: Option<CorsSection>,
    /// Integration timeout in seconds (API Gateway: at most 29 by default).
    pub timeout: Option<Spanned<u32>>,
}

/// `[api.cors]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSection {
    /// Allowed origin (`*` by default).
    #[serde(default = "star")]
    pub allow_origin: String,
    /// Allowed request headers (the AWS defaults when empty).
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Exposed response headers.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Preflight cache time, seconds.
    #[allow(dead_code)]
    pub max_age: Option<u32>,
    /// Allow credentials.
    #[serde(default)]
    pub allow_credentials: bool,
}

fn star() -> String {
    "*".to_owned()
}

/// `[[usage_plans]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePlan {
    /// Plan name.
    pub name: Spanned<String>,
    /// Token bucket: `rate` requests per second refill, `burst` bucket size.
    pub throttle: Option<Throttle>,
    /// Requests per period.
    pub quota: Option<Quota>,
    /// Names of `[[api_keys]]` in this plan.
    #[serde(default)]
    pub api_keys: Vec<Spanned<String>>,
}

/// A usage plan's throttle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Steady-state requests per second.
    pub rate: Spanned<f64>,
    /// Bucket size.
    pub burst: Spanned<u32>,
}

/// A usage plan's quota.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests per period.
    pub limit: Spanned<u64>,
    /// `DAY`, `WEEK` or `MONTH` (UTC).
    pub period: Spanned<String>,
}

/// `[[api_keys]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Key name.
    pub name: Spanned<String>,
    /// The key value (20 to 128 characters), or `"generate"`.
    #[serde(default = "generate")]
    pub value: Spanned<String>,
}

fn generate() -> Spanned<String> {
    Spanned::new(0..0, "generate".to_owned())
}

/// `[logs]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSection {
    /// CloudWatch retention in days (one of CloudWatch's allowed values).
    pub retention_days: Option<Spanned<u32>>,
}

/// The effective settings of one function in one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFunction {
    /// Memory in MB.
    pub memory: u32,
    /// Timeout in seconds.
    pub timeout: u32,
    /// The custom log group, if set (else Lambda's `/aws/lambda/<function>`).
    pub log_group: Option<String>,
    /// Environment: stage env, then function defaults, then stage function overrides.
    pub env: BTreeMap<String, String>,
    /// The actions its role allows (the stage's list, else the default's; none when neither
    /// sets one), sorted, without duplicates.
    pub permissions: Vec<String>,
    /// Extra statements for its role: `[iam]`'s, then the function's, then the stage's.
    pub statements: Vec<serde_json::Value>,
    /// Managed policy ARNs to attach to its role, sorted, without duplicates.
    pub managed_policies: Vec<String>,
    /// The role of the app's own it runs under (Portico then manages no role for it).
    pub role_arn: Option<String>,
}

const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl Config {
    /// Reads and validates `path`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line and key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            path: path.to_owned(),
            line: None,
            message: format!("cannot read: {err}"),
        })?;
        let config = Self::parse(path, &text)?;
        // Definition files are relative to the config file: only a loaded file can check them.
        let dir = path.parent().unwrap_or(Path::new("."));
        for machine in &config.state_machines {
            if !dir.join(machine.definition.get_ref()).is_file() {
                return Err(ConfigError {
                    path: path.to_owned(),
                    line: Some(line_of(&text, machine.definition.span().start)),
                    message: format!(
                        "state machine `{}`: no definition file `{}` (paths are relative to {FILE_NAME})",
                        machine.name.get_ref(),
                        machine.definition.get_ref()
                    ),
                });
            }
        }
        Ok(config)
    }

    /// Parses and validates `text` (read from `path`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line and key.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|err| ConfigError {
            path: path.to_owned(),
            line: err.span().map(|s| line_of(text, s.start)),
            message: err.message().trim().to_owned(),
        })?;
        config.stages.entry("dev".to_owned()).or_default();
        let mut checker = Checker {
            path,
            text,
            errors: Vec::new(),
        };
        config.validate(&mut checker);
        match checker.errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(config),
        }
    }

    fn validate(&self, c: &mut Checker<'_>) {
        let name = &self.app.name;
        if !valid_name(name.get_ref()) {
            c.error(
                name.span().start,
                "`app.name` must be 1-40 letters, digits or `-`, starting with a letter",
            );
        }
        if let Some(arch) = &self.app.architecture {
            if !matches!(arch.get_ref().as_str(), "x86_64" | "arm64") {
                c.error(
                    arch.span().start,
                    "`app.architecture` must be `x86_64` or `arm64`",
                );
            }
        }
        if let Some(kind) = &self.api.kind {
            match kind.get_ref().as_str() {
                "rest" => {}
                // Refused here, not only by `deploy`: `portico local` would otherwise serve a
                // REST API's v1 events to an app configured for an HTTP API's v2 ones.
                "http" => c.error(
                    kind.span().start,
                    "`api.type = \"http\"` (an HTTP API) is not supported yet: \
                     leave `api.type` out or set it to `rest`",
                ),
                _ => c.error(kind.span().start, "`api.type` must be `rest`"),
            }
        }
        if let Some(t) = &self.api.timeout {
            if !(1..=29).contains(t.get_ref()) {
                c.error(t.span().start, "`api.timeout` must be 1-29 seconds");
            }
        }
        for (stage_name, stage) in &self.stages {
            if !valid_name(stage_name) {
                c.error_at_key(
                    stage_name,
                    &format!("stage name `{stage_name}` must be letters, digits or `-`"),
                );
            }
            if let Some(api_stage) = &stage.api_stage {
                let s = api_stage.get_ref();
                if s.is_empty()
                    || !s
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
                {
                    c.error(
                        api_stage.span().start,
                        "`api_stage` must be letters, digits, `-` or `_`",
                    );
                }
            }
            check_env(&stage.env, c);
            for settings in stage.functions.values() {
                settings.validate(c);
                self.check_permissions(settings, c);
                if let Some(iam) = &settings.iam {
                    iam.validate(c, "functions.<entry>.iam");
                }
            }
        }
        for settings in self.functions.values() {
            settings.validate(c);
            self.check_permissions(settings, c);
            if let Some(iam) = &settings.iam {
                iam.validate(c, "functions.<entry>.iam");
            }
        }
        self.iam.validate(c, "iam");
        self.check_own_roles(c);
        self.validate_resources(c);
        let mut seen_keys: Vec<&str> = Vec::new();
        for key in &self.api_keys {
            if seen_keys.contains(&key.name.get_ref().as_str()) {
                c.error(
                    key.name.span().start,
                    &format!("API key `{}` is declared twice", key.name.get_ref()),
                );
            }
            seen_keys.push(key.name.get_ref());
            let value = key.value.get_ref();
            if value != "generate" && !(20..=128).contains(&value.len()) {
                c.error(
                    key.value.span().start,
                    "an API key `value` must be 20-128 characters, or \"generate\"",
                );
            }
        }
        let mut seen_plans: Vec<&str> = Vec::new();
        for plan in &self.usage_plans {
            if seen_plans.contains(&plan.name.get_ref().as_str()) {
                c.error(
                    plan.name.span().start,
                    &format!("usage plan `{}` is declared twice", plan.name.get_ref()),
                );
            }
            seen_plans.push(plan.name.get_ref());
            if let Some(t) = &plan.throttle {
                if !(*t.rate.get_ref() > 0.0 && t.rate.get_ref().is_finite()) {
                    c.error(
                        t.rate.span().start,
                        "`throttle.rate` must be a positive number of requests per second",
                    );
                }
                if *t.burst.get_ref() == 0 {
                    c.error(t.burst.span().start, "`throttle.burst` must be at least 1");
                }
            }
            if let Some(q) = &plan.quota {
                if !matches!(q.period.get_ref().as_str(), "DAY" | "WEEK" | "MONTH") {
                    c.error(
                        q.period.span().start,
                        "`quota.period` must be DAY, WEEK or MONTH",
                    );
                }
                if *q.limit.get_ref() == 0 {
                    c.error(q.limit.span().start, "`quota.limit` must be at least 1");
                }
            }
            for key in &plan.api_keys {
                if !self
                    .api_keys
                    .iter()
                    .any(|k| k.name.get_ref() == key.get_ref())
                {
                    c.error(
                        key.span().start,
                        &format!(
                            "usage plan `{}` names API key `{}`, which no [[api_keys]] entry declares",
                            plan.name.get_ref(),
                            key.get_ref()
                        ),
                    );
                }
            }
        }
        let mut seen_activities: Vec<&str> = Vec::new();
        for activity in &self.activities {
            c.step_functions_name(&activity.name, "activity", &mut seen_activities);
        }
        let mut seen_machines: Vec<&str> = Vec::new();
        for machine in &self.state_machines {
            c.step_functions_name(&machine.name, "state machine", &mut seen_machines);
            let def = machine.definition.get_ref();
            if def.is_empty() || Path::new(def).is_absolute() {
                c.error(
                    machine.definition.span().start,
                    "`definition` must be a file path relative to portico.toml",
                );
            }
        }
        let mut seen_identities: Vec<&str> = Vec::new();
        for identity in &self.email_identities {
            match (&identity.address, &identity.domain) {
                (Some(address), None) => {
                    let a = address.get_ref();
                    if a.split('@').count() != 2 || a.starts_with('@') || a.ends_with('@') {
                        c.error(
                            address.span().start,
                            "`address` must be an e-mail address (name@domain)",
                        );
                    }
                }
                (None, Some(domain)) => {
                    let d = domain.get_ref();
                    if d.contains('@') || !d.contains('.') {
                        c.error(
                            domain.span().start,
                            "`domain` must be a domain name such as example.com",
                        );
                    }
                }
                (Some(address), Some(_)) => c.error(
                    address.span().start,
                    "an [[email_identities]] entry has either `address` or `domain`, not both",
                ),
                (None, None) => c.errors.push(ConfigError {
                    path: c.path.to_owned(),
                    line: c
                        .text
                        .lines()
                        .position(|l| l.trim() == "[[email_identities]]")
                        .map(|i| i + 1),
                    message: "an [[email_identities]] entry needs `address` or `domain`".to_owned(),
                }),
            }
            let id = identity.identity();
            if !id.is_empty() && seen_identities.contains(&id) {
                let span = identity.address.as_ref().or(identity.domain.as_ref());
                c.error(
                    span.map_or(0, |s| s.span().start),
                    &format!("e-mail identity `{id}` is declared twice"),
                );
            }
            seen_identities.push(id);
        }
        let mut seen_secrets: Vec<&str> = Vec::new();
        for secret in &self.secrets {
            let name = secret.name.get_ref();
            let valid = matches!(name.chars().next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !valid {
                c.error(
                    secret.name.span().start,
                    &format!(
                        "secret name `{name}` must be an environment variable name: letters, digits or `_`, not starting with a digit"
                    ),
                );
            } else if name.starts_with("AWS_") {
                c.error(
                    secret.name.span().start,
                    &format!(
                        "secret `{name}`: variables starting with AWS_ are reserved by Lambda"
                    ),
                );
            }
            if seen_secrets.contains(&name.as_str()) {
                c.error(
                    secret.name.span().start,
                    &format!("secret `{name}` is declared twice"),
                );
            }
            seen_secrets.push(name);
            if secret.format().is_none() {
                c.error(
                    secret.generate.span().start,
                    "`generate` must be `<encoding>-<bytes>`: encoding `base64`, `base64url` or `hex`, 16-64 bytes (e.g. \"base64-32\")",
                );
            }
        }
        if let Some(days) = &self.logs.retention_days {
            if !RETENTION_DAYS.contains(days.get_ref()) {
                c.error(
                    days.span().start,
                    &format!("`logs.retention_days` must be one of CloudWatch's values: {RETENTION_DAYS:?}"),
                );
            }
        }
    }

    /// The stage named `name`.
    ///
    /// # Errors
    /// When the file declares no such stage; the message lists the declared ones.
    pub fn stage(&self, name: &str) -> Result<&Stage, String> {
        self.stages.get(name).ok_or_else(|| {
            format!(
                "no stage `{name}` in {FILE_NAME}; declared: {}",
                self.stages.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The API Gateway stage name of `stage`.
    pub fn api_stage_name(&self, stage: &str) -> String {
        self.stages
            .get(stage)
            .and_then(|s| s.api_stage.as_ref())
            .map_or_else(|| stage.to_owned(), |s| s.get_ref().clone())
    }

    /// The function entries the config names for `stage` (`[functions.*]` and
    /// `[stages.<stage>.functions.*]`), each once, in name order.
    pub fn function_entries(&self, stage: &str) -> BTreeSet<&str> {
        let staged = self
            .stages
            .get(stage)
            .into_iter()
            .flat_map(|s| s.functions.keys());
        self.functions
            .keys()
            .chain(staged)
            .map(String::as_str)
            .collect()
    }

    /// The settings of function `function` (`api` or a schedule name) in `stage`.
    pub fn function(&self, stage: &str, function: &str) -> ResolvedFunction {
        let is_api = function == "api";
        let mut resolved = ResolvedFunction {
            memory: 128,
            timeout: if is_api { 29 } else { 60 },
            log_group: None,
            env: BTreeMap::new(),
            permissions: Vec::new(),
            statements: self
                .iam
                .statements
                .iter()
                .map(IamStatement::to_json)
                .collect(),
            managed_policies: self
                .iam
                .managed_policies
                .iter()
                .map(|a| a.get_ref().clone())
                .collect(),
            role_arn: self.iam.role_arn.as_ref().map(|a| a.get_ref().clone()),
        };
        let stage = self.stages.get(stage);
        if let Some(stage) = stage {
            resolved.env.extend(stage.env.clone());
        }
        for settings in [
            self.functions.get(function),
            stage.and_then(|s| s.functions.get(function)),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(m) = &settings.memory {
                resolved.memory = *m.get_ref();
            }
            if let Some(t) = &settings.timeout {
                resolved.timeout = *t.get_ref();
            }
            if let Some(g) = &settings.log_group {
                resolved.log_group = Some(g.get_ref().clone());
            }
            resolved.env.extend(settings.env.clone());
            if let Some(p) = &settings.permissions {
                resolved.permissions = p.iter().map(|a| a.get_ref().clone()).collect();
            }
            if let Some(iam) = &settings.iam {
                resolved
                    .statements
                    .extend(iam.statements.iter().map(IamStatement::to_json));
                resolved
                    .managed_policies
                    .extend(iam.managed_policies.iter().map(|a| a.get_ref().clone()));
                if let Some(arn) = &iam.role_arn {
                    resolved.role_arn = Some(arn.get_ref().clone());
                }
            }
        }
        resolved.permissions.sort();
        resolved.permissions.dedup();
        resolved.managed_policies.sort();
        resolved.managed_policies.dedup();
        if resolved.role_arn.is_some() {
            // A role of the app's own gets nothing from Portico (the check refuses a function's
            // own statements beside it; `[iam]`'s are for the roles Portico makes).
            resolved.statements.clear();
            resolved.managed_policies.clear();
        }
        resolved
    }
}

impl FunctionSettings {
    fn validate(&self, c: &mut Checker<'_>) {
        if let Some(m) = &self.memory {
            if !(128..=10240).contains(m.get_ref()) {
                c.error(m.span().start, "`memory` must be 128-10240 MB");
            }
        }
        if let Some(t) = &self.timeout {
            if !(1..=900).contains(t.get_ref()) {
                c.error(t.span().start, "`timeout` must be 1-900 seconds");
            }
        }
        if let Some(g) = &self.log_group {
            if !valid_log_group(g.get_ref()) {
                c.error(
                    g.span().start,
                    "`log_group` must be 1-512 characters of letters, digits and `.-_/#`",
                );
            }
        }
        check_env(&self.env, c);
    }
}

fn check_env(env: &BTreeMap<String, String>, c: &mut Checker<'_>) {
    for key in env.keys() {
        if key.starts_with("AWS_") {
            c.error_at_key(
                key,
                &format!("`{key}`: variables starting with AWS_ are reserved by Lambda"),
            );
        }
    }
}

/// CloudWatch's rule for log group names.
fn valid_log_group(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: &str) {
        self.errors.push(ConfigError {
            path: self.path.to_owned(),
            line: Some(line_of(self.text, offset)),
            message: message.to_owned(),
        });
    }

    /// Checks a Step Functions name (activity or state machine) and that it is declared once.
    fn step_functions_name<'c>(
        &mut self,
        name: &'c Spanned<String>,
        what: &str,
        seen: &mut Vec<&'c str>,
    ) {
        let n = name.get_ref();
        if n.is_empty()
            || n.len() > 40
            || !n
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            self.error(
                name.span().start,
                &format!("{what} name `{n}` must be 1-40 letters, digits, `-` or `_`"),
            );
        }
        if seen.contains(&n.as_str()) {
            self.error(
                name.span().start,
                &format!("{what} `{n}` is declared twice"),
            );
        }
        seen.push(n);
    }

    /// Errors on a table key (keys carry no span through serde): the first line naming it.
    fn error_at_key(&mut self, key: &str, message: &str) {
        let line = self
            .text
            .lines()
            .position(|l| l.contains(key))
            .map(|i| i + 1);
        self.errors.push(ConfigError {
            path: self.path.to_owned(),
            line,
            message: message.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("portico.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn iam_keys_resolve_per_function() {
        let config = parse(
            r#"
[app]
name = "shop"

[iam]
managed_policies = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]

[[iam.statements]]
actions = ["dynamodb:GetItem", "dynamodb:Query"]
resources = ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"]

[functions.api.iam]
managed_policies = ["arn:aws:iam::123456789012:policy/team/reports"]

[[functions.api.iam.statements]]
effect = "Deny"
actions = ["s3:DeleteObject"]
resources = ["arn:aws:s3:::shop-files/*"]
condition = { StringEquals = { "aws:RequestedRegion" = "eu-west-1" } }

[functions.nightly.iam]
role_arn = "arn:aws:iam::123456789012:role/nightly-jobs"

[[functions.xray.iam.statements]]
actions = ["xray:PutTraceSegments"]
resources = ["*"]
allow_any_resource = true
"#,
        )
        .unwrap();
        let api = config.function("dev", "api");
        assert_eq!(
            api.managed_policies,
            [
                "arn:aws:iam::123456789012:policy/team/reports",
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
            ]
        );
        assert_eq!(api.statements.len(), 2);
        assert_eq!(
            api.statements[0],
            serde_json::json!({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"]})
        );
        assert_eq!(
            api.statements[1]["Condition"],
            serde_json::json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
        );
        assert_eq!(api.role_arn, None);
        // A role of the app's own: no statements or policies from Portico.
        let nightly = config.function("dev", "nightly");
        assert_eq!(
            nightly.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/nightly-jobs")
        );
        assert!(nightly.statements.is_empty() && nightly.managed_policies.is_empty());
    }

    #[test]
    fn iam_errors_name_the_key() {
        let base = "[app]\nname = \"shop\"\n";
        let cases = [
            (
                "[[iam.statements]]\nactions = [\"GetItem\"]\nresources = [\"arn:aws:dynamodb:eu-west-1:123456789012:table/t\"]\n",
                "portico.toml:4: `iam.statements.actions`: `GetItem` is not an IAM action",
            ),
            (
                "[[iam.statements]]\nactions = [\"dynamodb:GetItem\"]\nresources = [\"table/t\"]\n",
                "portico.toml:5: `iam.statements.resources`: `table/t` is not an ARN",
            ),
            (
                "[[iam.statements]]\nactions = [\"dynamodb:GetItem\"]\nresources = [\"*\"]\n",
                "portico.toml:5: `iam.statements.resources`: `*` allows the actions on every resource",
            ),
            (
                "[[iam.statements]]\neffect = \"allow\"\nactions = [\"s3:GetObject\"]\nresources = [\"arn:aws:s3:::b/*\"]\n",
                "portico.toml:4: `iam.statements.effect` must be `Allow` or `Deny`",
            ),
            (
                "[[iam.statements]]\nactions = []\nresources = [\"arn:aws:s3:::b/*\"]\n",
                "portico.toml:4: `iam.statements.actions` must name at least one action",
            ),
            (
                "[iam]\nmanaged_policies = [\"AmazonS3ReadOnlyAccess\"]\n",
                "portico.toml:4: `iam.managed_policies`: `AmazonS3ReadOnlyAccess` is not a managed policy ARN",
            ),
            (
                "[functions.api.iam]\nrole_arn = \"arn:aws:iam::aws:role/x\"\n",
                "portico.toml:4: `functions.<entry>.iam.role_arn`: `arn:aws:iam::aws:role/x` is not a role ARN",
            ),
            (
                "[functions.api.iam]\nrole_arn = \"arn:aws:iam::123456789012:role/x\"\nmanaged_policies = [\"arn:aws:iam::aws:policy/P\"]\n",
                "portico.toml:4: `functions.<entry>.iam.role_arn` with `statements` or `managed_policies` beside it",
            ),
            (
                "[iam]\nrole_arn = \"arn:aws:iam::123456789012:role/x\"\n[functions.api.iam]\nmanaged_policies = [\"arn:aws:iam::aws:policy/P\"]\n",
                "portico.toml:6: function `api`: `iam.statements`/`iam.managed_policies` beside a `role_arn`",
            ),
            (
                "[[iam.statements]]\nactions = [\"s3:GetObject\"]\nresource = [\"arn:aws:s3:::b/*\"]\n",
                "unknown field `resource`",
            ),
        ];
        for (extra, expected) in cases {
            let err = parse(&format!("{base}{extra}")).unwrap_err();
            assert!(
                err.contains(expected),
                "{extra}\n got: {err}\n want: {expected}"
            );
        }
    }

    const FULL: &str = include_str!("fixtures/full.toml");

    #[test]
    fn a_full_file_parses_and_resolves() {
        let config = parse(FULL).unwrap();
        assert_eq!(config.app.name.get_ref(), "shop");
        assert_eq!(config.api_stage_name("prod"), "v1");
        assert_eq!(config.api_stage_name("dev"), "dev");
        let prod = config.function("prod", "api");
        assert_eq!((prod.memory, prod.timeout), (512, 20));
        let dev = config.function("dev", "api");
        assert_eq!((dev.memory, dev.timeout), (256, 20));
        assert_eq!(dev.env["LOG"], "debug");
        assert_eq!(dev.env["MODE"], "api");
        let sched = config.function("dev", "cleanup");
        assert_eq!((sched.memory, sched.timeout), (128, 60));
        assert_eq!(
            config.usage_plans[0]
                .quota
                .as_ref()
                .unwrap()
                .limit
                .get_ref(),
            &1000
        );
    }

    #[test]
    fn a_custom_log_group_is_merged_like_memory() {
        let config = parse(
            "[app]\nname = \"a\"\n[functions.api]\nlog_group = \"/custom/a-api_1.#x\"\n\
             [stages.prod.functions.api]\nlog_group = \"/custom/prod\"\n\
             [stages.prod.functions.cleanup]\nlog_group = \"/custom/cleanup\"\n",
        )
        .unwrap();
        assert_eq!(
            config.function("dev", "api").log_group.as_deref(),
            Some("/custom/a-api_1.#x")
        );
        assert_eq!(
            config.function("prod", "api").log_group.as_deref(),
            Some("/custom/prod")
        );
        assert_eq!(
            config.function("prod", "cleanup").log_group.as_deref(),
            Some("/custom/cleanup")
        );
        assert_eq!(config.function("dev", "cleanup").log_group, None);
        let long = format!(
            "[app]\nname = \"a\"\n[functions.api]\nlog_group = \"{}\"\n",
            "a".repeat(512)
        );
        assert!(parse(&long).is_ok());
        let too_long = format!(
            "[app]\nname = \"a\"\n[functions.api]\nlog_group = \"{}\"\n",
            "a".repeat(513)
        );
        let err = parse(&too_long).map(|_| ()).unwrap_err();
        assert!(
            err.starts_with("portico.toml:4:") && err.contains("log_group"),
            "{err}"
        );
    }

    #[test]
    fn a_minimal_file_has_a_dev_stage() {
        let config = parse("[app]\nname = \"a\"\n").unwrap();
        assert!(config.stage("dev").is_ok());
        let err = config.stage("prod").unwrap_err();
        assert!(err.contains("declared: dev"), "{err}");
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = parse("[app]\nname = \"a\"\n\n[api]\nbinary_types = []\n").unwrap_err();
        assert!(err.starts_with("portico.toml:5:"), "{err}");
        assert!(err.contains("binary_types"), "{err}");
    }

    #[test]
    fn bad_values_name_the_line() {
        for (text, line, needle) in [
            ("[app]\nname = \"9lives\"\n", 2, "app.name"),
            (
                "[app]\nname = \"a\"\n[functions.api]\nmemory = 64\n",
                4,
                "memory",
            ),
            (
                "[app]\nname = \"a\"\n[functions.api]\ntimeout = 901\n",
                4,
                "timeout",
            ),
            (
                "[app]\nname = \"a\"\n[functions.api]\nmemory = 256\nlog_group = \"/custom/a b\"\n",
                5,
                "log_group",
            ),
            (
                "[app]\nname = \"a\"\n[functions.api]\nlog_group = \"\"\n",
                4,
                "log_group",
            ),
            (
                "[app]\nname = \"a\"\n[stages.dev.functions.api]\nlog_group = \"/x/caf\u{e9}\"\n",
                4,
                "log_group",
            ),
            (
                "[app]\nname = \"a\"\n[[usage_plans]]\nname = \"p\"\nquota = { limit = 5, period = \"YEAR\" }\n",
                5,
                "DAY, WEEK or MONTH",
            ),
            (
                "[app]\nname = \"a\"\n[[usage_plans]]\nname = \"p\"\napi_keys = [\"ghost\"]\n",
                5,
                "ghost",
            ),
            (
                "[app]\nname = \"a\"\n[[api_keys]]\nname = \"k\"\nvalue = \"short\"\n",
                5,
                "20-128",
            ),
            (
                "[app]\nname = \"a\"\n[logs]\nretention_days = 10\n",
                4,
                "retention_days",
            ),
            (
                "[app]\nname = \"a\"\n[api]\ntype = \"soap\"\n",
                4,
                "api.type",
            ),
            (
                "[app]\nname = \"a\"\n[api]\ntype = \"http\"\n",
                4,
                "not supported yet",
            ),
            (
                "[app]\nname = \"a\"\n[stages.dev]\nenv = { AWS_REGION = \"x\" }\n",
                4,
                "reserved",
            ),
            // Activities, state machines and e-mail identities.
            (
                "[app]\nname = \"a\"\n[[activities]]\nname = \"x\"\n[[activities]]\nname = \"x\"\n",
                6,
                "declared twice",
            ),
            (
                "[app]\nname = \"a\"\n[[state_machines]]\nname = \"bad name\"\ndefinition = \"d.json\"\n",
                4,
                "state machine name",
            ),
            (
                "[app]\nname = \"a\"\n[[state_machines]]\nname = \"m\"\ndefinition = \"/etc/d.json\"\n",
                5,
                "relative",
            ),
            (
                "[app]\nname = \"a\"\n[[email_identities]]\naddress = \"nobody\"\n",
                4,
                "e-mail address",
            ),
            (
                "[app]\nname = \"a\"\n[[email_identities]]\naddress = \"a@b.c\"\ndomain = \"b.c\"\n",
                4,
                "not both",
            ),
            (
                "[app]\nname = \"a\"\n\n[[email_identities]]\n",
                4,
                "needs `address` or `domain`",
            ),
            // Secrets.
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\ngenerate = \"base64-8\"\n",
                5,
                "16-64 bytes",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\ngenerate = \"base32-32\"\n",
                5,
                "`generate` must be",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\ngenerate = \"hex-65\"\n",
                5,
                "16-64 bytes",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\ngenerate = \"hex-+32\"\n",
                5,
                "`generate` must be",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"1K\"\ngenerate = \"hex-32\"\n",
                4,
                "environment variable name",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"AWS_SECRET\"\ngenerate = \"hex-32\"\n",
                4,
                "reserved",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\ngenerate = \"hex-32\"\n[[secrets]]\nname = \"K\"\ngenerate = \"hex-32\"\n",
                7,
                "declared twice",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\nvalue = \"x\"\n",
                5,
                "value",
            ),
            (
                "[app]\nname = \"a\"\n[[secrets]]\nname = \"K\"\n",
                3,
                "generate",
            ),
        ] {
            let err = parse(text).map(|_| ()).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(
                err.starts_with(&format!("portico.toml:{line}:")),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn step_functions_and_email_identities_parse() {
        let config = parse(
            "[app]\nname = \"a\"\n[[activities]]\nname = \"ManualStep\"\n[[state_machines]]\nname = \"Promotion\"\ndefinition = \"sm/promotion.json\"\n[[email_identities]]\naddress = \"hr@example.com\"\n[[email_identities]]\ndomain = \"example.com\"\n",
        )
        .unwrap();
        assert_eq!(config.activities[0].name.get_ref(), "ManualStep");
        assert_eq!(
            config.state_machines[0].definition.get_ref(),
            "sm/promotion.json"
        );
        let ids: Vec<&str> = config
            .email_identities
            .iter()
            .map(EmailIdentity::identity)
            .collect();
        assert_eq!(ids, ["hr@example.com", "example.com"]);
    }

    #[test]
    fn a_missing_definition_file_names_the_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("portico.toml");
        std::fs::write(
            &path,
            "[app]\nname = \"a\"\n[[state_machines]]\nname = \"m\"\ndefinition = \"missing.json\"\n",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(":5: state machine `m`: no definition file `missing.json`"),
            "{err}"
        );
    }

    #[test]
    fn secrets_parse() {
        let config = parse(
            "[app]\nname = \"a\"\n[[secrets]]\nname = \"LINK_KEY\"\ngenerate = \"base64-32\"\n[[secrets]]\nname = \"_T\"\ngenerate = \"hex-16\"\n[[secrets]]\nname = \"U\"\ngenerate = \"base64url-64\"\n",
        )
        .unwrap();
        let formats: Vec<(String, SecretFormat)> = config
            .secrets
            .iter()
            .map(|s| (s.name.get_ref().clone(), s.format().unwrap()))
            .collect();
        assert_eq!(
            formats,
            [
                (
                    "LINK_KEY".to_owned(),
                    SecretFormat {
                        encoding: SecretEncoding::Base64,
                        bytes: 32
                    }
                ),
                (
                    "_T".to_owned(),
                    SecretFormat {
                        encoding: SecretEncoding::Hex,
                        bytes: 16
                    }
                ),
                (
                    "U".to_owned(),
                    SecretFormat {
                        encoding: SecretEncoding::Base64Url,
                        bytes: 64
                    }
                ),
            ]
        );
        assert!(parse("[app]\nname = \"a\"\n").unwrap().secrets.is_empty());
    }

    #[test]
    fn a_missing_app_name_is_an_error() {
        let err = parse("[app]\n").unwrap_err();
        assert!(err.contains("name"), "{err}");
    }
}
