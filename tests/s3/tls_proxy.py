#!/usr/bin/env python3
"""A TLS front for a local HTTP server, for the https `--s3-endpoint` suite: makes a throwaway CA
and a certificate for localhost and 127.0.0.1 signed by it (openssl), writes the CA to
DIR/ca.pem, then accepts TLS connections on PORT and forwards their bytes to UPSTREAM and back.

    python3 tests/s3/tls_proxy.py --port 8443 --upstream 127.0.0.1:8014 --certs DIR
"""
import argparse
import asyncio
import os
import ssl
import subprocess


def make_certificates(directory):
    """DIR/ca.pem, and DIR/server.pem + DIR/server.key signed by it (a CA certificate used as the
    server's own is refused by rustls, so there are two)."""
    path = lambda name: os.path.join(directory, name)
    openssl = lambda *arguments: subprocess.run(["openssl", *arguments], check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Switchyard test CA",
            "-keyout", path("ca.key"), "-out", path("ca.pem"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", path("server.key"), "-out", path("server.csr"))
    with open(path("server.ext"), "w") as extensions:
        extensions.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", path("server.ext"), "-out", path("server.pem"))


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def serve(port, upstream_host, upstream_port, context):
    async def forward(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(upstream_host, upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(forward, "127.0.0.1", port, ssl=context)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the HTTP server")
    parser.add_argument("--certs", required=True, help="a directory for the CA and the server's certificate")
    args = parser.parse_args()
    make_certificates(args.certs)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(args.certs, "server.pem"), os.path.join(args.certs, "server.key"))
    host, port = args.upstream.rsplit(":", 1)
    asyncio.run(serve(args.port, host, int(port), context))


if __name__ == "__main__":
    main()
