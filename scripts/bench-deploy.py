#!/usr/bin/env python3
"""`portico deploy` against `chalice deploy`, side by side on moto (loopback only).

The hello example (`examples/hello`, its release `bootstrap` deployed with `--binary`) and the
same four routes as a Chalice app (`framework/bench/chalice_hello`). Each run starts a fresh
moto server per tool, makes one warm-up read per service (moto loads a service's backend on
its first request), then times three deploys: the first, a no-op redeploy and a code-only
redeploy. Tools alternate which goes first; the table shows medians.

Per deploy: wall time of the process; the time before its first AWS call (the moment moto's
request recorder first writes, watched from here) and the rest ("AWS part"); and the calls
moto recorded, of which mutating (anything but Get/List/Describe/Head, and GET on REST APIs).

What it uses:
- the `portico` CLI built the way `cargo install portico-cli` builds it: cargo's default
  release profile, not the workspace's fat-LTO one (`--portico PATH` to measure another);
- Chalice 1.34.0 from PyPI in its own venv under target/bench-deploy/venv, run through
  scripts/chalice_on_moto.py, which converts the Swagger 2.0 document Chalice sends to
  API Gateway into OpenAPI 3 (what moto 5.2.5 accepts) and changes nothing else;
- `moto_server` (moto[server] 5.2.5) and boto3 for the warm-up reads.

    ./scripts/bench-deploy.py [--runs 3] [--portico PATH] [--only portico|chalice]
"""

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_VERSION = "1.34.0"
MOTO_VERSION = "5.2.5"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
VENV = TARGET / "bench-deploy" / "venv"
CLI_TARGET = TARGET / "bench-cli"
STAGE = "dev"
SERVICES = ["sts", "iam", "lambda", "apigateway", "logs", "events", "stepfunctions", "s3"]
READ_PREFIXES = ("Get", "List", "Describe", "Head")


