#!/usr/bin/env python3
"""Benchmark: a distributed Map over a JSONL object of N items (Pass child, ResultWriter on) on a
Switchyard server this script starts; prints the run's wall time and the server's peak RSS.
Not part of scripts/test.sh (it takes minutes for 1,000,000 items).

    python3 tests/s3/bench_distributed_map.py --switchyard target/release/switchyard --items 1000000 --batch 1000
"""
import argparse
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", required=True)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=0, help="MaxItemsPerBatch (0: no ItemBatcher, one child per item)")
    parser.add_argument("--concurrency", type=int, default=1000)
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
            body = "".join(json.dumps({"n": n}) + "\n" for n in range(args.items)).encode()
            s3.put_object(Bucket="bench", Key="items.jsonl", Body=body)
            rss_before = peak_rss_mib(server.pid)
            state = {
                "Type": "Map",
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"}, "Parameters": {"Bucket": "bench", "Key": "items.jsonl"}},
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
            print(f"{args.items} items, batch {args.batch or 'none'}, MaxConcurrency {args.concurrency}: {elapsed:.1f} s, server peak RSS {peak_rss_mib(server.pid):.0f} MiB (before the run {rss_before:.0f} MiB)")
            return 0 if described["status"] == "SUCCEEDED" else 1
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
