"""Retry-After honoured, backoff within its floor and cap, never past the deadline (a mock
transport: the server is asked to be busy on cue)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from holdpoint import ApprovalRequest, Approved, Client, TimedOut, UnavailableError, WaitPolicy
from holdpoint._pacing import Backoff, retry_after

ID = "6f1c2a8e-0000-4000-8000-000000000001"


def approval(status: str, expires_in: float = 3600) -> dict[str, object]:
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    decided = {"decision": "approved", "by": "reviewer", "comment": None}
    return {
        "id": ID,
        "status": status,
        "action": "a",
        "agent_id": "bot",
        "requested_by": "bot",
        "reviewers": ["reviewer"],
        "context": {},
        "context_hash": "0" * 64,
        "tool_call": None,
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
        "decision": decided if status == "approved" else None,
        "cancelled_by": None,
    }


def busy(after: str) -> httpx.Response:
    body = {"code": "unavailable", "detail": "busy"}
    return httpx.Response(503, json=body, headers={"retry-after": after})


class Script:
    """Answers requests in turn, and records them and the pauses the client takes."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.pauses: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def client(self, policy: WaitPolicy | None = None) -> Client:
        client = Client(
            "https://holdpoint.example",
            api_key="k",
            wait_policy=policy or WaitPolicy(0.1, 0.4),
            transport=httpx.MockTransport(self),
        )
        client._sleep = self.pauses.append
        return client


def test_wait_honours_retry_after_in_seconds_and_as_a_date() -> None:
    date = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    script = Script(
        busy("3"),
        busy(date),
        httpx.Response(200, json=approval("pending")),
        httpx.Response(200, json=approval("approved")),
    )
    outcome = script.client().wait(ID, timeout=120)
    assert outcome == Approved("reviewer", None)
    first, second, third = script.pauses
    assert first == 3.0
    assert 28 <= second <= 30
    assert 0.1 <= third <= 0.4  # back to the backoff, between floor and cap


def test_a_retry_after_past_the_wait_ends_it_timed_out_without_polling_early() -> None:
    script = Script(busy("30"))
    assert script.client().wait(ID, timeout=5) == TimedOut()
    assert len(script.requests) == 1 and script.pauses == [pytest.approx(5, abs=0.1)]


def test_create_waits_out_429_and_resends_with_the_same_key() -> None:
    too_many = httpx.Response(
        429, json={"code": "unavailable", "detail": "slow down"}, headers={"retry-after": "2"}
    )
    script = Script(too_many, busy("1"), httpx.Response(201, json=approval("pending")))
    ticket = script.client().request_approval(ApprovalRequest("a", reviewers=["reviewer"]))
    assert ticket.id == ID
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1
    assert script.pauses[0] == 2.0 and script.pauses[1] == 1.0
    bodies = {r.content for r in script.requests}
    assert len(bodies) == 1 and json.loads(bodies.pop())["action"] == "a"


def test_create_gives_up_after_four_attempts_with_the_last_problem() -> None:
    script = Script(*(busy("1") for _ in range(4)))
    with pytest.raises(UnavailableError) as refused:
        script.client().request_approval(ApprovalRequest("a", reviewers=["reviewer"]))
    assert refused.value.retry_after == 1.0 and len(script.requests) == 4


def test_create_does_not_sleep_through_a_long_retry_after() -> None:
    for after in ("3600", format_datetime(datetime.now(timezone.utc) + timedelta(hours=2))):
        script = Script(busy(after))
        with pytest.raises(UnavailableError, match="longer than the 60 s") as refused:
            script.client().request_approval(ApprovalRequest("a", reviewers=["reviewer"]))
        assert refused.value.retry_after is not None and refused.value.retry_after > 60
        assert len(script.requests) == 1 and script.pauses == []
    script = Script(busy("60"), httpx.Response(201, json=approval("pending")))
    script.client().request_approval(ApprovalRequest("a", reviewers=["reviewer"]))
    assert script.pauses == [60.0]


def test_no_pause_runs_past_expires_at() -> None:
    # Pending, expiring in 0.5 s, with a backoff whose floor is 0.2 and cap 10.
    script = Script(
        *(httpx.Response(200, json=approval("pending", expires_in=0.5)) for _ in range(8)),
        httpx.Response(200, json=approval("approved")),
    )
    script.client(WaitPolicy(0.2, 10)).wait(ID, timeout=600)
    assert max(script.pauses) <= 0.5


def test_backoff_doubles_from_its_floor_to_its_cap_with_jitter() -> None:
    for _ in range(200):
        b = Backoff(1.0, 8.0)
        pauses = [b.next() for _ in range(6)]
        assert pauses[0] == 1.0  # half of the floor at least, raised to the floor
        assert 2.0 <= pauses[2] <= 4.0
        assert all(4.0 <= p <= 8.0 for p in pauses[4:])
    assert WaitPolicy(floor=0, cap=0).backoff().next() >= 0.1


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after("7", now) == 7.0
    assert retry_after("Thu, 01 Jan 2026 00:00:09 GMT", now) == 9.0
    assert retry_after("Thursday, 01-Jan-26 00:00:09 GMT", now) == 9.0
    assert retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) is None
    assert retry_after("soon", now) is None and retry_after(None) is None
    # Only ASCII digits: str.isdigit() takes these, and float() refuses "²".
    assert retry_after("²", now) is None and retry_after("٣", now) is None
