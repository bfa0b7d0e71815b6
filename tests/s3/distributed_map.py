#!/usr/bin/env python3
"""Distributed Map over S3 on a running Switchyard, through boto3: an ItemReader over a
100,000-line JSONL object with an ItemBatcher and a ResultWriter (manifest.json, SUCCEEDED_0.json,
DescribeMapRun's counters), CSV, listObjectsV2 (metadata, or LOAD_AND_FLATTEN: the objects' lines)
and S3 inventory (manifest.json and gzipped CSV files) readers, tolerated failures, and
States.ItemReaderFailed for a missing key. With --switchyard, also a server of its own killed
with SIGKILL in the middle of a Map Run, restarted, and the run completed.

    python3 tests/s3/distributed_map.py --endpoint http://127.0.0.1:8083 [--switchyard target/debug/switchyard]
"""
import argparse
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import boto3

from checks import check, expect, summary


LINES = 100_000


def distributed(reader, processor_states, start_at, **fields):
    """A one-state machine: a distributed Map reading its items with `reader`."""
    state = {
        "Type": "Map",
        "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": start_at, "States": processor_states},
        "End": True,
    }
    state.update(fields)
    return {"StartAt": "Map", "States": {"Map": state}}


PASS_END = {"Pass": {"Type": "Pass", "End": True}}


