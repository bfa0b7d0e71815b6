#!/usr/bin/env python3
"""100 PUT + 100 GET of 4 KiB objects through boto3, against each S3 endpoint in turn, side by side.

    python3 tests/s3/bench.py --switchyard target/release/switchyard --s3s-fs ~/.cargo/bin/s3s-fs [--floor] [--rounds 7]
    python3 tests/s3/bench.py switchyard=http://127.0.0.1:8083 s3s-fs=http://127.0.0.1:8014

--switchyard and --s3s-fs start that server on a free port with a fresh data dir, both checking
SigV4 signatures with the same key (and stop it after); --floor adds a server that stores nothing
and answers from canned bytes (canned_s3.py), the client's own floor; NAME=ENDPOINT measures a
running one. Prints, per server, the best and the median round's
seconds per 100 PUTs and per 100 GETs (one warm client, keep-alive connections, as an
application would use it), and the load average while measuring.
"""
import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import tempfile
import time
import uuid

import boto3
import botocore.config

ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID", "bench")
SECRET_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "bench-secret")


def measure(endpoint, rounds):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(4096)
    puts, gets = [], []
    for round_number in range(rounds):
        keys = [f"round{round_number}/object-{index}" for index in range(100)]
        started = time.perf_counter()
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        puts.append(time.perf_counter() - started)
        started = time.perf_counter()
        for key in keys:
            assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == 4096
        gets.append(time.perf_counter() - started)
    return puts, gets


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def started(command_of, directory):
    """A server started by `command_of(port, data_dir)`, answering on the port it yields."""
    port = free_port()
    data_dir = os.path.join(directory, str(port))
    os.makedirs(data_dir)
    with open(os.path.join(directory, f"{port}.log"), "w") as log:
        server = subprocess.Popen(command_of(port, data_dir), stdout=log, stderr=log)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="*", help="NAME=ENDPOINT of a running server")
    parser.add_argument("--switchyard", help="start this switchyard binary (serve) and measure it")
    parser.add_argument("--s3s-fs", help="start this s3s-fs binary and measure it")
    parser.add_argument("--floor", action="store_true", help="also measure canned_s3.py, the boto3 client's floor")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    launchers = []
    if args.switchyard:
        launchers.append(("switchyard", lambda port, data: [args.switchyard, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]))
    if args.s3s_fs:
        launchers.append(("s3s-fs", lambda port, data: [args.s3s_fs, "--host", "127.0.0.1", "--port", str(port), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, data]))
    if args.floor:
        canned = os.path.join(os.path.dirname(os.path.abspath(__file__)), "canned_s3.py")
        launchers.append(("boto3 floor", lambda port, data: ["python3", canned, "--port", str(port)]))
    print(f"{'server':<12} {'PUT best':>9} {'median':>7} {'GET best':>9} {'median':>7}   s per 100 4 KiB objects, boto3, {args.rounds} rounds")

    def report(name, endpoint):
        puts, gets = measure(endpoint, args.rounds)
        print(f"{name:<12} {min(puts):>9.3f} {statistics.median(puts):>7.3f} {min(gets):>9.3f} {statistics.median(gets):>7.3f}   load {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory() as directory:
        for name, command_of in launchers:
            with started(command_of, directory) as endpoint:
                report(name, endpoint)
    for target in args.targets:
        report(*target.split("=", 1))


if __name__ == "__main__":
    main()
