#!/usr/bin/env bash
# Runs every test of the project: unit and integration tests (cargo nextest), then the ASL
# conformance suite from ../shared/conformance with pass-count floors. Installs what the tests need
# when it is missing. Under CI (CI=true) a missing component is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Raise these as the implementation improves; a drop below them fails the run.
conformance_result_floor=${CONFORMANCE_RESULT_FLOOR:-712}
conformance_history_floor=${CONFORMANCE_HISTORY_FLOOR:-350}

need_apt() {
  local missing=()
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

need_apt python3 python3-pip
# openssl makes the throwaway CA of the https --s3-endpoint suite.
need_apt openssl
# The compute tests run `provided` functions on AWS's Python runtime interface client.
python3 -c "import awslambdaric" 2>/dev/null || pip install --quiet awslambdaric
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked
# Batch on Slurm: a single-node cluster from Debian's packages, started when it does not answer.
export SLURM_CONF=${SLURM_CONF:-/tmp/switchyard-slurm/slurm.conf}
if ! command -v sbatch >/dev/null 2>&1 || ! sinfo -h >/dev/null 2>&1; then
  bash scripts/setup/slurm.sh >/dev/null
fi
# An external S3-compatible server for the --s3-endpoint suites (a cargo-installed binary, reused
# from ~/.cargo/bin when present).
command -v s3s-fs >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/s3s-fs" ] || cargo install s3s-fs --version 0.14.1 --locked --features binary
# Container tasks run on Podman's Docker-compatible service: it is installed and started here,
# with the local test image; the engine tests and suites find it through DOCKER_HOST.
export "$(scripts/setup/podman.sh | tail -n 1)"

cargo build --workspace --all-targets
cargo nextest run --workspace --no-fail-fast

conformance="$root/../shared/conformance"
acceptance="$root/../shared/acceptance"
if [ ! -f "$conformance/check.py" ] || [ ! -f "$acceptance/sfn_api.py" ] || [ ! -f "$acceptance/lambda_api.py" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "../shared (conformance and acceptance suites) not found beside $root" >&2
    exit 1
  fi
  echo "../shared not found beside $root: the conformance and acceptance suites were not run (they run in CI)"
  exit 0
fi

# Real clients for the server: boto3 and the AWS CLI from PyPI; *.localhost names resolving to
# the loopback (libnss-myhostname) for the `sync-` host prefix of StartSyncExecution.
python3 -c "import boto3" 2>/dev/null || pip install --quiet boto3
command -v aws >/dev/null 2>&1 || pip install --quiet awscli
need_apt libnss-myhostname
getent hosts sync-sfn.localhost >/dev/null || { echo "sync-sfn.localhost does not resolve (libnss-myhostname in /etc/nsswitch.conf?)" >&2; exit 1; }

suites_passed=0
suites_failed=0
suite() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then suites_passed=$((suites_passed + 1)); else suites_failed=$((suites_failed + 1)); echo "== $name FAILED"; fi
}

floors() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
result_passed = sum(1 for r in results if r["result"])
history_passed = sum(1 for r in results if r["history"])
history_cases = sum(1 for r in results if r["history"] is not None)
print(f"conformance cases: result level {result_passed}/{len(results)}, history level {history_passed}/{history_cases}")
ok = True
for level, passed, floor in (("result", result_passed, int(sys.argv[2])), ("history", history_passed, int(sys.argv[3]))):
    print(f"floor {level}: {passed} >= {floor}: {'ok' if passed >= floor else 'BELOW THE FLOOR'}")
    ok = ok and passed >= floor
sys.exit(0 if ok else 1)
PY
}

conformance_run() {
  local report
  report=$(mktemp)
  # check.py exits non-zero when any case fails; the floors are the gate.
  python3 "$conformance/check.py" -j 2 --timeout 30 --report "$report" "$@" > "$report.log" || true
  tail -n 4 "$report.log"
  floors "$report" "$conformance_result_floor" "$conformance_history_floor"
}

suite "conformance through switchyard run" conformance_run \
  --cmd "$root/target/debug/switchyard run --definition {definition} --input {input} --functions {functions} --format json --time-scale 0"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d)
# The Lambda handlers the conformance cases call, gathered from the cases at run time (the cases
# are third-party data and stay in ../shared).
python3 - "$conformance/cases" > "$data_dir/functions.json" <<'PY'
import glob, json, os, sys
functions = {}
for path in glob.glob(os.path.join(sys.argv[1], "*.json")):
    case = json.load(open(path))
    if isinstance(case, dict):
        functions.update(case.get("functions") or {})
