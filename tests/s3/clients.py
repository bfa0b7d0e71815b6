#!/usr/bin/env python3
"""S3 through real clients (boto3 and the AWS CLI) against an S3 endpoint: Switchyard's embedded
store, or any S3-compatible server (the same checks run against s3s-fs).

    python3 tests/s3/clients.py --endpoint http://127.0.0.1:8083 [--access-key K --secret-key S]
        [--no-virtual-host]

With keys, a request signed with a wrong secret must get SignatureDoesNotMatch; without, the
credentials are arbitrary. Prints PASS/FAIL per check and `N passed, M failed`.
"""
import argparse
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions

from checks import check, expect, summary


def error_code(call):
    try:
        call()
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    parser.add_argument("--no-virtual-host", action="store_true", help="the server does not serve BUCKET.localhost")
    parser.add_argument(
        "--peer",
        action="store_true",
        help="an external S3 server: its known deviations from AWS (s3s-fs answers NoSuchKey for a missing bucket and deletes non-empty buckets) are not checked",
    )
    args = parser.parse_args()
    access_key = args.access_key or "AKIAEXAMPLE"
    secret_key = args.secret_key or "any-secret"

    def client(secret=secret_key, addressing="path", signature=None):
        return boto3.client(
            "s3",
            endpoint_url=args.endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            config=botocore.config.Config(s3={"addressing_style": addressing}, retries={"max_attempts": 1}, signature_version=signature),
        )

    s3 = client()
    bucket = f"clients-{uuid.uuid4().hex[:12]}"
    body = b"hello, switchyard\n"

    def create_bucket():
        s3.create_bucket(Bucket=bucket)
        names = [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
        assert bucket in names, names
        s3.head_bucket(Bucket=bucket)
        expect(error_code(lambda: s3.head_bucket(Bucket=f"missing-{bucket}"))[1], 404, "HeadBucket of a missing bucket")

    def put_and_get():
        put = s3.put_object(Bucket=bucket, Key="greeting.txt", Body=body, ContentType="text/plain", Metadata={"owner": "tests"})
        expect(put["ETag"], f'"{hashlib.md5(body).hexdigest()}"', "PutObject ETag (MD5 hex)")
        got = s3.get_object(Bucket=bucket, Key="greeting.txt")
        expect(got["Body"].read(), body, "GetObject body")
        expect(got["ETag"], put["ETag"], "GetObject ETag")
        expect(got["ContentType"], "text/plain", "GetObject ContentType")
        expect(got["Metadata"], {"owner": "tests"}, "GetObject Metadata")

    def head():
        head = s3.head_object(Bucket=bucket, Key="greeting.txt")
        expect(head["ContentLength"], len(body), "HeadObject ContentLength")
        expect(head["ETag"], f'"{hashlib.md5(body).hexdigest()}"', "HeadObject ETag")
        expect(error_code(lambda: s3.head_object(Bucket=bucket, Key="missing"))[1], 404, "HeadObject of a missing key")

    def list_with_prefix_and_delimiter():
        for key in ["logs/2026/a.json", "logs/2026/b.json", "logs/2027/c.json", "logs/top.json", "other.json"]:
            s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", Delimiter="/")
        expect([entry["Key"] for entry in listing.get("Contents", [])], ["logs/top.json"], "keys under logs/")
        expect([entry["Prefix"] for entry in listing.get("CommonPrefixes", [])], ["logs/2026/", "logs/2027/"], "common prefixes under logs/")
        expect(listing["KeyCount"], 3, "KeyCount")
        keys, token = [], None
        while True:
            page = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", MaxKeys=2, **({"ContinuationToken": token} if token else {}))
            keys += [entry["Key"] for entry in page.get("Contents", [])]
            if not page["IsTruncated"]:
                break
            token = page["NextContinuationToken"]
        expect(keys, ["logs/2026/a.json", "logs/2026/b.json", "logs/2027/c.json", "logs/top.json"], "keys paged two by two")

    def multipart_12_mib():
        data = os.urandom(12 << 20)
        transfer = boto3.s3.transfer.TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
        s3.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=transfer)
        parts = [data[at:at + (5 << 20)] for at in range(0, len(data), 5 << 20)]
        expected = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest() + f"-{len(parts)}"
        head = s3.head_object(Bucket=bucket, Key="big.bin")
        expect(head["ETag"], f'"{expected}"', "multipart ETag (MD5 of part MD5s, dash, part count)")
        expect(head["ContentLength"], len(data), "multipart size")
        downloaded = io.BytesIO()
        s3.download_fileobj(bucket, "big.bin", downloaded)
        expect(hashlib.sha256(downloaded.getvalue()).hexdigest(), hashlib.sha256(data).hexdigest(), "multipart bytes")

    def range_get():
        got = s3.get_object(Bucket=bucket, Key="greeting.txt", Range="bytes=7-16")
        expect(got["ResponseMetadata"]["HTTPStatusCode"], 206, "status")
        expect(got["Body"].read(), body[7:17], "bytes 7-16")
        expect(got["ContentRange"], f"bytes 7-16/{len(body)}", "Content-Range")
        expect(s3.get_object(Bucket=bucket, Key="greeting.txt", Range="bytes=-6")["Body"].read(), body[-6:], "suffix range")

    def presigned_get():
        # boto3 presigns with signature version 2 unless told otherwise; both must work.
        for signer in (s3, client(signature="s3v4")):
            url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "greeting.txt"}, ExpiresIn=300)
            with urllib.request.urlopen(url) as response:
                expect(response.read(), body, f"presigned GET body ({url.split('?')[1][:20]}...)")

    def no_such_key():
        expect(error_code(lambda: s3.get_object(Bucket=bucket, Key="missing.txt")), ("NoSuchKey", 404), "GetObject of a missing key")
        if not args.peer:
            expect(error_code(lambda: s3.get_object(Bucket=f"missing-{bucket}", Key="k")), ("NoSuchBucket", 404), "GetObject in a missing bucket")

    def copy_and_delete():
        copied = s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "greeting.txt"})
        expect(copied["CopyObjectResult"]["ETag"], f'"{hashlib.md5(body).hexdigest()}"', "CopyObject ETag")
        expect(s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read(), body, "copied bytes")
        s3.delete_object(Bucket=bucket, Key="copy.txt")
        expect(error_code(lambda: s3.get_object(Bucket=bucket, Key="copy.txt"))[0], "NoSuchKey", "deleted object")
        deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "logs/2026/a.json"}, {"Key": "logs/2026/b.json"}]})
        expect(sorted(entry["Key"] for entry in deleted["Deleted"]), ["logs/2026/a.json", "logs/2026/b.json"], "DeleteObjects")

    def virtual_host_style():
        virtual = client(addressing="virtual")
        virtual.put_object(Bucket=bucket, Key="virtual.txt", Body=b"v")
        expect(virtual.get_object(Bucket=bucket, Key="virtual.txt")["Body"].read(), b"v", "virtual-host-style GET")
        expect([entry["Key"] for entry in virtual.list_objects_v2(Bucket=bucket, Prefix="virtual")["Contents"]], ["virtual.txt"], "virtual-host-style list")

    def aws_cli():
        environment = dict(os.environ, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=args.endpoint)
        with tempfile.TemporaryDirectory() as directory:
            source = os.path.join(directory, "up.txt")
            with open(source, "wb") as file:
                file.write(body)
            run = lambda *command: subprocess.run(["aws", "s3", *command], env=environment, check=True, capture_output=True, text=True).stdout
            run("cp", source, f"s3://{bucket}/cli/up.txt")
            listing = run("ls", f"s3://{bucket}/cli/")
            assert "up.txt" in listing, listing
            target = os.path.join(directory, "down.txt")
            run("cp", f"s3://{bucket}/cli/up.txt", target)
            with open(target, "rb") as file:
                expect(file.read(), body, "aws s3 cp round trip")

    def wrong_secret():
        expect(error_code(lambda: client(secret="not-the-secret").list_objects_v2(Bucket=bucket))[0], "SignatureDoesNotMatch", "a wrong secret")

    def delete_bucket():
        if not args.peer:
            expect(error_code(lambda: s3.delete_bucket(Bucket=bucket))[0], "BucketNotEmpty", "deleting a bucket with objects")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=entry["Key"])
        s3.delete_bucket(Bucket=bucket)
        expect(error_code(lambda: s3.head_bucket(Bucket=bucket))[1], 404, "HeadBucket after DeleteBucket")

    check("create bucket, list buckets, head bucket", create_bucket)
    check("put and get an object (ETag is the MD5)", put_and_get)
    check("head an object", head)
    check("list with prefix, delimiter and continuation", list_with_prefix_and_delimiter)
    check("12 MiB multipart upload", multipart_12_mib)
    check("range GET", range_get)
    check("presigned GET through urllib", presigned_get)
    check("NoSuchKey and NoSuchBucket", no_such_key)
    check("copy and delete objects", copy_and_delete)
    if not args.no_virtual_host:
        check("virtual-host-style addressing (BUCKET.localhost)", virtual_host_style)
    check("aws s3 cp / ls", aws_cli)
    if args.access_key:
        check("a wrong secret gets SignatureDoesNotMatch", wrong_secret)
    check("delete the bucket", delete_bucket)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
