//! What `portico local` adds to every function's environment besides `portico.toml`'s env:
//!
//! - [`Secrets`]: the values of `[[secrets]]`, random bytes from the operating system
//!   generated once per app and kept in `.portico/local/secrets.json` (mode 0600), so they
//!   survive restarts (links sealed with a key stay valid). A value is generated again only
//!   when its `generate` format changes. Values are never printed or logged.
//! - [`dummy_credentials`]: when the user's environment has no AWS credentials at all, dummy
//!   ones, so the SDK in the functions signs its calls to the local services
//!   instead of asking the instance metadata service (which fails every call off EC2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::files::write_private;
use crate::usage::random_bytes;
use portico_spec::config::{Config, SecretEncoding, SecretFormat};

/// One stored secret: its format and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    generate: String,
    value: String,
}

/// The values of the app's `[[secrets]]`, by variable name.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: a value must not reach a log line through `{:?}`.
        f.debug_struct("Secrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secrets {
    /// The file holding the values: `<local_dir>/secrets.json`.
    pub fn file(local_dir: &Path) -> PathBuf {
        local_dir.join("secrets.json")
    }

    /// The value of every `[[secrets]]` entry: the stored one when its format is unchanged,
    /// else a new random one. Rewrites the file (mode 0600) when anything changed, and keeps
    /// the values of secrets no longer declared out of it.
    ///
    /// # Errors
    /// When the file cannot be read or written, or no random bytes are available.
    pub fn resolve(config: &Config, local_dir: &Path) -> Result<Self, BoxError> {
        let path = Self::file(local_dir);
        let stored: BTreeMap<String, Stored> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{} is not a secrets file ({e}); remove it to generate new values",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
        };
        let mut kept = BTreeMap::new();
        for secret in &config.secrets {
            let name = secret.name.get_ref();
            let generate = secret.generate.get_ref();
            let format = secret
                .format()
                .ok_or_else(|| format!("secret `{name}`: bad `generate` `{generate}`"))?;
            let entry = match stored.get(name) {
                Some(entry) if entry.generate == *generate && !entry.value.is_empty() => {
                    entry.clone()
                }
                _ => Stored {
                    generate: generate.clone(),
                    value: generate_value(format).map_err(|e| {
                        format!("cannot generate secret `{name}`: the operating system's random source failed: {e}")
                    })?,
                },
            };
            kept.insert(name.clone(), entry);
        }
        if kept != stored {
            if kept.is_empty() {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("cannot remove {}: {e}", path.display()).into()),
                }
            } else {
                let mut text = serde_json::to_string_pretty(&kept)?;
                text.push('\n');
                write_private(&path, text.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
        }
        Ok(Self {
            values: kept.into_iter().map(|(k, v)| (k, v.value)).collect(),
        })
    }

    /// The variable names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Adds every secret to `env`, except where `env` already sets the variable (a stage or
    /// function env var of the same name wins).
    pub fn apply(&self, env: &mut BTreeMap<String, String>) {
        for (name, value) in &self.values {
            env.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// `format.bytes` random bytes from the operating system in `format.encoding` (also what
/// `portico deploy` generates a stage's secrets with).
pub fn generate_value(format: SecretFormat) -> std::io::Result<String> {
    let bytes = random_bytes(format.bytes)?;
    Ok(encode(format.encoding, &bytes))
}

fn encode(encoding: SecretEncoding, bytes: &[u8]) -> String {
    match encoding {
        SecretEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        SecretEncoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        SecretEncoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// The variables that name where AWS credentials come from; any one set means the user has
/// credentials of their own (or means to), and they pass to the functions untouched.
const CREDENTIAL_VARIABLES: [&str; 6] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// Dummy credentials for the functions (the local Lambda host gives them the region, as
/// Lambda does: `AWS_REGION`, `us-east-1`) when the environment (`var`) names no
/// credentials and neither the shared credentials nor the config file exists (under `home`,
/// or where `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` say); empty otherwise. The
/// local services accept any signature.
pub fn dummy_credentials(
    var: impl Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Vec<(&'static str, String)> {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if CREDENTIAL_VARIABLES.iter().any(|name| set(name)) {
        return Vec::new();
    }
    let file = |variable: &str, default: &str| -> Option<PathBuf> {
        match var(variable).filter(|v| !v.is_empty()) {
            Some(path) => Some(PathBuf::from(path)),
            None => home.map(|h| h.join(".aws").join(default)),
        }
    };
    let files = [
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        file("AWS_CONFIG_FILE", "config"),
    ];
    if files.iter().flatten().any(|path| path.is_file()) {
        return Vec::new();
    }
    vec![
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("portico.toml"), text).unwrap()
    }

    const TWO: &str = "[app]\nname = \"a\"\n[[secrets]]\nname = \"LINK_KEY\"\ngenerate = \"base64-32\"\n[[secrets]]\nname = \"HEX\"\ngenerate = \"hex-16\"\n";

    #[test]
    fn values_are_generated_once_kept_privately_and_regenerated_on_a_format_change() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".portico").join("local");
        let first = Secrets::resolve(&config(TWO), &dir).unwrap();
        let key = first.values["LINK_KEY"].clone();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&key)
            .unwrap();
        assert_eq!(decoded.len(), 32);
        let hex = first.values["HEX"].clone();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let file = Secrets::file(&dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Debug shows names, never values.
        let debug = format!("{first:?}");
        assert!(
            debug.contains("LINK_KEY") && !debug.contains(&key),
            "{debug}"
        );

        // A restart keeps the values.
        let again = Secrets::resolve(&config(TWO), &dir).unwrap();
        assert_eq!(again.values, first.values);

        // A changed format makes a new value; the other is kept.
        let changed = TWO.replace("hex-16", "base64url-48");
        let third = Secrets::resolve(&config(&changed), &dir).unwrap();
        assert_eq!(third.values["LINK_KEY"], key);
        assert_ne!(third.values["HEX"], hex);
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&third.values["HEX"])
                .unwrap()
                .len(),
            48
        );

        // No secrets left: the file goes.
        let none = Secrets::resolve(&config("[app]\nname = \"a\"\n"), &dir).unwrap();
        assert_eq!(none.names().count(), 0);
        assert!(!file.exists());

        // A damaged file is an error naming it, not silently replaced.
        std::fs::write(&file, "not json").unwrap();
        let err = Secrets::resolve(&config(TWO), &dir)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("secrets.json") && err.contains("remove it"),
            "{err}"
        );
    }

    #[test]
    fn an_env_var_of_the_same_name_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let secrets = Secrets::resolve(&config(TWO), tmp.path()).unwrap();
        let mut env = BTreeMap::from([("LINK_KEY".to_owned(), "from-the-stage".to_owned())]);
        secrets.apply(&mut env);
        assert_eq!(env["LINK_KEY"], "from-the-stage");
        assert_eq!(env["HEX"], secrets.values["HEX"]);
    }

    #[test]
    fn encodings() {
        let bytes = [0xfb, 0xff, 0x00, 0x10];
        assert_eq!(encode(SecretEncoding::Base64, &bytes), "+/8AEA==");
        assert_eq!(encode(SecretEncoding::Base64Url, &bytes), "-_8AEA");
        assert_eq!(encode(SecretEncoding::Hex, &bytes), "fbff0010");
    }

    #[test]
    fn dummy_credentials_only_without_any_of_the_users() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().to_owned();
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let dummy = dummy_credentials(env(&[]), Some(&home));
        let names: Vec<&str> = dummy.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_EC2_METADATA_DISABLED",
            ]
        );
        assert!(dummy.contains(&("AWS_ACCESS_KEY_ID", "local".to_owned())));
        for variable in CREDENTIAL_VARIABLES {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(vec![(variable, "x")].into_boxed_slice());
            assert!(
                dummy_credentials(env(pairs), Some(&home)).is_empty(),
                "{variable}"
            );
        }
        // An empty variable counts as unset.
        assert!(!dummy_credentials(env(&[("AWS_PROFILE", "")]), Some(&home)).is_empty());
        // A shared config or credentials file counts.
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        std::fs::write(home.join(".aws").join("config"), "[default]\n").unwrap();
        assert!(dummy_credentials(env(&[]), Some(&home)).is_empty());
        // …where AWS_CONFIG_FILE points, when set.
        assert!(
            !dummy_credentials(env(&[("AWS_CONFIG_FILE", "/nonexistent")]), Some(&home)).is_empty()
        );
    }
}
