#!/usr/bin/env bash
# The benchmark, rerunnable by anyone on one machine; prints one table and writes BENCHMARKS.md.
#
#   infra/bench/run.sh           the full run (release builds; ~16 minutes on 2 cores)
#   infra/bench/run.sh --quick   seconds, debug builds, tiny sizes: checks the harness still works
#                                (the test command runs it); writes nothing but its table
#
# Parts: HTTP load on the local server, on the peer (infra/bench/peer, FastAPI + uvicorn) and on
# the floor (tests/examples/floor.rs, axum + SQLite with nothing else), the same requests from one
# generator (tests/examples/load.rs), which also takes each server process's CPU time per
# request; Lambda cold starts through a stand-in Runtime API against the local AWS protocol
# server, beside a Python Lambda and a minimal Rust one making the read's three calls in sequence
# (tests/examples/lambda_timings.rs, sequential_read.rs); decision-to-callback latency on the
# local server (tests/examples/callback_latency.rs); the embedded store at 10k/100k/1M approvals
# (tests/examples/store_scale.rs); the sweep's due query on both stores (store_scale.rs,
# sweep_cost.rs). Every figure is a `BENCH {json}` line that infra/bench/report.py tabulates.
set -euo pipefail
cd "$(dirname "$0")/../.."
# PostgreSQL of its own for the runs on it (a private cluster on loopback, stopped at the end).
[ -n "${HOLDPOINT_TEST_DATABASE_URL:-}" ] || exec infra/with-postgres.sh "$0" "$@"

quick=""; http=""
[ "${1:-}" = "--quick" ] && quick=1
# --http: the HTTP load alone (Holdpoint on SQLite and on PostgreSQL, the peer, the floor, one
# generator, one run), spliced into BENCHMARKS.md in place of that part; the rest is kept.
[ "${1:-}" = "--http" ] && http=1
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit with uncommitted changes"
target=${CARGO_TARGET_DIR:-target}
venv=${HOLDPOINT_TEST_VENV:-.venv-test}
if [ -n "$quick" ]; then
  profile=debug; cargo_profile=(); seconds=1; connections=4
  export DECIDE_POOL=200 STARTS=2 WARM=0 READS=50 SWEEP_SIZES=1000 PENDING=1000 CALLBACKS=20
  scale=(500 2000)
else
  profile=release; cargo_profile=(--release); seconds=10; connections=16
  export DECIDE_POOL=${DECIDE_POOL:-40000} STARTS=${STARTS:-20} WARM=0 READS=${READS:-2000}
  export SWEEP_SIZES=${SWEEP_SIZES:-10000,100000} PENDING=${PENDING:-10000,100000}
  export CALLBACKS=${CALLBACKS:-200}
  scale=(${SCALE:-10000 100000 1000000})
fi

echo "== building ($profile)"
if [ -n "$http" ]; then
  cargo build "${cargo_profile[@]}" -p holdpoint-local
  cargo build "${cargo_profile[@]}" -p holdpoint-tests --example load --example floor
else
  cargo build "${cargo_profile[@]}" -p holdpoint-local -p holdpoint-create -p holdpoint-read \
    -p holdpoint-decide -p holdpoint-escalate
  cargo build "${cargo_profile[@]}" -p holdpoint-tests --examples
fi
bin=$(realpath "$target/$profile")

if [ ! -x "$venv/bin/uvicorn" ] || [ ! -x "$venv/bin/moto_server" ]; then
  echo "== installing the peer (FastAPI, uvicorn) and moto into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/bench/peer/requirements.txt "moto[server]==5.2.5"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log=$work/bench.log
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() {
  for _ in $(seq 1 300); do curl -fs "$1/health" > /dev/null && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; return 1
}

export AGENT_KEY=bench-agent-$(openssl rand -hex 12) REVIEWER_KEY=bench-reviewer-$(openssl rand -hex 12)
keys="{\"$AGENT_KEY\": {\"tenant\": \"bench\", \"principal\": \"agent\"}, \"$REVIEWER_KEY\": {\"tenant\": \"bench\", \"principal\": \"reviewer\"}}"

load_all() { # label url server-pid scenario...
  local label=$1 url=$2 pid=$3; shift 3
  for scenario in "$@"; do
    echo "-- $label $scenario"
    SERVER_PID=$pid "$bin/examples/load" "$url" "$scenario" "$seconds" "$connections" "$label" \
      | tee -a "$log"
  done
}

