#!/usr/bin/env python3
"""An HTTP server that answers every request as S3 would a 4 KiB PUT or GET, from canned bytes and
without storing anything: the floor of what one boto3 client can do (its signing, checksums,
parsing and the round trips, `Expect: 100-continue` included), which `bench.py --floor` measures
beside the real servers.

    python3 tests/s3/canned_s3.py --port 8799
"""
import argparse
import asyncio
import os

BODY = os.urandom(4096)
GET_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nETag: \"0\"\r\nContent-Type: binary/octet-stream\r\n"
    b"Last-Modified: Mon, 23 Nov 2026 19:00:00 GMT\r\n\r\n" + BODY
)
OTHER_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"0\"\r\n\r\n"


async def answer(reader, writer):
    try:
        while True:
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            await reader.readexactly(int(headers.get("content-length", "0")))
            writer.write(GET_ANSWER if lines[0].startswith("GET ") else OTHER_ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    server = await asyncio.start_server(answer, "127.0.0.1", parser.parse_args().port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
