#!/usr/bin/env python3
"""The aws-sdk:s3 task integration through a state machine on a running Switchyard: putObject,
getObject, copyObject, listObjectsV2, and S3.NoSuchKeyException caught by a Catch; and a
distributed Map that reads its items from the bucket and writes its results there.

    python3 tests/s3/tasks.py --endpoint http://127.0.0.1:8083
        [--s3-endpoint URL --access-key K --secret-key S]

With --s3-endpoint (Switchyard started with the same), the bucket is created and read there.
"""
import argparse
import hashlib
import json
import sys
import time
import uuid

import boto3

from checks import check, expect, summary


DEFINITION = {
    "StartAt": "Put",
    "States": {
        "Put": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket.$": "$.bucket", "Key": "in/params.json", "Body.$": "$.params"},
            "ResultPath": "$.put",
            "Next": "Copy",
        },
        "Copy": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:copyObject",
            "Parameters": {"Bucket.$": "$.bucket", "Key": "out/params.json", "CopySource.$": "States.Format('{}/in/params.json', $.bucket)"},
            "ResultPath": "$.copy",
            "Next": "Get",
        },
        "Get": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket.$": "$.bucket", "Key": "out/params.json"},
            "ResultSelector": {"Body.$": "States.StringToJson($.Body)", "ETag.$": "$.ETag", "ContentLength.$": "$.ContentLength"},
            "ResultPath": "$.get",
            "Next": "List",
        },
        "List": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
            "Parameters": {"Bucket.$": "$.bucket", "Delimiter": "/"},
            "ResultSelector": {"Prefixes.$": "$.CommonPrefixes[*].Prefix", "KeyCount.$": "$.KeyCount"},
            "ResultPath": "$.list",
            "Next": "Missing",
        },
        "Missing": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket.$": "$.bucket", "Key": "no/such/key"},
            "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing", "Next": "Done"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def run(sfn, definition, execution_input):
    machine = sfn.create_state_machine(name=f"s3-tasks-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn="arn:aws:iam::000000000000:role/r")
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(execution_input))
    for _ in range(600):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    return described


MAP_DEFINITION = {
    "StartAt": "Map",
    "States": {
        "Map": {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "items.jsonl"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Double", "States": {
                "Double": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.n, $.n)"}, "End": True}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "results"}, "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"}},
            "End": True,
        }
    },
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--s3-endpoint", help="the external S3 Switchyard was started with (default: Switchyard's own)")
    parser.add_argument("--access-key", default="tasks")
    parser.add_argument("--secret-key", default="tasks")
    args = parser.parse_args()
    common = dict(region_name="us-east-1", aws_access_key_id=args.access_key, aws_secret_access_key=args.secret_key)
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint or args.endpoint, **common)
    sfn = boto3.client("stepfunctions", endpoint_url=args.endpoint, **common)
    bucket = f"tasks-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    params = {"learning_rate": 0.1, "depth": 3}
    described = run(sfn, DEFINITION, {"bucket": bucket, "params": params})
    output = json.loads(described.get("output", "null") or "null")

    def succeeded():
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")

    def put_and_get():
        text = json.dumps(params, separators=(",", ":"))
        expect(output["put"]["ETag"], f'"{hashlib.md5(text.encode()).hexdigest()}"', "putObject ETag")
        expect(output["get"]["Body"], params, "getObject Body of the copy")
        expect(output["get"]["ContentLength"], len(text), "getObject ContentLength")
        expect(s3.get_object(Bucket=bucket, Key="in/params.json")["Body"].read(), text.encode(), "the object as boto3 reads it")

    def copy_and_list():
        expect(output["copy"]["CopyObjectResult"]["ETag"], output["put"]["ETag"], "copyObject ETag")
        expect(output["list"], {"Prefixes": ["in/", "out/"], "KeyCount": 2}, "listObjectsV2 with a delimiter")

    def no_such_key():
        expect(output["missing"]["Error"], "S3.NoSuchKeyException", "the error of a missing key")

    check("the state machine succeeds", succeeded)
    check("putObject then getObject", put_and_get)
    check("copyObject and listObjectsV2", copy_and_list)
    check("S3.NoSuchKeyException is caught", no_such_key)

    def distributed_map():
        items = 2500
        s3.put_object(Bucket=bucket, Key="items.jsonl", Body="".join(json.dumps({"n": n}) + "\n" for n in range(items)).encode())
        mapped = run(sfn, MAP_DEFINITION, {"bucket": bucket})
        expect(mapped["status"], "SUCCEEDED", f"status ({mapped.get('error')}: {mapped.get('cause')})")
        manifest_key = json.loads(mapped["output"])["ResultWriterDetails"]["Key"]
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        [file] = manifest["ResultFiles"]["SUCCEEDED"]
        body = s3.get_object(Bucket=bucket, Key=file["Key"])["Body"].read()
        expect(len(body), file["Size"], "the result file's size in the manifest")
        doubles = sorted(json.loads(line)["double"] for line in body.decode().splitlines())
        expect(doubles, [n + n for n in range(items)], "every item's result, one JSON line each")

    check("a distributed Map reads its items from the bucket and writes its results there", distributed_map)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
