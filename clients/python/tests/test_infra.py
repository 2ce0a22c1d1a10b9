"""infra/python.sh, the package's CI: its venv follows the pinned versions, and the wheel and
sdist are built by the pinned build backend, never by one fetched for the occasion."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parents[1]
SCRIPT = ROOT / "infra" / "python.sh"
CONSTRAINTS = ROOT / "infra" / "python-constraints.txt"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="outside the repository (an sdist)")


def pinned() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def test_the_build_backend_is_pinned_installed_and_used_without_isolation() -> None:
    pyproject = (HERE / "pyproject.toml").read_text(encoding="utf-8")
    system = re.search(r"\[build-system\]\nrequires = \[(.*?)\]", pyproject)
    assert system is not None
    names = [
        re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0] for r in re.findall(r'"([^"]+)"', system[1])
    ]
    assert names == ["hatchling"]
    pins = pinned()
    for name in [*names, "editables", "build"]:
        # Pinned, and the venv these tests run in holds exactly that version.
        assert importlib.metadata.version(name) == pins[name], name
    script = SCRIPT.read_text(encoding="utf-8")
    runs = [line.strip() for line in script.splitlines()]
    builds = [line for line in runs if "-m build" in line and not line.startswith(("#", "echo"))]
    assert builds and all("--no-isolation" in line for line in builds), builds


def run(tree: Path) -> list[str]:
    """Runs the copy of python.sh in ``tree`` up to its setup (no holdpoint binary there: it
    stops after it) and answers what it asked pip to do."""
    log = tree / "pip.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "HOLDPOINT_PYTHON_VENV": str(tree / "venv"),
        "CARGO_TARGET_DIR": str(tree / "target"),
    }
    done = subprocess.run(
        ["bash", str(tree / "infra" / "python.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0 and "build holdpoint-local first" in done.stderr, done.stderr
    return log.read_text().splitlines() if log.exists() else []


def test_the_venv_is_reinstalled_when_the_pins_or_the_pyproject_change(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "clients" / "python").mkdir(parents=True)
    (tmp_path / "target" / "debug").mkdir(parents=True)
    shutil.copy(SCRIPT, tmp_path / "infra")
    shutil.copy(CONSTRAINTS, tmp_path / "infra")
    pyproject = tmp_path / "clients" / "python" / "pyproject.toml"
    shutil.copy(HERE / "pyproject.toml", pyproject)
    # A venv whose python has every module (it answers yes to any import) and whose pip notes
    # what it was asked.
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool, body in [("python", "exit 0"), ("pip", f'echo "$*" >> {tmp_path}/pip.log')]:
        (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / tool).chmod(0o755)

    first = run(tmp_path)
    assert first and all("-c infra/python-constraints.txt" in line for line in first), first
    # The pinned backend first, then the package built by it (no isolated env to fetch one).
    assert first[0].endswith(" hatchling editables"), first
    assert "--no-build-isolation" in first[1] and "-e clients/python[test]" in first[1], first
    assert run(tmp_path) == [], "nothing changed: nothing to install"
    constraints = tmp_path / "infra" / "python-constraints.txt"
    constraints.write_text(constraints.read_text().replace("httpx==", "httpx==0.0.0\n# was "))
    assert run(tmp_path) == first, "a pin changed"
    assert run(tmp_path) == []
    pyproject.write_text(pyproject.read_text().replace('"httpx>=0.27,<1"', '"httpx>=0.28,<1"'))
    assert run(tmp_path) == first, "the package's requirements changed"
    assert run(tmp_path) == []
