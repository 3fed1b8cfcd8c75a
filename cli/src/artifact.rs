//! The Lambda deployment artifact: the app's release binary, checked, stripped and zipped as
//! `bootstrap` for the `provided.al2023` runtime.
//!
//! A binary Lambda cannot start is only noticed at the first request, long after a deploy said
//! "done", so nothing leaves this module unchecked:
//!
//! - the ELF architecture is `app.architecture` ([`elf_arch`]);
//! - no required `GLIBC_x.y` version is newer than the runtime's glibc, 2.34
//!   ([`required_glibc`]; the offending symbols come from [`glibc_offenders`]);
//! - the binary fits Lambda's 250 MiB unzipped limit (a zip over the 50 MiB direct-upload limit
//!   goes through S3: [`needs_s3_upload`]).
//!
//! The checks are pure functions over the binary's bytes. The zip is deterministic (one entry
//! `bootstrap`, mode 0755, timestamp 1980-01-01, deflate level 9): the same binary gives the
//! same bytes, hence the same `CodeSha256`, which is how a redeploy sees that the code did not
//! change. The zip of the last binary is kept with the SHA-256 of the bytes it was made from
//! (`.portico/build/<arch>/bootstrap.zip.key`): the same binary again reuses it without
//! stripping or compressing; any other binary, even one byte apart, is zipped anew.
//!
//! How the binary is compiled (docs/deploy.md, "Build and checks"): on a Linux machine of the
//! right architecture, plain `cargo build --release`; if that binary needs a glibc newer than
//! 2.34, it is rebuilt with `cargo zigbuild --target <arch>-unknown-linux-gnu.2.34` when
//! cargo-zigbuild is installed, else for `<arch>-unknown-linux-musl` when rustup has that
//! target, else the build fails saying how to fix it. For another architecture (or a
//! non-Linux machine) cargo-zigbuild is required. `--target` overrides the choice. Whatever
//! built it, the binary is checked.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use object::LittleEndian as LE;
use object::elf;
use object::read::SymbolIndex;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use portico_spec::lambda_zip::lambda_zip;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::project::{self, Project, ProjectError, ReleaseBuild, Toolchain};

/// The Lambda runtime the artifact is built for.
pub const RUNTIME: &str = "provided.al2023";
/// The glibc of [`RUNTIME`] (Amazon Linux 2023).
pub const RUNTIME_GLIBC: (u32, u32) = (2, 34);
/// The largest zip `CreateFunction` / `UpdateFunctionCode` take inline; larger ones go
/// through S3.
pub const DIRECT_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;
/// The largest unzipped deployment package Lambda accepts (262,144,000 bytes).
pub const UNZIPPED_LIMIT: u64 = 250 * 1024 * 1024;

/// A Lambda instruction set architecture (`app.architecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// `x86_64` (ELF `EM_X86_64`).
    X86_64,
    /// `arm64` (ELF `EM_AARCH64`, Graviton).
    Arm64,
}

impl Arch {
    /// The configured architecture (`x86_64` when `app.architecture` is not set).
    pub fn from_config(config: &Config) -> Self {
        match config
            .app
            .architecture
            .as_ref()
            .map(|a| a.get_ref().as_str())
        {
            Some("arm64") => Self::Arm64,
            _ => Self::X86_64,
        }
    }

    /// The architecture this CLI runs on, if Lambda has it.
    pub fn host() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Self::X86_64),
            "aarch64" => Some(Self::Arm64),
            _ => None,
        }
    }

    /// Lambda's name (`Architectures` in the API, `app.architecture` in portico.toml).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// The first component of Rust target triples.
    pub fn rust_arch(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "aarch64",
        }
    }

    /// `<arch>-unknown-linux-gnu`.
    pub fn gnu_target(self) -> String {
        format!("{}-unknown-linux-gnu", self.rust_arch())
    }

    /// `<arch>-unknown-linux-musl`.
    pub fn musl_target(self) -> String {
        format!("{}-unknown-linux-musl", self.rust_arch())
    }

    /// `<arch>-unknown-linux-gnu.2.34`: cargo-zigbuild's spelling of "link against glibc 2.34".
    pub fn zig_target(self) -> String {
        format!(
            "{}.{}.{}",
            self.gnu_target(),
            RUNTIME_GLIBC.0,
            RUNTIME_GLIBC.1
        )
    }

    /// The architecture a target triple compiles for.
    pub fn of_triple(triple: &str) -> Option<Self> {
        match triple.split('-').next() {
            Some("x86_64") => Some(Self::X86_64),
            Some("aarch64") => Some(Self::Arm64),
            _ => None,
        }
    }

    fn elf_machine(self) -> &'static str {
        match self {
            Self::X86_64 => "EM_X86_64",
            Self::Arm64 => "EM_AARCH64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

/// The binary is not a Linux executable Lambda could run, or cannot be read as one.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// Not an ELF file at all.
    #[error("not an ELF file ({0}); Lambda's {RUNTIME} runtime runs Linux ELF executables")]
    NotElf(&'static str),
    /// `ELFCLASS32`.
    #[error("a 32-bit ELF file; Lambda runs 64-bit x86_64 or arm64 binaries")]
    Class32,
    /// `ELFDATA2MSB`.
    #[error("a big-endian ELF file; Lambda's x86_64 and arm64 are little-endian")]
    BigEndian,
    /// Neither `EM_X86_64` nor `EM_AARCH64`.
    #[error(
        "an ELF file for machine {0} ({name}); Lambda runs x86_64 (EM_X86_64) or arm64 (EM_AARCH64)",
        name = machine_name(*.0)
    )]
    Machine(u16),
    /// An object file, core dump, … rather than an executable.
    #[error("an ELF file of type {0}, not an executable (ET_EXEC or ET_DYN)")]
    NotExecutable(u16),
    /// Truncated or inconsistent.
    #[error("a malformed ELF file: {0}")]
    Malformed(String),
}

fn machine_name(machine: u16) -> &'static str {
    match machine {
        3 => "EM_386",
        8 => "EM_MIPS",
        20 => "EM_PPC",
        21 => "EM_PPC64",
        22 => "EM_S390",
        40 => "EM_ARM",
        62 => "EM_X86_64",
        183 => "EM_AARCH64",
        243 => "EM_RISCV",
        258 => "EM_LOONGARCH",
        _ => "unknown machine",
    }
}

fn malformed(err: object::read::Error) -> ElfError {
    ElfError::Malformed(err.to_string())
}

