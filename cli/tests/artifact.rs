//! `portico build --release --binary PATH` on real binaries: C programs compiled here with
//! `cc` (one needing glibc 2.36, one needing only old symbols, a static one), hand-made ELF
//! headers for the other architecture, and the hello example's release binary when it is
//! already built. Each test gets its own app directory holding only a `portico.toml`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use object::Object as _;
use sha2::{Digest as _, Sha256};

const PORTICO: &str = env!("CARGO_BIN_EXE_portico");

/// The C app: prints a Portico manifest when asked (as `portico::run` does), so the CLI takes
/// it for an app; with `NEW_GLIBC` it calls `arc4random`, new in glibc 2.36.
const APP_C: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--portico-manifest") == 0) {
        puts("{\"manifest_version\":1,\"entry_points\":[\"api\"],"
             "\"entry_point_variable\":\"PORTICO_ENTRY_POINT\",\"routes\":[],\"schedules\":[]}");
        return 0;
    }
#ifdef NEW_GLIBC
    printf("%u\n", arc4random());
#endif
    return 0;
}
"#;

/// A fresh app directory with a `portico.toml` for `architecture`.
fn app_dir(name: &str, architecture: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("artifact-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("portico.toml"),
        format!("[app]\nname = \"fixture\"\narchitecture = \"{architecture}\"\n"),
    )
    .unwrap();
    dir
}

/// Compiles the C app into `dir`; `None` (with the reason printed) when that cannot be done
/// here, e.g. no static libc for `-static`.
fn compile_app(dir: &Path, name: &str, flags: &[&str]) -> Option<PathBuf> {
    let src = dir.join("app.c");
    std::fs::write(&src, APP_C).unwrap();
    let out = dir.join(name);
    let result = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output();
    match result {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => {
            println!(
                "skipping: `cc {flags:?}` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            println!("skipping: no C compiler (`cc`): {e}");
            None
        }
    }
}

fn host_glibc() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().strip_prefix("glibc ")?.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

fn build_release(dir: &Path, binary: &Path) -> Output {
    Command::new(PORTICO)
        .args(["build", "--release", "--app"])
        .arg(dir)
        .arg("--binary")
        .arg(binary)
        .output()
        .expect("run portico")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn zip_path(dir: &Path, arch: &str) -> PathBuf {
    dir.join(".portico")
        .join("build")
        .join(arch)
        .join("bootstrap.zip")
}

/// The one entry of a Lambda zip, inflated (the layout is checked in the unit tests).
fn unzip_bootstrap(zip: &[u8]) -> Vec<u8> {
    let u16_at = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let u32_at =
        |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]) as usize;
    assert_eq!(&zip[30..39], b"bootstrap");
    let start = 30 + u16_at(26) + u16_at(28);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&zip[start..start + u32_at(18)])
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A 64-byte ELF64 little-endian executable header for `machine`, nothing else.
fn elf_header(machine: u16) -> Vec<u8> {
    let mut b = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    b.resize(16, 0);
    b.extend_from_slice(&2_u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(&1_u32.to_le_bytes());
    b.extend_from_slice(&0x40_0000_u64.to_le_bytes());
    b.extend_from_slice(&[0; 8 + 8 + 4]); // no program or section headers; no flags
    for v in [64_u16, 56, 0, 64, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

#[test]
fn a_binary_needing_glibc_2_36_is_refused_with_its_symbols_and_the_fix() {
    match host_glibc() {
        Some(v) if v >= (2, 36) => {}
        other => {
            println!("skipping: this machine's glibc ({other:?}) has no arc4random (2.36)");
            return;
        }
    }
    let dir = app_dir("new-glibc", host_arch());
    let Some(binary) = compile_app(&dir, "app", &["-O1", "-DNEW_GLIBC"]) else {
        return;
    };
    let out = build_release(&dir, &binary);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: bootstrap needs GLIBC_2.36 (symbols: arc4random@GLIBC_2.36), but provided.al2023 has glibc 2.34: "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("cargo zigbuild --release --target "),
        "{stderr}"
    );
    assert!(
        stderr.contains("pip install ziglang cargo-zigbuild"),
        "{stderr}"
    );
    assert!(stderr.contains("rustup target add "), "{stderr}");
    assert!(
        !zip_path(&dir, host_arch()).exists(),
        "nothing is zipped for upload"
    );
}

#[test]
fn a_binary_with_old_symbols_is_stripped_and_zipped_deterministically() {
    let arch = host_arch();
    let dir = app_dir("old-glibc", arch);
    let Some(binary) = compile_app(&dir, "app", &["-O1"]) else {
        return;
    };
    let first = build_release(&dir, &binary);
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        stdout.contains(&format!("check  architecture: {arch} (")),
        "{stdout}"
    );
    assert!(stdout.contains("check  glibc: needs GLIBC_2."), "{stdout}");
    assert!(stdout.contains("provided.al2023 has 2.34 … ok"), "{stdout}");
    assert!(stdout.contains("check  size: "), "{stdout}");
    assert!(
        stdout.contains("0 routes, 0 schedules"),
        "the manifest is read: {stdout}"
    );

    let zip_path = zip_path(&dir, arch);
    let zip = std::fs::read(&zip_path).unwrap();
    // The SHA printed is the zip's, in Lambda's CodeSha256 format.
    let digest = Sha256::digest(&zip);
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    assert!(
        stdout.contains(&format!("sha256 {b64} (hex ")),
        "{b64} in {stdout}"
    );
    assert!(
        stdout.contains(&format!("({} bytes, prebuilt", zip.len())),
        "{stdout}"
    );

    // cc leaves a symbol table; the zipped bootstrap has none, and is otherwise the program.
    let inside = unzip_bootstrap(&zip);
    let elf = object::File::parse(&*inside).unwrap();
    assert!(elf.section_by_name(".symtab").is_none(), "stripped");
    assert!(elf.section_by_name(".text").is_some());
    if stdout.contains("symbols: stripped by `") {
        assert!(
            object::File::parse(&*std::fs::read(&binary).unwrap())
                .unwrap()
                .section_by_name(".symtab")
                .is_some(),
            "the input keeps its symbols; the copy is stripped"
        );
    }
    let staged = std::fs::read(zip_path.with_file_name("bootstrap")).unwrap();
    assert_eq!(staged, inside);

    // Same input, same bytes.
    let second = build_release(&dir, &binary);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(std::fs::read(&zip_path).unwrap(), zip, "byte-identical zip");
    assert_eq!(text(&second.stdout), stdout);
}

#[test]
fn a_static_binary_needs_no_glibc() {
    let arch = host_arch();
    let dir = app_dir("static", arch);
    let Some(binary) = compile_app(&dir, "app", &["-O1", "-static"]) else {
        return;
    };
    let out = build_release(&dir, &binary);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("check  glibc: none needed (static or musl) … ok"),
        "{stdout}"
    );
}

