"""The gate and the decorator: ask only when the policy says, run only on approval, with the
reviewer's edits, and mark it executed; a refusal stops the tool."""

from __future__ import annotations

import threading
import time

import pytest

from holdpoint import (
    ApprovalRequest,
    AsyncClient,
    Client,
    NotApprovedError,
    Ran,
    Refused,
    Rejected,
    TimedOut,
    ToolCall,
    Unasked,
    any_of,
    requires_approval,
    risk_at_least,
    tools,
)
from tests.conftest import AGENT_KEY, FAST, Server


def decide_next(reviewer: Client, agent_id: str, *decision: object) -> threading.Thread:
    """The reviewer decides the agent's next pending approval as soon as it appears."""

    def run() -> None:
        for _ in range(100):
            page = reviewer.list_approvals(agent_id=agent_id, status="pending")
            if page.items:
                reviewer.decide(page.items[0].id, *decision)  # type: ignore[arg-type]
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_policies() -> None:
    low = ApprovalRequest("read", risk_score=10, tool_call=ToolCall("db.read"))
    high = ApprovalRequest("drop", risk_score=90, tool_call=ToolCall("db.drop"))
    unscored = ApprovalRequest("x")
    policy = any_of(risk_at_least(50), tools("payments.refund"))
    assert [policy(r) for r in (low, high, unscored)] == [False, True, True]
    assert tools("db.read")(low) and not tools("db.read")(unscored)


def test_gate_runs_unasked_approved_and_edited(
    agent: Client, reviewer: Client, agent_id: str
) -> None:
    ran: list[object] = []

    def step(edited: object) -> str:
        ran.append(edited)
        return "ok"

    request = ApprovalRequest(
        "Refund",
        agent_id=agent_id,
        reviewers=["reviewer"],
        risk_score=10,
        tool_call=ToolCall("payments.refund", {"eur": 900}),
    )
    done = agent.gate(risk_at_least(50), request, 10, step)
    assert done == Unasked("ok") and ran == [None]
    assert agent.list_approvals(agent_id=agent_id).items == []

    decide_next(reviewer, agent_id, "modified", "less", {"eur": 450})
    done = agent.gate(tools("payments.refund"), request, 10, step)
    assert isinstance(done, Ran) and done.edited == {"eur": 450}
    assert done.approval.status == "executed" and ran[-1] == {"eur": 450}


def test_gate_withdraws_a_request_it_stopped_waiting_for(agent: Client, agent_id: str) -> None:
    request = ApprovalRequest("Refund", agent_id=agent_id, reviewers=["reviewer"])
    done = agent.gate(lambda _: True, request, 0.3, lambda _: pytest.fail("must not run"))
    assert done == Refused(TimedOut())
    assert [a.status for a in agent.list_approvals(agent_id=agent_id).items] == ["cancelled"]


def test_decorated_tool_runs_with_edits_and_a_rejection_stops_it(
    agent: Client, reviewer: Client, agent_id: str
) -> None:
    calls: list[tuple[str, int]] = []

    @requires_approval(agent, reviewers=["reviewer"], agent_id=agent_id, timeout=10)
    def transfer(to: str, eur: int = 10) -> str:
        calls.append((to, eur))
        return f"sent {eur} to {to}"

    decide_next(reviewer, agent_id, "approved")
    assert transfer("zoe") == "sent 10 to zoe"
    decide_next(reviewer, agent_id, "modified", None, {"to": "zoe", "eur": 5})
    assert transfer("zoe", eur=50) == "sent 5 to zoe"
    decide_next(reviewer, agent_id, "rejected", "no")
    with pytest.raises(NotApprovedError) as refused:
        transfer("mallory", 1000)
    assert refused.value.outcome == Rejected("reviewer", "no")
    assert calls == [("zoe", 10), ("zoe", 5)]
    statuses = sorted(a.status for a in agent.list_approvals(agent_id=agent_id).items)
    assert statuses == ["executed", "executed", "rejected"]


async def test_decorated_async_tool(server: Server, reviewer: Client, agent_id: str) -> None:
    async with AsyncClient(server.url, api_key=AGENT_KEY, wait_policy=FAST) as agent:

        @requires_approval(agent, reviewers=["reviewer"], agent_id=agent_id, timeout=10)
        async def drop(table: str) -> str:
            return f"dropped {table}"

        thread = decide_next(reviewer, agent_id, "modified", None, {"table": "tmp_2"})
        assert await drop("users") == "dropped tmp_2"
        thread.join()

        with pytest.raises(TypeError):
            requires_approval(agent, reviewers=["reviewer"])(lambda: None)


def test_a_tool_with_star_args_and_kwargs_gets_what_was_approved(
    agent: Client, reviewer: Client, agent_id: str
) -> None:
    calls: list[tuple[str, tuple[int, ...], dict[str, str]]] = []

    @requires_approval(agent, reviewers=["reviewer"], agent_id=agent_id, timeout=10)
    def tag(table: str, *rows: int, **labels: str) -> int:
        calls.append((table, rows, labels))
        return len(rows)

    thread = decide_next(reviewer, agent_id, "approved")
    assert tag("users", 1, 2, colour="red") == 2
    thread.join()
    (asked,) = agent.list_approvals(agent_id=agent_id).items
    assert asked.tool_call is not None
    assert asked.tool_call["arguments"] == {
        "table": "users",
        "rows": [1, 2],
        "labels": {"colour": "red"},
    }
    edits = {"table": "users", "rows": [3], "labels": {"size": "s"}}
    thread = decide_next(reviewer, agent_id, "modified", None, edits)
    assert tag("users", 1, 2, colour="red") == 1
    thread.join()
    assert calls == [("users", (1, 2), {"colour": "red"}), ("users", (3,), {"size": "s"})]


async def test_an_async_tool_with_star_args_and_kwargs(
    server: Server, reviewer: Client, agent_id: str
) -> None:
    async with AsyncClient(server.url, api_key=AGENT_KEY, wait_policy=FAST) as agent:

        @requires_approval(agent, reviewers=["reviewer"], agent_id=agent_id, timeout=10)
        async def join(*parts: str, **options: str) -> str:
            return options.get("sep", "").join(parts)

        thread = decide_next(reviewer, agent_id, "approved")
        assert await join("a", "b", sep="-") == "a-b"
        thread.join()
        edits = {"parts": ["c", "d", "e"], "options": {"sep": "+"}}
        thread = decide_next(reviewer, agent_id, "modified", None, edits)
        assert await join("a", "b", sep="-") == "c+d+e"
        thread.join()
