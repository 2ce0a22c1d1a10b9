#!/usr/bin/env bash
# openapi.yaml held to the server by an outside tool: schemathesis runs every check against a
# fresh local server (embedded store, one API key), with a fixed seed and example budget, and
# must find nothing. The server is stopped afterwards. Needs the `holdpoint` binary built and
# schemathesis in the test venv (infra/test.sh does both).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/.."
venv=${HOLDPOINT_TEST_VENV:-.venv-test}
seed=${SCHEMATHESIS_SEED:-11}
examples=${SCHEMATHESIS_EXAMPLES:-60}
bin=${CARGO_TARGET_DIR:-target}/debug/holdpoint
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SCHEMATHESIS_TOKEN="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
HOLDPOINT_ADDR="127.0.0.1:$port" HOLDPOINT_DATA_DIR="$data" HOLDPOINT_LOG=error \
  HOLDPOINT_API_KEYS="{\"$SCHEMATHESIS_TOKEN\": {\"tenant\": \"schemathesis\", \"principal\": \"agent\"}}" \
  "$bin" serve > "$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
  sleep 0.1
done
echo "schemathesis: every check, seed $seed, at most $examples examples per operation"
NO_COLOR=1 PYTHONPATH=infra SCHEMATHESIS_HOOKS=schemathesis_hooks \
  "$venv/bin/schemathesis" --config-file infra/schemathesis.toml run openapi.yaml \
  -u "http://127.0.0.1:$port" -c all --max-examples "$examples" --seed "$seed" | tee "$data/report.txt"
passed=$(grep -oE '[0-9]+ generated, [0-9]+ passed' "$data/report.txt" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
echo "schemathesis: ${passed:-0} passed, 0 failed"
