#!/usr/bin/env python3
"""Local-cloud throughput and latency: `portico local` against `cargo lambda watch` and
`chalice local`, all serving the hello API, measured with wrk in one run. portico local and
cargo lambda watch run the same hello binary (release), so their ratio measures only the
emulators.

Run it through `scripts/bench-local.sh`, which installs the tools when missing. Standard
library only. See docs/benchmarks.md, section "Local cloud".

For each server, one at a time on this machine: start it (in its own session), wait until
`GET /users/42` answers `{"id":"42"}`, warm up, run `wrk -t2 -c8 -d10s --latency`, read
requests/s, p50 and p99 (and the CPU time the server's processes used), stop it (SIGTERM to its
process group, then whatever is left of its process tree and session) and check nothing of it
is left. Servers
are interleaved, `--runs` rounds, the order rotating each round; the table has medians and
the ratios portico / best peer. Everything listens on 127.0.0.1 only (checked).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Cargo's target directory: CARGO_TARGET_DIR (relative to the workspace, as cargo reads it)
# when set, else target/.
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
WORK = TARGET / "bench-local"
EXPECTED_BODY = b'{"id":"42"}'
CLK_TCK = os.sysconf("SC_CLK_TCK")


def wait_or_kill(proc: subprocess.Popen, timeout: float) -> None:
    """Waits up to `timeout` seconds for `proc` to exit, then kills it (and reaps it)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log(msg: str) -> None:
    print(f"[bench-local] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    rest = raw[raw.rfind(")") + 2 :].split()
    return rest  # rest[0] = state, rest[3] = pgrp, rest[4] = session, rest[11] = utime, rest[12] = stime