echo "== HTTP load: Holdpoint (embedded store), $connections connections, ${seconds}s each"
port=$(free_port)
mkdir -p "$work/holdpoint"
(cd "$work/holdpoint" && HOLDPOINT_ADDR=127.0.0.1:$port HOLDPOINT_LOG=error HOLDPOINT_API_KEYS=$keys \
  exec "$bin/holdpoint" serve > "$work/holdpoint.log" 2>&1) &
pids+=($!)
wait_up "http://127.0.0.1:$port"
load_all holdpoint "http://127.0.0.1:$port" "${pids[-1]}" create get list decide mix
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# Holdpoint on PostgreSQL: one instance, then three on one database (the generator's
# connections spread over them; CPU time is the instances' together, PostgreSQL's not counted).
pg_url() { local server=${HOLDPOINT_TEST_DATABASE_URL%%\?*}; echo "${server%/*}/$1?sslmode=disable"; }
for n in 1 3; do
  db=bench_pg$n
  "$HOLDPOINT_TEST_POSTGRES_BIN/psql" -q "$HOLDPOINT_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  echo "== HTTP load: Holdpoint on PostgreSQL, $n instance(s)"
  urls=(); ids=()
  for i in $(seq 1 $n); do
    port=$(free_port)
    mkdir -p "$work/pg$n-$i"
    (cd "$work/pg$n-$i" && HOLDPOINT_ADDR=127.0.0.1:$port HOLDPOINT_LOG=error HOLDPOINT_API_KEYS=$keys \
      HOLDPOINT_STORE=postgres HOLDPOINT_DATABASE_URL=$(pg_url $db) HOLDPOINT_KEYS_DIR=$work/pg$n-keys \
      exec "$bin/holdpoint" serve > "$work/pg$n-$i.log" 2>&1) &
    pids+=($!); ids+=($!)
    # The first makes the schema and the keys; the others find them.
    wait_up "http://127.0.0.1:$port" || { tail -n 20 "$work/pg$n-$i.log" >&2; exit 1; }
    urls+=("http://127.0.0.1:$port")
  done
  load_all "holdpoint-pg$n" "$(IFS=,; echo "${urls[*]}")" "$(IFS=,; echo "${ids[*]}")" create get decide
  for p in "${ids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
done

echo "== HTTP load: the peer (FastAPI + uvicorn, one worker, in memory)"
port=$(free_port)
"$venv/bin/uvicorn" app:app --app-dir infra/bench/peer --host 127.0.0.1 --port "$port" \
  --log-level warning --no-access-log > "$work/peer.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port"
load_all peer "http://127.0.0.1:$port" "${pids[-1]}" create get list decide mix
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

echo "== HTTP load: the floor (axum + SQLite: no auth, audit or seal; WAL, synchronous=FULL)"
port=$(free_port)
"$bin/examples/floor" "127.0.0.1:$port" "$work/floor" > "$work/floor.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$port"
load_all floor "http://127.0.0.1:$port" "${pids[-1]}" create get list
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

if [ -n "$http" ]; then
  python3 infra/bench/report.py "$log" BENCHMARKS.md "infra/bench/run.sh --http" "$profile" "$commit" --splice
  echo "spliced the HTTP load into BENCHMARKS.md"
  exit 0
fi

echo "== Lambda cold starts ($STARTS each) through a stand-in Runtime API, on the local AWS protocol server"
BENCH_PYTHON=$(realpath "$venv/bin/python") infra/with-moto.sh "$bin/examples/lambda_timings" \
  "$bin/create" "$bin/read" "$bin/decide" "$bin/escalate" "$bin/examples/sequential_read" \
  "$(realpath infra/bench/peer/bootstrap)" \
  2> "$work/functions.log" | tee -a "$log" || { tail -30 "$work/functions.log" >&2; exit 1; }

echo "== sweep on DynamoDB (local protocol server): 1 % due among $PENDING pending"
infra/with-moto.sh "$bin/examples/sweep_cost" | tee -a "$log"

echo "== decision to callback: $CALLBACKS approvals, one after the other, receiver on loopback"
"$bin/examples/callback_latency" "$bin/holdpoint" "$CALLBACKS" | tee -a "$log"

echo "== the embedded store at ${scale[*]} approvals; sweep at $SWEEP_SIZES pending"
"$bin/examples/store_scale" "$bin/holdpoint" "${scale[@]}" | tee -a "$log"

out=BENCHMARKS.md
[ -n "$quick" ] && out=$work/BENCHMARKS.md
python3 infra/bench/report.py "$log" "$out" "infra/bench/run.sh${quick:+ --quick}" "$profile" "$commit"
[ -n "$quick" ] || echo "wrote $out"
