#!/usr/bin/env bash
# The deploy as a user builds it, offline: `sam validate --lint`, then `sam build`, which builds
# each function's arm64 bootstrap with `cargo lambda build --release --arm64` (BuildMethod
# rust-cargolambda; it adds target-cpu=neoverse-n1 and panic=abort, so a separate cargo-lambda
# build beforehand would share nothing with it). Built into a scratch directory, checked to be
# AArch64 ELF files.
# Installs cargo-lambda and the SAM CLI into the test venv and the aarch64 standard library on
# first use. Prints each bootstrap's size.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_LAMBDA_VERSION=1.9.2
SAM_CLI_VERSION=1.170.0

venv=${HOLDPOINT_TEST_VENV:-.venv-test}
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/cargo-lambda" ] || [ ! -x "$venv/bin/sam" ]; then
  echo "installing cargo-lambda and the SAM CLI into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" "aws-sam-cli==$SAM_CLI_VERSION"
fi
export PATH="$PWD/$venv/bin:$PATH"
if command -v rustup > /dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "installing the aarch64-unknown-linux-gnu standard library"
  rustup target add aarch64-unknown-linux-gnu
fi

# SAM needs a region to validate; no credentials are used.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0
echo "sam validate --lint"
sam validate --lint

functions=(create read decide escalate notify)
build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT
echo "sam build"
sam build --build-dir "$build_dir" --no-cached > "$build_dir.log" 2>&1 || {
  cat "$build_dir.log" >&2
  exit 1
}
for f in "${functions[@]}"; do
  resource="$(tr '[:lower:]' '[:upper:]' <<< "${f:0:1}")${f:1}Function"
  bootstrap="$build_dir/$resource/bootstrap"
  [ -x "$bootstrap" ] || { echo "sam build made no $bootstrap" >&2; exit 1; }
  # ELF e_machine (offset 18) 0xb7 is AArch64.
  [ "$(od -An -tx1 -j18 -N1 "$bootstrap" | tr -d ' ')" = b7 ] || { echo "$bootstrap is not arm64" >&2; exit 1; }
  printf 'arm64 bootstrap %-9s %s bytes\n' "$f" "$(stat -c %s "$bootstrap")"
done
rm -f "$build_dir.log"
