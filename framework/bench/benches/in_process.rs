//! Criterion: time per event of each peer's in-process path (payload bytes → response payload
//! bytes) on the whole mix, and per request of the mix.
//!
//! `cargo bench -p portico-bench --bench in_process`; for ratios measured in one run, prefer
//! the `ratios` binary (CPU time, interleaved rounds).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use portico_bench::{events, peers};

fn in_process(c: &mut Criterion) {
    let mix = events::mix();
    let mut peers = peers();

    let mut group = c.benchmark_group("mix");
    group.throughput(Throughput::Elements(mix.len() as u64));
    for peer in &mut peers {
        group.bench_function(peer.name, |b| {
            b.iter(|| {
                for ev in &mix {
                    black_box((peer.handle)(black_box(&ev.payload)));
                }
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("event");
    for ev in &mix {
        for peer in &mut peers {
            group.bench_with_input(
                BenchmarkId::new(peer.name, ev.spec.label),
                &ev.payload,
                |b, payload| b.iter(|| black_box((peer.handle)(black_box(payload)))),
            );
        }
    }
    group.finish();
}

fn main() {
    portico_bench::ensure_lambda_http_env();
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c);
    c.final_summary();
}
