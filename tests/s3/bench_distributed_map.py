#!/usr/bin/env python3
"""Benchmark: a distributed Map over N items (Pass child, ResultWriter on) on a Switchyard server
this script starts; prints the run's wall time and the server's peak RSS. The items are a JSONL
object, the same gzipped, or an S3 inventory (manifest.json and 4 gzipped CSV files).
Not part of scripts/test.sh (it takes minutes for 1,000,000 items).

    python3 tests/s3/bench_distributed_map.py --switchyard target/release/switchyard --items 1000000 --batch 1000 \
        [--source jsonl|jsonl.gz|inventory]
"""
import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


INVENTORY_FILES = 4


def upload_items(s3, source, items):
    """Puts the items as `source` says; answers the ItemReader that reads them."""
    if source == "inventory":
        rows = [f'"bench","objects/{n:08}","{n}","2024-05-01T10:00:00.000Z"\n' for n in range(items)]
        share = -(-items // INVENTORY_FILES)
        keys = [f"inventory/data/part-{index}.csv.gz" for index in range(INVENTORY_FILES)]
        for index, key in enumerate(keys):
            s3.put_object(Bucket="bench", Key=key, Body=gzip.compress("".join(rows[index * share:(index + 1) * share]).encode()))
        manifest = {"destinationBucket": "arn:aws:s3:::bench", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate", "files": [{"key": key} for key in keys]}
        s3.put_object(Bucket="bench", Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
        return {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"}, "Parameters": {"Bucket": "bench", "Key": "inventory/manifest.json"}}
    body = "".join(json.dumps({"n": n}) + "\n" for n in range(items)).encode()
    key = f"items.{source}"
    s3.put_object(Bucket="bench", Key=key, Body=gzip.compress(body) if source.endswith(".gz") else body)
    return {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket": "bench", "Key": key}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=0, help="MaxItemsPerBatch (0: no ItemBatcher, one child per item)")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--source", choices=["jsonl", "jsonl.gz", "inventory"], default="jsonl")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        log = open(os.path.join(data_dir, "server.log"), "w")
        server = subprocess.Popen([args.switchyard, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir], stderr=log)
        try:
            common = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
            for _ in range(100):
                try:
                    s3 = boto3.client("s3", **common)
                    s3.create_bucket(Bucket="bench")
                    break
                except Exception:  # the server is still starting
                    time.sleep(0.1)
            sfn = boto3.client("stepfunctions", **common)
            reader = upload_items(s3, args.source, args.items)
            rss_before = peak_rss_mib(server.pid)
            state = {
                "Type": "Map",
                "ItemReader": reader,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}},
                "MaxConcurrency": args.concurrency,
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "bench", "Prefix": "results"}},
                "End": True,
            }
            if args.batch:
                state["ItemBatcher"] = {"MaxItemsPerBatch": args.batch}
            machine = sfn.create_state_machine(name="bench", definition=json.dumps({"StartAt": "Map", "States": {"Map": state}}), roleArn="arn:aws:iam::000000000000:role/r")
            started = time.time()
            execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
            while True:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.5)
            elapsed = time.time() - started
            run = sfn.describe_map_run(mapRunArn=json.loads(described["output"])["MapRunArn"]) if described["status"] == "SUCCEEDED" else None
            print(f"status {described['status']} {described.get('error') or ''}")
            if run:
                print(f"items succeeded {run['itemCounts']['succeeded']}, results written {run['itemCounts']['resultsWritten']}, executions {run['executionCounts']['total']}")
            print(f"{args.items} items ({args.source}), batch {args.batch or 'none'}, MaxConcurrency {args.concurrency}: {elapsed:.1f} s, server peak RSS {peak_rss_mib(server.pid):.0f} MiB (before the run {rss_before:.0f} MiB)")
            return 0 if described["status"] == "SUCCEEDED" else 1
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