#[test]
fn the_architecture_must_be_the_configured_one() {
    // A real binary of this machine, configured for the other architecture.
    let other = if host_arch() == "arm64" {
        "x86_64"
    } else {
        "arm64"
    };
    let dir = app_dir("wrong-arch", other);
    if let Some(binary) = compile_app(&dir, "app", &["-O1"]) {
        let out = build_release(&dir, &binary);
        let stderr = text(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(&format!(
                "is an {} binary, but `app.architecture` is `{other}`",
                host_arch()
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("set `app.architecture = \"{}\"`", host_arch())),
            "{stderr}"
        );
    }

    // An aarch64 ELF header: refused for x86_64, zipped for arm64 (without running it).
    let header = elf_header(183);
    let dir = app_dir("aarch64-as-x86", "x86_64");
    std::fs::write(dir.join("bootstrap"), &header).unwrap();
    let out = build_release(&dir, &dir.join("bootstrap"));
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is an arm64 binary, but `app.architecture` is `x86_64`"),
        "{stderr}"
    );

    let dir = app_dir("aarch64", "arm64");
    std::fs::write(dir.join("bootstrap"), &header).unwrap();
    let out = build_release(&dir, &dir.join("bootstrap"));
    let stdout = text(&out.stdout);
    if host_arch() == "arm64" {
        // It would be run for its manifest here, and it is no program.
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("check  architecture: arm64 (EM_AARCH64)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("manifest not read: arm64 binary on this machine"),
        "{stdout}"
    );
    let zip = std::fs::read(zip_path(&dir, "arm64")).unwrap();
    assert_eq!(unzip_bootstrap(&zip), header);
}

#[test]
fn what_lambda_cannot_run_at_all_is_refused() {
    let dir = app_dir("not-elf", "x86_64");
    let script = dir.join("bootstrap");
    std::fs::write(&script, "#!/bin/sh\necho hello\n").unwrap();
    let out = build_release(&dir, &script);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not an ELF file (a script)"), "{stderr}");

    let mut riscv = elf_header(243);
    std::fs::write(&script, &riscv).unwrap();
    let stderr = text(&build_release(&dir, &script).stderr);
    assert!(stderr.contains("machine 243 (EM_RISCV)"), "{stderr}");

    riscv[4] = 1; // ELFCLASS32
    std::fs::write(&script, &riscv).unwrap();
    let stderr = text(&build_release(&dir, &script).stderr);
    assert!(stderr.contains("a 32-bit ELF file"), "{stderr}");
}

/// The hello example's release binary passes every check, if a release build already made it
/// (this test does not start a long LTO build).
#[test]
fn the_hello_release_binary_passes_when_built() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let release = workspace.join("target").join("release");
    let built_from_hello = std::fs::read_to_string(release.join("bootstrap.d"))
        .is_ok_and(|deps| deps.contains("examples/hello/src/main.rs"));
    if !built_from_hello {
        println!(
            "skipping: no release build of examples/hello in {}; `cargo build --release -p hello` makes one",
            release.display()
        );
        return;
    }
    let dir = app_dir("hello", host_arch());
    // A copy, so a build elsewhere cannot change it mid-test.
    let binary = dir.join("hello-bootstrap");
    std::fs::copy(release.join("bootstrap"), &binary).unwrap();
    let out = build_release(&dir, &binary);
    let stdout = text(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("provided.al2023 has 2.34 … ok"), "{stdout}");
    assert!(stdout.contains("check  symbols: stripped … ok"), "{stdout}");
}

