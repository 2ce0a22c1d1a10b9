"""A real ``holdpoint serve`` for the suite: started in a temporary directory on a free loopback
port with fixed API keys, stopped at the end. The binary is ``$HOLDPOINT_BIN`` (default
``holdpoint`` on PATH)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from holdpoint import Client, WaitPolicy
from tests.support import LossyProxy

AGENT_KEY = "agent-key-0123456789abcdef"
REVIEWER_KEY = "reviewer-key-0123456789abcdef"
FAST = WaitPolicy(floor=0.1, cap=0.5)
"""Polls fast: the tests wait for decisions made a moment later."""


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path

    def agent(self) -> Client:
        return Client(self.url, api_key=AGENT_KEY, wait_policy=FAST)

    def reviewer(self) -> Client:
        return Client(self.url, api_key=REVIEWER_KEY, wait_policy=FAST)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = os.environ.get("HOLDPOINT_BIN") or shutil.which("holdpoint")
    if not binary:
        pytest.fail("no holdpoint binary: set HOLDPOINT_BIN or put holdpoint on PATH")
    data = tmp_path_factory.mktemp("holdpoint")
    url = f"http://127.0.0.1:{free_port()}"
    keys = {
        AGENT_KEY: {"tenant": "t1", "principal": "agent", "kind": "agent"},
        REVIEWER_KEY: {"tenant": "t1", "principal": "reviewer"},
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HOLDPOINT_") or k == "HOLDPOINT_BIN"
    }
    env.update(
        HOLDPOINT_ADDR=url.removeprefix("http://"),
        HOLDPOINT_LOG="warn",
        HOLDPOINT_API_KEYS=json.dumps(keys),
        # Short expiries for the expiry test.
        HOLDPOINT_MIN_EXPIRY_SECONDS="1",
    )
    log = (data / "server.log").open("wb")
    child = subprocess.Popen(
        [binary, "serve"], cwd=data, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None or time.monotonic() - started > 30:
                raise RuntimeError(f"holdpoint did not start: {(data / 'server.log').read_text()}")
            time.sleep(0.05)
        yield Server(url, data)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()


@pytest.fixture
def agent(server: Server) -> Iterator[Client]:
    with server.agent() as client:
        yield client


@pytest.fixture
def reviewer(server: Server) -> Iterator[Client]:
    with server.reviewer() as client:
        yield client


@pytest.fixture
def agent_id() -> str:
    """A name of its own for each test's agent, to count its approvals."""
    return f"py-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def lossy(server: Server) -> Iterator[LossyProxy]:
    """A proxy to the server that loses its first answer."""
    proxy = LossyProxy(server.url, drop=1)
    yield proxy
    proxy.close()
