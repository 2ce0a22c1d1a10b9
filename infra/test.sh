#!/usr/bin/env bash
# The test command: every test of the workspace, with the servers they need started (and
# stopped) around them. Extra arguments go to cargo test, e.g. `infra/test.sh -p holdpoint`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- --workspace
exec infra/with-moto.sh cargo test --all-targets "$@"
