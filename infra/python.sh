#!/usr/bin/env bash
# The Python package (clients/python), as CI runs it: ruff, mypy --strict, its pytest suite
# against a real `holdpoint serve` (the binary the Rust tests built; each test starts and stops
# its own) including the shared context-hash vectors, and a wheel and an sdist. Its own venv,
# so the package's dependencies never mix with the test tools' (.venv-test).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HOLDPOINT_PYTHON_VENV:-.venv-python}
pkg=clients/python
if ! "$venv/bin/python" -c "import holdpoint, pytest, mypy, langgraph, agents, botocore" 2> /dev/null; then
  echo "installing the Python package and its test tools into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c infra/python-constraints.txt -e "$pkg[test]"
fi
bin="$(cd "${CARGO_TARGET_DIR:-target}/debug" && pwd)/holdpoint"
[ -x "$bin" ] || { echo "no $bin: build holdpoint-local first" >&2; exit 1; }
py="$(cd "$venv/bin" && pwd)"
(
  cd "$pkg"
  echo "ruff, mypy --strict (clients/python)"
  "$py/ruff" check .
  "$py/ruff" format --check .
  "$py/mypy"
  echo "pytest (clients/python) against $bin"
  # Bounded: a wait that never ends must not hold CI.
  HOLDPOINT_BIN="$bin" timeout 600 "$py/pytest" -q -p no:cacheprovider
)
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
"$py/python" -m build --outdir "$dist" "$pkg" > /dev/null
ls "$dist"/holdpoint-*.whl "$dist"/holdpoint-*.tar.gz > /dev/null
echo "python -m build: $(cd "$dist" && ls | tr '\n' ' ')"