/// A Rust app crate (no dependencies, its own workspace) whose binary prints a manifest with
/// one route per name in `routes`.
fn write_rust_app(dir: &Path, routes: &[&str]) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fixture-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [[bin]]\nname = \"bootstrap\"\npath = \"src/main.rs\"\n\n[workspace]\n",
    )
    .unwrap();
    let routes: Vec<String> = routes
        .iter()
        .map(|name| {
            format!(
                r#"{{"name":"{name}","method":"GET","path":"/{name}","options":{{"api_key_required":false}}}}"#
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"manifest_version":1,"entry_points":["api"],"entry_point_variable":"PORTICO_ENTRY_POINT","routes":[{}],"schedules":[]}}"#,
        routes.join(",")
    );
    std::fs::write(
        dir.join("src").join("main.rs"),
        format!(
            "const MANIFEST: &str = r#\"{manifest}\"#;\n\
             fn main() {{\n\
                 if std::env::args().nth(1).as_deref() == Some(\"--portico-manifest\") {{\n\
                     println!(\"{{MANIFEST}}\");\n\
                 }}\n\
             }}\n"
        ),
    )
    .unwrap();
}

fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// With `CARGO_BUILD_TARGET` set, cargo writes the binary under `target/<triple>/…`; the CLI
/// must check and zip that one, not an old binary left at `target/<profile>/bootstrap`.
#[test]
fn cargo_build_target_is_followed_and_a_stale_binary_is_not_used() {
    let dir = app_dir("build-target", host_arch());
    let target_dir = dir.join("target");
    let triple = host_triple();
    // The stale binary, at the place a guess would look: an older build without the target.
    write_rust_app(&dir, &["stale"]);
    for profile in [&[][..], &["--release"][..]] {
        let out = Command::new(env!("CARGO"))
            .arg("build")
            .args(profile)
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let stale = target_dir.join("release").join("bootstrap");
    let stale_bytes = std::fs::read(&stale).unwrap();

    // The current source, built with the target set through the environment.
    write_rust_app(&dir, &["fresh", "newer"]);
    let portico = |args: &[&str]| {
        Command::new(PORTICO)
            .args(args)
            .arg("--app")
            .arg(&dir)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_BUILD_TARGET", &triple)
            .output()
            .unwrap()
    };

    let out = portico(&["build"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let debug = target_dir.join(&triple).join("debug").join("bootstrap");
    assert!(
        stdout.contains(&format!("built {} (2 routes", debug.display())),
        "{stdout}"
    );

    let out = portico(&["build", "--release"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", text(&out.stderr));
    assert!(stdout.contains("2 routes, 0 schedules"), "{stdout}");
    // The zipped binary is the one just built: run it and ask.
    let zip = std::fs::read(zip_path(&dir, host_arch())).unwrap();
    let unzipped = dir.join("unzipped-bootstrap");
    std::fs::write(&unzipped, unzip_bootstrap(&zip)).unwrap();
    std::fs::set_permissions(
        &unzipped,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let manifest = Command::new(&unzipped)
        .arg("--portico-manifest")
        .output()
        .unwrap();
    let manifest = text(&manifest.stdout);
    assert!(manifest.contains("\"fresh\""), "{manifest}");
    assert!(!manifest.contains("\"stale\""), "{manifest}");
    assert!(
        target_dir
            .join(&triple)
            .join("release")
            .join("bootstrap")
            .is_file()
    );
    // The old binary is still there, untouched.
    assert_eq!(std::fs::read(&stale).unwrap(), stale_bytes);
}
