//! Per-event CPU time of the peers' in-process paths, measured in one run, with ratios
//! against the floor.
//!
//! Each round runs every peer over the whole mix `--iters` times and reads the thread's CPU
//! clock around it; the order of the peers rotates from round to round, and the tables report
//! medians over `--rounds` rounds. A ratio is the median of the per-round ratios, so that both
//! sides of it were measured moments apart.
//!
//! ```text
//! ratios [--rounds 21] [--iters 1000] [--quick] [--profile PEER]
//! ```
//!
//! `--profile PEER` only runs that peer (`floor`, `axum`, `portico` or `axum-in-portico`) over the mix
//! `rounds × iters` times and prints nothing, for `perf record` or `valgrind --tool=callgrind`.

use std::hint::black_box;

use lambda_http::request::LambdaRequest;
use portico_bench::cpu::thread_cpu_time;
use portico_bench::events::{self, Event};
use portico_bench::stats::{cpu_model, median, min_max, verdict};
use portico_bench::{Peer, answer, peers};

struct Options {
    rounds: usize,
    iters: usize,
    profile: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 21,
        iters: 1000,
        profile: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{name} takes a number")))
        };
        match arg.as_str() {
            "--rounds" => o.rounds = number("--rounds").max(1),
            "--iters" => o.iters = number("--iters").max(1),
            "--quick" => {
                o.rounds = 5;
                o.iters = 50;
            }
            "--profile" => {
                o.profile = Some(
                    args.next()
                        .unwrap_or_else(|| usage("--profile takes a peer")),
                );
            }
            "--help" | "-h" => usage(""),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    o
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("ratios: {problem}");
    }
    eprintln!(
        "usage: ratios [--rounds N] [--iters N] [--quick] [--profile floor|axum|portico|axum-in-portico]"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 })
}

/// CPU nanoseconds per event of `iters` passes of `run` over `events`.
fn ns_per_event(events: &[Event], iters: usize, mut run: impl FnMut(&[u8])) -> f64 {
    let start = thread_cpu_time();
    for _ in 0..iters {
        for ev in events {
            run(black_box(&ev.payload));
        }
    }
    let spent = thread_cpu_time() - start;
    spent.as_nanos() as f64 / (iters * events.len()) as f64
}

/// Per-round samples of every peer, interleaved: `samples[peer][round]` in ns per event.
fn measure(peers: &mut [Peer], events: &[Event], rounds: usize, iters: usize) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(rounds); peers.len()];
    for round in 0..rounds {
        for k in 0..peers.len() {
            let i = (round + k) % peers.len();
            let handle = &mut peers[i].handle;
            samples[i].push(ns_per_event(events, iters, |p| {
                black_box(handle(p));
            }));
        }
    }
    samples
}

fn per_round_ratios(samples: &[f64], floor: &[f64]) -> Vec<f64> {
    samples.iter().zip(floor).map(|(s, f)| s / f).collect()
}

fn check_agreement(peers: &mut [Peer], mix: &[Event]) {
    for ev in mix {
        let mut reference = None;
        for peer in peers.iter_mut() {
            let got = answer(&(peer.handle)(&ev.payload)).unwrap_or_else(|e| {
                eprintln!(
                    "ratios: {} answered {} with a non-response: {e}",
                    peer.name, ev.spec.label
                );
                std::process::exit(1)
            });
            let got = (got.status, got.body);
            match &reference {
                None => reference = Some(got),
                Some(r) if *r != got => {
                    eprintln!(
                        "ratios: {} disagrees with the floor on {}: {got:?} vs {r:?}; \
                         run `cargo test -p portico-bench` for details",
                        peer.name, ev.spec.label
                    );
                    std::process::exit(1)
                }
                Some(_) => {}
            }
        }
    }
}

