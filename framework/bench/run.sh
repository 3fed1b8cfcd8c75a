#!/usr/bin/env bash
# Measures Portico against its peers (the lambda_http floor and axum) in one run and prints
# markdown tables with ratios against the floor. See docs/benchmarks.md.
#
#   framework/bench/run.sh            # full run (a few minutes of builds, then ~1 minute)
#   framework/bench/run.sh --quick    # smoke run with few rounds
#
# It builds the three Lambda binaries in release, then runs `ratios` (in-process CPU time per
# event) and `lambda_compare` (binary and zip size, cold start, peak RSS). Only loopback
# traffic; everything it starts ends with it.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=false
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
release="$target_dir/release"

# Two builds, not one: a single `cargo build -p hello -p portico-bench` unifies features across
# both packages, and hello's bootstrap would then be built with lambda_runtime's `tracing`
# feature that lambda_http turns on — not the binary a Portico user deploys.
echo "== building hello's bootstrap (release)" >&2
cargo build --release -p hello --bin bootstrap >&2
echo "== building the peers and the measuring tools (release)" >&2
cargo build --release -p portico-bench --bins >&2

echo "# Portico benchmarks"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(uname -m), Linux $(uname -r)), $(rustc --version)," \
  "commit $(git rev-parse --short HEAD 2>/dev/null || echo 'none')$(test -z "$(git status --porcelain 2>/dev/null)" || echo ' with uncommitted changes')."
echo

if $quick; then
  "$release/ratios" --quick
  echo
  "$release/lambda_compare" --dir "$release" --cold-runs 3 --rss-events 100 --rss-runs 1
else
  "$release/ratios"
  echo
  "$release/lambda_compare" --dir "$release"
fi
