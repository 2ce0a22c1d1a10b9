#!/usr/bin/env bash
# Runs a command with a PostgreSQL of its own: Debian's server (installed by apt when missing),
# a cluster in a temporary directory on a loopback port, run as an unprivileged user when this
# runs as root (initdb refuses root), stopped and removed afterwards.
# The command finds it as HOLDPOINT_TEST_DATABASE_URL (its `postgres` database; tests make their
# own databases in it). Nesting is fine: an outer server is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${HOLDPOINT_TEST_DATABASE_URL:-}" ]; then exec "$@"; fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing PostgreSQL (Debian's postgresql package)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/holdpoint-pg.XXXXXX")
as=()
if [ "$(id -u)" = 0 ]; then
  id postgres > /dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
# TLS offered (a CA of its own signs a certificate for 127.0.0.1), so the tests can connect both
# ways; the URL they get says sslmode=disable, and the TLS test asks for it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=holdpoint test CA" \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" > /dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$dir/server.key" -out "$dir/server.csr" > /dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' > "$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 2 -extfile "$dir/san.ext" -out "$dir/server.pem" > /dev/null 2>&1
chmod 600 "$dir/server.key"
[ ${#as[@]} -eq 0 ] || chown postgres "$dir/server.key" "$dir/server.pem"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$bindir/initdb" -D "$dir/data" -U holdpoint --auth=trust -E UTF8 --locale=C.UTF-8 > "$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
stop() {
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
# Stopped by a signal too (an interrupted run must not leave a server behind).
trap 'exit 130' INT
trap 'exit 143' TERM
# Loopback only, no Unix socket outside the temporary directory; room for three instances'
# pools and the tests' own.
"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c shared_buffers=128MB -c ssl=on -c ssl_cert_file=$dir/server.pem -c ssl_key_file=$dir/server.key" \
  start > /dev/null || { cat "$dir/server.log" >&2; exit 1; }
export HOLDPOINT_TEST_DATABASE_URL="postgres://holdpoint@127.0.0.1:$port/postgres?sslmode=disable"
export HOLDPOINT_TEST_DATABASE_CA="$dir/ca.pem"
export HOLDPOINT_TEST_POSTGRES_BIN="$bindir"
"$@"
