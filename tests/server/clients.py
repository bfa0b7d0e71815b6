#!/usr/bin/env python3
"""The unmodified AWS CLI and boto3 (default configuration) against a running `switchyard serve`.

    python3 tests/server/clients.py --endpoint http://sfn.localhost:8083

StartSyncExecution makes the SDKs prepend `sync-` to the host name, so the endpoint's host must
still resolve with that prefix: `sfn.localhost` does wherever every `*.localhost` name resolves to
the loopback (libnss-myhostname, or `127.0.0.1 sfn.localhost sync-sfn.localhost` in /etc/hosts).
"""

import argparse
import json
import os
import subprocess
import sys
import uuid

import boto3

ROLE = "arn:aws:iam::000000000000:role/clients"
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}}}


def aws(endpoint, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run(["aws", "--endpoint-url", endpoint, "--output", "json", *args], capture_output=True, text=True, env=env, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)}: {result.stderr.strip()}")
    return json.loads(result.stdout) if result.stdout.strip() else {}


def check_cli_standard(endpoint):
    name = "cli-" + uuid.uuid4().hex[:8]
    arn = aws(endpoint, "stepfunctions", "create-state-machine", "--name", name, "--definition", json.dumps(PASS), "--role-arn", ROLE)["stateMachineArn"]
    try:
        execution = aws(endpoint, "stepfunctions", "start-execution", "--state-machine-arn", arn, "--input", '{"a": 1}')["executionArn"]
        described = aws(endpoint, "stepfunctions", "describe-execution", "--execution-arn", execution)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"a": 1, "r": {"ok": True}}, described["output"]
        history = aws(endpoint, "stepfunctions", "get-execution-history", "--execution-arn", execution)["events"]
        assert [e["type"] for e in history] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], history
        listed = aws(endpoint, "stepfunctions", "list-state-machines")["stateMachines"]
        assert any(m["stateMachineArn"] == arn for m in listed)
    finally:
        aws(endpoint, "stepfunctions", "delete-state-machine", "--state-machine-arn", arn)


def check_cli_sync(endpoint):
    name = "cli-sync-" + uuid.uuid4().hex[:8]
    arn = aws(endpoint, "stepfunctions", "create-state-machine", "--name", name, "--definition", json.dumps(PASS), "--role-arn", ROLE, "--type", "EXPRESS")["stateMachineArn"]
    try:
        result = aws(endpoint, "stepfunctions", "start-sync-execution", "--state-machine-arn", arn, "--input", '{"b": 2}')
        assert result["status"] == "SUCCEEDED", result
        assert json.loads(result["output"]) == {"b": 2, "r": {"ok": True}}, result
    finally:
        aws(endpoint, "stepfunctions", "delete-state-machine", "--state-machine-arn", arn)


def check_boto3_sync_default_config(endpoint):
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    arn = sfn.create_state_machine(name="boto-sync-" + uuid.uuid4().hex[:8], definition=json.dumps(PASS), roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    try:
        result = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
        assert result["status"] == "SUCCEEDED", result
        assert result["billingDetails"]["billedDurationInMilliseconds"] >= 0
    finally:
        sfn.delete_state_machine(stateMachineArn=arn)


def check_errors_in_aws_shape(endpoint):
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    try:
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:000000000000:stateMachine:does-not-exist-" + uuid.uuid4().hex[:6])
    except sfn.exceptions.StateMachineDoesNotExist as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:
        raise AssertionError("no StateMachineDoesNotExist")


CHECKS = [check_cli_standard, check_cli_sync, check_boto3_sync_default_config, check_errors_in_aws_shape]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    failed = 0
    for check in CHECKS:
        try:
            check(args.endpoint)
            print(f"PASS {check.__name__}")
        except Exception as error:  # every failure is reported, the run goes on
            failed += 1
            print(f"FAIL {check.__name__}: {type(error).__name__}: {error}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
