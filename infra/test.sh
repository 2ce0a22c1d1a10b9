#!/usr/bin/env bash
# The test command: every test of the workspace, with the servers they need started (and
# stopped) around them. Extra arguments go to cargo test, e.g. `infra/test.sh -p holdpoint`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${HOLDPOINT_TOOLS:-$PWD/.tools}
if [ ! -x "$tools/bin/cfn-guard" ]; then
  echo "installing cfn-guard (policy-as-code checks of template.yaml) into $tools"
  cargo install --quiet --locked --root "$tools" cfn-guard --version 3.2.1
fi
export CFN_GUARD="$tools/bin/cfn-guard"

[ $# -gt 0 ] || set -- --workspace
exec infra/with-moto.sh cargo test --all-targets "$@"
