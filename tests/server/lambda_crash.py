#!/usr/bin/env python3
"""What the Lambda API accepted survives `kill -9` of the server: functions (with their uploaded
code, configuration and reserved concurrency) and accepted Event invocations not yet delivered.

    python3 tests/server/lambda_crash.py --switchyard target/debug/switchyard

The Event invocation is held back by a reserved concurrency of 0 (Lambda retries throttled
events), the server is killed, restarted on the same data dir, the limit removed; the event must
then run. Prints `PASS name` / `FAIL name: reason` and ends with `N passed, M failed`.
"""

import argparse
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3
from botocore.config import Config

HANDLER = '''
import json, os

def handler(event, context):
    with open(os.path.join(os.environ["MARKER_DIR"], event["marker"]), "w") as out:
        out.write(json.dumps(event))
    return {"version": "crash-test", "event": event}
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, data_dir, port):
    process = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(data_dir, "server.log"), "a"),
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start")


def wait_for(path, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switchyard", required=True)
    args = parser.parse_args()
    data_dir, markers = tempfile.mkdtemp(), tempfile.mkdtemp()
    port = free_port()
    lam = boto3.client(
        "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("app.py", HANDLER)
    results = []

    def check(name, condition, reason):
        results.append(condition)
        print(f"PASS {name}" if condition else f"FAIL {name}: {reason}", flush=True)

    server = start(args.switchyard, data_dir, port)
    try:
        created = lam.create_function(
            FunctionName="survivor", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r", Handler="app.handler",
            Code={"ZipFile": archive.getvalue()}, Timeout=9, Environment={"Variables": {"MARKER_DIR": markers}},
        )
        lam.put_function_concurrency(FunctionName="survivor", ReservedConcurrentExecutions=0)
        accepted = lam.invoke(FunctionName="survivor", InvocationType="Event", Payload=json.dumps({"marker": "held"}))
        check("event_accepted_while_throttled", accepted["StatusCode"] == 202, accepted)
        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start(args.switchyard, data_dir, port)
        kept = lam.get_function_configuration(FunctionName="survivor")
        same = {key: kept.get(key) for key in ("CodeSha256", "CodeSize", "Timeout", "RevisionId", "Environment")}
        expected = {key: created.get(key) for key in same}
        check("function_survives_kill", same == expected, f"{same} != {expected}")
        concurrency = lam.get_function_concurrency(FunctionName="survivor")
        check("reserved_concurrency_survives_kill", concurrency.get("ReservedConcurrentExecutions") == 0, concurrency)
        lam.delete_function_concurrency(FunctionName="survivor")
        check("held_event_delivered_after_restart", wait_for(os.path.join(markers, "held"), 90), "the event accepted before the kill never ran")
        answer = json.loads(lam.invoke(FunctionName="survivor", Payload=json.dumps({"marker": "after"}))["Payload"].read())
        check("function_runs_after_restart", answer.get("version") == "crash-test", answer)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(markers, ignore_errors=True)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
