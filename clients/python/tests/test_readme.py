"""The README's first example runs as written against the real server."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from holdpoint import Client
from tests.conftest import AGENT_KEY, Server

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("edits", [None, {"order": 1042, "eur": 450}])
def test_ask_wait_execute_runs_as_written(
    server: Server, reviewer: Client, monkeypatch: pytest.MonkeyPatch, edits: object
) -> None:
    block = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    monkeypatch.setenv("HOLDPOINT_URL", server.url)
    monkeypatch.setenv("HOLDPOINT_API_KEY", AGENT_KEY)
    refunded: list[dict[str, object]] = []

    started = datetime.now(timezone.utc) - timedelta(seconds=1)

    def decide() -> None:
        # The README's request: the agent's newest pending refund (other tests leave some).
        for _ in range(200):
            pending = reviewer.list_approvals(status="pending", reviewer="reviewer").items
            mine = [
                a
                for a in pending
                if a.action == "Refund order 1042"
                and a.agent_id == "agent"
                and datetime.fromisoformat(str(a.raw["created_at"]).replace("Z", "+00:00"))
                >= started
            ]
            if mine:
                verdict = "approved" if edits is None else "modified"
                reviewer.decide(mine[0].id, verdict, None, edits)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=decide)
    thread.start()
    scope: dict[str, object] = {"refund": lambda **kw: refunded.append(kw)}
    exec(compile(block, "README.md", "exec"), scope)
    thread.join()
    assert refunded == [edits or {"order": 1042, "eur": 900}]
    ticket = scope["ticket"]
    assert isinstance(scope["client"], Client)
    assert scope["client"].get(ticket.id).status == "executed"  # type: ignore[attr-defined]


def test_the_main_readme_shows_the_same_block() -> None:
    main = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    agents = main.split("\n## Agents\n", 1)[1].split("\n## ", 1)[0]
    ours = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    assert re.findall(r"```python\n(.*?)```", agents, re.S)[0] == ours
    assert agents.index("### Python") < agents.index("### Rust")
