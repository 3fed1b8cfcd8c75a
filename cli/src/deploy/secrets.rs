//! `[[secrets]]` on AWS: each value lives in the environment of the stage's functions
//! (Lambda keeps function environments encrypted at rest) and nowhere else — not in the
//! record, the plan, the output or an error message.
//!
//! [`resolve`] runs between reading what exists and planning:
//!
//! - A secret some function already has, in its declared format, is **kept**: the API
//!   function's value, else the first function's (in [`Desired::functions`] order) that has a
//!   value in that format. Functions that lack it or disagree get that value, so they
//!   converge. This works from a fresh checkout too: nothing but the functions holds it.
//! - Otherwise (the first deploy, a new secret, a changed `generate`, or `--rotate-secret`)
//!   a new value is **generated** from the operating system's random source, as
//!   `portico local` does. A deploy interrupted before any function got it generates anew
//!   next time, which is harmless: nothing used the lost value.
//! - A secret that a stage or function `env` variable of the same name sets for every
//!   function is **overridden**: nothing is generated.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use crate::config::{SecretEncoding, SecretFormat};

use super::desired::{Desired, SecretValues};
use super::remote::Remote;

/// Where a secret's value came from, for the output (never the value itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Read back from the deployed functions.
    Kept,
    /// Generated: no function had a value in the declared format.
    Generated,
    /// Generated because `--rotate-secret` named it.
    Rotated,
    /// Every function sets the variable in its `env`: the secret is not used.
    Overridden,
}

/// The secrets' values, and where each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Values by name (`Debug` shows names only).
    pub values: SecretValues,
    /// Origins by name.
    pub origins: BTreeMap<String, Origin>,
}

/// Resolving failed: a name given to `--rotate-secret` is not declared, or no random bytes.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `--rotate-secret` names no `[[secrets]]` entry.
    #[error("--rotate-secret {name}: portico.toml declares no such secret (declared: {declared})")]
    Unknown {
        /// The name given.
        name: String,
        /// The declared names.
        declared: String,
    },
    /// The random source failed.
    #[error("cannot generate secret `{name}`: {source}")]
    Generate {
        /// The secret.
        name: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The value of every declared secret some function gets: kept from `remote`, or made by
/// `generate` (see the module's documentation). `rotate` names secrets to generate anew.
///
/// # Errors
/// When `rotate` names an undeclared secret, or `generate` fails.
pub fn resolve(
    desired: &Desired,
    remote: &Remote,
    rotate: &[String],
    mut generate: impl FnMut(SecretFormat) -> std::io::Result<String>,
) -> Result<Resolved, SecretError> {
    for name in rotate {
        if !desired.secrets.iter().any(|s| &s.name == name) {
            let declared: Vec<&str> = desired.secrets.iter().map(|s| s.name.as_str()).collect();
            return Err(SecretError::Unknown {
                name: name.clone(),
                declared: if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                },
            });
        }
    }
    let mut resolved = Resolved::default();
    for spec in &desired.secrets {
        let name = &spec.name;
        let Some(format) = spec.format() else {
            continue;
        };
        // The functions that get this secret; `desired.functions` has `api` first.
        let takers: Vec<&str> = desired
            .functions
            .iter()
            .filter(|f| f.secrets.contains(name))
            .map(|f| f.entry.as_str())
            .collect();
        if takers.is_empty() {
            resolved.origins.insert(name.clone(), Origin::Overridden);
            continue;
        }
        let rotating = rotate.contains(name);
        let kept = if rotating {
            None
        } else {
            takers
                .iter()
                .filter_map(|entry| remote.functions.get(*entry)?.config.env.get(name))
                .find(|value| fits(format, value))
        };
        let (value, origin) = match kept {
            Some(value) => (value.clone(), Origin::Kept),
            None => (
                generate(format).map_err(|source| SecretError::Generate {
                    name: name.clone(),
                    source,
                })?,
                if rotating {
                    Origin::Rotated
                } else {
                    Origin::Generated
                },
            ),
        };
        resolved.values.0.insert(name.clone(), value);
        resolved.origins.insert(name.clone(), origin);
    }
    Ok(resolved)
}

/// Whether `value` is `format.bytes` bytes in `format.encoding`, as generated.
pub fn fits(format: SecretFormat, value: &str) -> bool {
    let decoded = match format.encoding {
        SecretEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(value).ok(),
        SecretEncoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .ok(),
        SecretEncoding::Hex => (value.len() == format.bytes * 2
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| vec![0; format.bytes]),
    };
    decoded.is_some_and(|bytes| bytes.len() == format.bytes)
}

