#!/usr/bin/env bash
# Runs a command with a DynamoDB-protocol server (moto) on loopback, installing moto on first use
# and stopping the server afterwards. The AWS SDK finds it through its standard variables.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${HOLDPOINT_TEST_VENV:-.venv-test}
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing moto (DynamoDB-protocol server) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="${TMPDIR:-/tmp}/holdpoint-moto-$port.log"
"$venv/bin/python" infra/moto_server.py "$port" > "$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; wait $moto 2>/dev/null || true' EXIT
ready=""
for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$port/moto-api/" > /dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || { echo "moto did not start; see $log" >&2; exit 1; }

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_SESSION_TOKEN
"$@"
