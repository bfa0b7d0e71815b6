"""Deploys every project of tests/deploy/real/ (serverless.yml files written for AWS, run
unmodified) with `switchyard up` and runs the checks of its expected.json.

Usage: real_projects.py --switchyard PATH [--only NAME ...]

Each project gets its own server (`up --detach` on a free port, a fresh data dir), so that it runs
in its own provider.region. expected.json says which `--param`s and server flags `up` gets and what
to check:
- {"http": "METHOD /path", "body": {...}}: the route answers an executionArn and startDate; with
  "status"/"output", that execution must end so;
- {"start_execution": NAME, "input": {...}, "status", "output"}: an execution of the state machine;
- {"start_sync_execution": NAME, "input", "status", "output"}: the same, synchronously (EXPRESS);
- {"invoke": NAME, "payload": {...}, "result": ...}: a function's answer;
and "outputs": the Stack Outputs `up` prints.
Prints PASS/FAIL lines and `N passed, M failed`.
"""
import argparse
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

from examples import free_port, report, results, server, up, wait_for

PROJECTS = pathlib.Path(__file__).resolve().parent / "real"


def machine_arn(sfn, name):
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            return machine["stateMachineArn"]
    raise AssertionError(f"no state machine named {name}")


def compare(what, actual, check):
    if "status" in check and actual.get("status") != check["status"]:
        raise AssertionError(f"{what}: status {actual.get('status')} ({actual.get('error')}: {str(actual.get('cause'))[:400]}), expected {check['status']}")
    if "output" in check and json.loads(actual.get("output") or "null") != check["output"]:
        raise AssertionError(f"{what}: output {actual.get('output')}, expected {json.dumps(check['output'])}")


def run_check(check, endpoint, sfn, lambda_client):
    if "http" in check:
        method, path = check["http"].split(" ", 1)
        body = json.dumps(check["body"]).encode() if "body" in check else None
        request = urllib.request.Request(endpoint + path, data=body, method=method, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            started = json.loads(answer.read())
        if not started.get("executionArn", "").startswith("arn:aws:states:") or "startDate" not in started:
            raise AssertionError(f"{check['http']} answered {started}")
        if "status" in check:
            compare(check["http"], wait_for(sfn, started["executionArn"]), check)
        return check["http"]
    if "start_execution" in check:
        started = sfn.start_execution(stateMachineArn=machine_arn(sfn, check["start_execution"]), input=json.dumps(check.get("input", {})))
        compare(check["start_execution"], wait_for(sfn, started["executionArn"]), check)
        return f"execution of {check['start_execution']}"
    if "start_sync_execution" in check:
        ended = sfn.start_sync_execution(stateMachineArn=machine_arn(sfn, check["start_sync_execution"]), input=json.dumps(check.get("input", {})))
        compare(check["start_sync_execution"], ended, check)
        return f"synchronous execution of {check['start_sync_execution']}"
    if "invoke" in check:
        answer = lambda_client.invoke(FunctionName=check["invoke"], Payload=json.dumps(check.get("payload", {})).encode())
        result = json.loads(answer["Payload"].read())
        if answer.get("FunctionError") or result != check["result"]:
            raise AssertionError(f"{check['invoke']} answered {result} ({answer.get('FunctionError')}), expected {check['result']}")
        return f"invocation of {check['invoke']}"
    raise AssertionError(f"unknown check {check}")


def stack_outputs(output):
    """The `Stack Outputs:` section of what `up` printed, as a dict."""
    lines = output.splitlines()
    if "Stack Outputs:" not in lines:
        return {}
    outputs = {}
    for line in lines[lines.index("Stack Outputs:") + 1:]:
        if not line.startswith("  "):
            break
        name, _, value = line.strip().partition(": ")
        outputs[name] = value
    return outputs


def run_project(folder, switchyard):
    expected = json.loads((folder / "expected.json").read_text())
    endpoint = f"http://127.0.0.1:{free_port()}"
    data_dir = tempfile.mkdtemp(prefix=f"switchyard-real-{folder.name}-")
    extra = [f"--param={param}" for param in expected.get("params", [])] + expected.get("server_flags", [])
    server["pid"] = None
    try:
        output, elapsed = up(switchyard, folder, endpoint, data_dir, *extra)
        print(f"   up {folder.name}: {elapsed * 1000:.0f} ms", flush=True)
        region = next((line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("region: ")), "us-east-1")
        # StartSyncExecution would go to `sync-HOST`: the one endpoint serves it too.
        config = Config(region_name=region, retries={"max_attempts": 1}, inject_host_prefix=False)
        sfn, lambda_client = (boto3.client(service, endpoint_url=endpoint, config=config) for service in ("stepfunctions", "lambda"))
        if "outputs" in expected:
            try:
                printed = stack_outputs(output)
                if printed != expected["outputs"]:
                    raise AssertionError(f"up printed {printed}, expected {expected['outputs']}")
                report(f"{folder.name}: stack outputs")
            except Exception as error:  # noqa: BLE001
                report(f"{folder.name}: stack outputs", f"{type(error).__name__}: {error}")
        for check in expected["checks"]:
            try:
                report(f"{folder.name}: {run_check(check, endpoint, sfn, lambda_client)}")
            except Exception as error:  # noqa: BLE001 - every failure is reported by name
                report(f"{folder.name}: {json.dumps(check)[:80]}", f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001
        report(folder.name, f"{type(error).__name__}: {error}")
    finally:
        if server["pid"]:
            os.kill(server["pid"], signal.SIGTERM)
            time.sleep(0.3)
        log = pathlib.Path(data_dir) / "server.log"
        if results["failed"] and log.exists():
            print("--- server log (tail)")
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "switchyard")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "switchyard")
    names = args.only or sorted(entry.name for entry in PROJECTS.iterdir() if (entry / "serverless.yml").exists())
    for name in names:
        run_project(PROJECTS / name, args.switchyard)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