/// The ELF header, after the checks that give a clear error for what Lambda cannot run.
fn elf64le(bytes: &[u8]) -> Result<&elf::FileHeader64<LE>, ElfError> {
    const EI_CLASS: usize = 4;
    const EI_DATA: usize = 5;
    if bytes.len() < 4 || bytes[..4] != elf::ELFMAG {
        return Err(ElfError::NotElf(match bytes.get(..4) {
            Some([0xcf, 0xfa, 0xed, 0xfe] | [0xfe, 0xed, 0xfa, 0xcf]) => "a macOS Mach-O binary",
            Some([b'M', b'Z', ..]) => "a Windows PE binary",
            Some([b'#', b'!', ..]) => "a script",
            _ => "no ELF magic number",
        }));
    }
    match bytes.get(EI_CLASS) {
        Some(2) => {}
        Some(1) => return Err(ElfError::Class32),
        _ => return Err(ElfError::Malformed("unknown ELF class".to_owned())),
    }
    match bytes.get(EI_DATA) {
        Some(1) => {}
        Some(2) => return Err(ElfError::BigEndian),
        _ => return Err(ElfError::Malformed("unknown ELF data encoding".to_owned())),
    }
    elf::FileHeader64::<LE>::parse(bytes).map_err(malformed)
}

/// The architecture of an ELF executable.
///
/// # Errors
/// When `bytes` is not a 64-bit little-endian ELF executable for x86_64 or arm64.
pub fn elf_arch(bytes: &[u8]) -> Result<Arch, ElfError> {
    let header = elf64le(bytes)?;
    let file_type = header.e_type(LE);
    if file_type != elf::ET_EXEC && file_type != elf::ET_DYN {
        return Err(ElfError::NotExecutable(file_type.0));
    }
    match header.e_machine(LE) {
        elf::EM_X86_64 => Ok(Arch::X86_64),
        elf::EM_AARCH64 => Ok(Arch::Arm64),
        other => Err(ElfError::Machine(other.0)),
    }
}

