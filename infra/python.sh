#!/usr/bin/env bash
# The Python package (clients/python), as CI runs it: ruff, mypy --strict, its pytest suite
# against a real `holdpoint serve` (the binary the Rust tests built; each test starts and stops
# its own) including the shared context-hash vectors, and a wheel and an sdist. Its own venv,
# so the package's dependencies never mix with the test tools' (.venv-test). Everything in it,
# the build backend included, is at the versions infra/python-constraints.txt pins: the venv is
# brought to them again whenever the pins, the package's pyproject.toml or this recipe change
# (a hash of them is kept in the venv), and `python -m build` runs without isolation, with the
# venv's pinned hatchling, so CI fetches no unpinned tool.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HOLDPOINT_PYTHON_VENV:-.venv-python}
pkg=clients/python
constraints=infra/python-constraints.txt
# The build backend the pyproject names (and what its editable builds need), installed pinned
# first: the package's own editable install and `python -m build` then use it instead of
# fetching one into an isolated build env.
backend=(hatchling editables)
inputs=$({ cat "$constraints" "$pkg/pyproject.toml"; echo "${backend[*]}"; } | sha256sum | cut -d' ' -f1)
stamp="$venv/.holdpoint-inputs"
modules=holdpoint,pytest,mypy,langgraph,agents,botocore,hatchling,editables
if [ "$(cat "$stamp" 2> /dev/null)" != "$inputs" ] \
  || ! "$venv/bin/python" -c "import $modules" 2> /dev/null; then
  echo "installing the Python package, its test tools and build backend into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  rm -f "$stamp"
  pip=("$venv/bin/pip" install --quiet --disable-pip-version-check -c "$constraints")
  "${pip[@]}" "${backend[@]}"
  "${pip[@]}" --no-build-isolation -e "$pkg[test]"
  echo "$inputs" > "$stamp"
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
"$py/python" -m build --no-isolation --outdir "$dist" "$pkg" > /dev/null
ls "$dist"/holdpoint-*.whl "$dist"/holdpoint-*.tar.gz > /dev/null
echo "python -m build: $(cd "$dist" && ls | tr '\n' ' ')"