print(json.dumps(functions))
PY
"$root/target/debug/switchyard" serve --listen "127.0.0.1:$port" --data-dir "$data_dir" --functions "$data_dir/functions.json" 2> "$data_dir/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
endpoint="http://sfn.localhost:$port"

suite "Step Functions acceptance (boto3)" python3 "$acceptance/sfn_api.py" --endpoint "$endpoint"
suite "AWS CLI and boto3 clients" python3 "$root/tests/server/clients.py" --endpoint "$endpoint"
suite "conformance through the API" conformance_run --endpoint "http://127.0.0.1:$port"
suite "TestState against AWS's recorded answers" python3 "$root/tests/server/test_state_replay.py" --endpoint "http://127.0.0.1:$port" --floor 159
suite "Lambda acceptance (boto3)" python3 "$acceptance/lambda_api.py" --endpoint "http://127.0.0.1:$port"
suite "Lambda through the AWS CLI, boto3, Task states and pushed activities" python3 "$root/tests/server/lambda_clients.py" \
  --endpoint "http://127.0.0.1:$port" --switchyard "$root/target/debug/switchyard" --data-dir "$data_dir"
suite "S3 clients against the embedded store (boto3, aws s3)" python3 "$root/tests/s3/clients.py" --endpoint "http://127.0.0.1:$port"
suite "aws-sdk:s3 tasks in a state machine" python3 "$root/tests/s3/tasks.py" --endpoint "http://127.0.0.1:$port"
suite "distributed Map over S3 (ItemReader, ItemBatcher, ResultWriter)" python3 "$root/tests/s3/distributed_map.py" --endpoint "http://127.0.0.1:$port" --switchyard "$root/target/debug/switchyard"
kill $server

# The S3 suite again, on a server that checks signatures.
s3_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
s3_data=$(mktemp -d)
"$root/target/debug/switchyard" serve --listen "127.0.0.1:$s3_port" --data-dir "$s3_data" --access-key AKIDSWITCHYARD --secret-key switchyard-test-secret 2> "$s3_data/server.log" &
s3_server=$!
trap 'kill $server $s3_server 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null && break; sleep 0.1; done
suite "S3 clients with access keys (SigV4 checked)" python3 "$root/tests/s3/clients.py" --endpoint "http://127.0.0.1:$s3_port" --access-key AKIDSWITCHYARD --secret-key switchyard-test-secret
kill $s3_server

# The S3 suites against an external S3 (s3s-fs): the client suite on s3s-fs itself (it is about
# S3, not Switchyard), then a server started with --s3-endpoint, whose aws-sdk:s3 tasks,
# functions, containers and batch jobs must all land their objects in s3s-fs.
s3s_fs=$(command -v s3s-fs || echo "$HOME/.cargo/bin/s3s-fs")
external_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
external_data=$(mktemp -d)
mkdir "$external_data/s3s-fs" "$external_data/switchyard"
external_key=AKIDEXTERNAL
external_secret=external-test-secret
"$s3s_fs" --host 127.0.0.1 --port "$external_port" --access-key "$external_key" --secret-key "$external_secret" "$external_data/s3s-fs" > "$external_data/s3s-fs.log" 2>&1 &
external_s3=$!
trap 'kill $server $s3_server $external_s3 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$external_port") 2>/dev/null && break; sleep 0.1; done
external_endpoint="http://127.0.0.1:$external_port"
suite "S3 clients against s3s-fs (the suite is about S3)" python3 "$root/tests/s3/clients.py" --endpoint "$external_endpoint" \
  --access-key "$external_key" --secret-key "$external_secret" --peer --no-virtual-host
on_external_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/target/debug/switchyard" serve --listen "127.0.0.1:$on_external_port" --data-dir "$external_data/switchyard" \
  --s3-endpoint "$external_endpoint" --s3-access-key-id "$external_key" --s3-secret-access-key "$external_secret" 2> "$external_data/server.log" &
on_external=$!
trap 'kill $server $s3_server $external_s3 $on_external 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$on_external_port") 2>/dev/null && break; sleep 0.1; done
suite "aws-sdk:s3 tasks with --s3-endpoint (s3s-fs)" python3 "$root/tests/s3/tasks.py" --endpoint "http://127.0.0.1:$on_external_port" \
  --s3-endpoint "$external_endpoint" --access-key "$external_key" --secret-key "$external_secret"
suite "functions, containers and batch jobs write to --s3-endpoint (s3s-fs)" python3 "$root/tests/s3/external_tasks.py" \
  --endpoint "http://127.0.0.1:$on_external_port" --s3-endpoint "$external_endpoint" --access-key "$external_key" --secret-key "$external_secret"