fn main() {
    portico_bench::ensure_lambda_http_env();
    let o = options();
    let mix = events::mix();
    let mut peers = peers();
    check_agreement(&mut peers, &mix);
    if let Some(name) = &o.profile {
        let peer = peers
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| usage(&format!("no peer named `{name}`")));
        ns_per_event(&mix, o.rounds * o.iters, |p| {
            black_box((peer.handle)(p));
        });
        return;
    }
    let avg_size = mix.iter().map(|e| e.payload.len()).sum::<usize>() / mix.len();

    // Warm caches, allocator and branch predictors before the first round.
    measure(&mut peers, &mix, 1, o.iters.div_ceil(4));
    let samples = measure(&mut peers, &mix, o.rounds, o.iters);

    println!(
        "## In-process CPU time per event\n\n\
         Mix of {} REST API (v1) proxy events, {avg_size} bytes on average; thread CPU time over \
         {} events per sample, median of {} interleaved rounds. {}.\n",
        mix.len(),
        o.iters * mix.len(),
        o.rounds,
        cpu_model()
    );
    println!("| peer | µs per event (median) | min – max | vs floor (median of rounds) |");
    println!("|---|---:|---:|---:|");
    let floor = samples[0].clone();
    let mut ratios = Vec::new();
    for (peer, s) in peers.iter().zip(&samples) {
        let (lo, hi) = min_max(s);
        let ratio = median(&per_round_ratios(s, &floor));
        ratios.push(ratio);
        println!(
            "| {} | {:.2} | {:.2} – {:.2} | {ratio:.2}× |",
            peer.name,
            median(s) / 1e3,
            lo / 1e3,
            hi / 1e3
        );
    }

    // Where the time goes, for the parts measurable from outside each peer.
    // The floor: lambda_runtime's deserialization into LambdaRequest.
    let deserialize: Vec<f64> = (0..o.rounds)
        .map(|_| {
            ns_per_event(&mix, o.iters, |p| {
                let jd = &mut serde_json::Deserializer::from_slice(p);
                let req: LambdaRequest = serde_path_to_error::deserialize(jd).expect("an event");
                black_box(req);
            })
        })
        .collect();
    // Portico: its runtime loop hands the payload bytes to the decoder after a UTF-8 check
    // (no `Box<RawValue>` pass: it does not run on `lambda_runtime::run`), and posts the
    // encoder's bytes as they are.
    let utf8_step: Vec<f64> = (0..o.rounds)
        .map(|_| {
            ns_per_event(&mix, o.iters, |p| {
                black_box(std::str::from_utf8(black_box(p)).expect("UTF-8"));
            })
        })
        .collect();
    let portico_total = samples
        .iter()
        .zip(&peers)
        .find(|(_, p)| p.name == "portico")
        .map_or(f64::NAN, |(s, _)| median(s));
    println!(
        "\nWhere the time goes (parts measurable from outside, µs per event, median):\n\n\
         - floor: deserializing the payload into `LambdaRequest`: {:.2} µs ({:.0} % of the floor);\n\
         - portico: checking the payload is UTF-8 (its only pass before decoding): {:.2} µs \
         ({:.0} % of Portico); decode → route → handler → encode: the remaining {:.2} µs.",
        median(&deserialize) / 1e3,
        100.0 * median(&deserialize) / median(&floor),
        median(&utf8_step) / 1e3,
        100.0 * median(&utf8_step) / portico_total,
        (portico_total - median(&utf8_step)) / 1e3,
    );

    println!("\n### Per request of the mix (µs per event, median; ratio vs floor)\n");
    print!("| request |");
    for peer in &peers {
        print!(" {} |", peer.name);
    }
    println!();
    println!("|---|{}", "---:|".repeat(peers.len()));
    let rounds = o.rounds.div_ceil(2).max(3);
    for ev in &mix {
        let one = std::slice::from_ref(ev);
        let s = measure(&mut peers, one, rounds, o.iters);
        print!("| {} |", ev.spec.label);
        for (i, peer_samples) in s.iter().enumerate() {
            let ratio = median(&per_round_ratios(peer_samples, &s[0]));
            if i == 0 {
                print!(" {:.2} |", median(peer_samples) / 1e3);
            } else {
                print!(" {:.2} ({ratio:.2}×) |", median(peer_samples) / 1e3);
            }
        }
        println!();
    }

    if let Some(portico) = peers.iter().position(|p| p.name == "portico") {
        let r = ratios[portico];
        println!(
            "\nPortico in-process CPU per event: {r:.2}× the floor — target ≤ 0.50× {}, \
             stretch ≤ 0.25× {}.",
            verdict(r, 0.5),
            verdict(r, 0.25)
        );
    }
    let position = |name: &str| peers.iter().position(|p| p.name == name);
    if let (Some(axum), Some(inside)) = (position("axum"), position("axum-in-portico")) {
        let r = median(&per_round_ratios(&samples[inside], &samples[axum]));
        println!(
            "The axum router in Portico (`App::service`): {r:.2}× the axum peer \
             (lambda_http::run(router)), median of per-round ratios — goal ≤ 1.00× {}.",
            verdict(r, 1.0)
        );
    }
}
