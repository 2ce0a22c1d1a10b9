"""The asynchronous client: :class:`Client`, awaited."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx

from holdpoint import _core, aws
from holdpoint._pacing import WaitPolicy
from holdpoint.errors import HoldpointError, ProblemError, UnreachableError
from holdpoint.gate import Gated, Policy, Ran, Refused, Unasked
from holdpoint.models import (
    Approval,
    ApprovalRequest,
    Approved,
    Modified,
    Outcome,
    Page,
    Ticket,
    TimedOut,
)

T = TypeVar("T")


class AsyncClient:
    """A Holdpoint endpoint and the API key that calls it, for asyncio.

    ``AsyncClient("http://127.0.0.1:8004", api_key=key)``; plain ``http`` only to this machine.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        auth: httpx.Auth | None = None,
        wait_policy: WaitPolicy | None = None,
        timeout: float = _core.REQUEST_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (api_key is None) == (auth is None):
            raise ValueError("give an api_key, or an auth (Client.aws())")
        self._http = httpx.AsyncClient(
            base_url=_core.base_url(url),
            headers=_core.headers(api_key),
            auth=auth,
            timeout=timeout,
            transport=transport,
        )
        self.wait_policy = wait_policy or WaitPolicy()
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def aws(
        cls, url: str, *, region: str | None = None, wait_policy: WaitPolicy | None = None
    ) -> AsyncClient:
        """A client for the IAM-authorised API on AWS: every request signed with SigV4, with
        botocore's credentials chain and region (``pip install 'holdpoint[aws]'``)."""
        return cls(url, auth=aws.from_environment(region), wait_policy=wait_policy)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        idempotency_key: str | None = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        extra: dict[str, str] = {}
        if body is not None or content is not None:
            extra["content-type"] = "application/json"
            content = content if content is not None else _core.json_body(body)
        if idempotency_key is not None:
            extra["idempotency-key"] = idempotency_key
        try:
            response = await self._http.request(
                method, path, content=content, headers=extra, params=params
            )
        except httpx.TransportError as e:
            raise _core.transport_error(e) from e
        return _core.answer(response)

    async def request_approval(
        self, request: ApprovalRequest, *, idempotency_key: str | None = None
    ) -> Ticket:
        """Asks for approval. The create carries an ``Idempotency-Key`` (made here unless given:
        the same key after a restart finds the same approval); one whose answer was lost
        (connection dropped, 5xx, 429) is sent again with the same key, so the server answers
        the approval it already made instead of making a second one. A ``Retry-After`` longer
        than 60 s is not slept through: the refusal is raised, saying so."""
        key = idempotency_key or _core.new_key()
        content = _core.json_body(request.to_body())
        backoff = self.wait_policy.backoff()
        attempt = 1
        while True:
            try:
                body = await self._send(
                    "POST", "v1/approvals", idempotency_key=key, content=content
                )
                return _core.ticket(body, request)
            except HoldpointError as e:
                retry, after = _core.retry_pause(e)
                if not retry or attempt >= _core.CREATE_ATTEMPTS or _core.too_long(e, after):
                    raise
                await self._sleep(backoff.next(after))
                attempt += 1

    async def get(self, approval_id: str | uuid.UUID) -> Approval:
        return Approval.from_answer(await self._send("GET", _core.approval_path(approval_id)))

    async def list_approvals(
        self,
        *,
        status: str | None = None,
        agent_id: str | None = None,
        reviewer: str | None = None,
        checkpoint_type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        """One page of the approvals these credentials may see, filtered."""
        params = _core.params(
            status=status,
            agent_id=agent_id,
            reviewer=reviewer,
            checkpoint_type=checkpoint_type,
            limit=limit,
            cursor=cursor,
        )
        return Page.from_answer(await self._send("GET", "v1/approvals", params=params))

    async def wait(self, approval_id: str | uuid.UUID, timeout: float) -> Outcome:
        """Waits until approval ``approval_id`` is decided, expires or is cancelled, or
        ``timeout`` seconds pass (:class:`TimedOut`). Polls with capped exponential backoff and
        jitter from the policy's floor; a 429 or 503 is waited out for its ``Retry-After``, a
        lost connection or passing 5xx retried the same way; no pause runs past the approval's
        ``expires_at``. Any other refusal ends the wait (raised)."""
        path = _core.approval_path(approval_id)
        waiting = _core.Waiting.start(timeout, self.wait_policy.backoff())
        while True:
            after: float | None = None
            try:
                outcome = waiting.seen(await self._send("GET", path))
                if outcome is not None:
                    return outcome
            except (UnreachableError, ProblemError) as e:
                retry, after = _core.retry_pause(e)
                if not retry:
                    raise
            pause, over = waiting.pause(after)
            await self._sleep(pause)
            if over:
                return TimedOut()

    async def execute(self, ticket: Ticket, edited: object = None) -> Approval:
        """Marks an approved request executed, sending the context hash computed here from what
        the ticket's request sent and the reviewer's edits (``edited``: the edits, or the
        :class:`Modified` outcome); the server refuses (``ContextMismatchError``) if that is not
        what was approved."""
        edits = _core.edited_of(edited)
        return await self.execute_with_hash(ticket.id, ticket.request.context_hash(edits))

    async def execute_with_hash(self, approval_id: str | uuid.UUID, context_hash: str) -> Approval:
        return Approval.from_answer(
            await self._send(
                "POST",
                _core.approval_path(approval_id, "execute"),
                {"context_hash": context_hash},
            )
        )

    async def cancel(self, approval_id: str | uuid.UUID, reason: str | None = None) -> Approval:
        """Withdraws a pending request (the requester only)."""
        return Approval.from_answer(
            await self._send("POST", _core.approval_path(approval_id, "cancel"), {"reason": reason})
        )

    async def gate(
        self,
        policy: Policy,
        request: ApprovalRequest,
        timeout: float,
        step: Callable[[Any], Awaitable[T]],
    ) -> Gated[T]:
        """Runs ``step`` behind a human gate. When ``policy`` asks, requests approval, waits at
        most ``timeout`` seconds, and calls ``step`` only on approval, with the reviewer's edits
        (``None`` when approved as asked); then marks the approval executed with the context
        hash of what was sent and edited. A wait that times out withdraws the request, so nobody
        approves a step that will not run."""
        if not policy(request):
            return Unasked(await step(None))
        ticket = await self.request_approval(request)
        outcome = await self.wait(ticket.id, timeout)
        if isinstance(outcome, TimedOut):
            await self.cancel(ticket.id, "the agent stopped waiting")
            return Refused(outcome)
        if not isinstance(outcome, (Approved, Modified)):
            return Refused(outcome)
        edited = outcome.output if isinstance(outcome, Modified) else None
        value = await step(edited)
        return Ran(value, await self.execute(ticket, edited), edited)

    async def decide(
        self,
        approval_id: str | uuid.UUID,
        decision: str,
        comment: str | None = None,
        modified_output: object = None,
    ) -> Approval:
        """Decides as a reviewer: ``approved``, ``rejected`` or ``modified`` (with
        ``modified_output``)."""
        body: dict[str, object] = {"decision": decision, "comment": comment}
        if modified_output is not None:
            body["modified_output"] = modified_output
        return Approval.from_answer(
            await self._send("POST", _core.approval_path(approval_id, "decision"), body)
        )