kill $on_external

# The same through https: s3s-fs behind a TLS-terminating proxy whose certificate a throwaway CA
# signed. The server trusts that CA through SSL_CERT_FILE and hands it to its tasks; the suites'
# own boto3 clients get it as AWS_CA_BUNDLE. A server without it must fail naming the endpoint.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && break; sleep 0.1; done; }
tls_port=$(free_port)
tls_certs=$(mktemp -d)
python3 "$root/tests/s3/tls_proxy.py" --port "$tls_port" --upstream "127.0.0.1:$external_port" --certs "$tls_certs" > "$external_data/tls_proxy.log" 2>&1 &
tls_proxy=$!
tls_endpoint="https://localhost:$tls_port"
on_tls_port=$(free_port)
untrusting_port=$(free_port)
mkdir "$external_data/switchyard-tls" "$external_data/switchyard-untrusting"
wait_port "$tls_port"
SSL_CERT_FILE="$tls_certs/ca.pem" "$root/target/debug/switchyard" serve --listen "127.0.0.1:$on_tls_port" --data-dir "$external_data/switchyard-tls" \
  --s3-endpoint "$tls_endpoint" --s3-access-key-id "$external_key" --s3-secret-access-key "$external_secret" 2> "$external_data/server-tls.log" &
on_tls=$!
env -u SSL_CERT_FILE -u SSL_CERT_DIR "$root/target/debug/switchyard" serve --listen "127.0.0.1:$untrusting_port" --data-dir "$external_data/switchyard-untrusting" \
  --s3-endpoint "$tls_endpoint" --s3-access-key-id "$external_key" --s3-secret-access-key "$external_secret" 2> "$external_data/server-untrusting.log" &
untrusting=$!
trap 'kill $server $s3_server $external_s3 $tls_proxy $on_tls $untrusting 2>/dev/null || true' EXIT
wait_port "$on_tls_port"
wait_port "$untrusting_port"
suite "aws-sdk:s3 tasks with an https --s3-endpoint (s3s-fs behind TLS, CA from SSL_CERT_FILE)" env AWS_CA_BUNDLE="$tls_certs/ca.pem" \
  python3 "$root/tests/s3/tasks.py" --endpoint "http://127.0.0.1:$on_tls_port" --s3-endpoint "$tls_endpoint" --access-key "$external_key" --secret-key "$external_secret"
suite "functions, containers and batch jobs write to an https --s3-endpoint" env AWS_CA_BUNDLE="$tls_certs/ca.pem" \
  python3 "$root/tests/s3/external_tasks.py" --endpoint "http://127.0.0.1:$on_tls_port" --s3-endpoint "$tls_endpoint" --access-key "$external_key" --secret-key "$external_secret"
suite "an https --s3-endpoint whose certificate does not verify: failures name it" \
  python3 "$root/tests/s3/untrusted_endpoint.py" --endpoint "http://127.0.0.1:$untrusting_port" --s3-endpoint "$tls_endpoint"
kill $on_tls $untrusting $tls_proxy $external_s3

suite "container tasks on Podman (ECS API, Fargate pipeline, crashes)" python3 "$root/tests/containers/ecs.py" --switchyard "$root/target/debug/switchyard" --runner engine
suite "container tasks as processes (ECS API, Fargate pipeline, crashes)" python3 "$root/tests/containers/ecs.py" --switchyard "$root/target/debug/switchyard" --runner process
suite "crash test (SIGKILL with executions in flight)" python3 "$root/tests/server/crash.py" --switchyard "$root/target/debug/switchyard"
suite "Lambda crash test (functions and accepted events survive SIGKILL)" python3 "$root/tests/server/lambda_crash.py" --switchyard "$root/target/debug/switchyard"
suite "Serverless examples through switchyard up" python3 "$root/tests/deploy/examples.py" --switchyard "$root/target/debug/switchyard"
suite "serverless.yml written for AWS, unmodified, through switchyard up (images on Podman)" python3 "$root/tests/deploy/real_projects.py" --switchyard "$root/target/debug/switchyard"
suite "Batch through boto3 and the AWS CLI (process, Slurm, Podman; fair share, Slurm arrays)" python3 "$root/tests/batch/batch_clients.py" --switchyard "$root/target/debug/switchyard" --backends process,slurm,podman

# The closing line counts these suites; each printed its own counts above.
echo "switchyard suites: $suites_passed passed, $suites_failed failed"
[ "$suites_failed" -eq 0 ]
