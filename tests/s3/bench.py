#!/usr/bin/env python3
"""100 PUT + 100 GET of 4 KiB objects through boto3, against each S3 endpoint in turn, side by side.

    python3 tests/s3/bench.py --switchyard target/release/switchyard --s3s-fs ~/.cargo/bin/s3s-fs --garage ~/.cargo/bin/garage [--floor] [--rounds 7] [--passes 3]
    python3 tests/s3/bench.py switchyard=http://127.0.0.1:8083 s3s-fs=http://127.0.0.1:8014

--switchyard, --s3s-fs and --garage start that server on a free port with a fresh data dir, all
checking SigV4 signatures (and stop it after); Garage runs as a one-node cluster with its default
settings (LMDB metadata, no fsync). --floor adds a server that stores nothing and answers from
canned bytes (canned_s3.py), the client's own floor; NAME=ENDPOINT measures a running one. The
servers take turns, --passes times over, so that a slow spell of the machine is shared. Prints,
per server, the best and the median round's seconds per 100 PUTs and per 100 GETs (one warm
client, keep-alive connections, as an application would use it), and the load average.
"""
import argparse
import contextlib
import os
import re
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
BENCH_KEY = (ACCESS_KEY, SECRET_KEY)
# Garage only takes keys of its own shape.
GARAGE_KEY = ("GK0123456789abcdef01234567", "0123456789abcdef" * 4)


def measure(endpoint, rounds, key=BENCH_KEY):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
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


def wait_for_port(port):
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


@contextlib.contextmanager
def started(command_of, directory, prepare=None):
    """A server started by `command_of(port, data_dir)`, answering on the port it yields, made
    ready by `prepare(data_dir)` if given."""
    port = free_port()
    data_dir = os.path.join(directory, str(port))
    os.makedirs(data_dir)
    with open(os.path.join(directory, f"{port}.log"), "w") as log:
        server = subprocess.Popen(command_of(port, data_dir), stdout=log, stderr=log)
    try:
        wait_for_port(port)
        if prepare:
            prepare(data_dir)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def garage_launcher(binary):
    """Garage as a one-node cluster on LMDB, its defaults, with GARAGE_KEY allowed to create buckets."""

    def config_path(data_dir):
        return os.path.join(data_dir, "garage.toml")

    def command_of(port, data_dir):
        rpc_port = free_port()
        with open(config_path(data_dir), "w") as config:
            config.write(
                f'metadata_dir = "{data_dir}/meta"\ndata_dir = "{data_dir}/data"\ndb_engine = "lmdb"\n'
                f'replication_factor = 1\nrpc_bind_addr = "127.0.0.1:{rpc_port}"\nrpc_secret = "{os.urandom(32).hex()}"\n'
                f'[s3_api]\ns3_region = "us-east-1"\napi_bind_addr = "127.0.0.1:{port}"\n'
            )
        return [binary, "-c", config_path(data_dir), "server"]

    def prepare(data_dir):
        def garage(*arguments):
            return subprocess.run([binary, "-c", config_path(data_dir), *arguments], check=True, capture_output=True, text=True).stdout

        node = re.search(r"^([0-9a-f]{16})", garage("status"), re.MULTILINE).group(1)
        garage("layout", "assign", "-z", "dc1", "-c", "1G", node)
        garage("layout", "apply", "--version", "1")
        garage("key", "import", "--yes", "-n", "bench", *GARAGE_KEY)
        garage("key", "allow", "--create-bucket", GARAGE_KEY[0])

    return command_of, prepare


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="*", help="NAME=ENDPOINT of a running server")
    parser.add_argument("--switchyard", help="start this switchyard binary (serve) and measure it")
    parser.add_argument("--s3s-fs", help="start this s3s-fs binary and measure it")
    parser.add_argument("--garage", help="start this garage binary (a one-node cluster) and measure it")
    parser.add_argument("--floor", action="store_true", help="also measure canned_s3.py, the boto3 client's floor")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--passes", type=int, default=1, help="turns each server takes")
    args = parser.parse_args()
    launchers = []
    if args.switchyard:
        launchers.append(("switchyard", lambda port, data: [args.switchyard, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY], None, BENCH_KEY))
    if args.s3s_fs:
        launchers.append(("s3s-fs", lambda port, data: [args.s3s_fs, "--host", "127.0.0.1", "--port", str(port), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY, data], None, BENCH_KEY))
    if args.garage:
        launchers.append(("garage", *garage_launcher(args.garage), GARAGE_KEY))
    if args.floor:
        canned = os.path.join(os.path.dirname(os.path.abspath(__file__)), "canned_s3.py")
        launchers.append(("boto3 floor", lambda port, data: ["python3", canned, "--port", str(port)], None, BENCH_KEY))
    print(f"{'server':<12} {'PUT best':>9} {'median':>7} {'GET best':>9} {'median':>7}   s per 100 4 KiB objects, boto3, {args.rounds} rounds per pass")
    rounds = {}

    def report(name, puts, gets, note):
        print(f"{name:<12} {min(puts):>9.3f} {statistics.median(puts):>7.3f} {min(gets):>9.3f} {statistics.median(gets):>7.3f}   {note}")

    def measured(name, endpoint, key=BENCH_KEY):
        puts, gets = measure(endpoint, args.rounds, key)
        report(name, puts, gets, f"load {os.getloadavg()[0]:.2f}")
        all_puts, all_gets = rounds.setdefault(name, ([], []))
        all_puts.extend(puts)
        all_gets.extend(gets)

    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.passes):
            for name, command_of, prepare, key in launchers:
                with started(command_of, directory, prepare) as endpoint:
                    measured(name, endpoint, key)
            for target in args.targets:
                measured(*target.split("=", 1))
    if args.passes > 1:
        for name, (puts, gets) in rounds.items():
            report(name, puts, gets, f"all {len(puts)} rounds")

if __name__ == "__main__":
    main()
