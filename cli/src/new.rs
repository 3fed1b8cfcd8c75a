//! `portico new NAME`: creates an app crate with two routes, their tests and a `portico.toml`.
//!
//! The crate depends on `portico` by path when this CLI runs from a source checkout of
//! Portico (so the app uses the framework next to the CLI), else on crates.io's `portico`.
//! It declares its own empty `[workspace]`, so it builds standalone wherever it is created,
//! even inside another Cargo workspace.

use std::path::{Path, PathBuf};

use crate::CliError;

/// Arguments of `portico new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app's name: the crate's name and the prefix of its AWS resources (letters, digits
    /// and `-`, starting with a letter, at most 40 characters).
    name: String,
    /// Create the app in DIR instead of `./NAME` (DIR must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
}

const CARGO_TOML: &str = include_str!("../templates/new/Cargo.toml.tmpl");
const MAIN_RS: &str = include_str!("../templates/new/main.rs.tmpl");
const PORTICO_TOML: &str = include_str!("../templates/new/portico.toml.tmpl");
const GITIGNORE: &str = include_str!("../templates/new/gitignore.tmpl");

/// The crates.io requirement used when the CLI does not run from a source checkout.
const PORTICO_VERSION: &str = "0.1";

/// Creates the app and prints what to do next.
///
/// # Errors
/// When the name is invalid, the directory exists and is not empty, or a file cannot be
/// written.
pub fn run(args: Args) -> Result<(), CliError> {
    validate_name(&args.name)?;
    let dir = args.path.unwrap_or_else(|| PathBuf::from(&args.name));
    let dependency = PorticoDependency::detect();
    generate(&args.name, &dir, &dependency)?;
    let shown = dir.display();
    println!("created app `{}` in {shown}", args.name);
    if let PorticoDependency::Path(path) = &dependency {
        println!("  (portico from the source checkout at {})", path.display());
    }
    println!("next:\n  cd {shown}\n  cargo test\n  portico local");
    Ok(())
}

/// Where the generated crate gets `portico` from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PorticoDependency {
    /// The framework beside this CLI's sources.
    Path(PathBuf),
    /// crates.io.
    Version(&'static str),
}

impl PorticoDependency {
    fn detect() -> Self {
        let framework = Path::new(env!("CARGO_MANIFEST_DIR")).join("../framework");
        match framework.join("Cargo.toml").is_file() {
            true => Self::Path(framework.canonicalize().unwrap_or(framework)),
            false => Self::Version(PORTICO_VERSION),
        }
    }

    /// The dependency's value in `Cargo.toml`.
    fn toml(&self) -> String {
        match self {
            Self::Path(path) => format!(
                "{{ path = {} }}",
                toml::Value::String(path.display().to_string())
            ),
            Self::Version(version) => toml::Value::String((*version).to_owned()).to_string(),
        }
    }

    /// The source checkout's `Cargo.lock`, when depending on it by path.
    fn lock_file(&self) -> Option<PathBuf> {
        match self {
            Self::Path(framework) => {
                Some(framework.parent()?.join("Cargo.lock")).filter(|p| p.is_file())
            }
            Self::Version(_) => None,
        }
    }
}

/// Rust keywords: the crate name becomes an identifier.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
    "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro", "override",
    "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// The standard library, cargo's reserved names and the app's own dependencies.
const TAKEN: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc-macro",
    "test",
    "portico",
    "portico-macros",
    "serde",
    "tokio",
];

