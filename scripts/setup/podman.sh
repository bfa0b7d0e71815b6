#!/usr/bin/env bash
# Starts Podman's Docker-compatible API service (installing podman from Debian's packages when
# missing) and builds the local test images; prints `DOCKER_HOST=unix://SOCKET` once it answers.
# Usage: scripts/setup/podman.sh [SOCKET]   (default /tmp/switchyard-podman/podman.sock)
#
# Works on machines without systemd, on cgroup v1/hybrid layouts and as root without
# CAP_SYS_RESOURCE: crun (Podman's default runtime) cannot set rlimits there and refuses hybrid
# cgroups, so the service runs with runc and the cgroupfs manager. No registry is reachable in CI:
# the test images are built locally FROM scratch with Debian's static busybox.
set -euo pipefail
socket=${1:-/tmp/switchyard-podman/podman.sock}
directory=$(dirname "$socket")
mkdir -p "$directory"
export DEBIAN_FRONTEND=noninteractive
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v curl >/dev/null || ! dpkg -s busybox-static >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq podman runc busybox-static curl >/dev/null
fi
printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$directory/containers.conf"
export CONTAINERS_CONF=$directory/containers.conf
answers() { curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; }
if ! answers; then
  rm -f "$socket"
  # From /: conmon inherits the service's working directory and fails when it has gone (a deleted
  # checkout or temporary directory).
  (cd / && exec setsid podman --runtime runc --cgroup-manager cgroupfs system service --time=0 "unix://$socket" >"$directory/service.log" 2>&1 < /dev/null) &
  echo $! > "$directory/service.pid"
  for _ in $(seq 100); do answers && break; sleep 0.1; done
  answers || { echo "the podman service did not answer; see $directory/service.log" >&2; exit 1; }
fi
# localhost/switchyard-busybox: a shell and the usual tools, nothing else.
if ! podman image exists localhost/switchyard-busybox; then
  context=$(mktemp -d)
  cp /bin/busybox "$context/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/bin\nCMD ["/bin/sh"]\n' > "$context/Containerfile"
  podman build -q -t localhost/switchyard-busybox "$context" >/dev/null
  rm -rf "$context"
fi
# Dockerfiles written for a registry (the examples') start FROM busybox: the same local image.
podman image exists docker.io/library/busybox:stable || podman tag localhost/switchyard-busybox docker.io/library/busybox:stable
echo "DOCKER_HOST=unix://$socket"
