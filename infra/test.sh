#!/usr/bin/env bash
# The test command: every test of the workspace, with the servers they need started (and
# stopped) around them. Extra arguments go to cargo test, e.g. `infra/test.sh -p holdpoint`.
set -euo pipefail
cd "$(dirname "$0")/.."
CFN_LINT_VERSION=1.58.0
SCHEMATHESIS_VERSION=4.32.5
STANDARDWEBHOOKS_VERSION=1.1.0
AIOSMTPD_VERSION=1.4.6
SLACK_SDK_VERSION=3.48.0
# A range, not a pin: aws-sam-cli (same venv) needs a recent one too.
CRYPTOGRAPHY_RANGE=">=42,<51"
tools=${HOLDPOINT_TOOLS:-$PWD/.tools}
if [ ! -x "$tools/bin/cfn-guard" ]; then
  echo "installing cfn-guard (policy-as-code checks of template.yaml) into $tools"
  cargo install --quiet --locked --root "$tools" cfn-guard --version 3.2.1
fi
export CFN_GUARD="$tools/bin/cfn-guard"

venv=${HOLDPOINT_TEST_VENV:-.venv-test}
if [ ! -x "$venv/bin/cfn-lint" ]; then
  echo "installing cfn-lint into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
if [ ! -x "$venv/bin/aiosmtpd" ] || ! "$venv/bin/python" -c "import standardwebhooks" 2> /dev/null; then
  echo "installing the Standard Webhooks reference library and aiosmtpd (the receivers of tests/receivers) into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "standardwebhooks==$STANDARDWEBHOOKS_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
fi
if ! "$venv/bin/python" -c "import slack_sdk" 2> /dev/null; then
  echo "installing Slack's own SDK (the cross-check of Slack request signatures) into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "slack_sdk==$SLACK_SDK_VERSION"
fi
if ! "$venv/bin/python" -c "import cryptography" 2> /dev/null; then
  echo "installing cryptography (what tools/verify_bundle.py, the auditor's verifier, needs) into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "cryptography$CRYPTOGRAPHY_RANGE"
fi
# The Python that runs tools/verify_bundle.py in the tests.
HOLDPOINT_TEST_PYTHON="$(cd "$venv" && pwd)/bin/python"
export HOLDPOINT_TEST_PYTHON
echo "cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

if [ ! -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ] || [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "installing chromium and chromium-driver (the review page is tested in a real browser)"
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root=sudo
  $as_root apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null
fi

# No module may import from a module that imports it, in any crate (infra/tests/module_cycles.rs
# shows the check failing on planted knots); first, because it takes a second.
python3 infra/module_cycles.py

[ $# -gt 0 ] || set -- --workspace
infra/with-moto.sh infra/with-postgres.sh cargo test --all-targets "$@"
# --all-targets leaves out doc tests: the client's rustdoc examples must compile too.
cargo test --doc -p holdpoint-client
# The spec held to the server by an outside tool (uses the holdpoint binary the tests built).
cargo build --quiet -p holdpoint-local
infra/schemathesis.sh
# The Python package: ruff, mypy --strict, its tests against that binary, a wheel and an sdist.
infra/python.sh
# The benchmark harness in seconds (debug builds, tiny sizes), so it cannot rot; figures from
# this run mean nothing, the full run writes BENCHMARKS.md.
infra/bench/run.sh --quick
# The deploy as users build it: sam validate --lint, the arm64 bootstraps, sam build.
infra/sam-build.sh
