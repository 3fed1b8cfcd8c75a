#!/usr/bin/env bash
# Local-cloud benchmark: requests/s and p50/p99 latency of `GET /users/42` through
# `portico local` (examples/hello) against `cargo lambda watch` (the same hello binary, as a
# Function URL: only the emulators differ) and `chalice local` (framework/bench/chalice_hello,
# also measured with `Connection: close`), with wrk, in one run; prints a markdown table with
# the ratios portico / best peer. A benchmark, not a test. See docs/benchmarks.md, "Local cloud".
#
#   scripts/bench-local.sh                      # builds (portico CLI in release: fat LTO, slow),
#                                               # then 3 rounds × 3 servers × (2 s + 10 s) of wrk
#   scripts/bench-local.sh --cli fast-release   # CLI without LTO, 16 codegen units, own target dir
#   scripts/bench-local.sh --skip-build --runs 1 --duration 3   # a quick look
#   scripts/bench-local.sh --help               # every option
#
# Installs what is missing: wrk (apt-get), cargo-lambda 1.9.2 and chalice 1.34.0 (pip, in a
# venv under $CARGO_TARGET_DIR/bench-local/venv, target/ by default). Only loopback traffic;
# every process it starts is stopped (its whole session) before the next one starts.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LAMBDA_VERSION=1.9.2
CHALICE_VERSION=1.34.0
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
venv="$target_dir/bench-local/venv"

if ! command -v wrk >/dev/null; then
  echo "[bench-local] installing wrk (apt-get)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y wrk >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2; }
fi

has_version() { # command... version: the command's --version output mentions the version
  local want="${*: -1}"
  "${@:1:$#-1}" --version 2>/dev/null | grep -q -- "$want"
}

if [ -x "$venv/bin/python" ]; then
  PATH="$venv/bin:$PATH"
fi
if ! has_version cargo lambda "$CARGO_LAMBDA_VERSION" || ! has_version chalice "$CHALICE_VERSION"; then
  echo "[bench-local] installing cargo-lambda $CARGO_LAMBDA_VERSION and chalice $CHALICE_VERSION in $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "cargo-lambda==$CARGO_LAMBDA_VERSION" "chalice==$CHALICE_VERSION" >&2
  PATH="$venv/bin:$PATH"
fi
export PATH

exec python3 scripts/bench_local.py "$@"
