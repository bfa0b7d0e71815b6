#!/usr/bin/env python3
"""100 PUT + 100 GET of 4 KiB objects through boto3, against each named S3 endpoint in turn.

    python3 tests/s3/bench.py switchyard=http://127.0.0.1:8083 s3s-fs=http://127.0.0.1:8014 [--rounds 5]

Prints, per endpoint, the best round's seconds per 100 PUTs and per 100 GETs (one warm client,
keep-alive connections, as an application would use it).
"""
import argparse
import os
import time
import uuid

import boto3
import botocore.config


def measure(endpoint, rounds):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "bench-secret"),
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(4096)
    best_put = best_get = float("inf")
    for round_number in range(rounds):
        keys = [f"round{round_number}/object-{index}" for index in range(100)]
        started = time.perf_counter()
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        best_put = min(best_put, time.perf_counter() - started)
        started = time.perf_counter()
        for key in keys:
            assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == 4096
        best_get = min(best_get, time.perf_counter() - started)
    return best_put, best_get


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="+", help="NAME=ENDPOINT")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'server':<12} {'100 PUT (s)':>12} {'100 GET (s)':>12}   4 KiB objects, boto3, best of {args.rounds}")
    for target in args.targets:
        name, endpoint = target.split("=", 1)
        put, get = measure(endpoint, args.rounds)
        print(f"{name:<12} {put:>12.3f} {get:>12.3f}")


if __name__ == "__main__":
    main()