class Client:
    def __init__(self, endpoint):
        common = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="map", aws_secret_access_key="map")
        self.s3 = boto3.client("s3", **common)
        self.sfn = boto3.client("stepfunctions", **common)
        self.bucket = f"dmap-{uuid.uuid4().hex[:10]}"
        for _ in range(100):
            try:
                self.s3.create_bucket(Bucket=self.bucket)
                break
            except Exception:  # a server just started may not answer yet
                time.sleep(0.1)

    def start(self, definition, execution_input):
        machine = self.sfn.create_state_machine(name=f"dmap-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn="arn:aws:iam::000000000000:role/r")
        return self.sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps(execution_input))["executionArn"]

    def wait(self, execution_arn, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError(f"{execution_arn} still runs after {timeout} s")

    def run(self, definition, execution_input, timeout=90):
        return self.wait(self.start(definition, execution_input), timeout)

    def json_object(self, key):
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def serve(switchyard, port, data_dir):
    log = open(os.path.join(data_dir, "server.log"), "a")
    return subprocess.Popen([switchyard, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir], stderr=log)


def survives_sigkill(switchyard):
    """A Map Run in flight when its server is killed resumes on restart and writes every result."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as data_dir:
        server = serve(switchyard, port, data_dir)
        try:
            client = Client(f"http://127.0.0.1:{port}")
            client.s3.put_object(Bucket=client.bucket, Key="items.jsonl", Body="".join(json.dumps({"n": n}) + "\n" for n in range(2000)).encode())
            definition = distributed(
                {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket": client.bucket, "Key": "items.jsonl"}},
                {"Wait": {"Type": "Wait", "Seconds": 1, "End": True}},
                "Wait",
                ItemBatcher={"MaxItemsPerBatch": 10},
                MaxConcurrency=20,
                ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": client.bucket, "Prefix": "crash"}},
            )
            execution_arn = client.start(definition, {})
            time.sleep(3)
            [run] = client.sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
            before = client.sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
            if not 0 < before["succeeded"] < 2000:
                raise AssertionError(f"the run is not in flight when the server is killed: {before}")
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = serve(switchyard, port, data_dir)
            described = client.wait(execution_arn)
            expect(described["status"], "SUCCEEDED", f"status after the restart ({described.get('error')}: {described.get('cause')})")
            counts = client.sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
            expect((counts["succeeded"], counts["resultsWritten"]), (2000, 2000), "items succeeded and written")
            manifest = client.json_object(json.loads(described["output"])["ResultWriterDetails"]["Key"])
            expect(len(client.json_object(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])), 200, "one result per batch")
        finally:
            server.terminate()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--switchyard", help="a switchyard binary: also run the SIGKILL test on a server of its own")
    args = parser.parse_args()
    client = Client(args.endpoint)
    s3, sfn, bucket = client.s3, client.sfn, client.bucket
    s3.put_object(Bucket=bucket, Key="in/items.jsonl", Body="".join(json.dumps({"n": n}) + "\n" for n in range(LINES)).encode())
    s3.put_object(Bucket=bucket, Key="in/items.csv", Body=b"name|size\nalpha|1\n\"be|ta\"|2\ngamma|3\ndelta|4\n")
    s3.put_object(Bucket=bucket, Key="in/numbers.json", Body=json.dumps(list(range(1, 11))).encode())
    for name in ["a", "b", "c"]:
        s3.put_object(Bucket=bucket, Key=f"listed/{name}.txt", Body=name.encode())

    batched = distributed(
        {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "in/items.jsonl"}},
        {"Count": {"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.Items)", "first.$": "$.Items[0].n", "tag.$": "$.BatchInput.tag"}, "End": True}},
        "Count",
        ItemBatcher={"MaxItemsPerBatch": 1000, "BatchInput": {"tag": "batch"}},
        MaxConcurrency=50,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "results"}},
    )
    described = client.run(batched, {"bucket": bucket})
    output = json.loads(described.get("output") or "null")

    def jsonl_batches_complete():
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")
        expect(sorted(output), ["MapRunArn", "ResultWriterDetails"], "the Map's output")
        map_run_id = output["MapRunArn"].rsplit(":", 1)[1]
        expect(output["ResultWriterDetails"], {"Bucket": bucket, "Key": f"results/{map_run_id}/manifest.json"}, "ResultWriterDetails")

    def manifest_and_results():
        manifest = client.json_object(output["ResultWriterDetails"]["Key"])
        expect((manifest["DestinationBucket"], manifest["MapRunArn"]), (bucket, output["MapRunArn"]), "manifest destination")
        expect((manifest["ResultFiles"]["FAILED"], manifest["ResultFiles"]["PENDING"]), ([], []), "no failed or pending results")
        [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
        head = s3.head_object(Bucket=bucket, Key=succeeded["Key"])
        expect(head["ContentLength"], succeeded["Size"], "the size the manifest gives")
        results = client.json_object(succeeded["Key"])
        expect(len(results), LINES // 1000, "one result per batch")
        outputs = [json.loads(result["Output"]) for result in results]
        expect(sum(out["count"] for out in outputs), LINES, "items over all batches")
        expect(sorted(out["first"] for out in outputs), list(range(0, LINES, 1000)), "each batch's first item")
        expect({out["tag"] for out in outputs}, {"batch"}, "BatchInput")
        expect(results[0]["Status"], "SUCCEEDED", "a result's status")
        expect(json.loads(results[0]["Input"])["BatchInput"], {"tag": "batch"}, "a child's input")
        expect(sorted(results[0]), sorted(["ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount", "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate"]), "a result's fields")

    def map_run_counters():
        run = sfn.describe_map_run(mapRunArn=output["MapRunArn"])
        expect(run["status"], "SUCCEEDED", "Map Run status")
        items, executions = run["itemCounts"], run["executionCounts"]
        expect((items["total"], items["succeeded"], items["resultsWritten"]), (LINES, LINES, LINES), "itemCounts total / succeeded / resultsWritten")
        expect((executions["total"], executions["succeeded"], executions["resultsWritten"]), (100, 100, 100), "executionCounts")

    check("a 100,000-line JSONL object in batches of 1,000 completes with ResultWriter output", jsonl_batches_complete)
    check("manifest.json and SUCCEEDED_0.json hold every batch's result", manifest_and_results)
    check("DescribeMapRun counts items, executions and results written", map_run_counters)

    def csv_reader():
        definition = distributed(
            {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "PIPE", "MaxItems": 3}, "Parameters": {"Bucket.$": "$.bucket", "Key": "in/items.csv"}},
            PASS_END,
            "Pass",
        )
        described = client.run(definition, {"bucket": bucket})
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")
        expect(json.loads(described["output"]), [{"name": "alpha", "size": "1"}, {"name": "be|ta", "size": "2"}, {"name": "gamma", "size": "3"}], "CSV rows as items")

    def csv_given_headers():
        definition = distributed(
            {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"], "CSVDelimiter": "PIPE", "MaxItemsPath": "$.max"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "in/items.csv"}},
            PASS_END,
            "Pass",
        )
        described = client.run(definition, {"bucket": bucket, "max": 2})
        expect(json.loads(described.get("output") or "null"), [{"a": "name", "b": "size"}, {"a": "alpha", "b": "1"}], "rows with given headers, MaxItemsPath")

    def listing_reader():
        definition = distributed(
            {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "listed/"}},
            PASS_END,
            "Pass",
            ItemSelector={"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"},
        )
        described = client.run(definition, {"bucket": bucket})
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")
        expect(json.loads(described["output"]), [{"key": f"listed/{name}.txt", "size": 1} for name in "abc"], "one item per object")

    def inventory_reader():
        # An S3 inventory as S3 writes one: manifest.json naming gzipped CSV files without a
        # header row, their columns in fileSchema, under the destination bucket.
        rows = [(bucket, f"photos/{n:04}.jpg", str(1000 + n), "2024-05-01T10:00:00.000Z") for n in range(2500)]
        for index, part in enumerate([rows[:1200], rows[1200:]]):
            text = "".join(",".join(f'"{field}"' for field in row) + "\n" for row in part)
            s3.put_object(Bucket=bucket, Key=f"inventory/data/part-{index}.csv.gz", Body=gzip.compress(text.encode()))
        manifest = {
            "sourceBucket": bucket, "destinationBucket": f"arn:aws:s3:::{bucket}", "version": "2016-11-30", "creationTimestamp": "1714557600000",
            "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate",
            "files": [{"key": f"inventory/data/part-{index}.csv.gz", "size": 1, "MD5checksum": "0"} for index in range(2)],
        }
        s3.put_object(Bucket=bucket, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
        definition = distributed(
            {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST", "MaxItemsPath": "$.max"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "inventory/manifest.json"}},
            PASS_END,
            "Pass",
            ItemBatcher={"MaxItemsPerBatch": 500},
            ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "inventory-results"}},
        )
        described = client.run(definition, {"bucket": bucket, "max": 2400})
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")
        manifest = client.json_object(json.loads(described["output"])["ResultWriterDetails"]["Key"])
        results = client.json_object(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
        items = [item for result in sorted(results, key=lambda result: json.loads(result["Output"])["Items"][0]["Key"]) for item in json.loads(result["Output"])["Items"]]
        expect(len(items), 2400, "items read across both files, up to MaxItems")
        expect(items[1500], {"Bucket": bucket, "Key": "photos/1500.jpg", "Size": "2500", "LastModifiedDate": "2024-05-01T10:00:00.000Z"}, "an item of the second file")

    def inventory_errors():
        s3.put_object(Bucket=bucket, Key="inventory/orc-manifest.json", Body=json.dumps({"fileFormat": "ORC", "fileSchema": "message s3.inventory {}", "files": []}).encode())
        for key, expected in [("inventory/none.json", "NoSuchKey"), ("inventory/orc-manifest.json", "fileFormat ORC")]:
            reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"}, "Parameters": {"Bucket.$": "$.bucket", "Key": key}}
            described = client.run(distributed(reader, PASS_END, "Pass"), {"bucket": bucket})
            expect((described["status"], described.get("error")), ("FAILED", "States.ItemReaderFailed"), f"{key}: status and error")
            if expected not in (described.get("cause") or ""):
                raise AssertionError(f"{key}: the cause names {expected}: {described.get('cause')!r}")

    def flattened_listing():
        for name, lines in [("a.jsonl", [1, 2, 3]), ("b.jsonl.gz", [4, 5])]:
            body = "".join(json.dumps({"n": n}) + "\n" for n in lines).encode()
            s3.put_object(Bucket=bucket, Key=f"flat/{name}", Body=gzip.compress(body) if name.endswith(".gz") else body)
        definition = distributed(
            {"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"}, "Arguments": {"Bucket": "{% $states.input.bucket %}", "Prefix": "flat/"}},
            PASS_END,
            "Pass",
        )
        definition["QueryLanguage"] = "JSONata"
        described = client.run(definition, {"bucket": bucket})
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")
        expect(json.loads(described["output"]), [{"n": n} for n in range(1, 6)], "the lines of every listed object, in key order")

    check("an S3 inventory (manifest.json, gzipped CSV files) in batches, with MaxItemsPath", inventory_reader)
    check("listObjectsV2 with LOAD_AND_FLATTEN (JSONata): the items in the listed objects, gzipped or not", flattened_listing)
    check("a missing inventory manifest or an ORC one: States.ItemReaderFailed naming it", inventory_errors)
    check("a CSV object with its first row as headers, a PIPE delimiter and MaxItems", csv_reader)
    check("a CSV object with given headers and MaxItemsPath", csv_given_headers)
    check("listObjectsV2 lists the objects under a prefix", listing_reader)

    failing = {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 7, "Next": "Fail"}], "Default": "Done"},
        "Fail": {"Type": "Fail", "Error": "TooBig", "Cause": "over 7"},
        "Done": {"Type": "Pass", "End": True},
    }
    numbers = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "in/numbers.json"}}
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "tolerated"}, "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSON"}}

    def tolerated():
        described = client.run(distributed(numbers, failing, "Check", ToleratedFailurePercentage=30, ResultWriter=writer), {"bucket": bucket})
        expect(described["status"], "SUCCEEDED", f"status ({described.get('error')}: {described.get('cause')})")
        manifest = client.json_object(json.loads(described["output"])["ResultWriterDetails"]["Key"])
        succeeded = client.json_object(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
        expect(sorted(succeeded), list(range(1, 8)), "COMPACT results: the outputs alone")
        failures = client.json_object(manifest["ResultFiles"]["FAILED"][0]["Key"])
        expect(sorted((failure["Status"], failure["Error"], failure["Cause"]) for failure in failures), [("FAILED", "TooBig", "over 7")] * 3, "FAILED_0.json")

    def threshold_exceeded():
        described = client.run(distributed(numbers, failing, "Check", ToleratedFailureCountPath="$.tolerated", MaxConcurrency=1), {"bucket": bucket, "tolerated": 2})
        expect((described["status"], described.get("error")), ("FAILED", "States.ExceedToleratedFailureThreshold"), "status and error")

    def missing_key():
        reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket.$": "$.bucket", "Key": "in/missing.jsonl"}}
        described = client.run(distributed(reader, PASS_END, "Pass"), {"bucket": bucket})
        expect((described["status"], described.get("error")), ("FAILED", "States.ItemReaderFailed"), "status and error")
        if "NoSuchKey" not in (described.get("cause") or ""):
            raise AssertionError(f"the cause names NoSuchKey: {described.get('cause')!r}")

    check("failures within ToleratedFailurePercentage: the Map succeeds, FAILED_0.json holds them", tolerated)
    check("more failures than ToleratedFailureCountPath: States.ExceedToleratedFailureThreshold", threshold_exceeded)
    check("a missing key: States.ItemReaderFailed", missing_key)
    if args.switchyard:
        check("a Map Run survives SIGKILL of its server and completes after the restart", lambda: survives_sigkill(args.switchyard))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