def process_table() -> dict[int, list[str]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st[0] != "Z":
                table[int(entry)] = st
    return table


def process_tree(leader: int) -> dict[int, str]:
    """The leader, its descendants and the members of its session, as pid -> start time.
    Descendants count even when they made their own session (cargo lambda's function
    instances do; portico's function processes get their own process groups)."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, st in table.items():
        children.setdefault(int(st[1]), []).append(pid)
    found = {pid for pid, st in table.items() if int(st[4]) == leader}
    todo = [leader] + list(found)
    while todo:
        pid = todo.pop()
        if pid in table:
            found.add(pid)
        for child in children.get(pid, []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {pid: table[pid][19] for pid in found if pid in table}


def alive(known: dict[int, str]) -> list[int]:
    """The pids of `known` still running (same start time, so not a reused pid)."""
    out = []
    for pid, start in known.items():
        st = proc_stat(pid)
        if st and st[0] != "Z" and st[19] == start:
            out.append(pid)
    return out


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes (and of their reaped children)."""
    total = 0
    for pid in pids:
        st = proc_stat(pid)
        if st:
            total += int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
    return total / CLK_TCK


def listening_addresses(pids: list[int]) -> list[str]:
    """Local addresses of the TCP sockets in LISTEN state that these processes hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = cols[1].split(":")
            port = int(port_hex, 16)
            raw = bytes.fromhex(addr_hex)
            if v6:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, words)
                found.append(f"[{addr}]:{port}")
            else:
                found.append(f"{socket.inet_ntoa(raw[::-1])}:{port}")
    return found


def is_loopback(addr: str) -> bool:
    host = addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1")


@dataclass
class Server:
    name: str  # short name in tables
    build: str  # what it serves, how built
    argv: list[str]
    url: str
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    wrk_headers: list[str] = field(default_factory=list)  # extra `wrk -H` headers


class Running:
    def __init__(self, server: Server, log_path: Path):
        self.server = server
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        env = dict(os.environ)
        env.update(server.env)
        self.proc = subprocess.Popen(
            server.argv,
            cwd=server.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session and process group: we can find it all
        )
        self.leader = self.proc.pid
        self.known: dict[int, str] = {}

    def track(self) -> list[int]:
        tree = process_tree(self.leader)
        self.known.update(tree)
        return list(tree)

    def wait_ready(self, timeout: float) -> float:
        start = time.monotonic()
        last = "no answer"
        while time.monotonic() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.server.name} exited with {self.proc.returncode} before answering;"
                    f" see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.server.url, timeout=5) as res:
                    body = res.read()
                    if res.status == 200 and body.strip() == EXPECTED_BODY:
                        return time.monotonic() - start
                    last = f"{res.status} {body[:200]!r}"
            except urllib.error.HTTPError as e:
                last = f"{e.code} {e.read()[:200]!r}"
            except (urllib.error.URLError, ConnectionError, OSError) as e:
                last = str(e)
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.server.name} did not answer {self.server.url} with {EXPECTED_BODY!r} within"
            f" {timeout:.0f} s (last: {last}); see {self.log_path}"
        )

    def stop(self) -> list[str]:
        """Stops the server as Ctrl-C would, then anything left of its process tree.
        Returns what had to be killed after the polite stop (should be nothing)."""
        leftovers: list[str] = []
        self.track()
        try:
            os.killpg(self.leader, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            self.proc.poll()  # reap the leader
            self.known.update({p: s for p, s in process_tree(self.leader).items() if p != self.leader})
            if not alive(self.known):
                break
            time.sleep(0.1)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            self.proc.poll()
            left = alive(self.known)
            if not left:
                break
            for pid in left:
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    comm = "?"
                leftovers.append(f"{pid} {comm} ({sig.name})")
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(1)
        wait_or_kill(self.proc, 5)
        self.log_file.close()
        still = alive(self.known)
        if still:
            raise RuntimeError(f"processes of {self.server.name} survived SIGKILL: {still}")
        return leftovers


# ---------------------------------------------------------------------------------------------
# wrk


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str
    cpu_us_per_req: float
    gateway_cpu_us_per_req: float  # the server's main process (gateway + Runtime API)
    load: float


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(args: argparse.Namespace, url: str, seconds: float, latency: bool,
            headers: list[str] | None = None) -> str:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--timeout", "5s"]
    for header in headers or []:
        argv += ["-H", header]
    if latency:
        argv.append("--latency")
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def parse_wrk(text: str) -> tuple[float, float, float, int, str]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    errors = []
    if m := re.search(r"Socket errors: (.*)", text):
        errors.append("socket errors: " + m.group(1).strip())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        errors.append(f"non-2xx: {m.group(1)}")
    return rps, p50, p99, requests, "; ".join(errors)


def measure(args: argparse.Namespace, server: Server, round_no: int) -> tuple[Sample, float]:
    log_path = WORK / "logs" / f"{server.name.replace(' ', '_')}-{round_no}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    running = Running(server, log_path)
    try:
        ready = running.wait_ready(args.ready_timeout)
        listening = listening_addresses(running.track())
        bad = [a for a in listening if not is_loopback(a)]
        if bad:
            raise RuntimeError(f"{server.name} listens beyond loopback: {bad}")
        if args.warmup > 0:
            run_wrk(args, server.url, args.warmup, latency=False, headers=server.wrk_headers)
        load = os.getloadavg()[0]
        pids = running.track()
        cpu0, gw0 = cpu_seconds(pids), cpu_seconds([running.leader])
        text = run_wrk(args, server.url, args.duration, latency=True, headers=server.wrk_headers)
        cpu1, gw1 = cpu_seconds(pids), cpu_seconds([running.leader])
        if set(running.track()) != set(pids):
            log(f"  {server.name}: its processes changed during the measurement; CPU is partial")
        (WORK / "logs" / f"{server.name.replace(' ', '_')}-{round_no}.wrk").write_text(text)
        rps, p50, p99, requests, errors = parse_wrk(text)
        cpu_us = (cpu1 - cpu0) * 1e6 / max(requests, 1)
        gw_us = (gw1 - gw0) * 1e6 / max(requests, 1)
        return Sample(rps, p50, p99, requests, errors, cpu_us, gw_us, load), ready
    finally:
        leftovers = running.stop()
        if leftovers:
            log(f"{server.name}: had to kill what its stop left behind: {', '.join(leftovers)}")


# ---------------------------------------------------------------------------------------------
# Builds


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    log("$ " + " ".join(shlex.quote(a) for a in argv))
    start = time.monotonic()
    subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, check=True, stdout=sys.stderr)
    return time.monotonic() - start


FAST_CLI_ENV = {
    "CARGO_PROFILE_RELEASE_LTO": "false",
    "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16",
}


def build(args: argparse.Namespace) -> tuple[Path, str, list[str]]:
    """Builds what the servers run; returns the portico binary, how it was built, and notes."""
    notes = []
    if args.cli == "release":
        cli_env, cli_dir, what = {}, TARGET, "release (workspace profile: fat LTO, 1 codegen unit)"
    elif args.cli == "fast-release":
        # A separate target dir, so the workspace's fat-LTO release artifacts stay as they are.
        cli_env = {**FAST_CLI_ENV, "CARGO_TARGET_DIR": str(WORK / "cli-target")}
        cli_dir, what = WORK / "cli-target", "release with CARGO_PROFILE_RELEASE_LTO=false CODEGEN_UNITS=16"
    else:
        cli_env, cli_dir, what = {}, TARGET, "debug (unoptimized gateway!)"
    if not args.skip_build:
        cmd = ["cargo", "build", "-p", "portico-cli"] + ([] if args.cli == "debug" else ["--release"])
        secs = timed(cmd, cli_env)
        notes.append(f"`{' '.join(cmd)}` ({args.cli}) took {secs:.0f} s")
        # Built here so the servers start at once; `portico local --release` and
        # `cargo lambda watch --release` (the same package, the same command) find it fresh.
        secs = timed(["cargo", "build", "--release", "-p", "hello", "--bin", "bootstrap"])
        notes.append(f"hello's release bootstrap: {secs:.0f} s")
    cli = cli_dir / ("debug" if args.cli == "debug" else "release") / "portico"
    if not cli.is_file():
        raise SystemExit(f"{cli} is missing: run without --skip-build")
    return cli, what, notes


def servers(args: argparse.Namespace, cli: Path, cli_what: str) -> list[Server]:
    out = []
    p = free_port()
    q = free_port()
    out.append(
        Server(
            name="portico local",
            build=f"hello (`examples/hello`, portico) release; gateway: {cli_what}; "
            f"--concurrency {args.concurrency}",
            argv=[str(cli), "local", "--app", "examples/hello", "--host", "127.0.0.1",
                  "--port", str(p), "--services-port", str(q), "--release",
                  "--concurrency", str(args.concurrency)],
            url=f"http://127.0.0.1:{p}/dev{args.path}",
            env={"NO_COLOR": "1"},
        )
    )
    p = free_port()
    out.append(
        Server(
            name="cargo lambda watch",
            build=f"hello (`examples/hello`, portico) release, the same binary as portico local's; "
            f"{tool_version(['cargo', 'lambda', '--version'])}; --concurrency {args.concurrency}",
            argv=["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(p), "--release",
                  "--ignore-changes", "--concurrency", str(args.concurrency),
                  "-p", "hello", "--bin", "bootstrap"],
            url=f"http://127.0.0.1:{p}/lambda-url/bootstrap{args.path}",
        )
    )
    p = free_port()
    out.append(
        Server(
            name="chalice local",
            build=f"framework/bench/chalice_hello; {tool_version(['chalice', '--version'])}; "
            "--no-autoreload",
            argv=["chalice", "local", "--host", "127.0.0.1", "--port", str(p), "--stage", "dev",
                  "--no-autoreload"],
            url=f"http://127.0.0.1:{p}{args.path}",
            cwd=ROOT / "framework" / "bench" / "chalice_hello",
        )
    )
    if args.chalice_close:
        # The same server with a new connection per request: what its 40 ms are (see
        # docs/benchmarks.md, "chalice local's 44 ms").
        p = free_port()
        out.append(
            Server(
                name="chalice local (Connection: close)",
                build="the same app and command; wrk sends `Connection: close`",
                argv=["chalice", "local", "--host", "127.0.0.1", "--port", str(p), "--stage",
                      "dev", "--no-autoreload"],
                url=f"http://127.0.0.1:{p}{args.path}",
                cwd=ROOT / "framework" / "bench" / "chalice_hello",
                wrk_headers=["Connection: close"],
            )
        )
    wanted = args.only.split(",") if args.only else None
    return [s for s in out if wanted is None or s.name.split()[0] in wanted]


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        return out.split(",")[0]
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    m = re.search(r"wrk \S*?(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    return f"wrk {m.group(1)}" if m else "wrk"


# ---------------------------------------------------------------------------------------------


def fmt_ms(v: float) -> str:
    return f"{v * 1000:.0f} µs" if v < 1 else f"{v:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds; each server once per round")
    ap.add_argument("--duration", type=float, default=10, help="seconds of wrk per measurement")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of wrk before measuring")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t")
    ap.add_argument("--connections", type=int, default=8, help="wrk -c")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="function processes for portico local and cargo lambda watch "
                         "(portico's default is 4, cargo lambda's 1)")
    ap.add_argument("--path", default="/users/42")
    ap.add_argument("--cli", choices=["release", "fast-release", "debug"], default="release",
                    help="how to build the portico CLI (the gateway)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--only", help="comma list of portico,cargo,chalice")
    ap.add_argument("--chalice-close", action=argparse.BooleanOptionalAction, default=True,
                    help="also measure chalice local with `Connection: close` (not a peer in"
                         " the ratios)")
    ap.add_argument("--ready-timeout", type=float, default=900)
    args = ap.parse_args()
    if args.path != "/users/42":
        raise SystemExit("--path: only /users/42 is checked for a correct answer")
    WORK.mkdir(parents=True, exist_ok=True)

    started = dt.datetime.now(dt.timezone.utc)
    state_db = ROOT / "examples" / "hello" / ".portico" / "local" / "state.db"

    def db_bytes() -> int:
        return sum(f.stat().st_size for f in state_db.parent.glob("state.db*")) if state_db.parent.is_dir() else 0

    db_before = db_bytes()
    cli, cli_what, notes = build(args)
    todo = servers(args, cli, cli_what)
    samples: dict[str, list[Sample]] = {s.name: [] for s in todo}
    ready_times: dict[str, list[float]] = {s.name: [] for s in todo}
    for r in range(args.runs):
        order = todo[r % len(todo) :] + todo[: r % len(todo)]
        for server in order:
            log(f"round {r + 1}/{args.runs}: {server.name} ({server.url})")
            sample, ready = measure(args, server, r + 1)
            samples[server.name].append(sample)
            ready_times[server.name].append(ready)
            log(f"  {sample.rps:.0f} req/s, p50 {fmt_ms(sample.p50_ms)}, p99 {fmt_ms(sample.p99_ms)},"
                f" server CPU {sample.cpu_us_per_req:.0f} µs/req"
                f" (main process {sample.gateway_cpu_us_per_req:.0f}), load {sample.load:.2f}"
                + (f" [{sample.errors}]" if sample.errors else ""))

    med = {
        name: {
            "rps": statistics.median(s.rps for s in ss),
            "p50": statistics.median(s.p50_ms for s in ss),
            "p99": statistics.median(s.p99_ms for s in ss),
            "cpu": statistics.median(s.cpu_us_per_req for s in ss),
            "gw": statistics.median(s.gateway_cpu_us_per_req for s in ss),
        }
        for name, ss in samples.items()
    }

    print("## Local cloud: `GET /users/42` under wrk\n")
    print(f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs ({platform.machine()}, Linux"
          f" {platform.release()}); 1-minute load average during the runs"
          f" {min(s.load for ss in samples.values() for s in ss):.1f}–"
          f"{max(s.load for ss in samples.values() for s in ss):.1f} (other work on the machine shows"
          f" here);"
          f" {wrk_version()} -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency after a"
          f" {args.warmup:g} s warm-up; {args.runs} rounds, servers interleaved; medians.\n")
    print("| server | req/s | p50 | p99 | server CPU / req | of which main process | runs (req/s) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, m in med.items():
        runs = ", ".join(f"{s.rps:.0f}" for s in samples[name])
        print(f"| {name} | {m['rps']:.0f} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} |"
              f" {m['cpu']:.0f} µs | {m['gw']:.0f} µs | {runs} |")
    print()
    if "portico local" in med and len(med) > 1:
        peers = {n: m for n, m in med.items() if n != "portico local" and "Connection: close" not in n}
        best = max(peers, key=lambda n: peers[n]["rps"])
        pm = med["portico local"]
        tput = pm["rps"] / peers[best]["rps"]
        print(f"- throughput: portico local / {best} (the faster peer) = **{tput:.2f}×**")
        for n, m in peers.items():
            print(f"- p99: portico local / {n} = **{pm['p99'] / m['p99']:.2f}×** (below 1: portico's is lower)")
        print(f"- server CPU per request: portico local / {best} = {pm['cpu'] / peers[best]['cpu']:.2f}×"
              f" (main process {pm['gw'] / peers[best]['gw']:.2f}×)")
        lower = all(pm["p99"] < m["p99"] for m in peers.values())
        met = tput >= 2 and lower
        print(f"- goal (≥ 2× the faster peer's throughput, a p99 lower than both peers'):"
              f" **{'met' if met else 'missed'}** (throughput {'met' if tput >= 2 else 'missed'},"
              f" p99 {'met' if lower else 'missed'})")
        print()
    print("Server CPU / req: user + system CPU time of all the server's processes during the"
          " measurement, per request; \"main process\" is the gateway's own (portico, cargo-lambda;"
          " chalice local is one process), the rest is the function processes. wrk's percentiles"
          " are of requests sent over kept-alive connections, without coordinated-omission"
          " correction.\n")
    print("What each served:\n")
    for s in todo:
        ready = statistics.median(ready_times[s.name])
        print(f"- **{s.name}**: {s.build}; answered {ready:.1f} s after start (median);"
              f" `{' '.join(shlex.quote(a) for a in s.argv)}`")
    for n in notes:
        print(f"- build: {n}")
    grown = db_bytes() - db_before
    if grown > 0:
        print(f"- portico local keeps every function log line (per request two rows: START, and"
              f" END with REPORT) in {state_db.relative_to(ROOT)}, at most 200,000 rows: it grew"
              f" by {grown / 1e6:.0f} MB during this run (now {db_bytes() / 1e6:.0f} MB; delete the"
              f" file to start afresh)")
    errs = [f"{n} round {i + 1}: {s.errors}" for n, ss in samples.items() for i, s in enumerate(ss) if s.errors]
    for e in errs:
        print(f"- wrk reported: {e}")
    print(f"\nLogs and raw wrk output: {WORK}/logs/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
