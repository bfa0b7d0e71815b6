#!/usr/bin/env python3
"""Replays the recorded AWS TestState requests (conformance/extra/test_state) against a running
`switchyard serve` and reports how many answers match AWS's.

    python3 tests/server/test_state_replay.py --endpoint http://127.0.0.1:8083 [-v] [--filter TEXT] [--floor N]

Answers are compared with check.py's placeholder-aware comparison, JSON texts parsed on both
sides. The recorder dropped roleArn from requests, so one is added to every request except the
case that checks its absence. The Lambda functions a recording calls (a Task without a mock calls
the real function) are created first through the server's Lambda API, as a user would.
"""

import argparse
import glob
import io
import json
import os
import re
import sys
import urllib.error
import urllib.request
import zipfile

import boto3

# The recordings are third-party data: read from ../shared beside the repository, never copied.
CONFORMANCE = os.environ.get("CONFORMANCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "conformance"))
sys.path.insert(0, CONFORMANCE)
from check import compare_values, deep_parse  # noqa: E402

ROLE_ARN = "arn:aws:iam::000000000000:role/test-state"
AWS_CLIENT_ERROR = re.compile(r"An error occurred \((\w+)\) when calling the TestState operation: (.*)", re.S)


def call(endpoint, request):
    body = json.dumps(request).encode()
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": "AWSStepFunctions.TestState"}
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, body, headers), timeout=30) as answer:
            return True, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return False, json.loads(error.read())


def expected_error(expected):
    error = expected["error_response"]
    if isinstance(error, str):
        match = AWS_CLIENT_ERROR.match(error)
        return (match.group(1), match.group(2)) if match else (None, error)
    return error["Error"]["Code"], error["Error"]["Message"]


def create_functions(case, endpoint):
    client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    for name, function in case.get("functions", {}).items():
        module = function["handler"].rsplit(".", 1)[0]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr(f"{module}.py", function["handler_source"])
        try:
            client.create_function(FunctionName=name, Runtime=function["runtime"], Handler=function["handler"], Role=ROLE_ARN, Code={"ZipFile": code.getvalue()})
        except client.exceptions.ResourceConflictException:
            pass


def check(case, endpoint):
    create_functions(case, endpoint)
    request = dict(case["request"])
    if "no_role_arn" not in case["id"]:
        request.setdefault("roleArn", ROLE_ARN)
    ok, answer = call(endpoint, request)
    expected = case["expected"]
    if "response" in expected:
        if not ok:
            return [f"expected a response, got {answer}"]
        return compare_values(deep_parse(expected["response"]), deep_parse(answer), case.get("placeholders"))
    code, message = expected_error(expected)
    if ok:
        return [f"expected {code}: {message}, got {json.dumps(answer)[:300]}"]
    got = (answer.get("__type", "").rsplit("#", 1)[-1], answer.get("message"))
    return [] if got == (code, message) else [f"expected {code}: {message!r}, got {got[0]}: {got[1]!r}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8083")
    parser.add_argument("--filter", default="")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--floor", type=int, default=0, help="exit non-zero when fewer answers match")
    args = parser.parse_args()
    passed = failed = 0
    for path in sorted(glob.glob(os.path.join(CONFORMANCE, "extra", "test_state", "*.json"))):
        with open(path) as file:
            case = json.load(file)
        if args.filter not in case["id"]:
            continue
        diffs = check(case, args.endpoint)
        if diffs:
            failed += 1
            if args.verbose:
                print(f"FAIL {case['id']}\n    " + "\n    ".join(diffs[:5]))
        else:
            passed += 1
    print(f"test_state: {passed} passed, {failed} failed")
    if passed < args.floor:
        print(f"below the floor of {args.floor}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
