#[test]
fn nested_build() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let t = std::time::Instant::now();
    let out = std::process::Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "build",
            "-p",
            "portico-e2e",
            "--bin",
            "fixture_app",
            "-p",
            "hello",
            "--bin",
            "bootstrap",
            "--message-format",
            "json-render-diagnostics",
        ])
        .output()
        .unwrap();
    eprintln!(
        "{:?} {:?} {}",
        t.elapsed(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    for l in s.lines().filter(|l| l.contains("\"executable\":\"/")) {
        eprintln!("{}", &l[l.find("\"executable\"").unwrap()..]);
    }
}
