#!/usr/bin/env python3
"""Lambda functions through real clients against a running `switchyard serve`: the AWS CLI and
boto3 create functions from zip uploads and invoke them; state machines run them as Task states
(`arn:aws:lambda:...:function:NAME`, `lambda:invoke`, `lambda:invoke.waitForTaskToken`) while
the handlers call back into Switchyard with boto3 (SendTaskSuccess, InvokeAsync), unmodified;
an activity tagged `switchyard:function` has its tasks pushed to a function; `switchyard logs`
prints what the invocations logged.

    python3 tests/server/lambda_clients.py --endpoint http://127.0.0.1:8083 \
        --switchyard target/debug/switchyard --data-dir DATA_DIR

Prints `PASS name` / `FAIL name: reason` and ends with `N passed, M failed`.
"""

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import zipfile

import boto3

ROLE = "arn:aws:iam::000000000000:role/lambda"
ACCOUNT = "000000000000"
RUN = uuid.uuid4().hex[:6]

# The seed project's pattern: handlers that report to Step Functions and invoke other functions
# with boto3, configured by nothing but the environment Switchyard gives them.
HANDLERS = '''
import json
import boto3


def echo(event, context):
    print("echo got " + json.dumps(event, sort_keys=True))
    return {"echo": event}


def fail(event, context):
    raise KeyError("missing " + str(event.get("key")))


def report(event, context):
    boto3.client("stepfunctions").send_task_success(taskToken=event["token"], output=json.dumps({"reported": event.get("value")}))
    return "reported"


def relay(event, context):
    boto3.client("lambda").invoke_async(FunctionName=event["next"], InvokeArgs=json.dumps({"token": event["token"], "value": "relayed"}))
    return "relayed"


def activity_worker(event, context):
    payload = event["input"]
    boto3.client("stepfunctions").send_task_success(taskToken=event["taskToken"], output=json.dumps({"doubled": payload["n"] * 2}))
'''


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Context:
    def __init__(self, endpoint, switchyard, data_dir):
        self.endpoint, self.switchyard, self.data_dir = endpoint, switchyard, data_dir
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        self.lam = session.client("lambda", endpoint_url=endpoint)
        self.sfn = session.client("stepfunctions", endpoint_url=endpoint)
        self.functions = []
        self.machines = []
        self.activities = []

    def aws(self, *args):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
        result = subprocess.run(["aws", "--endpoint-url", self.endpoint, "--output", "json", *args], capture_output=True, text=True, env=env, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)}: {result.stderr.strip()}")
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def function(self, handler, **extra):
        name = f"lc-{handler.split('.')[-1].replace('_', '-')}-{RUN}-{uuid.uuid4().hex[:4]}"
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler=handler, Code={"ZipFile": zipped({"handlers.py": HANDLERS})}, Timeout=20, **extra)
        self.functions.append(name)
        return name

    def run(self, definition, execution_input, timeout=30):
        name = f"lc-{RUN}-{uuid.uuid4().hex[:6]}"
        arn = self.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
        self.machines.append(arn)
        execution = self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))["executionArn"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError(f"execution still running after {timeout} s")

    def clean(self):
        for name in self.functions:
            try:
                self.lam.delete_function(FunctionName=name)
            except Exception:
                pass
        for arn in self.machines:
            self.sfn.delete_state_machine(stateMachineArn=arn)
        for arn in self.activities:
            self.sfn.delete_activity(activityArn=arn)


def task(resource, **fields):
    return {"StartAt": "T", "States": {"T": dict({"Type": "Task", "Resource": resource, "End": True}, **fields)}}


def check_cli_creates_and_invokes(ctx):
    name = f"lc-cli-{RUN}"
    with tempfile.TemporaryDirectory() as scratch:
        archive = os.path.join(scratch, "code.zip")
        with open(archive, "wb") as out:
            out.write(zipped({"handlers.py": HANDLERS}))
        created = ctx.aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.12", "--role", ROLE, "--handler", "handlers.echo", "--zip-file", f"fileb://{archive}")
        ctx.functions.append(name)
        assert created["FunctionName"] == name and created["State"] == "Active", created
        answer_file = os.path.join(scratch, "answer.json")
        invoked = ctx.aws("lambda", "invoke", "--function-name", name, "--payload", '{"from": "cli"}', "--log-type", "Tail", answer_file)
        assert invoked["StatusCode"] == 200 and invoked["ExecutedVersion"] == "$LATEST", invoked
        assert "echo got" in base64.b64decode(invoked["LogResult"]).decode(), invoked
        with open(answer_file) as answer:
            assert json.load(answer) == {"echo": {"from": "cli"}}
    listed = ctx.aws("lambda", "list-functions")["Functions"]
    assert any(function["FunctionName"] == name for function in listed), listed
    ctx.aws("lambda", "delete-function", "--function-name", name)
    ctx.functions.remove(name)


def check_boto3_creates_and_invokes(ctx):
    name = ctx.function("handlers.echo", Environment={"Variables": {"STAGE": "test"}})
    answer = ctx.lam.invoke(FunctionName=name, Payload=json.dumps({"from": "boto3"}))
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer, answer
    assert json.loads(answer["Payload"].read()) == {"echo": {"from": "boto3"}}
    failing = ctx.function("handlers.fail")
    failed = ctx.lam.invoke(FunctionName=failing, Payload=json.dumps({"key": "k"}))
    assert failed["FunctionError"] == "Unhandled", failed
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"


def check_task_by_function_arn(ctx):
    name = ctx.function("handlers.echo")
    result = ctx.run(task(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"), {"n": 1})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"echo": {"n": 1}}, result["output"]


def check_lambda_invoke_integration(ctx):
    name = ctx.function("handlers.echo")
    definition = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": name, "Payload.$": "$"}, OutputPath="$.Payload")
    result = ctx.run(definition, {"n": 2})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"echo": {"n": 2}}, result["output"]


def check_handler_errors_fail_the_task(ctx):
    name = ctx.function("handlers.fail")
    result = ctx.run(task(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"), {"key": "k"})
    assert result["status"] == "FAILED" and result["error"] == "KeyError", result
    assert json.loads(result["cause"])["errorMessage"] == "'missing k'", result["cause"]


def check_throttled_task(ctx):
    name = ctx.function("handlers.echo")
    ctx.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    result = ctx.run(task(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"), {})
    assert result["status"] == "FAILED" and result["error"] == "Lambda.TooManyRequestsException", result


def check_wait_for_task_token_with_boto3_inside(ctx):
    name = ctx.function("handlers.report")
    definition = task("arn:aws:states:::lambda:invoke.waitForTaskToken", Parameters={"FunctionName": name, "Payload": {"token.$": "$$.Task.Token", "value.$": "$.value"}})
    result = ctx.run(definition, {"value": 42})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"reported": 42}, result["output"]


def check_invoke_async_inside_a_function(ctx):
    relay, report = ctx.function("handlers.relay"), ctx.function("handlers.report")
    definition = task("arn:aws:states:::lambda:invoke.waitForTaskToken", Parameters={"FunctionName": relay, "Payload": {"token.$": "$$.Task.Token", "next": report}})
    result = ctx.run(definition, {})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"reported": "relayed"}, result["output"]


def check_pushed_activity(ctx):
    worker = ctx.function("handlers.activity_worker")
    activity = ctx.sfn.create_activity(name=f"lc-push-{RUN}", tags=[{"key": "switchyard:function", "value": worker}])["activityArn"]
    ctx.activities.append(activity)
    result = ctx.run(task(activity, TimeoutSeconds=30), {"n": 21})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"doubled": 42}, result["output"]
    history = ctx.sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    started = [event for event in history if event["type"] == "ActivityStarted"]
    assert started and started[0]["activityStartedEventDetails"]["workerName"] == f"switchyard:function:{worker}", started


def check_switchyard_logs(ctx):
    name = ctx.function("handlers.echo")
    marker = uuid.uuid4().hex
    ctx.lam.invoke(FunctionName=name, Payload=json.dumps({"marker": marker}))
    deadline = time.time() + 5
    printed = ""
    while time.time() < deadline and marker not in printed:
        printed = subprocess.run([ctx.switchyard, "logs", name, "--data-dir", ctx.data_dir], capture_output=True, text=True, timeout=10).stdout
        time.sleep(0.1)
    assert marker in printed, printed
    follower = subprocess.Popen([ctx.switchyard, "logs", name, "--follow", "--data-dir", ctx.data_dir], stdout=subprocess.PIPE, text=True)
    try:
        later = uuid.uuid4().hex
        ctx.lam.invoke(FunctionName=name, Payload=json.dumps({"marker": later}))
        deadline = time.time() + 5
        seen = ""
        while time.time() < deadline and later not in seen:
            seen += follower.stdout.readline()
        assert later in seen, seen
    finally:
        follower.kill()
        follower.wait()


CHECKS = [
    check_cli_creates_and_invokes,
    check_boto3_creates_and_invokes,
    check_task_by_function_arn,
    check_lambda_invoke_integration,
    check_handler_errors_fail_the_task,
    check_throttled_task,
    check_wait_for_task_token_with_boto3_inside,
    check_invoke_async_inside_a_function,
    check_pushed_activity,
    check_switchyard_logs,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8083")
    parser.add_argument("--switchyard", required=True, help="the switchyard binary (for `switchyard logs`)")
    parser.add_argument("--data-dir", required=True, help="the server's --data-dir")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    ctx = Context(args.endpoint, args.switchyard, args.data_dir)
    passed = failed = 0
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            check(ctx)
        except Exception as error:
            failed += 1
            print(f"FAIL {name}: {' '.join(str(error).split())[:600] or type(error).__name__}", flush=True)
            if args.verbose:
                traceback.print_exc()
        else:
            passed += 1
            print(f"PASS {name}", flush=True)
    ctx.clean()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
