#!/usr/bin/env bash
# Requests per second of the local server (release build, embedded store) for create, get and
# decide, with wrk on loopback: 2 threads, 16 connections, 10 s each. Prints wrk's figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -p holdpoint-local
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/holdpoint")
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$dir" && HOLDPOINT_ADDR=127.0.0.1:$port HOLDPOINT_LOG=error exec "$bin" serve > /dev/null 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$dir"' EXIT
url=http://127.0.0.1:$port
up=""
for _ in $(seq 1 100); do curl -fs "$url/health" > /dev/null && { up=1; break; }; sleep 0.1; done
[ -n "$up" ] || { echo "the server did not start" >&2; exit 1; }
export AGENT_KEY=$(grep -o 'hp_dev_agent_[0-9a-f]*' "$dir/.holdpoint/api-keys.json")
export REVIEWER_KEY=$(grep -o 'hp_dev_reviewer_[0-9a-f]*' "$dir/.holdpoint/api-keys.json")
bench=infra/bench

echo "== create (POST /v1/approvals)"
wrk -t2 -c16 -d10s -s $bench/create.lua "$url/v1/approvals"

export APPROVAL_ID=$(curl -fs "$url/v1/approvals?limit=1" -H "Authorization: Bearer $AGENT_KEY" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
echo "== get (GET /v1/approvals/{id})"
wrk -t2 -c16 -d10s -s $bench/get.lua "$url"

export IDS_FILE=$dir/ids
python3 - "$url" "$AGENT_KEY" > "$IDS_FILE" <<'PY'
import json, sys, urllib.request
url, key = sys.argv[1], sys.argv[2]
cursor = None
while True:
    q = f"{url}/v1/approvals?status=pending&limit=100" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(q, headers={"Authorization": f"Bearer {key}"})))
    for a in page["items"]:
        print(a["id"])
    cursor = page["next_cursor"]
    if not cursor:
        break
PY
echo "== decide (POST /v1/approvals/{id}/decision), $(wc -l < "$IDS_FILE") pending approvals"
wrk -t2 -c16 -d10s -s $bench/decide.lua "$url"
