#!/usr/bin/env python3
"""Latency of warm invocations through the Lambda Invoke API of a running `switchyard serve`:
a no-op Python handler, called one at a time over one keep-alive connection (TCP_NODELAY).

    python3 tests/server/bench_invoke.py --endpoint http://127.0.0.1:8083 [--calls 2000]

Prints p50/p90/p99/max of the round trip as seen by the client; the handler's own time is a few
microseconds, so that is the overhead of the API, the pool and the Runtime API together. Beside it,
the same figures for GetFunction over the same connection: the floor of an HTTP round trip
through this client and the server's API, which the Invoke figures include.
"""

import argparse
import http.client
import io
import json
import socket
import time
import urllib.parse
import uuid
import zipfile

import boto3


def no_op_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://127.0.0.1:8083")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    lam = boto3.client("lambda", endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    name = "bench-noop-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r", Handler="app.handler", Code={"ZipFile": no_op_zip()})
    try:
        url = urllib.parse.urlparse(args.endpoint)
        connection = http.client.HTTPConnection(url.hostname, url.port)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        def timed(method, path, body, expected):
            times = []
            for call in range(args.calls + 50):
                started = time.perf_counter()
                connection.request(method, path, body=body, headers={"content-type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200 or not expected(answer):
                    raise SystemExit(f"{method} {path} call {call} answered {response.status} {answer[:200]!r}")
                if call >= 50:  # the first calls start the environment
                    times.append(elapsed * 1000)
            times.sort()
            pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 3)
            return {"calls": len(times), "p50_ms": pick(0.5), "p90_ms": pick(0.9), "p99_ms": pick(0.99), "max_ms": round(times[-1], 3)}

        invoke = timed("POST", f"/2015-03-31/functions/{name}/invocations", b"{}", lambda answer: answer == b"null")
        floor = timed("GET", f"/2015-03-31/functions/{name}", None, lambda answer: answer.startswith(b"{"))
        print(json.dumps({"invoke": invoke, "get_function_floor": floor, "invoke_over_floor_p50_ms": round(invoke["p50_ms"] - floor["p50_ms"], 3), "invoke_over_floor_p99_ms": round(invoke["p99_ms"] - floor["p99_ms"], 3)}))
    finally:
        lam.delete_function(FunctionName=name)


if __name__ == "__main__":
    main()
