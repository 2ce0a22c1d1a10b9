"""LangGraph's real graph, ToolNode, interrupt and SQLite checkpointer, with a scripted model:
the gated tool asks once, survives a process restart between asking and the decision, runs
with the reviewer's edits, and a rejection stops it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")

from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.types import Command

from holdpoint import Client
from tests.conftest import AGENT_KEY, Server
from tests.langgraph_agent import build

HERE = Path(__file__).resolve().parents[1]


def refunds(log: Path) -> list[dict[str, int]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def run_agent(server: Server, db: Path, agent_id: str, log: Path, mode: str) -> dict[str, Any]:
    """One run of the agent as a process of its own."""
    argv = [server.url, AGENT_KEY, str(db), agent_id, f"t-{agent_id}", str(log), mode]
    done = subprocess.run(
        [sys.executable, "-m", "tests.langgraph_agent", *argv],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_a_restart_between_ask_and_decision_runs_the_edits_once(
    server: Server, agent: Client, reviewer: Client, agent_id: str, tmp_path: Path
) -> None:
    db, log = tmp_path / "checkpoints.sqlite", tmp_path / "refunds.jsonl"
    first = run_agent(server, db, agent_id, log, "ask")  # asks, pauses, the process exits
    assert refunds(log) == []
    (pending,) = agent.list_approvals(agent_id=agent_id).items
    assert pending.status == "pending" and first["paused"]["holdpoint_approval_id"] == pending.id

    # Resumed before anyone decided: still paused, still one approval.
    again = run_agent(server, db, agent_id, log, "resume")
    assert again["paused"]["holdpoint_approval_id"] == pending.id
    assert len(agent.list_approvals(agent_id=agent_id).items) == 1

    reviewer.decide(pending.id, "modified", "half", {"order": 1042, "eur": 450})
    done = run_agent(server, db, agent_id, log, "resume")  # a new process resumes the thread
    assert done == {"paused": None, "last": "done: refunded 450 EUR on order 1042"}
    assert refunds(log) == [{"order": 1042, "eur": 450}]
    (executed,) = agent.list_approvals(agent_id=agent_id).items
    assert executed.id == pending.id and executed.status == "executed"


def test_a_rejection_stops_the_tool(
    agent: Client, reviewer: Client, agent_id: str, tmp_path: Path
) -> None:
    log = tmp_path / "refunds.jsonl"
    config: Any = {"configurable": {"thread_id": f"t-{agent_id}"}}
    graph = build(agent, tmp_path / "checkpoints.sqlite", agent_id, log)
    graph.invoke({"messages": [HumanMessage("refund 1042")]}, config)
    (pending,) = agent.list_approvals(agent_id=agent_id).items
    reviewer.decide(pending.id, "rejected", "order already refunded")
    done = graph.invoke(Command(resume="decided"), config)
    assert refunds(log) == []
    (tool_answer,) = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    assert "not approved" in str(tool_answer.content)
    assert "order already refunded" in done["messages"][-1].content
    assert [a.status for a in agent.list_approvals(agent_id=agent_id).items] == ["rejected"]


def test_any_thread_id_makes_a_valid_key(
    agent: Client, reviewer: Client, agent_id: str, tmp_path: Path
) -> None:
    """A thread id no Idempotency-Key may hold as is (not ASCII, over 200 characters)."""
    log = tmp_path / "refunds.jsonl"
    config: Any = {"configurable": {"thread_id": f"fil-{agent_id}-é-" + "x" * 250}}
    graph = build(agent, tmp_path / "checkpoints.sqlite", agent_id, log)
    graph.invoke({"messages": [HumanMessage("refund 1042")]}, config)
    (pending,) = agent.list_approvals(agent_id=agent_id).items
    reviewer.decide(pending.id, "approved")
    done = graph.invoke(Command(resume="decided"), config)
    assert refunds(log) == [{"order": 1042, "eur": 900}]
    assert done["messages"][-1].content == "done: refunded 900 EUR on order 1042"
