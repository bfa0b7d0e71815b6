#!/usr/bin/env python3
"""End-to-end time of state machines made of Lambda Task states, against a running `switchyard serve`:
a chain of 10 warm no-op functions, and 40 sequential light tasks (fib(10) in Python, the shape of
Windmill's benchmark), each as a STANDARD execution started and awaited.

    python3 tests/server/bench_chains.py --endpoint http://127.0.0.1:8083 [--runs 20]

Prints the median and best wall-clock from StartExecution to the execution's end (polled every
millisecond by DescribeExecution), after one warm-up run that starts the functions' environments,
and the server's own start-to-stop time (the execution's stopDate - startDate, without the
client's calls and polling).
"""

import argparse
import io
import json
import statistics
import time
import uuid
import zipfile

import boto3
from botocore.config import Config

NO_OP = "def handler(event, context):\n    return event\n"
FIB = (
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n"
    "def handler(event, context):\n    return {'n': event.get('n', 10), 'fib': fib(event.get('n', 10))}\n"
)
ROLE = "arn:aws:iam::000000000000:role/bench"


def code(source):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def chain(function_arn, length):
    states = {}
    for index in range(length):
        state = {"Type": "Task", "Resource": function_arn}
        if index + 1 < length:
            state["Next"] = f"T{index + 1}"
        else:
            state["End"] = True
        states[f"T{index}"] = state
    return {"StartAt": "T0", "States": states}


def synchronous_runs(sfn, machine_arn, runs):
    """Wall-clock times of StartSyncExecution on an EXPRESS machine: one call, start to result."""
    times = []
    for run in range(runs + 1):
        started = time.perf_counter()
        answer = sfn.start_sync_execution(stateMachineArn=machine_arn, input=json.dumps({"n": 10}))
        elapsed = time.perf_counter() - started
        if answer["status"] != "SUCCEEDED":
            raise SystemExit(f"{machine_arn} ended {answer['status']}")
        if run > 0:
            times.append(elapsed)
    return times


def timed_runs(sfn, machine_arn, runs):
    """Wall-clock times (StartExecution, then DescribeExecution until it ends) and the server's own
    times, in seconds."""
    times, server_times = [], []
    for run in range(runs + 1):
        started = time.perf_counter()
        execution = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"n": 10}))["executionArn"]
        while (description := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            time.sleep(0.001)
        elapsed = time.perf_counter() - started
        if description["status"] != "SUCCEEDED":
            raise SystemExit(f"{execution} ended {description['status']}")
        if run > 0:
            times.append(elapsed)
            server_times.append((description["stopDate"] - description["startDate"]).total_seconds())
    return times, server_times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8083")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    session = dict(endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    # StartSyncExecution's `sync-` host prefix would not resolve for a local endpoint.
    lam, sfn = boto3.client("lambda", **session), boto3.client("stepfunctions", config=Config(inject_host_prefix=False), **session)
    suffix = uuid.uuid4().hex[:8]
    for label, source, length in (("10 warm no-op Lambda tasks", NO_OP, 10), ("40 sequential fib(10) tasks", FIB, 40)):
        name = f"bench-{length}-{suffix}"
        arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": code(source)})["FunctionArn"]
        machine = sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(chain(arn, length)))["stateMachineArn"]
        times, server_times = timed_runs(sfn, machine, args.runs)
        print(
            f"{label}: median {statistics.median(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms ({args.runs} runs); "
            f"on the server (startDate to stopDate): median {statistics.median(server_times) * 1000:.1f} ms, best {min(server_times) * 1000:.1f} ms"
        )
        express = sfn.create_state_machine(name=f"{name}-express", roleArn=ROLE, type="EXPRESS", definition=json.dumps(chain(arn, length)))["stateMachineArn"]
        times = synchronous_runs(sfn, express, args.runs)
        print(f"{label}, EXPRESS through StartSyncExecution: median {statistics.median(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms ({args.runs} runs)")
        for arn_to_delete in (machine, express):
            sfn.delete_state_machine(stateMachineArn=arn_to_delete)
        lam.delete_function(FunctionName=name)


if __name__ == "__main__":
    main()
