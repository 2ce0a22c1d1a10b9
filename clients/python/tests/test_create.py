"""A create whose answer is lost is sent again with the same Idempotency-Key: one approval."""

from __future__ import annotations

import httpx
import pytest

from holdpoint import (
    ApprovalRequest,
    AsyncClient,
    Client,
    IdempotencyKeyReusedError,
    ToolCall,
    UnreachableError,
)
from tests.conftest import AGENT_KEY, FAST, Server
from tests.support import LossyProxy


def refund(agent_id: str) -> ApprovalRequest:
    return ApprovalRequest(
        "Refund order 1042 (lost answers)",
        agent_id=agent_id,
        reviewers=["reviewer"],
        context={"order": 1042, "eur": 900},
        tool_call=ToolCall("payments.refund", {"order": 1042, "eur": 900}),
        risk_score=70,
    )


def test_a_lost_answer_retried_yields_one_approval(
    server: Server, lossy: LossyProxy, agent: Client, agent_id: str
) -> None:
    with Client(lossy.url, api_key=AGENT_KEY, wait_policy=FAST) as through:
        ticket = through.request_approval(refund(agent_id))
    # The server answered twice (201, then the replay), the client heard only the second.
    assert lossy.forwarded == 2 and len(lossy.dropped) == 1
    assert lossy.dropped[0].startswith(b"HTTP/1.1 201")
    assert ticket.id.encode() in lossy.dropped[0]
    page = agent.list_approvals(agent_id=agent_id)
    assert [a.id for a in page.items] == [ticket.id]


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Sends every request; the first one's answer is thrown away and the connection 'fails'."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.keys: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("idempotency-key"))
        response = await self.inner.handle_async_request(request)
        if len(self.keys) == 1:
            await response.aread()
            raise httpx.ReadError("connection reset after the request was sent", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_async_create_lost_after_sending_is_retried_with_the_same_key(
    server: Server, agent: Client, agent_id: str
) -> None:
    transport = LosesFirstAnswer()
    async with AsyncClient(
        server.url, api_key=AGENT_KEY, wait_policy=FAST, transport=transport
    ) as client:
        ticket = await client.request_approval(refund(agent_id))
    assert len(transport.keys) == 2 and transport.keys[0] == transport.keys[1]
    assert transport.keys[0] is not None
    assert [a.id for a in agent.list_approvals(agent_id=agent_id).items] == [ticket.id]


def test_the_same_key_after_a_restart_finds_the_same_approval(agent: Client, agent_id: str) -> None:
    first = agent.request_approval(refund(agent_id), idempotency_key=f"{agent_id}-1")
    again = agent.request_approval(refund(agent_id), idempotency_key=f"{agent_id}-1")
    assert again.id == first.id
    other = refund(agent_id)
    other.context = {"order": 1043}
    with pytest.raises(IdempotencyKeyReusedError) as refused:
        agent.request_approval(other, idempotency_key=f"{agent_id}-1")
    assert refused.value.status == 422 and refused.value.code == "idempotency_key_reused"


def test_a_server_that_never_answers_is_given_up_on(agent_id: str) -> None:
    attempts: list[str | None] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request.headers.get("idempotency-key"))
        raise httpx.ConnectError("refused", request=request)

    client = Client(
        "http://127.0.0.1:9", api_key="k", wait_policy=FAST, transport=httpx.MockTransport(refuse)
    )
    client._sleep = lambda _: None
    with pytest.raises(UnreachableError):
        client.request_approval(refund(agent_id))
    assert len(attempts) == 4 and len(set(attempts)) == 1