def log(msg: str) -> None:
    print(f"[bench-deploy] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws_env(endpoint: str) -> dict:
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


class Moto:
    """A fresh moto server with its request recorder writing to a file of our own."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.recording = workdir / f"moto-{self.port}.jsonl"
        env = dict(os.environ, MOTO_RECORDER_FILEPATH=str(self.recording))
        self.proc = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.api("GET", "/moto-api/data.json")
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit("moto_server did not start; "
                                     f"python3 -m pip install 'moto[server]=={MOTO_VERSION}'")
                time.sleep(0.05)
        self.warm_up()
        self.api("POST", "/moto-api/recorder/start-recording")

    def api(self, method: str, path: str) -> bytes:
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    def warm_up(self) -> None:
        import boto3
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="us-east-1")
        reads = {
            "sts": lambda c: c.get_caller_identity(),
            "iam": lambda c: c.list_roles(),
            "lambda": lambda c: c.list_functions(),
            "apigateway": lambda c: c.get_rest_apis(),
            "logs": lambda c: c.describe_log_groups(),
            "events": lambda c: c.list_rules(),
            "stepfunctions": lambda c: c.list_state_machines(),
            "s3": lambda c: c.list_buckets(),
        }
        for service in SERVICES:
            reads[service](session.client(service, endpoint_url=self.endpoint))

    def reset_recording(self) -> int:
        self.api("POST", "/moto-api/recorder/reset-recording")
        return self.recording.stat().st_size if self.recording.exists() else 0

    def calls(self) -> list:
        text = self.api("GET", "/moto-api/recorder/download-recording").decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def operation(entry: dict) -> tuple:
    """(service, operation or method+path, mutating) of one recorded request."""
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    auth = headers.get("authorization", "")
    service = auth.split("Credential=")[1].split("/")[3] if "Credential=" in auth else "?"
    target = headers.get("x-amz-target")
    if target:
        op = target.split(".")[-1]
        return service, op, not op.startswith(READ_PREFIXES)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    if entry["method"] == "POST" and "Action=" in body:
        op = urllib.parse.parse_qs(body).get("Action", ["?"])[0]
        return service, op, not op.startswith(READ_PREFIXES)
    path = urllib.parse.urlparse(entry["url"]).path
    return service, f"{entry['method']} {path}", entry["method"] not in ("GET", "HEAD")


def watch_first_write(path: Path, size_before: int, stop: threading.Event, out: list) -> None:
    """Notes when the recording first grows: the first AWS call of the deploy."""
    while not stop.is_set():
        try:
            if path.stat().st_size > size_before:
                out.append(time.monotonic())
                return
        except FileNotFoundError:
            pass
        time.sleep(0.0005)


def timed(moto: Moto, argv: list, cwd: Path, env: dict) -> dict:
    size_before = moto.reset_recording()
    stop, first = threading.Event(), []
    watcher = threading.Thread(target=watch_first_write,
                               args=(moto.recording, size_before, stop, first))
    watcher.start()
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    ended = time.monotonic()
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                         f"{proc.stdout}\n{proc.stderr}")
    ops = [operation(e) for e in moto.calls()]
    wall = (ended - started) * 1000
    before = ((first[0] - started) * 1000) if first else wall
    return {
        "wall": wall,
        "before": before,
        "aws": wall - before,
        "calls": len(ops),
        "mutating": sum(1 for _, _, m in ops if m),
        "ops": [f"{s}.{o}{' *' if m else ''}" for s, o, m in ops],
        "stdout": proc.stdout,
    }


def run_cmd(argv: list, **kw) -> None:
    log("$ " + " ".join(map(str, argv)))
    subprocess.run(argv, check=True, **kw)


def build_portico() -> Path:
    # `cargo install portico-cli` builds with cargo's default release profile: the workspace's
    # `[profile.release]` (fat LTO, one codegen unit) applies only inside this workspace.
    run_cmd(["cargo", "build", "--release", "--locked", "-p", "portico-cli",
             "--config", "profile.release.lto=false",
             "--config", "profile.release.codegen-units=16",
             "--target-dir", str(CLI_TARGET)], cwd=ROOT)
    return CLI_TARGET / "release" / "portico"


def build_hello() -> Path:
    out = subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "hello", "--bin", "bootstrap",
         "--message-format=json-render-diagnostics"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "bootstrap" \
                and msg.get("executable"):
            return Path(msg["executable"])
    raise SystemExit("cargo named no `bootstrap` executable for examples/hello")


def chalice_python() -> Path:
    python = VENV / "bin" / "python"
    try:
        have = subprocess.run([python, "-c", "import chalice; print(chalice.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        have = ""
    if have != CHALICE_VERSION:
        log(f"installing chalice {CHALICE_VERSION} in {VENV}")
        if not python.exists():
            run_cmd([sys.executable, "-m", "venv", str(VENV)])
        run_cmd([python, "-m", "pip", "install", "--quiet", f"chalice=={CHALICE_VERSION}"])
    # Compile its modules once, so the first timed run does not pay for it.
    subprocess.run([python, "-m", "chalice.cli", "--version"], capture_output=True)
    subprocess.run([python, str(ROOT / "scripts" / "chalice_on_moto.py"), "--version"],
                   capture_output=True)
    return python


def with_appended(src: Path, dst: Path, text: str) -> Path:
    dst.write_bytes(src.read_bytes() + text.encode())
    dst.chmod(0o755)
    return dst


def portico_run(cli: Path, bootstrap: Path, work: Path, n: int) -> dict:
    moto = Moto(work)
    try:
        # A copy of the example outside the workspace, as a user's app would be.
        app = work / f"portico-hello-{n}"
        shutil.copytree(ROOT / "examples" / "hello", app,
                        ignore=shutil.ignore_patterns(".portico", "target", "tests"))
        env = aws_env(moto.endpoint)
        v2 = with_appended(bootstrap, work / f"bootstrap-v2-{n}", f"bench change {n}\n")
        argv = [cli, "deploy", "--stage", STAGE, "--app", app, "--output", "json", "--binary"]
        out = {
            "first": timed(moto, argv + [bootstrap], app, env),
            "noop": timed(moto, argv + [bootstrap], app, env),
            "code": timed(moto, argv + [v2], app, env),
        }
        for kind, r in out.items():
            r["phases"] = json.loads(r.pop("stdout")).get("phases_ms")
        return out
    finally:
        moto.stop()


def chalice_run(python: Path, work: Path, n: int) -> dict:
    moto = Moto(work)
    try:
        app = work / f"chalice-hello-{n}"
        shutil.copytree(ROOT / "framework" / "bench" / "chalice_hello", app,
                        ignore=shutil.ignore_patterns(".chalice", "__pycache__"))
        (app / ".chalice").mkdir()
        (app / ".chalice" / "config.json").write_text(json.dumps({
            "version": "2.0", "app_name": "chalice_hello",
            "stages": {STAGE: {"api_gateway_stage": "api"}}}))
        env = aws_env(moto.endpoint)
        argv = [python, ROOT / "scripts" / "chalice_on_moto.py", "deploy", "--stage", STAGE]
        out = {"first": timed(moto, argv, app, env), "noop": timed(moto, argv, app, env)}
        with open(app / "app.py", "a") as f:
            f.write(f"\n# bench change {n}\n")
        out["code"] = timed(moto, argv, app, env)
        for r in out.values():
            r.pop("stdout")
        return out
    finally:
        moto.stop()


def fmt_ms(v: float) -> str:
    return f"{v:,.0f} ms"


def table(results: dict) -> str:
    tools = [t for t in ("portico", "chalice") if results.get(t)]
    med = {t: {k: {m: statistics.median(r[k][m] for r in results[t])
                   for m in ("wall", "before", "aws", "calls", "mutating")}
               for k in ("first", "noop", "code")} for t in tools}
    both = len(tools) == 2
    lines = ["| | " + " | ".join(t.capitalize() for t in tools)
             + (" | Portico / Chalice |" if both else " |"),
             "|---|" + "---:|" * (len(tools) + (1 if both else 0))]
    for kind, label in (("first", "first deploy"), ("noop", "no-op redeploy"),
                        ("code", "code-only redeploy")):
        m = {t: med[t][kind] for t in tools}
        row = [f"{label}, wall"] + [fmt_ms(m[t]["wall"]) for t in tools]
        if both:
            row.append(f"**{m['portico']['wall'] / m['chalice']['wall']:.2f}**")
        lines.append("| " + " | ".join(row) + " |")
        row = ["… before the first AWS call / AWS part"] + [
            f"{m[t]['before']:,.0f} / {m[t]['aws']:,.0f} ms" for t in tools]
        if both:
            row.append(f"{m['portico']['before'] / m['chalice']['before']:.2f} / "
                       f"{m['portico']['aws'] / m['chalice']['aws']:.2f}")
        lines.append("| " + " | ".join(row) + " |")
        row = ["… calls / mutating"] + [f"{m[t]['calls']:.0f} / {m[t]['mutating']:.0f}"
                                         for t in tools]
        lines.append("| " + " | ".join(row) + (" | |" if both else " |"))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--portico", type=Path, help="the portico CLI to measure (default: build it)")
    ap.add_argument("--only", choices=["portico", "chalice"])
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    args = ap.parse_args()

    tools = [args.only] if args.only else ["portico", "chalice"]
    cli = bootstrap = python = None
    if "portico" in tools:
        cli = (args.portico or build_portico()).resolve()
        bootstrap = build_hello()
        log(f"portico: {cli}; app binary {bootstrap} ({bootstrap.stat().st_size:,} bytes)")
    if "chalice" in tools:
        python = chalice_python()
    results = {t: [] for t in tools}
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        work = Path(tmp)
        for n in range(args.runs):
            order = tools if n % 2 == 0 else list(reversed(tools))
            for tool in order:
                r = (portico_run(cli, bootstrap, work, n) if tool == "portico"
                     else chalice_run(python, work, n))
                results[tool].append(r)
                log(f"run {n + 1} {tool}: " + ", ".join(
                    f"{k} {v['wall']:.0f} ms ({v['before']:.0f} before the first call, "
                    f"{v['calls']} calls, {v['mutating']} mutating)" for k, v in r.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(f"\n{args.runs} interleaved runs, medians; fresh moto {MOTO_VERSION} per tool and run, "
          "one warm-up read per service first")
    print(table(results))
    for tool in tools:
        last = results[tool][-1]
        for kind in ("first", "noop", "code"):
            print(f"\n{tool} {kind} calls ({last[kind]['calls']}, * = mutating): "
                  + ", ".join(last[kind]["ops"]))


if __name__ == "__main__":
    main()
