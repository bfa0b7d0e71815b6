#!/usr/bin/env bash
# Runs every test of the project: unit and integration tests (cargo nextest), then the ASL
# conformance suite from ../shared/conformance with pass-count floors. Installs what the tests need
# when it is missing. Under CI (CI=true) a missing component is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Raise these as the implementation improves; a drop below them fails the run.
conformance_result_floor=${CONFORMANCE_RESULT_FLOOR:-705}
conformance_history_floor=${CONFORMANCE_HISTORY_FLOOR:-345}

need_apt() {
  local missing=()
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

need_apt python3 python3-pip
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

cargo build --workspace --all-targets
cargo nextest run --workspace --no-fail-fast

conformance="$root/../shared/conformance"
if [ ! -f "$conformance/check.py" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "conformance suite not found at $conformance" >&2
    exit 1
  fi
  echo "conformance suite not found at $conformance: not run (it runs in CI, where ../shared is present)"
  exit 0
fi
report=$(mktemp)
# check.py exits non-zero when any case fails; the floors below are the gate.
python3 "$conformance/check.py" -j 2 --timeout 30 --report "$report" \
  --cmd "$root/target/debug/switchyard run --definition {definition} --input {input} --functions {functions} --format json --time-scale 0" \
  > "$report.log" || true
tail -n 4 "$report.log"
python3 - "$report" "$conformance_result_floor" "$conformance_history_floor" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
result_passed = sum(1 for r in results if r["result"])
history_passed = sum(1 for r in results if r["history"])
history_cases = sum(1 for r in results if r["history"] is not None)
print(f"conformance cases: result level {result_passed}/{len(results)}, history level {history_passed}/{history_cases}")
floors = [("result", result_passed, int(sys.argv[2])), ("history", history_passed, int(sys.argv[3]))]
for level, passed, floor in floors:
    print(f"floor {level}: {passed} >= {floor}: {'ok' if passed >= floor else 'BELOW THE FLOOR'}")
met = sum(1 for _, passed, floor in floors if passed >= floor)
# The closing line counts the floor checks, the gate this run enforces.
print(f"conformance floors: {met} passed, {len(floors) - met} failed")
sys.exit(0 if met == len(floors) else 1)
PY