/// The glibc release a version name stands for: `GLIBC_2.2.5` → 2.2, `GLIBC_2.36` → 2.36.
/// The ABI markers (`GLIBC_ABI_DT_RELR`, from 2.36, and later ones) map to 2.36, a lower
/// bound that is enough to know they are newer than 2.34. `GLIBC_PRIVATE` is no release.
fn glibc_release(version_name: &[u8]) -> Option<(u32, u32)> {
    let rest = version_name.strip_prefix(b"GLIBC_")?;
    if rest.starts_with(b"ABI_") {
        return Some((2, 36));
    }
    let mut parts = std::str::from_utf8(rest).ok()?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A `GLIBC_*` version the binary needs, e.g. `GLIBC_2.36` for release 2.36.
struct VersionNeed {
    name: String,
    release: (u32, u32),
}

/// Every `GLIBC_*` version the binary's version needs (`.gnu.version_r`) name, with its
/// release. The dynamic loader refuses to start the binary if any of them is missing,
/// whether or not a symbol uses it.
fn glibc_needs(bytes: &[u8]) -> Result<Vec<VersionNeed>, ElfError> {
    let header = elf64le(bytes)?;
    let sections = header.sections(LE, bytes).map_err(malformed)?;
    if sections.is_empty() {
        let dynamic = header
            .program_headers(LE, bytes)
            .map_err(malformed)?
            .iter()
            .any(|p| matches!(p.p_type(LE), elf::PT_INTERP | elf::PT_DYNAMIC));
        if dynamic {
            return Err(ElfError::Malformed(
                "dynamically linked but without section headers, so its glibc requirements cannot be read"
                    .to_owned(),
            ));
        }
        return Ok(Vec::new());
    }
    let Some((mut needs, link)) = sections.gnu_verneed(LE, bytes).map_err(malformed)? else {
        return Ok(Vec::new());
    };
    let strings = sections.strings(LE, bytes, link).map_err(malformed)?;
    let mut out = Vec::new();
    while let Some((_, mut auxes)) = needs.next().map_err(malformed)? {
        while let Some(aux) = auxes.next().map_err(malformed)? {
            let name = aux.name(LE, strings).map_err(malformed)?;
            if let Some(release) = glibc_release(name) {
                out.push(VersionNeed {
                    name: String::from_utf8_lossy(name).into_owned(),
                    release,
                });
            }
        }
    }
    Ok(out)
}

/// The newest glibc release the binary requires (the highest `GLIBC_x.y` among its version
/// needs), or `None` when it requires none: statically linked, or linked against musl.
///
/// # Errors
/// When `bytes` is not a readable 64-bit little-endian ELF file.
pub fn required_glibc(bytes: &[u8]) -> Result<Option<(u32, u32)>, ElfError> {
    Ok(glibc_needs(bytes)?
        .into_iter()
        .map(|need| need.release)
        .max())
}

/// What makes the binary need a glibc newer than `limit`: each imported symbol bound to such
/// a version as `name@GLIBC_x.y` (from `.dynsym` through `.gnu.version`), plus the version
/// needs no symbol uses (such as `GLIBC_ABI_DT_RELR`). Sorted, without duplicates.
///
/// # Errors
/// When `bytes` is not a readable 64-bit little-endian ELF file.
pub fn glibc_offenders(bytes: &[u8], limit: (u32, u32)) -> Result<Vec<String>, ElfError> {
    let mut newer: Vec<String> = glibc_needs(bytes)?
        .into_iter()
        .filter(|need| need.release > limit)
        .map(|need| need.name)
        .collect();
    if newer.is_empty() {
        return Ok(Vec::new());
    }
    let header = elf64le(bytes)?;
    let sections = header.sections(LE, bytes).map_err(malformed)?;
    let mut offenders = Vec::new();
    if let Some(versions) = sections.versions(LE, bytes).map_err(malformed)? {
        let dynsym = sections
            .symbols(LE, bytes, elf::SHT_DYNSYM)
            .map_err(malformed)?;
        for (index, symbol) in dynsym.symbols().iter().enumerate().skip(1) {
            let version_index = versions.version_index(LE, SymbolIndex(index));
            let Ok(Some(version)) = versions.version(version_index.index()) else {
                continue;
            };
            // Only needed versions (from .gnu.version_r) name the library they come from.
            if version.file().is_none() || !newer.iter().any(|n| n.as_bytes() == version.name()) {
                continue;
            }
            let name = symbol.name(LE, dynsym.strings()).map_err(malformed)?;
            offenders.push(format!(
                "{}@{}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(version.name())
            ));
        }
        newer.retain(|n| !offenders.iter().any(|o| o.ends_with(&format!("@{n}"))));
    }
    offenders.extend(newer);
    offenders.sort();
    offenders.dedup();
    Ok(offenders)
}

/// Whether the binary still has a symbol table or debug information (what `strip` removes).
///
/// # Errors
/// When `bytes` is not a readable 64-bit little-endian ELF file.
pub fn has_symbols(bytes: &[u8]) -> Result<bool, ElfError> {
    let header = elf64le(bytes)?;
    let sections = header.sections(LE, bytes).map_err(malformed)?;
    for section in sections.iter() {
        let name = sections.section_name(LE, section).map_err(malformed)?;
        if section.sh_type(LE) == elf::SHT_SYMTAB
            || name == b".symtab"
            || name.starts_with(b".debug_")
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Lambda's `CodeSha256` of a zip: the base64 of its SHA-256; and the same digest in hex.
pub fn code_sha256(zip: &[u8]) -> (String, String) {
    let digest = Sha256::digest(zip);
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    (
        base64::engine::general_purpose::STANDARD.encode(digest),
        hex,
    )
}

/// The checked, zipped binary, ready to upload.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// `.portico/build/<arch>/bootstrap.zip`.
    pub zip_path: PathBuf,
    /// The zip's bytes (what `UpdateFunctionCode` or the S3 upload sends).
    pub zip_bytes: Vec<u8>,
    /// Lambda's `CodeSha256` of the zip: base64 of its SHA-256.
    pub sha256_base64: String,
    /// The zip's SHA-256 in hex.
    pub sha256_hex: String,
    /// The stripped binary that is in the zip (`.portico/build/<arch>/bootstrap`).
    pub binary_path: PathBuf,
    /// Its size, which is the unzipped size of the package.
    pub binary_len: u64,
    /// Its ELF architecture (the configured one).
    pub architecture: Arch,
    /// The newest glibc it requires; `None` when static or musl.
    pub max_glibc: Option<(u32, u32)>,
    /// How its symbols were removed.
    pub strip: Strip,
    /// How it was compiled; `None` for a prebuilt binary.
    pub build: Option<ReleaseBuild>,
    /// The zip was the one kept from the same binary, not made anew.
    pub reused: bool,
}

/// How the binary lost its symbol table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Strip {
    /// It had none (the release profile's `strip = true`).
    AlreadyStripped,
    /// This tool stripped the copy in the zip.
    StrippedBy(String),
    /// No tool could strip it; it is zipped as it is.
    NotStripped,
}

impl Artifact {
    /// The zip's size in bytes.
    pub fn zip_len(&self) -> u64 {
        self.zip_bytes.len() as u64
    }

    /// Whether the binary can run on this machine (e.g. to print its manifest).
    pub fn runs_here(&self) -> bool {
        cfg!(target_os = "linux") && Arch::host() == Some(self.architecture)
    }

    /// One line per check, as `portico build --release` and `portico deploy` print them.
    pub fn verdicts(&self) -> Vec<String> {
        let glibc = match self.max_glibc {
            Some((major, minor)) => format!(
                "glibc: needs GLIBC_{major}.{minor}, {RUNTIME} has {}.{} … ok",
                RUNTIME_GLIBC.0, RUNTIME_GLIBC.1
            ),
            None => "glibc: none needed (static or musl) … ok".to_owned(),
        };
        let strip = match &self.strip {
            Strip::AlreadyStripped => "symbols: stripped … ok".to_owned(),
            Strip::StrippedBy(tool) => format!("symbols: stripped by `{tool}` … ok"),
            Strip::NotStripped => {
                "symbols: NOT stripped (no strip tool worked; set `strip = true` in [profile.release]) … warning".to_owned()
            }
        };
        let upload = if needs_s3_upload(self) {
            format!(
                "over the {} direct-upload limit: uploads through S3",
                human_size(DIRECT_UPLOAD_LIMIT)
            )
        } else {
            format!("direct upload up to {}", human_size(DIRECT_UPLOAD_LIMIT))
        };
        vec![
            format!(
                "architecture: {} ({}), app.architecture is {} … ok",
                self.architecture,
                self.architecture.elf_machine(),
                self.architecture
            ),
            glibc,
            strip,
            format!(
                "size: {} unzipped (limit {}), {} zipped ({upload}) … ok",
                human_size(self.binary_len),
                human_size(UNZIPPED_LIMIT),
                human_size(self.zip_len()),
            ),
        ]
    }
}

/// Whether the zip is too large to send inline and must go through an S3 object.
pub fn needs_s3_upload(artifact: &Artifact) -> bool {
    artifact.zip_len() > DIRECT_UPLOAD_LIMIT
}

/// `712 KiB`, `1.5 MiB`.
pub fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < MIB {
        format!("{} KiB", (bytes + KIB / 2) / KIB)
    } else if bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

/// The artifact could not be built, or the binary would not run on Lambda.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Finding or compiling the project failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The binary is not an executable Lambda could run.
    #[error("{}: {source}", path.display())]
    Elf {
        /// The binary.
        path: PathBuf,
        /// What is wrong.
        source: ElfError,
    },
    /// The binary is for the other architecture.
    #[error(
        "{} is an {found} binary, but `app.architecture` is `{wanted}`: {fix}",
        path.display()
    )]
    WrongArch {
        /// The binary.
        path: PathBuf,
        /// Its architecture.
        found: Arch,
        /// The configured one.
        wanted: Arch,
        /// How to fix it.
        fix: String,
    },
    /// The binary needs a newer glibc than the runtime has.
    #[error(
        "bootstrap needs GLIBC_{}.{} ({}), but {RUNTIME} has glibc {}.{}: {fix}",
        needed.0, needed.1, offender_list(offenders), RUNTIME_GLIBC.0, RUNTIME_GLIBC.1
    )]
    GlibcTooNew {
        /// The newest release it needs.
        needed: (u32, u32),
        /// `symbol@GLIBC_x.y` (and version needs without symbols).
        offenders: Vec<String>,
        /// How to fix it.
        fix: String,
    },
    /// Over Lambda's unzipped limit.
    #[error(
        "bootstrap is {} unzipped, over Lambda's {} limit for a deployment package: make it smaller (`opt-level = \"z\"`, fewer dependencies) or deploy a container image instead",
        human_size(*size), human_size(UNZIPPED_LIMIT)
    )]
    TooLarge {
        /// The binary's size.
        size: u64,
    },
    /// This machine cannot compile for the configured architecture.
    #[error(
        "cannot build an {arch} Linux binary on this {host} machine without cargo-zigbuild: {fix}"
    )]
    NoCrossToolchain {
        /// The configured architecture.
        arch: Arch,
        /// This machine, e.g. `x86_64 linux`.
        host: String,
        /// How to fix it.
        fix: String,
    },
    /// `--target` is for the other architecture.
    #[error(
        "`--target {target}` does not build for `app.architecture` = `{arch}`; use an {arch} target such as `{}` or `{}`, or change `app.architecture` in portico.toml",
        arch.zig_target(), arch.musl_target()
    )]
    TargetArch {
        /// The requested triple.
        target: String,
        /// The configured architecture.
        arch: Arch,
    },
    /// A glibc-versioned target needs cargo-zigbuild.
    #[error(
        "`--target {target}` (a glibc version suffix) builds with cargo-zigbuild, which is not on PATH: `pip install ziglang cargo-zigbuild`"
    )]
    ZigbuildMissing {
        /// The requested triple.
        target: String,
    },
    /// The host binary needed a newer glibc, and the rebuild for glibc 2.34 (or musl) failed.
    #[error(
        "the host binary needs GLIBC_{}.{} ({}), and the rebuild with `{build}` failed (errors above): the code or a dependency calls functions that glibc {}.{} lacks; avoid them, or build for musl (`--target {}`)",
        needed.0, needed.1, offender_list(offenders), RUNTIME_GLIBC.0, RUNTIME_GLIBC.1,
        musl_for(build)
    )]
    FallbackFailed {
        /// The newest release the host binary needed.
        needed: (u32, u32),
        /// What needed it.
        offenders: Vec<String>,
        /// The rebuild that failed.
        build: ReleaseBuild,
        /// Its error (cargo's diagnostics went to the terminal).
        #[source]
        source: Box<ProjectError>,
    },
    /// rustup lacks the standard library for the target.
    #[error("rustup has no `{target}` target installed: `rustup target add {target}`")]
    RustTargetMissing {
        /// The triple without a glibc suffix.
        target: String,
    },
}