/// File names Windows reserves.
const WINDOWS: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Checks that `name` works as a crate name and as an app name (`portico.toml`'s rule).
fn validate_name(name: &str) -> Result<(), CliError> {
    let problem = if name.is_empty() {
        Some("is empty".to_owned())
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter".to_owned())
    } else if name.contains('_') {
        Some(format!(
            "contains `_`, which AWS resource names of the app cannot; use `{}`",
            name.replace('_', "-")
        ))
    } else if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
    {
        Some(format!("contains `{c}`; use letters, digits and `-`"))
    } else if name.len() > 40 {
        Some(format!("is {} characters long; at most 40", name.len()))
    } else if name.ends_with('-') {
        Some("ends with `-`".to_owned())
    } else if [KEYWORDS, TAKEN, WINDOWS]
        .iter()
        .any(|list| list.contains(&name.to_ascii_lowercase().as_str()))
    {
        Some("is reserved (a Rust keyword, a standard crate or a dependency of the app)".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!(
            "the app name `{name}` {problem}; a name is letters, digits and `-`, starting with \
             a letter, e.g. `portico new my-api`"
        )
        .into()),
        None => Ok(()),
    }
}

/// Writes the app's files into `dir`, which must not exist or be empty.
fn generate(name: &str, dir: &Path, dependency: &PorticoDependency) -> Result<(), CliError> {
    let created = match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{} already exists and is not empty; pick another name or pass --path DIR",
                    dir.display()
                )
                .into());
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) if dir.exists() => {
            return Err(format!(
                "{} already exists and cannot be read as a directory: {e}",
                dir.display()
            )
            .into());
        }
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display()).into()),
    };
    let result = write_files(name, dir, dependency);
    if result.is_err() && created {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn write_files(name: &str, dir: &Path, dependency: &PorticoDependency) -> Result<(), CliError> {
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{portico}}", &dependency.toml())
    };
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|e| format!("cannot create {}: {e}", dir.join("src").display()))?;
    for (file, text) in [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/main.rs", fill(MAIN_RS)),
        (crate::config::FILE_NAME, fill(PORTICO_TOML)),
        (".gitignore", GITIGNORE.to_owned()),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    // Same versions as the framework was tested with; cargo drops what the app does not use.
    if let Some(lock) = dependency.lock_file() {
        let _ = std::fs::copy(lock, dir.join("Cargo.lock"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn validates_names() {
        for good in ["shop", "my-api", "a", "Api2", &"x".repeat(40)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "is empty"),
            ("1shop", "must start with a letter"),
            ("-shop", "must start with a letter"),
            ("my_api", "use `my-api`"),
            ("my.api", "contains `.`"),
            ("café", "contains `é`"),
            ("shop-", "ends with `-`"),
            ("fn", "is reserved"),
            ("portico", "is reserved"),
            ("Test", "is reserved"),
            ("nul", "is reserved"),
        ] {
            let message = validate_name(bad).unwrap_err().to_string();
            assert!(message.contains(why), "{bad}: {message}");
            assert!(message.contains("portico new my-api"), "{message}");
        }
        assert!(
            validate_name(&"x".repeat(41))
                .unwrap_err()
                .to_string()
                .contains("at most 40")
        );
    }

    #[test]
    fn generates_a_standalone_crate() {
        let tmp = TempDir::new("new", "gen");
        let dir = tmp.0.join("shop");
        generate("shop", &dir, &PorticoDependency::Version("0.1")).unwrap();

        let cargo: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(cargo["package"]["name"].as_str(), Some("shop"));
        assert_eq!(cargo["bin"][0]["name"].as_str(), Some("bootstrap"));
        assert_eq!(cargo["dependencies"]["portico"].as_str(), Some("0.1"));
        assert!(cargo["dependencies"]["serde"].is_table());
        assert!(cargo["dev-dependencies"]["tokio"].is_table());
        assert_eq!(
            cargo["workspace"].as_table().map(|t| t.len()),
            Some(0),
            "an empty [workspace]"
        );

        let config = crate::config::Config::load(&dir.join("portico.toml")).unwrap();
        assert_eq!(config.app.name.get_ref(), "shop");
        assert!(config.stage("dev").is_ok());

        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("routes![index, greet]") && main.contains("TestClient::new(app())"));
        assert!(!main.contains("{{"), "every placeholder filled");
        assert_eq!(
            std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
            "/target\n/.portico\n"
        );
        assert!(
            !dir.join("Cargo.lock").exists(),
            "no lock file without a source checkout"
        );
    }

    #[test]
    fn depends_on_the_source_checkout_by_path() {
        let dependency = PorticoDependency::detect();
        let PorticoDependency::Path(framework) = &dependency else {
            panic!("tests run from the source checkout: {dependency:?}");
        };
        assert!(framework.join("src/lib.rs").is_file());
        let value: toml::Table = format!("portico = {}", dependency.toml()).parse().unwrap();
        assert_eq!(
            value["portico"]["path"].as_str(),
            Some(framework.display().to_string().as_str())
        );
        assert!(dependency.lock_file().is_some());
    }

    #[test]
    fn refuses_to_overwrite() {
        let tmp = TempDir::new("new", "exists");
        std::fs::write(tmp.0.join("keep.txt"), "mine").unwrap();
        let message = generate("shop", &tmp.0, &PorticoDependency::Version("0.1"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("already exists and is not empty"),
            "{message}"
        );
        assert_eq!(
            std::fs::read_to_string(tmp.0.join("keep.txt")).unwrap(),
            "mine"
        );
        assert!(!tmp.0.join("Cargo.toml").exists());

        let file = tmp.0.join("keep.txt");
        let message = generate("shop", &file, &PorticoDependency::Version("0.1"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("already exists"), "{message}");

        let empty = tmp.0.join("empty");
        std::fs::create_dir(&empty).unwrap();
        generate("shop", &empty, &PorticoDependency::Version("0.1")).unwrap();
        assert!(
            empty.join("src/main.rs").is_file(),
            "an empty directory is fine"
        );
    }

    /// Builds the generated app and runs its tests, offline, against this checkout's framework:
    /// what `portico new` promises. Slow the first time (it compiles the framework's
    /// dependencies into `target/tmp/portico-new-app`), quick afterwards.
    #[test]
    fn the_generated_app_builds_and_passes_its_tests() {
        let tmp = TempDir::new("new", "build");
        let dir = tmp.0.join("hello-app");
        let dependency = PorticoDependency::detect();
        generate("hello-app", &dir, &dependency).unwrap();
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/portico-new-app");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let cargo_run = |args: &[&str]| {
            let out = std::process::Command::new(&cargo)
                .current_dir(&dir)
                .args(args)
                .env("CARGO_TARGET_DIR", &target)
                .env_remove("RUSTFLAGS")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "cargo {args:?} failed:\n{stdout}\n{stderr}"
            );
            stdout
        };
        let tests = cargo_run(&["test", "--offline", "--quiet"]);
        assert!(tests.contains("2 passed"), "{tests}");
        cargo_run(&["build", "--offline", "--quiet"]);
        let manifest = crate::project::read_manifest(&target.join("debug/bootstrap")).unwrap();
        let routes: Vec<String> = manifest
            .routes
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(routes, ["GET /", "POST /greetings"]);
    }
}
