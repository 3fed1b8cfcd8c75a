#!/usr/bin/env python3
"""Benchmark of `portico logs` against moto on loopback (docs/benchmarks.md, "Logs").

1. History: the wall time of `portico logs` printing N events (default 10,000, two functions,
   plain and JSON messages, interleaved), text and JSON output, median of 3 runs.
2. Follow: `portico logs --follow` while M new events (default 100,000) are written to the
   two log groups in batches; its resident memory is sampled every 100 ms (VmRSS from /proc)
   and its peak (VmHWM) read before it is stopped with SIGINT. Every event must be printed
   exactly once, and the exit must be clean.

Usage: scripts/bench-logs.py [--portico target/debug/portico] [--history 10000]
       [--follow 100000] [--batch 5000]
Needs moto_server (`python3 -m pip install 'moto[server]==5.2.5'`) and boto3 (moto's own
dependency).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3

API = "/aws/lambda/bench-dev-api"
CLEANUP = "/aws/lambda/bench-dev-cleanup"
STREAMS = {
    API: ["2026/11/26/[$LATEST]aaaaaaaa11111111", "2026/11/26/[$LATEST]bbbbbbbb22222222"],
    CLEANUP: ["2026/11/26/[$LATEST]cccccccc33333333"],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    proc = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=2)
            return proc, endpoint
        except OSError:
            if time.time() > deadline:
                proc.kill()
                sys.exit("moto_server did not start")
            time.sleep(0.1)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def message(i):
    if i % 3 == 0:
        return json.dumps(
            {"timestamp": "x", "level": "INFO", "fields": {"message": "handled", "n": i}, "target": "bench"}
        )
    return f"GET /users/{i} 200 in 3 ms\n"


def put(logs, group, stream, events):
    for k in range(0, len(events), 5_000):
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t, "message": m} for t, m in events[k : k + 5_000]],
        )


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portico", default="target/debug/portico")
    ap.add_argument("--history", type=int, default=10_000)
    ap.add_argument("--follow", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=5_000)
    args = ap.parse_args()
    portico = os.path.abspath(args.portico)

    moto, endpoint = start_moto()
    # The CLI under test and this script's own client reach moto through the same settings.
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
    )
    os.environ.pop("NO_COLOR", None)
    env = dict(os.environ)
    logs = boto3.client("logs")
    try:
        with tempfile.TemporaryDirectory(prefix="portico-bench-logs-") as app:
            with open(os.path.join(app, "portico.toml"), "w") as f:
                f.write('[app]\nname = "bench"\n\n[stages.dev]\n')
            os.makedirs(os.path.join(app, ".portico", "deployed"))
            functions = {
                e: {"name": f"bench-dev-{e}", "arn": f"arn:aws:lambda:us-east-1:123456789012:function:bench-dev-{e}", "code_sha256": "x"}
                for e in ("api", "cleanup")
            }
            with open(os.path.join(app, ".portico", "deployed", "dev.json"), "w") as f:
                json.dump(
                    {"version": 1, "app": "bench", "stage": "dev", "region": "us-east-1", "account": "123456789012",
                     "endpoint_url": None, "functions": functions},
                    f,
                )
            for group, streams in STREAMS.items():
                logs.create_log_group(logGroupName=group)
                for s in streams:
                    logs.create_log_stream(logGroupName=group, logStreamName=s)

            # 1. History: every 4th event in cleanup, the others alternating api's streams.
            base = (int(time.time() * 1000) - 20 * 60_000) // 1000 * 1000
            by_stream = {}
            for i in range(args.history):
                group = CLEANUP if i % 4 == 3 else API
                stream = STREAMS[group][i % len(STREAMS[group])]
                by_stream.setdefault((group, stream), []).append((base + i * 10, message(i)))
            for (group, stream), events in by_stream.items():
                put(logs, group, stream, events)
            window = ["--since", iso(base), "--until", iso(base + args.history * 10)]
            results = {}
            for output in ("text", "json"):
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    run = subprocess.run(
                        [portico, "logs", "--app", app, "--output", output, *window],
                        env=env, capture_output=True, check=True,
                    )
                    times.append(time.perf_counter() - start)
                    printed = run.stdout.count(b"\n")
                    assert printed == args.history, (printed, run.stderr)
                results[output] = statistics.median(times)
            print(f"history: {args.history} events, text {results['text']:.2f} s, json {results['json']:.2f} s "
                  f"(median of 3; {args.history / results['text']:,.0f} events/s)")

            # 2. Follow.
            proc = subprocess.Popen(
                [portico, "logs", "--app", app, "--follow", "--since", "1s"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            count = [0]
            seen_lines = set()
            duplicates = [0]

            def read():
                for line in proc.stdout:
                    count[0] += 1
                    key = line.rsplit(b" ", 1)[-1]
                    if key in seen_lines:
                        duplicates[0] += 1
                    seen_lines.add(key)

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            samples = []
            stop_sampling = threading.Event()

            def sample():
                while not stop_sampling.is_set():
                    try:
                        samples.append((count[0], rss_kib(proc.pid, "VmRSS")))
                    except OSError:
                        return
                    time.sleep(0.1)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            time.sleep(1.0)
            start = time.perf_counter()
            n = 0
            while n < args.follow:
                now = int(time.time() * 1000)
                batch = min(args.batch, args.follow - n)
                by_stream = {}
                for k in range(batch):
                    i = n + k
                    group = CLEANUP if i % 4 == 3 else API
                    stream = STREAMS[group][i % len(STREAMS[group])]
                    # Unique last word per event, so the reader can tell duplicates.
                    by_stream.setdefault((group, stream), []).append((now, f"follow event #{i}"))
                for (group, stream), events in by_stream.items():
                    put(logs, group, stream, events)
                n += batch
                # Keep the writer at most two batches ahead of the follower.
                while count[0] < n - 2 * args.batch and proc.poll() is None:
                    time.sleep(0.05)
            deadline = time.time() + 600
            while count[0] < args.follow and time.time() < deadline and proc.poll() is None:
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            samples.append((count[0], rss_kib(proc.pid, "VmRSS")))
            peak = rss_kib(proc.pid, "VmHWM")
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=30)
            stop_sampling.set()
            reader.join(timeout=10)
            stderr = proc.stderr.read().decode()
            rss_at = lambda frac: next((r for c, r in samples if c >= args.follow * frac), None)
            print(f"follow: {count[0]} of {args.follow} events printed, {duplicates[0]} duplicates, "
                  f"in {elapsed:.1f} s; exit code {code} on SIGINT {stderr.strip()!r}")
            print(f"follow: VmRSS after 10% / 50% / 100% of the events: {rss_at(0.1)} / {rss_at(0.5)} / "
                  f"{rss_at(1.0)} KiB; peak (VmHWM) {peak} KiB")
    finally:
        moto.kill()
        moto.wait()


if __name__ == "__main__":
    main()