/// The musl target of the architecture a build is for.
fn musl_for(build: &ReleaseBuild) -> String {
    match build {
        ReleaseBuild::Target(t) | ReleaseBuild::Zig(t) => Arch::of_triple(t)
            .map(Arch::musl_target)
            .unwrap_or_else(|| t.clone()),
        ReleaseBuild::Host => Arch::host().unwrap_or(Arch::X86_64).musl_target(),
    }
}

fn offender_list(offenders: &[String]) -> String {
    const SHOWN: usize = 8;
    let (symbols, versions): (Vec<&String>, Vec<&String>) =
        offenders.iter().partition(|o| o.contains('@'));
    let mut parts = Vec::new();
    if !symbols.is_empty() {
        let list: Vec<&str> = symbols.iter().take(SHOWN).map(|s| s.as_str()).collect();
        let more = symbols.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!("symbols: {}{more}", list.join(", ")));
    }
    if !versions.is_empty() {
        let list: Vec<&str> = versions.iter().map(|s| s.as_str()).collect();
        parts.push(format!("versions: {}", list.join(", ")));
    }
    parts.join("; ")
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `portico build --release` may be told.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Compile for this triple instead of choosing (a `.2.34`-style glibc suffix means
    /// `cargo zigbuild`).
    pub target: Option<String>,
    /// Package this prebuilt binary instead of compiling.
    pub binary: Option<PathBuf>,
}

/// The machine the CLI runs on, as the build policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Its architecture, if Lambda has it.
    pub arch: Option<Arch>,
    /// Whether it runs Linux (so a plain `cargo build` gives an ELF binary).
    pub linux: bool,
}

impl Host {
    /// This machine.
    pub fn this() -> Self {
        Self {
            arch: Arch::host(),
            linux: cfg!(target_os = "linux"),
        }
    }

    fn describe(self) -> String {
        format!(
            "{} {}",
            std::env::consts::ARCH,
            if self.linux {
                "Linux"
            } else {
                std::env::consts::OS
            }
        )
    }
}

/// The first way to compile the binary: `--target` if given; a plain host build on a Linux
/// machine of the right architecture; else cargo-zigbuild for glibc 2.34.
///
/// # Errors
/// When `--target` does not fit the architecture or needs a missing tool, or no way to
/// compile for the architecture exists here.
pub fn choose_build(
    arch: Arch,
    host: Host,
    toolchain: &Toolchain,
    target: Option<&str>,
) -> Result<ReleaseBuild, ArtifactError> {
    if let Some(target) = target {
        if Arch::of_triple(target) != Some(arch) {
            return Err(ArtifactError::TargetArch {
                target: target.to_owned(),
                arch,
            });
        }
        if toolchain.has_target(target) == Some(false) {
            return Err(ArtifactError::RustTargetMissing {
                target: project::target_without_glibc(target).to_owned(),
            });
        }
        if target.contains('.') {
            if !toolchain.zigbuild {
                return Err(ArtifactError::ZigbuildMissing {
                    target: target.to_owned(),
                });
            }
            return Ok(ReleaseBuild::Zig(target.to_owned()));
        }
        return Ok(ReleaseBuild::Target(target.to_owned()));
    }
    if host.linux && host.arch == Some(arch) {
        return Ok(ReleaseBuild::Host);
    }
    if toolchain.zigbuild {
        if toolchain.has_target(&arch.gnu_target()) == Some(false) {
            return Err(ArtifactError::RustTargetMissing {
                target: arch.gnu_target(),
            });
        }
        return Ok(ReleaseBuild::Zig(arch.zig_target()));
    }
    Err(ArtifactError::NoCrossToolchain {
        arch,
        host: host.describe(),
        fix: format!(
            "`pip install ziglang cargo-zigbuild` and `rustup target add {}`, then run again (portico builds with `cargo zigbuild --target {}`); or pass `--target TRIPLE` for a target whose linker you have configured",
            arch.gnu_target(),
            arch.zig_target()
        ),
    })
}

/// The rebuild for a host binary that needs a glibc newer than the runtime's: cargo-zigbuild
/// for glibc 2.34 if installed, else the musl target if rustup has it, else none.
pub fn glibc_fallback(arch: Arch, toolchain: &Toolchain) -> Option<ReleaseBuild> {
    if toolchain.zigbuild && toolchain.has_target(&arch.gnu_target()) != Some(false) {
        Some(ReleaseBuild::Zig(arch.zig_target()))
    } else if toolchain.has_target(&arch.musl_target()) == Some(true) {
        Some(ReleaseBuild::Target(arch.musl_target()))
    } else {
        None
    }
}

/// How to get a binary that runs on the runtime's glibc, given how this one was made.
fn glibc_fix(arch: Arch, build: Option<&ReleaseBuild>) -> String {
    let (zig, musl) = (arch.zig_target(), arch.musl_target());
    match build {
        None => format!(
            "build it against glibc {}.{} or older: `cargo zigbuild --release --target {zig}` (`pip install ziglang cargo-zigbuild`), or for musl: `rustup target add {musl}` and `cargo build --release --target {musl}`; or let `portico build --release` build it",
            RUNTIME_GLIBC.0, RUNTIME_GLIBC.1
        ),
        Some(ReleaseBuild::Host) => format!(
            "this machine's glibc is newer; install cargo-zigbuild (`pip install ziglang cargo-zigbuild`) and run again, and portico rebuilds with `cargo zigbuild --target {zig}`; or `rustup target add {musl}` and run again (portico then falls back to musl), or pass `--target {musl}`; or build on Amazon Linux 2023"
        ),
        Some(ReleaseBuild::Target(_) | ReleaseBuild::Zig(_)) => format!(
            "build with `--target {zig}` (cargo-zigbuild, `pip install ziglang cargo-zigbuild`) or `--target {musl}` (`rustup target add {musl}`) instead"
        ),
    }
}

