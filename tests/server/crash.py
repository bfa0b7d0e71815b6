#!/usr/bin/env python3
"""Crash test: executions in flight survive `kill -9` of the server.

Starts `switchyard serve` on a fresh data dir, starts many executions that wait (Wait states),
fan out (Parallel) and call an activity served by worker threads, kills the server with SIGKILL
at random moments several times (restarting it each time on the same data dir), then checks that
every execution completed with the right output and a history without gaps or duplicates.

    python3 tests/server/crash.py --switchyard target/debug/switchyard [--executions 1000] [--kills 3]
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ConnectionClosedError, ReadTimeoutError

ROLE = "arn:aws:iam::000000000000:role/crash-test"
TRANSIENT = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectionError, OSError)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data_dir, port):
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.data_dir, "server.log"), "a"),
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("the server did not start")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def client(endpoint):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}, read_timeout=70, connect_timeout=2),
    )


def retrying(call, *args, **kwargs):
    """Calls through server restarts: connection failures are retried for up to a minute."""
    deadline = time.time() + 60
    while True:
        try:
            return call(*args, **kwargs)
        except TRANSIENT:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


DEFINITIONS = {
    "wait": {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "Parameters": {"n.$": "$.n", "waited": True}, "End": True}},
    },
    "parallel": {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "A"}, "A": {"Type": "Pass", "Parameters": {"a.$": "$.n"}, "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"b.$": "$.n"}, "End": True}}},
                ],
                "End": True,
            }
        },
    },
}


def activity_definition(activity_arn):
    return {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity_arn, "TimeoutSeconds": 120, "End": True}}}


def expected_output(kind, n):
    if kind == "wait":
        return {"n": n, "waited": True}
    if kind == "parallel":
        return [{"a": n}, {"b": n}]
    return {"echo": n}


def worker(endpoint, activity_arn, stop, handled):
    sfn = client(endpoint)
    while not stop.is_set():
        try:
            task = sfn.get_activity_task(activityArn=activity_arn, workerName="crash-worker")
        except TRANSIENT:
            time.sleep(0.05)
            continue
        token = task.get("taskToken")
        if not token:
            continue
        n = json.loads(task["input"])["n"]
        try:
            retrying(sfn.send_task_success, taskToken=token, output=json.dumps({"echo": n}))
            handled.append(n)
        except ClientError as e:
            # At-least-once: a task dispatched again after a crash may already be closed.
            if e.response["Error"]["Code"] != "TaskTimedOut":
                raise


def check_history(sfn, arn):
    events, token = [], None
    while True:
        kwargs = {"executionArn": arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = retrying(sfn.get_execution_history, **kwargs)
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    ids = [e["id"] for e in events]
    if ids != list(range(1, len(ids) + 1)):
        return f"event ids are not 1..{len(ids)}: {ids[:20]}"
    types = [e["type"] for e in events]
    for once in ("ExecutionStarted", "ExecutionSucceeded"):
        if types.count(once) != 1:
            return f"{once} appears {types.count(once)} times"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    if len(entered) != len(set(entered)):
        return f"a state was entered twice: {entered}"
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash test: {args.executions} executions, {args.kills} kills, seed {seed}")

    data_dir = tempfile.mkdtemp(prefix="switchyard-crash-")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = Server(os.path.abspath(args.switchyard), data_dir, port)
    server.start()
    sfn = client(endpoint)
    stop, handled = threading.Event(), []
    workers = []
    try:
        activity_arn = sfn.create_activity(name="crash-activity")["activityArn"]
        machines = {kind: sfn.create_state_machine(name=f"crash-{kind}", definition=json.dumps(d), roleArn=ROLE)["stateMachineArn"] for kind, d in DEFINITIONS.items()}
        machines["activity"] = sfn.create_state_machine(name="crash-activity", definition=json.dumps(activity_definition(activity_arn)), roleArn=ROLE)["stateMachineArn"]
        workers = [threading.Thread(target=worker, args=(endpoint, activity_arn, stop, handled), daemon=True) for _ in range(8)]
        for t in workers:
            t.start()

        kinds = ["wait", "parallel", "activity"]
        started = {}
        kill_at = sorted(rng.sample(range(1, args.executions), min(args.kills, args.executions - 1)))
        kills_done = 0
        for n in range(args.executions):
            if kills_done < len(kill_at) and n == kill_at[kills_done]:
                time.sleep(rng.uniform(0.0, 0.5))
                server.kill()
                server.start()
                kills_done += 1
            kind = kinds[n % len(kinds)]
            name = f"x{n}"
            # Idempotent by name: a start whose answer was lost in a crash is simply sent again.
            arn = retrying(sfn.start_execution, stateMachineArn=machines[kind], name=name, input=json.dumps({"n": n}))["executionArn"]
            started[arn] = (kind, n)
        # One more kill while everything is in flight.
        time.sleep(rng.uniform(0.1, 1.0))
        server.kill()
        server.start()

        deadline = time.time() + 180
        pending = dict(started)
        while pending and time.time() < deadline:
            for arn in list(pending):
                status = retrying(sfn.describe_execution, executionArn=arn)["status"]
                if status != "RUNNING":
                    pending.pop(arn)
            time.sleep(0.2)
        failures = []
        if pending:
            failures.append(f"{len(pending)} executions still running after 3 minutes, e.g. {next(iter(pending))}")
        for arn, (kind, n) in started.items():
            if arn in pending:
                continue
            described = retrying(sfn.describe_execution, executionArn=arn)
            if described["status"] != "SUCCEEDED":
                failures.append(f"{arn}: {described['status']} {described.get('error')} {described.get('cause')}")
                continue
            if json.loads(described["output"]) != expected_output(kind, n):
                failures.append(f"{arn}: output {described['output']}")
                continue
            problem = check_history(sfn, arn)
            if problem:
                failures.append(f"{arn}: {problem}")
        for failure in failures[:20]:
            print("FAIL", failure)
        passed = len(started) - len(failures) if not pending else len(started) - len(pending) - len(failures)
        print(f"crash test (seed {seed}, {args.kills + 1} kills): {max(passed, 0)} passed, {len(started) - max(passed, 0)} failed")
        return 0 if not failures else 1
    finally:
        stop.set()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