/// The length of a value of `format`, encoded.
pub fn encoded_len(format: SecretFormat) -> usize {
    match format.encoding {
        SecretEncoding::Base64 => format.bytes.div_ceil(3) * 4,
        SecretEncoding::Base64Url => (format.bytes * 4).div_ceil(3),
        SecretEncoding::Hex => format.bytes * 2,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::aws::Function;
    use crate::deploy::desired::tests::{config, inputs, manifest};

    const TOML: &str = "[app]\nname = \"shop\"\n[[secrets]]\nname = \"LINK_KEY\"\ngenerate = \"base64-32\"\n[[secrets]]\nname = \"HEX\"\ngenerate = \"hex-16\"\n";

    fn desired(text: &str) -> Desired {
        Desired::new(
            &config(text),
            &manifest(&[], &[("cleanup", "rate(5 minutes)")]),
            &inputs(Path::new(".")),
        )
        .unwrap()
    }

    fn remote_with(d: &Desired, env: &[(&str, &[(&str, &str)])]) -> Remote {
        let mut remote = Remote::default();
        for (entry, vars) in env {
            let f = d.function(entry).unwrap();
            let mut config = f.config.clone();
            for (k, v) in *vars {
                config.env.insert((*k).to_owned(), (*v).to_owned());
            }
            remote.functions.insert(
                (*entry).to_owned(),
                Function {
                    name: f.name.clone(),
                    arn: f.arn.clone(),
                    code_sha256: d.code.sha256.clone(),
                    config,
                    tags: d.tags.clone(),
                },
            );
        }
        remote
    }

    fn counter() -> (
        std::rc::Rc<std::cell::Cell<u32>>,
        impl FnMut(SecretFormat) -> std::io::Result<String>,
    ) {
        let count = std::rc::Rc::new(std::cell::Cell::new(0));
        let c = count.clone();
        (count, move |format| {
            c.set(c.get() + 1);
            portico_local::secrets::generate_value(format)
        })
    }

    const KEY_A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const KEY_B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=";
    const HEX: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn values_are_kept_from_the_api_function_else_the_first_that_has_one() {
        let d = desired(TOML);
        let (count, generate) = counter();
        // The API function and the schedule disagree: the API function's wins.
        let remote = remote_with(
            &d,
            &[
                ("api", &[("LINK_KEY", KEY_A)]),
                ("cleanup", &[("LINK_KEY", KEY_B), ("HEX", HEX)]),
            ],
        );
        let r = resolve(&d, &remote, &[], generate).unwrap();
        assert_eq!(r.values.0["LINK_KEY"], KEY_A);
        assert_eq!(r.values.0["HEX"], HEX, "only the schedule has it");
        assert_eq!(r.origins["LINK_KEY"], Origin::Kept);
        assert_eq!(r.origins["HEX"], Origin::Kept);
        assert_eq!(count.get(), 0, "nothing generated");
        // Debug names, never values.
        let debug = format!("{r:?}");
        assert!(
            debug.contains("LINK_KEY") && !debug.contains(KEY_A),
            "{debug}"
        );
    }

    #[test]
    fn values_are_generated_when_no_function_has_one_in_the_declared_format() {
        let d = desired(TOML);
        let (count, generate) = counter();
        // Wrong format (the `generate` changed): generated anew.
        let remote = remote_with(&d, &[("api", &[("LINK_KEY", "short"), ("HEX", "ABCD")])]);
        let r = resolve(&d, &remote, &[], generate).unwrap();
        assert_eq!(count.get(), 2);
        assert_eq!(r.origins["LINK_KEY"], Origin::Generated);
        let format = SecretFormat::parse("base64-32").unwrap();
        assert!(fits(format, &r.values.0["LINK_KEY"]));
        assert_eq!(r.values.0["LINK_KEY"].len(), encoded_len(format));
        assert!(fits(
            SecretFormat::parse("hex-16").unwrap(),
            &r.values.0["HEX"]
        ));
    }

    #[test]
    fn rotation_generates_anew_and_unknown_names_are_refused() {
        let d = desired(TOML);
        let (count, generate) = counter();
        let remote = remote_with(&d, &[("api", &[("LINK_KEY", KEY_A), ("HEX", HEX)])]);
        let r = resolve(&d, &remote, &["LINK_KEY".to_owned()], generate).unwrap();
        assert_eq!(count.get(), 1);
        assert_eq!(r.origins["LINK_KEY"], Origin::Rotated);
        assert_ne!(r.values.0["LINK_KEY"], KEY_A);
        assert_eq!(r.values.0["HEX"], HEX);
        let err = resolve(&d, &remote, &["NOPE".to_owned()], |_| unreachable!())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NOPE") && err.contains("LINK_KEY, HEX"),
            "{err}"
        );
    }

    #[test]
    fn an_env_var_of_the_same_name_overrides_the_secret() {
        // The stage sets it for every function: nothing generated, nothing to keep.
        let d = desired(&format!(
            "{TOML}[stages.dev]\nenv = {{ LINK_KEY = \"pinned\" }}\n"
        ));
        assert!(d.functions.iter().all(|f| f.secrets == ["HEX"]));
        let r = resolve(&d, &Remote::default(), &[], |format| {
            portico_local::secrets::generate_value(format)
        })
        .unwrap();
        assert_eq!(r.origins["LINK_KEY"], Origin::Overridden);
        assert!(!r.values.0.contains_key("LINK_KEY"));
        // One function sets it: the others still get the secret, and its value is not
        // taken for the secret's.
        let d = desired(&format!(
            "{TOML}[functions.api]\nenv = {{ LINK_KEY = \"{KEY_B}\" }}\n"
        ));
        let remote = remote_with(
            &d,
            &[
                ("api", &[("LINK_KEY", KEY_B)]),
                ("cleanup", &[("LINK_KEY", KEY_A)]),
            ],
        );
        let (count, generate) = counter();
        let r = resolve(&d, &remote, &[], generate).unwrap();
        assert_eq!(r.values.0["LINK_KEY"], KEY_A);
        assert_eq!(r.origins["LINK_KEY"], Origin::Kept);
        assert_eq!(count.get(), 1, "HEX only");
    }

    #[test]
    fn formats_and_lengths() {
        for (generate, len) in [
            ("base64-32", 44),
            ("base64-16", 24),
            ("base64url-32", 43),
            ("base64url-48", 64),
            ("hex-16", 32),
        ] {
            let format = SecretFormat::parse(generate).unwrap();
            assert_eq!(encoded_len(format), len, "{generate}");
            let value = portico_local::secrets::generate_value(format).unwrap();
            assert_eq!(value.len(), len, "{generate}");
            assert!(fits(format, &value), "{generate}");
        }
        let hex = SecretFormat::parse("hex-16").unwrap();
        assert!(!fits(hex, &HEX.to_uppercase()));
        assert!(!fits(SecretFormat::parse("base64-16").unwrap(), KEY_A));
    }
}
