#!/usr/bin/env python3
"""A Switchyard started with an https `--s3-endpoint` whose certificate it cannot verify (no
SSL_CERT_FILE naming the CA that signed it): an aws-sdk:s3 task and a distributed Map's
ItemReader fail, and their causes name the endpoint and the certificate.

    python3 tests/s3/untrusted_endpoint.py --endpoint http://127.0.0.1:8083 --s3-endpoint https://localhost:8443
"""
import argparse
import json
import sys
import time
import uuid

import boto3

from checks import check, expect, summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True, help="Switchyard, started with --s3-endpoint")
    parser.add_argument("--s3-endpoint", required=True)
    args = parser.parse_args()
    sfn = boto3.client("stepfunctions", endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")

    def run(state):
        machine = sfn.create_state_machine(name=f"untrusted-{uuid.uuid4().hex[:8]}", definition=json.dumps({"StartAt": "S", "States": {"S": state}}), roleArn="arn:aws:iam::000000000000:role/r")
        execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
        for _ in range(300):
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError("the execution still runs after 30 s")

    def names_endpoint_and_certificate(described, error):
        expect((described["status"], described.get("error")), ("FAILED", error), "status and error")
        cause = described.get("cause") or ""
        if args.s3_endpoint not in cause or "certificate" not in cause:
            raise AssertionError(f"the cause names {args.s3_endpoint} and its certificate: {cause!r}")

    def task():
        state = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "Parameters": {"Bucket": "any", "Key": "k", "Body": "b"}, "End": True}
        names_endpoint_and_certificate(run(state), "S3.S3Exception")

    def item_reader():
        state = {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"}, "Parameters": {"Bucket": "any", "Key": "manifest.json"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            "End": True,
        }
        names_endpoint_and_certificate(run(state), "States.ItemReaderFailed")

    check("an aws-sdk:s3 task fails naming the endpoint and its certificate", task)
    check("an ItemReader fails naming the endpoint and its certificate", item_reader)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
