//! Compares the three real Lambda binaries — hello's `bootstrap` (Portico), `floor_bootstrap`
//! and `axum_bootstrap` — as Lambda would run them, with ratios against the floor:
//!
//! - **size**: the stripped binary, and the deterministic deployment zip (one entry
//!   `bootstrap`, mode 0755, fixed timestamp, deflate level 9);
//! - **cold start**: spawn the binary under a Lambda Runtime API on 127.0.0.1
//!   (`portico_e2e::runtime_api`) with one event queued, time from spawn to the response
//!   arriving at the API (and to the first `/next` poll, the init); a fresh process per run,
//!   peers interleaved, median over `--cold-runs` after one discarded warm-up each;
//! - **peak RSS**: `VmHWM` after serving `--rss-events` events of the mix, median over
//!   `--rss-runs` processes.
//!
//! It builds nothing: `framework/bench/run.sh` builds the binaries in release first. By default
//! they are looked up beside this executable (`target/release/`).
//!
//! ```text
//! lambda_compare [--dir DIR] [--hello PATH] [--floor PATH] [--axum PATH]
//!                [--cold-runs 41] [--rss-events 1000] [--rss-runs 3] [--samples]
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use portico_bench::stats::{cpu_model, median, min_max, verdict};
use portico_bench::{LAMBDA_HTTP_ENV, answer, events};
use portico_e2e::runtime_api::{Invocation, RuntimeApi};
use portico_spec::lambda_zip::lambda_zip;

const INVOKE_TIMEOUT: Duration = Duration::from_secs(10);

