#!/usr/bin/env bash
# Starts LocalStack 2026.3 (Step Functions only) on 127.0.0.1:4566 for side-by-side benchmarks.
#
# LocalStack 2026.x needs Python >= 3.12, and Debian 12 has 3.11: it runs in a Debian 13 chroot
# (Python 3.13) under $PEERS (default /work/peers/trixie). Its runtime's dependencies have moved on
# since its release, so pip backtracks for ever; uv resolves them as of the release month instead.
# Needs root (debootstrap, chroot). Not part of the test suite.
set -euo pipefail
root=${PEERS:-/work/peers/trixie}
if [ ! -x "$root/opt/ls/bin/python" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates trixie "$root" http://deb.debian.org/debian
  cp /etc/resolv.conf "$root/etc/"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$root" update-ca-certificates
  chroot "$root" bash -c "python3 -m venv /opt/ls && /opt/ls/bin/pip install -q uv && \
    /opt/ls/bin/uv pip install --python /opt/ls/bin/python --native-tls --exclude-newer 2026-04-01 'localstack-core[runtime]==2026.3.0'"
fi
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/sys" || mount -t sysfs sys "$root/sys"
mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
exec chroot "$root" env SERVICES=stepfunctions GATEWAY_LISTEN=127.0.0.1:4566 /opt/ls/bin/python -m localstack.runtime.main