/// Runs the checks on a binary's bytes; returns the newest glibc it needs.
fn check_binary(
    path: &Path,
    bytes: &[u8],
    wanted: Arch,
    build: Option<&ReleaseBuild>,
) -> Result<Option<(u32, u32)>, ArtifactError> {
    let elf_error = |source| ArtifactError::Elf {
        path: path.to_owned(),
        source,
    };
    let found = elf_arch(bytes).map_err(elf_error)?;
    if found != wanted {
        let fix = match build {
            None => format!(
                "build it for {wanted} (`cargo zigbuild --release --target {}`, or let `portico build --release` build it), or set `app.architecture = \"{found}\"` in portico.toml to deploy it as it is",
                wanted.zig_target()
            ),
            Some(_) => format!(
                "a `build.target` in .cargo/config.toml may override the target; pass `--target {}`, or set `app.architecture = \"{found}\"` in portico.toml",
                wanted.zig_target()
            ),
        };
        return Err(ArtifactError::WrongArch {
            path: path.to_owned(),
            found,
            wanted,
            fix,
        });
    }
    let needed = required_glibc(bytes).map_err(elf_error)?;
    if let Some(needed) = needed.filter(|n| *n > RUNTIME_GLIBC) {
        return Err(ArtifactError::GlibcTooNew {
            needed,
            offenders: glibc_offenders(bytes, RUNTIME_GLIBC).map_err(elf_error)?,
            fix: glibc_fix(wanted, build),
        });
    }
    Ok(needed)
}

/// Compiles the app for Lambda, checks the binary and zips it; [`build_artifact_with`] with
/// the default options.
///
/// # Errors
/// See [`build_artifact_with`].
#[allow(dead_code, reason = "the entry point for `portico deploy`")]
pub fn build_artifact(project: &Project, arch: Arch) -> Result<Artifact, ArtifactError> {
    build_artifact_with(project, arch, &BuildOptions::default())
}

/// Compiles the app's release binary for `arch` (or takes `options.binary`), checks it,
/// strips it, and writes `.portico/build/<arch>/bootstrap.zip`.
///
/// # Errors
/// When compiling fails, a check fails (the error says how to fix it), or a file cannot be
/// read or written.
pub fn build_artifact_with(
    project: &Project,
    arch: Arch,
    options: &BuildOptions,
) -> Result<Artifact, ArtifactError> {
    if let Some(binary) = &options.binary {
        let bytes = std::fs::read(binary).map_err(io_error(binary))?;
        let max_glibc = check_binary(binary, &bytes, arch, None)?;
        return package(project, arch, bytes, max_glibc, None);
    }
    let toolchain = Toolchain::probe(&project.dir);
    let mut build = choose_build(arch, Host::this(), &toolchain, options.target.as_deref())?;
    let mut path = project.build_release(&build)?;
    let mut bytes = std::fs::read(&path).map_err(io_error(&path))?;
    let mut checked = check_binary(&path, &bytes, arch, Some(&build));
    let leak = match &checked {
        Err(ArtifactError::GlibcTooNew {
            needed, offenders, ..
        }) if build == ReleaseBuild::Host => Some((*needed, offenders.clone())),
        _ => None,
    };
    if let Some((needed, offenders)) = leak {
        if let Some(fallback) = glibc_fallback(arch, &toolchain) {
            eprintln!(
                "rebuild  the host binary needs GLIBC_{}.{}, newer than {RUNTIME}'s {}.{}: `{fallback}`",
                needed.0, needed.1, RUNTIME_GLIBC.0, RUNTIME_GLIBC.1
            );
            path = project.build_release(&fallback).map_err(|source| {
                ArtifactError::FallbackFailed {
                    needed,
                    offenders,
                    build: fallback.clone(),
                    source: Box::new(source),
                }
            })?;
            build = fallback;
            bytes = std::fs::read(&path).map_err(io_error(&path))?;
            checked = check_binary(&path, &bytes, arch, Some(&build));
        }
    }
    let max_glibc = checked?;
    package(project, arch, bytes, max_glibc, Some(build))
}

/// What the kept zip was made from (`bootstrap.zip.key`, JSON).
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ZipKey {
    /// [`ZIP_FORMAT`] of the CLI that made it.
    format: String,
    /// SHA-256 (hex) of the checked binary before stripping: the key.
    input_sha256: String,
    /// SHA-256 (hex) of the binary in the zip (`bootstrap` beside it).
    binary_sha256: String,
    /// SHA-256 (hex) of the zip.
    zip_sha256: String,
    /// How the binary in the zip lost its symbols.
    strip: Strip,
}

/// Changes whenever [`lambda_zip`] would make other bytes from the same binary.
const ZIP_FORMAT: &str = "bootstrap.zip 1: deflate 9, 0755, 1980-01-01";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The zip and stripped binary kept in `dir` when they were made from a binary whose SHA-256
/// is `input_sha256` by this format, and both files still hash to what the key says (so a
/// file changed or cut short by hand is never reused): `(zip, binary length, strip)`.
fn kept_zip(dir: &Path, input_sha256: &str) -> Option<(Vec<u8>, u64, Strip)> {
    let key: ZipKey =
        serde_json::from_slice(&std::fs::read(dir.join("bootstrap.zip.key")).ok()?).ok()?;
    if key.format != ZIP_FORMAT || key.input_sha256 != input_sha256 {
        return None;
    }
    let zip = std::fs::read(dir.join("bootstrap.zip")).ok()?;
    let binary = std::fs::read(dir.join("bootstrap")).ok()?;
    (sha256_hex(&zip) == key.zip_sha256 && sha256_hex(&binary) == key.binary_sha256).then_some((
        zip,
        binary.len() as u64,
        key.strip,
    ))
}

/// Strips (if needed), size-checks and zips checked binary bytes into `.portico/build/<arch>/`,
/// or reuses the zip kept there from the same bytes.
fn package(
    project: &Project,
    arch: Arch,
    bytes: Vec<u8>,
    max_glibc: Option<(u32, u32)>,
    build: Option<ReleaseBuild>,
) -> Result<Artifact, ArtifactError> {
    let dir = project
        .dir
        .join(".portico")
        .join("build")
        .join(arch.lambda_name());
    let input_sha256 = sha256_hex(&bytes);
    let (zip_bytes, binary_len, strip, reused) = match kept_zip(&dir, &input_sha256) {
        Some((zip, binary_len, strip)) => (zip, binary_len, strip, true),
        None => {
            let (zip, binary_len, strip) = zip_anew(&dir, arch, bytes, &input_sha256)?;
            (zip, binary_len, strip, false)
        }
    };
    let (sha256_base64, sha256_hex) = code_sha256(&zip_bytes);
    Ok(Artifact {
        zip_path: dir.join("bootstrap.zip"),
        zip_bytes,
        sha256_base64,
        sha256_hex,
        binary_path: dir.join("bootstrap"),
        binary_len,
        architecture: arch,
        max_glibc,
        strip,
        build,
        reused,
    })
}

