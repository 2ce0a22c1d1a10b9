"""Every way a wait ends, against the real server; execute bound to what was approved."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from holdpoint import (
    AgentsCannotDecideError,
    ApprovalRequest,
    Approved,
    AsyncClient,
    Cancelled,
    Client,
    ConflictError,
    ContextMismatchError,
    Expired,
    Modified,
    NotFoundError,
    RawJSON,
    Rejected,
    TimedOut,
    ToolCall,
    is_approved,
)
from tests.conftest import AGENT_KEY, FAST, Server


def ask(agent: Client, agent_id: str, **options: object) -> ApprovalRequest:
    return ApprovalRequest(
        "Pay invoice 77",
        agent_id=agent_id,
        reviewers=["reviewer"],
        context={"invoice": 77, "eur": 1.50, "payee": "Zoë"},
        tool_call=ToolCall("payments.send", {"eur": RawJSON("1.50"), "to": "Zoë"}),
        **options,  # type: ignore[arg-type]
    )


def later(seconds: float, step: Callable[[], object]) -> threading.Thread:
    """Runs ``step`` after ``seconds`` (a reviewer deciding while the agent waits)."""

    def run() -> None:
        time.sleep(seconds)
        step()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_approved_then_executed_once(agent: Client, reviewer: Client, agent_id: str) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    decider = later(0.3, lambda: reviewer.decide(ticket.id, "approved", "fine"))
    outcome = agent.wait(ticket.id, timeout=10)
    decider.join()
    assert outcome == Approved("reviewer", "fine") and is_approved(outcome)
    done = agent.execute(ticket)
    assert done.status == "executed"
    with pytest.raises(ConflictError) as again:
        agent.execute(ticket)
    assert again.value.status == 409


def test_modified_runs_the_edits_with_their_numbers_as_written(
    agent: Client, reviewer: Client, agent_id: str
) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    edits = RawJSON('{"eur": 1.0e0, "to": "Zoë", "memo": 18446744073709551616}')
    later(0.3, lambda: reviewer.decide(ticket.id, "modified", "one euro", edits)).join()
    outcome = agent.wait(ticket.id, timeout=10)
    assert isinstance(outcome, Modified) and outcome.by == "reviewer"
    assert outcome.comment == "one euro" and is_approved(outcome)
    assert outcome.output == {"eur": 1.0, "to": "Zoë", "memo": 18446744073709551616}
    assert outcome.output["eur"].json_text == "1.0e0"
    # The request as sent, without the edits, is not what was approved.
    with pytest.raises(ContextMismatchError):
        agent.execute(ticket)
    assert agent.execute(ticket, outcome).status == "executed"


def test_rejected_with_its_comment(agent: Client, reviewer: Client, agent_id: str) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    later(0.2, lambda: reviewer.decide(ticket.id, "rejected", "not this month"))
    outcome = agent.wait(ticket.id, timeout=10)
    assert outcome == Rejected("reviewer", "not this month") and not is_approved(outcome)


def test_expired_is_seen_when_it_happens(server: Server, agent: Client, agent_id: str) -> None:
    slow = Client(server.url, api_key=AGENT_KEY)  # the default policy: floor 1 s, cap 30 s
    ticket = slow.request_approval(ask(agent, agent_id, expires_in_seconds=2))
    outcome = slow.wait(ticket.id, timeout=60)
    late = (datetime.now(timezone.utc) - ticket.approval.expires_at).total_seconds()
    assert outcome == Expired()
    # No pause ran past expires_at: seen within a floor (1 s) and a request of it.
    assert 0 <= late < 1.5, late
    slow.close()


def test_cancelled_by_the_requester(agent: Client, reviewer: Client, agent_id: str) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    later(0.2, lambda: agent.cancel(ticket.id, "not needed"))
    assert agent.wait(ticket.id, timeout=10) == Cancelled("agent")


def test_timed_out_while_still_pending(agent: Client, agent_id: str) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    started = time.monotonic()
    assert agent.wait(ticket.id, timeout=0.8) == TimedOut()
    took = time.monotonic() - started
    assert 0.8 <= took < 1.5, took
    assert agent.get(ticket.id).status == "pending"
    agent.cancel(ticket.id)


def test_a_tampered_context_is_refused_at_execute(
    agent: Client, reviewer: Client, agent_id: str
) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    reviewer.decide(ticket.id, "approved")
    assert agent.wait(ticket.id, timeout=10) == Approved("reviewer", None)
    # What runs is not what was approved: 1.50 spelled 1.5 is another document.
    assert ticket.request.tool_call is not None
    ticket.request.tool_call = ToolCall("payments.send", {"eur": 1.5, "to": "Zoë"})
    with pytest.raises(ContextMismatchError) as refused:
        agent.execute(ticket)
    assert refused.value.status == 422 and refused.value.code == "context_mismatch"
    assert "context" in refused.value.detail
    assert agent.get(ticket.id).status == "approved"


def test_problems_are_typed(agent: Client, agent_id: str) -> None:
    ticket = agent.request_approval(ask(agent, agent_id))
    with pytest.raises(AgentsCannotDecideError) as refused:
        agent.decide(ticket.id, "approved")
    assert refused.value.status == 403
    with pytest.raises(NotFoundError) as missing:
        agent.get("00000000-0000-4000-8000-000000000000")
    assert missing.value.code == "not_found" and missing.value.status == 404
    agent.cancel(ticket.id)


async def test_async_client_asks_waits_and_executes(
    server: Server, reviewer: Client, agent_id: str
) -> None:
    async with AsyncClient(server.url, api_key=AGENT_KEY, wait_policy=FAST) as agent:
        request = ApprovalRequest(
            "Drop stale tables",
            agent_id=agent_id,
            reviewers=["reviewer"],
            context={"tables": ["tmp_1", "tmp_2"]},
        )
        ticket = await agent.request_approval(request)
        later(0.3, lambda: reviewer.decide(ticket.id, "modified", None, ["tmp_2"]))
        outcome = await agent.wait(ticket.id, timeout=10)
        assert outcome == Modified("reviewer", ["tmp_2"], None)
        assert (await agent.execute(ticket, outcome)).status == "executed"
        page = await agent.list_approvals(agent_id=agent_id)
        assert [a.status for a in page.items] == ["executed"]
