#!/usr/bin/env python3
"""Times the approval example (examples/approval) in `portico local`, loopback only.

For each design it measures, over a few runs, the time from `POST /requests` (202) to the mail
in the outbox (`/outbox.json`), and the decision round trip: the approve link's form POST until
`DescribeExecution` says SUCCEEDED. Prints the median (and min/max) of each.

  activity, fired now:   the worker fired with `portico invoke --local worker --scheduled-event`
                         right after the request (the CLI process start included)
  activity, scheduled:   the worker on its own `rate(1 minute)` schedule (slow: up to ~2 min a run)
  callback:              `notify`, invoked by the state machine

Usage: scripts/bench-approval.py [--runs N] [--scheduled-runs N] (builds with cargo first;
debug builds, as `portico local` runs by default). Every wait has a deadline.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from bench_local import wait_or_kill

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "approval")
PORTICO = os.path.join(ROOT, "target", "debug", "portico")
APPROVAL = os.path.join(ROOT, "target", "debug", "approval")
MAIL_DEADLINE = 200.0
DECISION_DEADLINE = 30.0


def build():
    subprocess.run(
        ["cargo", "build", "-q", "-p", "portico-cli", "-p", "approval"], cwd=ROOT, check=True
    )


def app_dir(design):
    tmp = tempfile.mkdtemp(prefix="portico-bench-approval-")
    shutil.copytree(os.path.join(EXAMPLE, "statemachines"), os.path.join(tmp, "statemachines"))
    with open(os.path.join(EXAMPLE, "portico.toml")) as f:
        config = f.read()
    config = config.replace('APPROVAL_DESIGN = "activity"', f'APPROVAL_DESIGN = "{design}"')
    with open(os.path.join(tmp, "portico.toml"), "w") as f:
        f.write(config)
    return tmp


class Local:
    """A `portico local` on free loopback ports."""

    def __init__(self, directory, schedules):
        args = [PORTICO, "local", "--app", directory, "--binary", APPROVAL,
                "--host", "127.0.0.1", "--port", "0", "--services-port", "0"]
        if not schedules:
            args.append("--no-schedules")
        self.dir = directory
        self.out = open(os.path.join(directory, "portico-local.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        self.api = self.services = None
        while time.monotonic() < deadline and not (self.api and self.services):
            self.out.seek(0)
            for line in self.out.read().splitlines():
                if line.startswith("API: "):
                    self.api = line[5:].strip()
                elif line.startswith("AWS services (Lambda, Step Functions, SES v2): "):
                    self.services = line.split(": ", 1)[1].strip()
            if self.proc.poll() is not None:
                sys.exit("portico local exited before its banner")
            time.sleep(0.05)
        if not (self.api and self.services):
            sys.exit("no banner from portico local within 60 s")
        for url in (self.api, self.services):
            assert url.startswith("http://127.0.0.1:"), url
        with open(os.path.join(directory, ".portico", "local", "api-keys.json")) as f:
            self.key = json.load(f)["hr-system"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        wait_or_kill(self.proc, 20)
        self.out.close()


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_request(local, employee):
    status, body = http(
        "POST", local.api + "/requests",
        json.dumps({"employeeName": employee, "managerEmailAddress": "boss@example.com"}).encode(),
        {"x-api-key": local.key, "content-type": "application/json"},
    )
    assert status == 202, (status, body)
    return json.loads(body)["requestId"]


def approve_link(local, employee, deadline):
    subject = f"Promotion approval requested: {employee}"
    while time.monotonic() < deadline:
        _, body = http("GET", local.services + "/outbox.json")
        for mail in json.loads(body):
            if mail["subject"] == subject:
                for line in mail["text"].splitlines():
                    if line.startswith("Approve: "):
                        return line[len("Approve: "):].strip()
        time.sleep(0.005)
    sys.exit(f"no mail about {employee} in time")


def execution_status(local, machine, request_id):
    arn = f"arn:aws:states:us-east-1:000000000000:execution:approval-dev-{machine}:{request_id}"
    _, body = http(
        "POST", local.services + "/", json.dumps({"executionArn": arn}).encode(),
        {"content-type": "application/x-amz-json-1.0",
         "x-amz-target": "AWSStepFunctions.DescribeExecution"},
    )
    return json.loads(body)["status"]


def decide(local, link, machine, request_id):
    path, sealed = link.split("?link=", 1)
    started = time.monotonic()
    status, body = http("POST", path, ("link=" + sealed).encode(),
                        {"content-type": "application/x-www-form-urlencoded"})
    assert status == 200 and b"Promotion approved" in body, (status, body[:200])
    deadline = started + DECISION_DEADLINE
    while time.monotonic() < deadline:
        if execution_status(local, machine, request_id) == "SUCCEEDED":
            return time.monotonic() - started
        time.sleep(0.002)
    sys.exit("the execution did not succeed in time")


def run(design, runs, schedules, fire):
    machine = "PromotionApproval" if design == "activity" else "PromotionApprovalCallback"
    directory = app_dir(design)
    local = Local(directory, schedules)
    mail, decision = [], []
    try:
        for i in range(runs):
            employee = f"Bench {design} {i}"
            started = time.monotonic()
            request_id = start_request(local, employee)
            if fire:
                subprocess.run([PORTICO, "invoke", "--local", "worker", "--scheduled-event",
                                "--app", directory], check=True, stdout=subprocess.DEVNULL)
            link = approve_link(local, employee, started + MAIL_DEADLINE)
            mail.append(time.monotonic() - started)
            decision.append(decide(local, link, machine, request_id))
    finally:
        local.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return mail, decision


def summary(label, values):
    ms = [v * 1000 for v in values]
    if max(ms) >= 10000:
        text = f"median {statistics.median(ms) / 1000:.1f} s (min {min(ms) / 1000:.1f}, max {max(ms) / 1000:.1f})"
    else:
        text = f"median {statistics.median(ms):.0f} ms (min {min(ms):.0f}, max {max(ms):.0f})"
    print(f"{label:<44} {text}, {len(ms)} runs", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scheduled-runs", type=int, default=3,
                        help="runs on the worker's own schedule (0 skips them)")
    args = parser.parse_args()
    build()
    mail, decision = run("callback", args.runs, schedules=False, fire=False)
    summary("callback: request -> mail", mail)
    summary("callback: decision POST -> SUCCEEDED", decision)
    mail, decision = run("activity", args.runs, schedules=False, fire=True)
    summary("activity, fired now: request -> mail", mail)
    summary("activity: decision POST -> SUCCEEDED", decision)
    if args.scheduled_runs > 0:
        mail, _ = run("activity", args.scheduled_runs, schedules=True, fire=False)
        summary("activity, on its schedule: request -> mail", mail)


if __name__ == "__main__":
    main()
