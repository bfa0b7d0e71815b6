#!/usr/bin/env python3
"""Tasks on a Switchyard started with `--s3-endpoint` write to that external S3: a Python function,
an ECS task and a Batch job (process runners) each put an object with plain boto3, and the object
is then read from the external S3 directly. S3 requests sent to Switchyard itself are refused with
a message naming the external S3.

    python3 tests/s3/external_tasks.py --endpoint http://127.0.0.1:8083 \\
        --s3-endpoint http://127.0.0.1:8014 --access-key K --secret-key S
"""
import argparse
import io
import json
import sys
import time
import uuid
import zipfile

import boto3
import botocore.config
import botocore.exceptions

from checks import check, expect, summary


def writer(key):
    """A Python program that writes KEY with boto3 configured by the environment alone."""
    return f"import boto3, os; boto3.client('s3').put_object(Bucket=os.environ['BUCKET'], Key='{key}', Body=b'written by {key}')"


HANDLER = """
import boto3

def handler(event, context):
    boto3.client("s3").put_object(Bucket=event["bucket"], Key="function.txt", Body=b"written by function.txt")
    return {"written": "function.txt"}
"""


def wait_for(describe, done, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = describe()
        if done(described):
            return described
        time.sleep(0.2)
    raise AssertionError(f"{what} still not finished after {timeout}s: {described}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True, help="Switchyard, started with --s3-endpoint")
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    args = parser.parse_args()
    retries = botocore.config.Config(retries={"max_attempts": 1})
    credentials = dict(region_name="us-east-1", aws_access_key_id=args.access_key, aws_secret_access_key=args.secret_key, config=retries)
    external = boto3.client("s3", endpoint_url=args.s3_endpoint, **credentials)
    switchyard = lambda service: boto3.client(service, endpoint_url=args.endpoint, **credentials)
    bucket = f"external-{uuid.uuid4().hex[:10]}"
    external.create_bucket(Bucket=bucket)

    def landed(key):
        expect(external.get_object(Bucket=bucket, Key=key)["Body"].read(), f"written by {key}".encode(), f"{key} read from the external S3")

    def function():
        lam = switchyard("lambda")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("writer.py", HANDLER)
        name = f"writer-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r", Handler="writer.handler", Code={"ZipFile": buffer.getvalue()}, Timeout=30)
        invoked = lam.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket}))
        payload = json.loads(invoked["Payload"].read())
        expect((invoked.get("FunctionError"), payload), (None, {"written": "function.txt"}), "the function's answer")
        landed("function.txt")

    def container():
        ecs = switchyard("ecs")
        family = f"writer-{uuid.uuid4().hex[:8]}"
        container = {"name": "app", "image": "python", "command": ["python3", "-c", writer("container.txt")], "essential": True, "environment": [{"name": "BUCKET", "value": bucket}]}
        ecs.register_task_definition(family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512", containerDefinitions=[container])
        network = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}}
        task = ecs.run_task(taskDefinition=family, launchType="FARGATE", count=1, networkConfiguration=network)["tasks"][0]
        stopped = wait_for(lambda: ecs.describe_tasks(tasks=[task["taskArn"]])["tasks"][0], lambda task: task["lastStatus"] == "STOPPED", "the task")
        expect(stopped["containers"][0].get("exitCode"), 0, f"the container's exit code ({stopped.get('stoppedReason')})")
        landed("container.txt")

    def batch_job():
        batch = switchyard("batch")
        name = f"writer-{uuid.uuid4().hex[:8]}"
        resources = {"type": "EC2", "minvCpus": 0, "maxvCpus": 2, "instanceTypes": ["c5.large"], "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole"}
        batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED", state="ENABLED", tags={"switchyard:backend": "process"}, computeResources=resources)
        batch.create_job_queue(jobQueueName=name, priority=1, state="ENABLED", computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
        properties = {"image": "python", "vcpus": 1, "memory": 128, "command": ["python3", "-c", writer("batch.txt")], "environment": [{"name": "BUCKET", "value": bucket}]}
        batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=properties)
        job = batch.submit_job(jobName=name, jobQueue=name, jobDefinition=name)
        finished = wait_for(lambda: batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0], lambda job: job["status"] in ("SUCCEEDED", "FAILED"), "the job")
        expect(finished["status"], "SUCCEEDED", f"the job ({finished.get('statusReason')})")
        landed("batch.txt")

    def refused():
        try:
            switchyard("s3").list_objects_v2(Bucket=bucket)
        except botocore.exceptions.ClientError as error:
            expect(error.response["Error"]["Code"], "InvalidRequest", "S3 on Switchyard's port")
            assert args.s3_endpoint in error.response["Error"]["Message"], error.response["Error"]["Message"]
            return
        raise AssertionError("Switchyard's port served S3 beside the external one")

    check("a Python function writes to the external S3 with boto3", function)
    check("an ECS task (process runner) writes to the external S3 with boto3", container)
    check("a Batch job (process backend) writes to the external S3 with boto3", batch_job)
    check("S3 requests to Switchyard are refused, naming the external S3", refused)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