/// Writes the binary to `dir`, strips it if needed, size-checks and zips it, and keeps the
/// zip under `input_sha256`: `(zip, binary length, strip)`.
fn zip_anew(
    dir: &Path,
    arch: Arch,
    mut bytes: Vec<u8>,
    input_sha256: &str,
) -> Result<(Vec<u8>, u64, Strip), ArtifactError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    // The old key goes first: whatever happens below, it never names the new files.
    let key_path = dir.join("bootstrap.zip.key");
    match std::fs::remove_file(&key_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_error(&key_path)(e));
        }
        _ => {}
    }
    let binary_path = dir.join("bootstrap");
    write_atomically(&binary_path, &bytes)?;
    set_executable(&binary_path)?;
    let elf_error = |source| ArtifactError::Elf {
        path: binary_path.clone(),
        source,
    };
    let strip = if has_symbols(&bytes).map_err(elf_error)? {
        match strip_in_place(&binary_path, arch) {
            Some(tool) => {
                bytes = std::fs::read(&binary_path).map_err(io_error(&binary_path))?;
                // A strip tool must not turn a checked binary into something else.
                if elf_arch(&bytes).map_err(elf_error)? != arch {
                    return Err(ArtifactError::Elf {
                        path: binary_path.clone(),
                        source: ElfError::Malformed(format!("`{tool}` changed its architecture")),
                    });
                }
                Strip::StrippedBy(tool)
            }
            None => {
                // A tool may have rewritten the file before its result was refused: put the
                // bytes that go into the zip back, so the kept binary is the zipped one.
                write_atomically(&binary_path, &bytes)?;
                set_executable(&binary_path)?;
                Strip::NotStripped
            }
        }
    } else {
        Strip::AlreadyStripped
    };
    let binary_len = bytes.len() as u64;
    if binary_len > UNZIPPED_LIMIT {
        return Err(ArtifactError::TooLarge { size: binary_len });
    }
    let zip_bytes = lambda_zip(&bytes);
    write_atomically(&dir.join("bootstrap.zip"), &zip_bytes)?;
    let key = ZipKey {
        format: ZIP_FORMAT.to_owned(),
        input_sha256: input_sha256.to_owned(),
        binary_sha256: sha256_hex(&bytes),
        zip_sha256: sha256_hex(&zip_bytes),
        strip: strip.clone(),
    };
    let key = serde_json::to_vec_pretty(&key).expect("a key serializes");
    write_atomically(&key_path, &key)?;
    Ok((zip_bytes, binary_len, strip))
}

/// Strips `path` with the first tool that works; returns its name.
fn strip_in_place(path: &Path, arch: Arch) -> Option<String> {
    let mut tools = Vec::new();
    if Arch::host() != Some(arch) {
        // binutils' `strip` only knows this machine's architecture.
        tools.push(format!("{}-linux-gnu-strip", arch.rust_arch()));
    }
    tools.extend(["strip".to_owned(), "llvm-strip".to_owned()]);
    tools.into_iter().find(|tool| {
        Command::new(tool)
            .arg("--strip-all")
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            && std::fs::read(path).is_ok_and(|b| has_symbols(&b).is_ok_and(|has| !has))
    })
}

/// Writes through a temporary file and a rename, so a reader never sees half a zip.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

