"""Deploys every project of examples/ with `switchyard up` and checks its expected.json.

Usage: examples.py --switchyard PATH [--only NAME ...]

One server is started by the first `up --detach` (a fresh data dir, a free port); every example is
deployed into it, triggered as its expected.json says, and its execution's status and output (or
its S3 objects) compared. Then a second `up` must leave the deployment in place with its history,
and `remove` must take it away. Prints PASS/FAIL lines and `N passed, M failed`.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXECUTION_TIMEOUT_S = 90
# The deployment promise: endpoints answer within a second of `up`, image builds aside.
READY_LIMIT_MS = 1000

results = {"passed": 0, "failed": 0}
# The server the first `up --detach` started, by the pid it printed.
server = {"pid": None}


def report(name, error=None):
    if error is None:
        results["passed"] += 1
        print(f"PASS {name}", flush=True)
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {error}", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def up(switchyard, folder, endpoint, data_dir, *extra):
    started = time.monotonic()
    completed = subprocess.run(
        [switchyard, "up", str(folder), "--stage", "dev", "--endpoint", endpoint, "--data-dir", data_dir, "--detach", *extra],
        capture_output=True, text=True, timeout=180,
    )
    elapsed = time.monotonic() - started
    background = re.search(r"server running in the background: pid (\d+)", completed.stdout)
    if background:
        server["pid"] = int(background.group(1))
    if completed.returncode != 0:
        raise RuntimeError(f"switchyard up failed ({completed.returncode}): {completed.stderr.strip()[-800:]}")
    return completed.stdout, elapsed


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def wait_for(sfn, execution_arn):
    deadline = time.monotonic() + EXECUTION_TIMEOUT_S
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise TimeoutError(f"{execution_arn} still RUNNING after {EXECUTION_TIMEOUT_S} s")


def check_execution(sfn, expected, described):
    if described["status"] != expected["status"]:
        raise AssertionError(f"status {described['status']} ({described.get('error')}: {str(described.get('cause'))[:400]}), expected {expected['status']}")
    if "output" in expected and json.loads(described["output"]) != expected["output"]:
        raise AssertionError(f"output {described['output']}, expected {json.dumps(expected['output'])}")


def run_example(name, endpoint, clients):
    folder = EXAMPLES / name
    expected = json.loads((folder / "expected.json").read_text())
    sfn, lambda_client, s3 = clients
    if name == "nightly-report":
        for csv in sorted((folder / "data" / "incoming").glob("*.csv")):
            s3.upload_file(str(csv), "reports", f"incoming/{csv.name}")
        machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == expected["state_machine"])
        started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({"bucket": "reports", "prefix": "incoming/"}))
        described = wait_for(sfn, started["executionArn"])
        check_execution(sfn, expected, described)
        for key, content in expected["s3"].items():
            bucket, _, object_key = key.partition("/")
            body = json.loads(s3.get_object(Bucket=bucket, Key=object_key)["Body"].read())
            if body != content:
                raise AssertionError(f"s3://{key} holds {body}, expected {content}")
        return None
    path = expected["steps"][0].split()[1].split("8083", 1)[1]
    started = http_get(endpoint + path)
    answered = time.monotonic()
    if not started.get("executionArn", "").startswith("arn:aws:states:") or "startDate" not in started:
        raise AssertionError(f"the route answered {started}")
    if name == "activity-checker":
        # The checker runs on its schedule (every 5 minutes); invoking it once is the test's shortcut.
        time.sleep(0.5)
        lambda_client.invoke(FunctionName="stepf-dev-checker", Payload=b"{}")
    described = wait_for(sfn, started["executionArn"])
    check_execution(sfn, expected, described)
    return answered


def image_build_ms(output):
    """What `up` spent building images (its `built image X in N ms` lines)."""
    return sum(int(found) for found in re.findall(r"^built image \S+ in (\d+) ms$", output, re.MULTILINE))


def server_start_ms(data_dir):
    """How long the server `up --detach` started took to assemble (its `ready_ms` log field)."""
    log = pathlib.Path(data_dir) / "server.log"
    found = re.search(r"ready_ms=([\d.]+)", log.read_text(errors="replace")) if log.exists() else None
    return float(found.group(1)) if found else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    data_dir = tempfile.mkdtemp(prefix="switchyard-examples-")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "switchyard")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "switchyard")
    config = Config(region_name="us-east-1", retries={"max_attempts": 1})
    clients = tuple(boto3.client(service, endpoint_url=endpoint, config=config) for service in ("stepfunctions", "lambda", "s3"))
    names = args.only or sorted(entry.name for entry in EXAMPLES.iterdir() if (entry / "serverless.yml").exists())
    try:
        for name in names:
            try:
                launched = time.monotonic()
                output, elapsed = up(args.switchyard, EXAMPLES / name, endpoint, data_dir)
                answered = run_example(name, endpoint, clients)
                # Ready: from launching `up` to the example's endpoint answering (`up` returning
                # when it has none). Image builds and, for the first example, the start of the
                # server `up` launched (its own `ready_ms`) are counted apart.
                builds_ms = image_build_ms(output)
                server_ms = server_start_ms(data_dir) if "server running in the background" in output else 0
                ready_ms = ((answered or launched + elapsed) - launched) * 1000 - builds_ms - server_ms
                print(f"   up {name}: {elapsed * 1000:.0f} ms; ready in {ready_ms:.0f} ms plus {builds_ms} ms of image builds and {server_ms:.0f} ms of server start", flush=True)
                report(name)
                report(f"{name} ready in < {READY_LIMIT_MS} ms plus image builds", None if ready_ms < READY_LIMIT_MS else f"ready in {ready_ms:.0f} ms")
            except Exception as error:  # noqa: BLE001 - every failure is reported by name
                report(name, f"{type(error).__name__}: {error}")
            finally:
                # Examples share routes (/dev/startFunction): each goes before the next comes.
                if name != "activity-checker":
                    subprocess.run([args.switchyard, "remove", str(EXAMPLES / name), "--stage", "dev", "--endpoint", endpoint], capture_output=True, timeout=60)
        idempotency(args.switchyard, endpoint, data_dir, clients[0])
    finally:
        stop_server(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


def idempotency(switchyard, endpoint, data_dir, sfn):
    """A second `up` of the first example changes nothing and keeps its executions; `remove` removes it."""
    name = "activity-checker"
    try:
        # The server serves the region of the project that started it (us-west-2 for this one).
        machine_arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "myStateMachine")
        if ":us-west-2:" not in machine_arn:
            raise AssertionError(f"{machine_arn} is not in provider.region us-west-2")
        before = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        output, elapsed = up(switchyard, EXAMPLES / name, endpoint, data_dir)
        if "(created)" in output or "(updated)" in output:
            raise AssertionError(f"a second up changed something:\n{output}")
        after = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        if len(after) != len(before):
            raise AssertionError(f"executions before {len(before)}, after {len(after)}")
        started = time.monotonic()
        http_get(f"{endpoint}/dev/gofunction")
        print(f"   second up: {elapsed * 1000:.0f} ms; endpoint answered {1000 * (time.monotonic() - started):.0f} ms later", flush=True)
        report("a second up leaves the deployment and its history in place")
        removed = subprocess.run([switchyard, "remove", str(EXAMPLES / name), "--stage", "dev", "--endpoint", endpoint], capture_output=True, text=True, timeout=60)
        names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
        if removed.returncode != 0 or "myStateMachine" in names:
            raise AssertionError(f"remove: {removed.stdout}{removed.stderr}; state machines left: {names}")
        report("remove takes the deployment away")
    except Exception as error:  # noqa: BLE001
        report("idempotent up and remove", f"{type(error).__name__}: {error}")


def stop_server(data_dir):
    log = pathlib.Path(data_dir) / "server.log"
    if server["pid"]:
        os.kill(server["pid"], signal.SIGTERM)
        time.sleep(0.5)
    if results["failed"] and log.exists():
        print("--- server log (tail)")
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]))


if __name__ == "__main__":
    main()
