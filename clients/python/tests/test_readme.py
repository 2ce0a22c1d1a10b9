"""The README's examples run as written against the real server."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from holdpoint import Approval, Client
from tests.conftest import AGENT_KEY, Server, free_port

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("edits", [None, {"order": 1042, "eur": 450}])
def test_ask_wait_execute_runs_as_written(
    server: Server,
    reviewer: Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edits: dict[str, int] | None,
) -> None:
    block = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    monkeypatch.setenv("HOLDPOINT_URL", server.url)
    monkeypatch.setenv("HOLDPOINT_API_KEY", AGENT_KEY)
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
    scope: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), scope)
    thread.join()
    eur = (edits or {"eur": 900})["eur"]
    assert capsys.readouterr().out.splitlines() == [f"refunded {eur} EUR on order 1042"]
    ticket = scope["ticket"]
    assert isinstance(scope["client"], Client)
    assert scope["client"].get(ticket.id).status == "executed"  # type: ignore[attr-defined]


def test_the_main_readme_shows_the_same_block() -> None:
    main = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    agents = main.split("\n## Agents\n", 1)[1].split("\n## ", 1)[0]
    ours = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    assert re.findall(r"```python\n(.*?)```", agents, re.S)[0] == ours
    assert agents.index("### Python") < agents.index("### Rust")


# The decorator, callbacks, LangGraph and OpenAI Agents SDK examples: complete programs, run
# as written, each as a process of its own (as a user runs it), against the real server.


def example(section: str) -> str:
    """The first Python block under the README's ``## {section}`` heading."""
    text = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", text, re.S)
    return blocks[0]


def start(server: Server, section: str, cwd: Path, **more_env: str) -> subprocess.Popen[str]:
    program = cwd / "example.py"
    program.write_text(example(section), encoding="utf-8")
    env = {**os.environ, "HOLDPOINT_URL": server.url, "HOLDPOINT_API_KEY": AGENT_KEY, **more_env}
    return subprocess.Popen(
        [sys.executable, str(program)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> list[str]:
    """The lines the program printed; it must end well."""
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out.splitlines()


def refunds_since(reviewer: Client, since: datetime) -> list[Approval]:
    """The examples' approvals made since ``since``, newest first."""
    return [
        a
        for a in reviewer.list_approvals(agent_id="agent", limit=100).items
        if a.action == "Run refund"
        and datetime.fromisoformat(str(a.raw["created_at"]).replace("Z", "+00:00")) >= since
    ]


def asked(reviewer: Client, since: datetime, process: subprocess.Popen[str]) -> Approval:
    """The program's approval, once it has asked (and waits)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = [a for a in refunds_since(reviewer, since) if a.status == "pending"]
        if pending:
            (approval,) = pending
            return approval
        if process.poll() is not None:
            pytest.fail(f"the example ended before asking: {process.communicate()}")
        time.sleep(0.1)
    pytest.fail("the example never asked")


@pytest.mark.parametrize("decision", ["modified", "rejected"])
def test_decorated_tool_example_runs_only_what_the_reviewer_approved(
    server: Server, reviewer: Client, tmp_path: Path, decision: str
) -> None:
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    process = start(server, "A gate, or a decorated tool", tmp_path)
    approval = asked(reviewer, since, process)
    if decision == "modified":
        reviewer.decide(approval.id, "modified", None, {"order": 1042, "eur": 450})
        assert finish(process) == ["refunded 450 EUR on order 1042"]
        assert reviewer.get(approval.id).status == "executed"
    else:
        reviewer.decide(approval.id, "rejected", "already refunded")
        (line,) = finish(process)  # the tool never ran
        assert line.startswith("not refunded: ") and "already refunded" in line
        assert reviewer.get(approval.id).status == "rejected"


def test_callbacks_example_prints_signed_callbacks_and_refuses_the_rest(
    server: Server, tmp_path: Path
) -> None:
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    port = free_port()
    process = start(server, "Callbacks", tmp_path, HOLDPOINT_WEBHOOK_SECRET=secret, PORT=str(port))
    try:
        body = '{"type":"approval.approved","data":{"approval_id":"a1","eur":1.50}}'
        now = datetime.now(timezone.utc)

        def post(secret: str, at: datetime) -> int:
            headers = {
                "webhook-id": "msg_1",
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": Webhook(secret).sign("msg_1", at, body),
                "content-type": "application/json",
            }
            url = f"http://127.0.0.1:{port}/holdpoint"
            for _ in range(300):  # until the program listens
                try:
                    return httpx.post(url, content=body, headers=headers).status_code
                except httpx.ConnectError:
                    time.sleep(0.05)
            pytest.fail(f"the example never listened: {process.poll()}")

        forged = "whsec_" + base64.b64encode(b"f" * 32).decode()
        assert post(forged, now) == 401
        assert post(secret, now - timedelta(minutes=6)) == 401
        assert post(secret, now) == 204
    finally:
        process.terminate()
    out, _ = process.communicate(timeout=30)
    assert out.splitlines() == ["approval.approved"]


def test_langgraph_example_restarted_between_ask_and_decision_runs_the_edits_once(
    server: Server, reviewer: Client, tmp_path: Path
) -> None:
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    first = start(server, "LangGraph", tmp_path)
    try:
        approval = asked(reviewer, since, first)
        assert first.poll() is None  # still waiting in the tool node
    finally:
        first.kill()  # the agent dies while it waits for the reviewer
    out, _ = first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL and "refunded" not in out

    reviewer.decide(approval.id, "modified", "half of it", {"order": 1042, "eur": 450})
    again = start(server, "LangGraph", tmp_path)  # a new process, the same checkpoints
    assert finish(again) == ["refunded 450 EUR on order 1042", "Done."]
    assert [(a.id, a.status) for a in refunds_since(reviewer, since)] == [(approval.id, "executed")]


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_openai_agents_example_runs_only_what_holdpoint_approves(
    server: Server, reviewer: Client, tmp_path: Path, decision: str
) -> None:
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    process = start(server, "OpenAI Agents SDK", tmp_path)
    approval = asked(reviewer, since, process)
    reviewer.decide(approval.id, decision, "already refunded" if decision == "rejected" else None)
    if decision == "approved":
        assert finish(process) == ["refunded 900 EUR on order 1042", "Done."]
        assert reviewer.get(approval.id).status == "executed"
    else:
        assert finish(process) == ["Done."]  # the tool never ran
        assert reviewer.get(approval.id).status == "rejected"
    assert [a.id for a in refunds_since(reviewer, since)] == [approval.id]