fn set_executable(path: &Path) -> Result<(), ArtifactError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(io_error(path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::test_support::assert_error_contains;

    /// A 64-byte ELF header and nothing else: enough for the architecture check.
    fn minimal_elf(class: u8, data: u8, file_type: u16, machine: u16) -> Vec<u8> {
        let mut b = vec![0x7f, b'E', b'L', b'F', class, data, 1, 0];
        b.resize(16, 0);
        b.extend_from_slice(&file_type.to_le_bytes());
        b.extend_from_slice(&machine.to_le_bytes());
        b.extend_from_slice(&1_u32.to_le_bytes()); // e_version
        b.extend_from_slice(&0x40_0000_u64.to_le_bytes()); // e_entry
        b.extend_from_slice(&0_u64.to_le_bytes()); // e_phoff
        b.extend_from_slice(&0_u64.to_le_bytes()); // e_shoff
        b.extend_from_slice(&0_u32.to_le_bytes()); // e_flags
        for v in [64_u16, 56, 0, 64, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        assert_eq!(b.len(), 64);
        b
    }

    #[test]
    fn elf_arch_reads_the_machine() {
        assert_eq!(elf_arch(&minimal_elf(2, 1, 2, 62)).unwrap(), Arch::X86_64);
        assert_eq!(elf_arch(&minimal_elf(2, 1, 3, 183)).unwrap(), Arch::Arm64);
    }

    #[test]
    fn elf_arch_explains_what_lambda_cannot_run() {
        let err = |bytes: &[u8]| elf_arch(bytes).unwrap_err().to_string();
        assert!(err(b"#!/bin/sh\necho hi\n").contains("not an ELF file (a script)"));
        assert!(err(&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]).contains("Mach-O"));
        assert!(err(b"").contains("not an ELF file"));
        assert!(err(&minimal_elf(1, 1, 2, 3)).contains("32-bit"));
        assert!(err(&minimal_elf(2, 2, 2, 62)).contains("big-endian"));
        assert!(err(&minimal_elf(2, 1, 2, 243)).contains("machine 243 (EM_RISCV)"));
        assert!(err(&minimal_elf(2, 1, 1, 62)).contains("type 1, not an executable"));
        assert!(err(&minimal_elf(2, 1, 2, 62)[..40]).contains("malformed"));
    }

    #[test]
    fn glibc_release_names() {
        assert_eq!(glibc_release(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_release(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_release(b"GLIBC_2.36"), Some((2, 36)));
        assert_eq!(glibc_release(b"GLIBC_ABI_DT_RELR"), Some((2, 36)));
        assert_eq!(glibc_release(b"GLIBC_PRIVATE"), None);
        assert_eq!(glibc_release(b"GCC_3.0"), None);
    }

    #[test]
    fn a_header_only_elf_needs_no_glibc() {
        let bytes = minimal_elf(2, 1, 2, 183);
        assert_eq!(required_glibc(&bytes).unwrap(), None);
        assert!(!has_symbols(&bytes).unwrap());
    }

    /// Compiles `source` with `cc` into a fresh directory; `None` (with the reason printed)
    /// when the compiler or, for `-static`, the static libc is missing.
    fn compile_c(name: &str, source: &str, flags: &[&str]) -> Option<Vec<u8>> {
        let dir = std::env::temp_dir().join(format!(
            "portico-artifact-unit-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("main.c");
        std::fs::write(&src, source).unwrap();
        let out = dir.join(name);
        let result = Command::new("cc")
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .output();
        let bytes = match result {
            Ok(o) if o.status.success() => Some(std::fs::read(&out).unwrap()),
            Ok(o) => {
                println!(
                    "skipping {name}: cc {flags:?} failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("skipping {name}: no C compiler (`cc`): {e}");
                None
            }
        };
        std::fs::remove_dir_all(&dir).ok();
        bytes
    }

    const NEW_GLIBC_C: &str = "#include <stdlib.h>\n#include <stdio.h>\n\
        int main(void) { printf(\"%u\\n\", arc4random()); return 0; }\n";
    const OLD_GLIBC_C: &str = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";

    fn host_glibc_at_least(release: (u32, u32)) -> bool {
        let out = Command::new("getconf").arg("GNU_LIBC_VERSION").output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let version = text.trim().strip_prefix("glibc ").unwrap_or("");
        let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(major), Some(minor)) => (major, minor) >= release,
            _ => false,
        }
    }

    #[test]
    fn a_real_binary_calling_arc4random_needs_glibc_2_36() {
        if !host_glibc_at_least((2, 36)) {
            println!("skipping: this machine's glibc has no arc4random (added in 2.36)");
            return;
        }
        let Some(bytes) = compile_c("arc4random", NEW_GLIBC_C, &["-O1"]) else {
            return;
        };
        assert_eq!(elf_arch(&bytes).unwrap(), Arch::host().unwrap());
        assert_eq!(required_glibc(&bytes).unwrap(), Some((2, 36)));
        let offenders = glibc_offenders(&bytes, RUNTIME_GLIBC).unwrap();
        assert_eq!(offenders, ["arc4random@GLIBC_2.36"]);
        let err = check_binary(Path::new("bootstrap"), &bytes, Arch::host().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "bootstrap needs GLIBC_2.36 (symbols: arc4random@GLIBC_2.36), but provided.al2023 has glibc 2.34: "
            ),
            "{err}"
        );
        assert!(err.contains("cargo zigbuild"), "{err}");
        assert!(err.contains("-unknown-linux-musl"), "{err}");
    }

    #[test]
    fn a_real_binary_with_old_symbols_passes() {
        let Some(bytes) = compile_c("puts", OLD_GLIBC_C, &["-O1"]) else {
            return;
        };
        let needed = required_glibc(&bytes).unwrap().expect("dynamically linked");
        assert!(needed <= RUNTIME_GLIBC, "{needed:?}");
        assert!(glibc_offenders(&bytes, RUNTIME_GLIBC).unwrap().is_empty());
        // Against an older limit the same binary is refused, naming its symbols.
        if needed > (2, 2) {
            let offenders = glibc_offenders(&bytes, (2, 2)).unwrap();
            assert!(!offenders.is_empty());
            assert!(
                offenders.iter().all(|o| o.contains("@GLIBC_2.")),
                "{offenders:?}"
            );
        }
        let host = Arch::host().unwrap();
        assert_eq!(
            check_binary(Path::new("bootstrap"), &bytes, host, None).unwrap(),
            Some(needed)
        );
        assert!(has_symbols(&bytes).unwrap(), "cc keeps a .symtab");
    }

    #[test]
    fn a_real_static_binary_needs_no_glibc_version() {
        let Some(bytes) = compile_c("static", OLD_GLIBC_C, &["-O1", "-static"]) else {
            return;
        };
        assert_eq!(required_glibc(&bytes).unwrap(), None);
        assert!(glibc_offenders(&bytes, (2, 0)).unwrap().is_empty());
    }

    #[test]
    fn this_test_binary_is_a_real_elf_of_this_machine() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(elf_arch(&bytes).unwrap(), Arch::host().unwrap());
        let needed = required_glibc(&bytes).unwrap();
        if cfg!(target_env = "gnu") {
            assert!(needed.is_some());
        }
    }

    #[test]
    fn the_wrong_architecture_is_refused_with_the_fix() {
        let bytes = minimal_elf(2, 1, 2, 183);
        let err = check_binary(Path::new("app"), &bytes, Arch::X86_64, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("app is an arm64 binary, but `app.architecture` is `x86_64`"),
            "{err}"
        );
        assert!(err.contains("app.architecture = \"arm64\""), "{err}");
    }

    #[test]
    fn code_sha256_is_lambdas_format() {
        // SHA-256 of the empty string.
        let (b64, hex) = code_sha256(b"");
        assert_eq!(
            hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    fn artifact_of_size(zip_len: usize) -> Artifact {
        Artifact {
            zip_path: PathBuf::from("bootstrap.zip"),
            zip_bytes: vec![0; zip_len],
            sha256_base64: String::new(),
            sha256_hex: String::new(),
            binary_path: PathBuf::from("bootstrap"),
            binary_len: zip_len as u64 * 2,
            architecture: Arch::X86_64,
            max_glibc: Some((2, 34)),
            strip: Strip::AlreadyStripped,
            build: Some(ReleaseBuild::Host),
            reused: false,
        }
    }

    /// The same binary reuses the kept zip; another one, even of the same size and one byte
    /// apart, is zipped anew; a kept zip changed on disk is never reused.
    #[test]
    fn the_kept_zip_is_reused_only_for_the_same_binary() {
        let dir = std::env::temp_dir().join(format!("portico-zip-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("portico.toml"), "[app]\nname = \"zipkey\"\n").unwrap();
        let project = Project::discover_prebuilt(&dir).unwrap();
        let mut a = minimal_elf(2, 1, 2, 62);
        a.extend_from_slice(b"version a");
        let mut b = a.clone();
        *b.last_mut().unwrap() = b'b';
        let zip_of = |bytes: &[u8]| package(&project, Arch::X86_64, bytes.to_vec(), None, None);

        let first = zip_of(&a).unwrap();
        assert!(!first.reused);
        assert_eq!(first.zip_bytes, lambda_zip(&a));
        let again = zip_of(&a).unwrap();
        assert!(again.reused, "the same binary reuses its zip");
        assert_eq!(again.zip_bytes, first.zip_bytes);
        assert_eq!(again.sha256_base64, first.sha256_base64);

        let other = zip_of(&b).unwrap();
        assert!(!other.reused, "a changed binary is zipped anew");
        assert_eq!(other.zip_bytes, lambda_zip(&b));
        assert_ne!(other.sha256_base64, first.sha256_base64);
        assert_eq!(std::fs::read(&other.zip_path).unwrap(), lambda_zip(&b));
        assert_eq!(std::fs::read(&other.binary_path).unwrap(), b);

        // Back to the first binary: zipped anew (only the last one is kept), never B's zip.
        let back = zip_of(&a).unwrap();
        assert!(!back.reused);
        assert_eq!(back.zip_bytes, lambda_zip(&a));

        // A kept zip or binary that no longer hashes to its key is not reused.
        for file in ["bootstrap.zip", "bootstrap"] {
            let path = dir.join(".portico/build/x86_64").join(file);
            let mut tampered = std::fs::read(&path).unwrap();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            std::fs::write(&path, tampered).unwrap();
            let fresh = zip_of(&a).unwrap();
            assert!(!fresh.reused, "{file} changed on disk");
            assert_eq!(fresh.zip_bytes, lambda_zip(&a));
            assert!(zip_of(&a).unwrap().reused);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zips_over_50_mib_go_through_s3() {
        assert!(!needs_s3_upload(&artifact_of_size(712 * 1024)));
        assert!(!needs_s3_upload(&artifact_of_size(
            DIRECT_UPLOAD_LIMIT as usize
        )));
        assert!(needs_s3_upload(&artifact_of_size(
            DIRECT_UPLOAD_LIMIT as usize + 1
        )));
        let verdicts = artifact_of_size(DIRECT_UPLOAD_LIMIT as usize + 1).verdicts();
        assert!(verdicts[3].contains("uploads through S3"), "{verdicts:?}");
        assert_eq!(UNZIPPED_LIMIT, 262_144_000);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(900), "900 B");
        assert_eq!(human_size(712 * 1024 + 100), "712 KiB");
        assert_eq!(human_size(1_532_496), "1.5 MiB");
        assert_eq!(human_size(DIRECT_UPLOAD_LIMIT), "50 MiB");
    }

    fn toolchain(zigbuild: bool, targets: Option<&[&str]>) -> Toolchain {
        Toolchain {
            zigbuild,
            installed_targets: targets.map(|ts| ts.iter().map(|t| (*t).to_owned()).collect()),
        }
    }

    const LINUX_X86: Host = Host {
        arch: Some(Arch::X86_64),
        linux: true,
    };

    #[test]
    fn the_host_builds_its_own_architecture() {
        let none = toolchain(false, Some(&["x86_64-unknown-linux-gnu"]));
        assert_eq!(
            choose_build(Arch::X86_64, LINUX_X86, &none, None).unwrap(),
            ReleaseBuild::Host
        );
        let zig = toolchain(true, None);
        assert_eq!(
            choose_build(Arch::X86_64, LINUX_X86, &zig, None).unwrap(),
            ReleaseBuild::Host,
            "zig only when the host binary fails the glibc check"
        );
    }

    #[test]
    fn another_architecture_needs_cargo_zigbuild() {
        let zig = toolchain(
            true,
            Some(&["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]),
        );
        assert_eq!(
            choose_build(Arch::Arm64, LINUX_X86, &zig, None).unwrap(),
            ReleaseBuild::Zig("aarch64-unknown-linux-gnu.2.34".to_owned())
        );
        let mac = Host {
            arch: Some(Arch::Arm64),
            linux: false,
        };
        assert_eq!(
            choose_build(Arch::Arm64, mac, &zig, None).unwrap(),
            ReleaseBuild::Zig("aarch64-unknown-linux-gnu.2.34".to_owned())
        );

        let zig_without_std = toolchain(true, Some(&["x86_64-unknown-linux-gnu"]));
        assert_error_contains(
            choose_build(Arch::Arm64, LINUX_X86, &zig_without_std, None),
            &["rustup target add aarch64-unknown-linux-gnu"],
        );
        assert_error_contains(
            choose_build(Arch::Arm64, LINUX_X86, &toolchain(false, None), None),
            &[
                "cannot build an arm64 Linux binary",
                "pip install ziglang cargo-zigbuild",
            ],
        );
    }

    #[test]
    fn an_explicit_target_wins_if_it_fits() {
        let none = toolchain(false, None);
        let gnu_only = toolchain(true, Some(&["x86_64-unknown-linux-gnu"]));
        let zig = toolchain(true, None);
        let zig_build =
            |t: &str| -> Result<ReleaseBuild, &'static str> { Ok(ReleaseBuild::Zig(t.to_owned())) };
        // (toolchain, --target, the build or a part of the error)
        let cases = [
            (
                &none,
                "x86_64-unknown-linux-musl",
                Ok(ReleaseBuild::Target("x86_64-unknown-linux-musl".to_owned())),
            ),
            (
                &none,
                "aarch64-unknown-linux-musl",
                Err("does not build for `app.architecture` = `x86_64`"),
            ),
            (
                &gnu_only,
                "x86_64-unknown-linux-musl",
                Err("`rustup target add x86_64-unknown-linux-musl`"),
            ),
            (
                &gnu_only,
                "x86_64-unknown-linux-gnu.2.34",
                zig_build("x86_64-unknown-linux-gnu.2.34"),
            ),
            (
                &none,
                "x86_64-unknown-linux-gnu.2.34",
                Err("pip install ziglang cargo-zigbuild"),
            ),
            (
                &zig,
                "x86_64-unknown-linux-gnu.2.28",
                zig_build("x86_64-unknown-linux-gnu.2.28"),
            ),
        ];
        for (toolchain, target, want) in cases {
            let got = choose_build(Arch::X86_64, LINUX_X86, toolchain, Some(target));
            match want {
                Ok(build) => assert_eq!(got.unwrap(), build, "{target}"),
                Err(part) => {
                    let err = got.unwrap_err().to_string();
                    assert!(err.contains(part), "{target}: {err}");
                }
            }
        }
    }

    #[test]
    fn a_glibc_leak_falls_back_to_zig_then_musl() {
        let both = toolchain(
            true,
            Some(&["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]),
        );
        assert_eq!(
            glibc_fallback(Arch::X86_64, &both),
            Some(ReleaseBuild::Zig(
                "x86_64-unknown-linux-gnu.2.34".to_owned()
            ))
        );
        let musl = toolchain(
            false,
            Some(&["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]),
        );
        assert_eq!(
            glibc_fallback(Arch::X86_64, &musl),
            Some(ReleaseBuild::Target("x86_64-unknown-linux-musl".to_owned()))
        );
        assert_eq!(
            glibc_fallback(
                Arch::X86_64,
                &toolchain(false, Some(&["x86_64-unknown-linux-gnu"]))
            ),
            None
        );
        assert_eq!(glibc_fallback(Arch::X86_64, &toolchain(false, None)), None);
    }
}
