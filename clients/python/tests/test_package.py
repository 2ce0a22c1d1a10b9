"""The package's promises: its version is the API's, every problem code is a class, the async
client is the sync one awaited, and credentials cross the network only over https."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import holdpoint
from holdpoint import PROBLEMS, Client, ProblemError, problem

HERE = Path(__file__).resolve().parents[1]
OPENAPI = (HERE.parents[1] / "openapi.yaml").read_text(encoding="utf-8")


def test_the_version_is_the_api_version() -> None:
    api = re.search(r'^info:\n(?:  .*\n)*?  version: "?([^"\n]+)"?$', OPENAPI, re.M)
    assert api is not None
    pyproject = (HERE / "pyproject.toml").read_text(encoding="utf-8")
    assert f'\nversion = "{api.group(1)}"\n' in pyproject
    assert holdpoint.__version__ == api.group(1)


def test_every_documented_code_is_a_class() -> None:
    line = next(line for line in OPENAPI.splitlines() if 'description: "Stable:' in line)
    words = set(re.split(r'[, ."()]', line.split("Stable:")[1]))
    single = {"conflict", "unavailable", "internal", "unauthenticated"}
    codes = {w for w in words if ("_" in w and re.fullmatch("[a-z_]+", w)) or w in single}
    assert codes == set(PROBLEMS)
    for code, kind in PROBLEMS.items():
        assert issubclass(kind, ProblemError) and kind.code == code
        assert getattr(holdpoint, kind.__name__) is kind
        e = problem(409, {"code": code, "detail": "d"}, "", None)
        assert type(e) is kind and (e.code, e.status, e.detail) == (code, 409, "d")
    newer = problem(418, {"code": "teapot", "detail": "short"}, "", None)
    assert type(newer) is ProblemError and newer.code == "teapot"
    bare = problem(502, None, "<html>bad gateway</html>", None)
    assert bare.code == "http_502" and "bad gateway" in bare.detail


def test_aio_is_client_awaited() -> None:
    sys.path.insert(0, str(HERE / "scripts"))
    try:
        from make_aio import asynchronous
    finally:
        sys.path.pop(0)
    made = asynchronous((HERE / "src/holdpoint/client.py").read_text(encoding="utf-8"))
    ruff = [sys.executable, "-m", "ruff", "format", "--stdin-filename", "aio.py", "-"]
    formatted = subprocess.run(
        ruff, input=made, capture_output=True, text=True, check=True, cwd=HERE
    )
    assert formatted.stdout == (HERE / "src/holdpoint/aio.py").read_text(encoding="utf-8")


def test_credentials_cross_the_network_only_over_https() -> None:
    for ok in [
        "https://approvals.example.com",
        "http://127.0.0.1:8004",
        "http://[::1]:8004/",
        "http://localhost:8004",
    ]:
        Client(ok, api_key="k").close()
    for refused in ["http://approvals.example.com", "http://10.0.0.7:8004", "ftp://x", "nope"]:
        with pytest.raises(ValueError):
            Client(refused, api_key="k")


def test_the_readmes_links_work_where_it_is_read() -> None:
    """PyPI shows the README out of the sdist and its checkout: each link is absolute, or names
    a file the sdist carries (nothing above the package, nothing left out of it)."""
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", readme, flags=re.S)
    pyproject = (HERE / "pyproject.toml").read_text(encoding="utf-8")
    sdist = re.search(r"\[tool\.hatch\.build\.targets\.sdist\]\ninclude = \[(.*?)\]", pyproject)
    assert sdist is not None
    carried = re.findall(r'"([^"]+)"', sdist.group(1))
    links = re.findall(r"\]\(\s*<?([^)\s>]+)", prose) + re.findall(
        r"^\[[^\]]+\]:\s*(\S+)", prose, re.M
    )
    assert links, "no links found: the pattern is wrong"
    for link in links:
        if re.match(r"https?://", link) or link.startswith("#"):
            continue
        target = (HERE / link.split("#")[0]).resolve()
        assert target.is_relative_to(HERE) and target.exists(), link
        path = target.relative_to(HERE).as_posix()
        assert any(path == c or path.startswith(c + "/") for c in carried), link