struct Options {
    binaries: [(&'static str, PathBuf); 3],
    cold_runs: usize,
    rss_events: usize,
    rss_runs: usize,
    samples: bool,
}

fn options() -> Options {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut dir = here;
    let (mut hello, mut floor, mut axum) = (None, None, None);
    let mut o = Options {
        binaries: Default::default(),
        cold_runs: 41,
        rss_events: 1000,
        rss_runs: 3,
        samples: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} takes a value")))
        };
        match arg.as_str() {
            "--dir" => dir = value("--dir").into(),
            "--hello" => hello = Some(PathBuf::from(value("--hello"))),
            "--floor" => floor = Some(PathBuf::from(value("--floor"))),
            "--axum" => axum = Some(PathBuf::from(value("--axum"))),
            "--cold-runs" => o.cold_runs = number(&value("--cold-runs")).clamp(1, 200),
            "--rss-events" => o.rss_events = number(&value("--rss-events")).clamp(1, 100_000),
            "--rss-runs" => o.rss_runs = number(&value("--rss-runs")).clamp(1, 20),
            "--samples" => o.samples = true,
            "--help" | "-h" => usage(""),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    o.binaries = [
        (
            "floor",
            floor.unwrap_or_else(|| dir.join("floor_bootstrap")),
        ),
        ("axum", axum.unwrap_or_else(|| dir.join("axum_bootstrap"))),
        ("portico", hello.unwrap_or_else(|| dir.join("bootstrap"))),
    ];
    o
}

fn number(v: &str) -> usize {
    v.parse()
        .unwrap_or_else(|_| usage(&format!("`{v}` is not a number")))
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("lambda_compare: {problem}");
    }
    eprintln!(
        "usage: lambda_compare [--dir DIR] [--hello PATH] [--floor PATH] [--axum PATH] \
         [--cold-runs N] [--rss-events N] [--rss-runs N] [--samples]"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}

fn fail(message: &str) -> ! {
    eprintln!("lambda_compare: {message}");
    std::process::exit(1)
}

/// Stripped size and zip size, in bytes.
fn sizes(binary: &Path) -> (u64, u64) {
    let tmp = std::env::temp_dir().join(format!("portico-bench-{}-strip", std::process::id()));
    // Release builds are stripped already (`strip = true`); strip a copy anyway so a binary
    // built otherwise is measured the same way.
    let stripped = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&tmp)
        .arg(binary)
        .status()
        .is_ok_and(|s| s.success());
    let path = if stripped { tmp.as_path() } else { binary };
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    let _ = std::fs::remove_file(&tmp);
    (bytes.len() as u64, lambda_zip(&bytes).len() as u64)
}

struct ColdStart {
    init: Duration,
    first_response: Duration,
}

/// One cold start of `binary`: a fresh Runtime API and process, one event queued.
fn cold_start(binary: &Path, event: &[u8]) -> ColdStart {
    let api =
        RuntimeApi::start().unwrap_or_else(|e| fail(&format!("cannot start the Runtime API: {e}")));
    let request_id = api.enqueue(event, INVOKE_TIMEOUT);
    let mut function = api
        .spawn_function(binary, &LAMBDA_HTTP_ENV)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let record = api
        .wait_for(&request_id, INVOKE_TIMEOUT)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", binary.display())));
    let first_poll = api
        .next_request_times()
        .first()
        .copied()
        .unwrap_or(record.delivered_at);
    expect_ok(binary, &record.outcome);
    let spawned = function.spawned_at();
    function.kill();
    ColdStart {
        init: first_poll - spawned,
        first_response: record.completed_at - spawned,
    }
}

fn expect_ok(binary: &Path, outcome: &Invocation) {
    match outcome {
        Invocation::Response(payload) => match answer(payload) {
            Ok(a) if a.status < 500 => {}
            Ok(a) => fail(&format!("{} answered {}", binary.display(), a.status)),
            Err(e) => fail(&format!(
                "{} answered a non-response: {e}",
                binary.display()
            )),
        },
        Invocation::Error {
            error_type,
            error_message,
        } => fail(&format!(
            "{} failed: {error_type}: {error_message}",
            binary.display()
        )),
    }
}

/// Peak RSS in KiB after serving `n` events of the mix in one process.
fn peak_rss(binary: &Path, mix: &[events::Event], n: usize) -> u64 {
    let api =
        RuntimeApi::start().unwrap_or_else(|e| fail(&format!("cannot start the Runtime API: {e}")));
    let mut function = api
        .spawn_function(binary, &LAMBDA_HTTP_ENV)
        .unwrap_or_else(|e| fail(&e.to_string()));
    for ev in mix.iter().cycle().take(n) {
        let outcome = api
            .invoke(&ev.payload, INVOKE_TIMEOUT)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", binary.display())));
        expect_ok(binary, &outcome);
    }
    let kib = function
        .peak_rss_kib()
        .unwrap_or_else(|| fail("cannot read VmHWM from /proc"));
    function.kill();
    kib
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let o = options();
    for (name, path) in &o.binaries {
        if !path.is_file() {
            fail(&format!(
                "no {name} binary at {}; build with framework/bench/run.sh (or pass --{})",
                path.display(),
                if *name == "portico" { "hello" } else { name }
            ));
        }
    }
    let started = Instant::now();
    let mix = events::mix();
    let cold_event = &mix[0].payload;

    println!("## Lambda binaries\n\n{}.\n", cpu_model());
    for (name, path) in &o.binaries {
        println!("- {name}: `{}`", path.display());
    }

    // Sizes.
    let size: Vec<(u64, u64)> = o.binaries.iter().map(|(_, p)| sizes(p)).collect();
    println!("\n### Size\n");
    println!("| peer | stripped binary | vs floor | deployment zip | vs floor |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), (bin, zip)) in o.binaries.iter().zip(&size) {
        println!(
            "| {name} | {:.0} KiB | {:.2}× | {:.0} KiB | {:.2}× |",
            *bin as f64 / 1024.0,
            *bin as f64 / size[0].0 as f64,
            *zip as f64 / 1024.0,
            *zip as f64 / size[0].1 as f64
        );
    }

    // Cold starts, interleaved; the first run of each binary (page cache) is discarded.
    for (_, path) in &o.binaries {
        cold_start(path, cold_event);
    }
    let mut init = vec![Vec::new(); 3];
    let mut first = vec![Vec::new(); 3];
    for run in 0..o.cold_runs {
        for k in 0..3 {
            let i = (run + k) % 3;
            let c = cold_start(&o.binaries[i].1, cold_event);
            if o.samples {
                eprintln!(
                    "cold start {} run {run}: init {:.2} ms, first response {:.2} ms",
                    o.binaries[i].0,
                    ms(c.init),
                    ms(c.first_response)
                );
            }
            init[i].push(ms(c.init));
            first[i].push(ms(c.first_response));
        }
    }
    println!(
        "\n### Cold start\n\nSpawn → first response through the Runtime API (event `{}`), a new \
         process per run, {} runs per peer, interleaved; init is spawn → first `/next` poll. \
         The minimum is the run least disturbed by the rest of the machine.\n",
        mix[0].spec.label, o.cold_runs
    );
    println!("| peer | first response (median) | vs floor | min | vs floor | init (median) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let floor_first = median(&first[0]);
    let floor_min = min_max(&first[0]).0;
    let mut cold_ratio = Vec::new();
    for (i, (name, _)) in o.binaries.iter().enumerate() {
        let (lo, _) = min_max(&first[i]);
        let ratio = median(&first[i]) / floor_first;
        cold_ratio.push(ratio);
        println!(
            "| {name} | {:.2} ms | {ratio:.2}× | {lo:.2} ms | {:.2}× | {:.2} ms |",
            median(&first[i]),
            lo / floor_min,
            median(&init[i])
        );
    }

    // Peak RSS.
    let mut rss = vec![Vec::new(); 3];
    for run in 0..o.rss_runs {
        for k in 0..3 {
            let i = (run + k) % 3;
            rss[i].push(peak_rss(&o.binaries[i].1, &mix, o.rss_events) as f64);
        }
    }
    println!(
        "\n### Peak RSS\n\n`VmHWM` after {} events of the mix, median of {} processes.\n",
        o.rss_events, o.rss_runs
    );
    println!("| peer | peak RSS | vs floor |");
    println!("|---|---:|---:|");
    let floor_rss = median(&rss[0]);
    for (i, (name, _)) in o.binaries.iter().enumerate() {
        println!(
            "| {name} | {:.0} KiB | {:.2}× |",
            median(&rss[i]),
            median(&rss[i]) / floor_rss
        );
    }

    let p = 2;
    println!(
        "\nPortico vs floor — cold start {:.2}× (target ≤ 1.00×: {}), zip {:.2}× ({}), \
         peak RSS {:.2}× ({}). Measured in {:.1} s.",
        cold_ratio[p],
        verdict(cold_ratio[p], 1.0),
        size[p].1 as f64 / size[0].1 as f64,
        verdict(size[p].1 as f64 / size[0].1 as f64, 1.0),
        median(&rss[p]) / floor_rss,
        verdict(median(&rss[p]) / floor_rss, 1.0),
        started.elapsed().as_secs_f64()
    );
}
