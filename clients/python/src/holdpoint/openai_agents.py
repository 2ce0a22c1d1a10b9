"""OpenAI Agents SDK: tool approvals decided in Holdpoint (extra ``openai-agents``).

The SDK pauses a run before a tool marked ``needs_approval`` and lists the call among the run's
interruptions; :class:`Approvals` routes each such call to Holdpoint and settles it:

- :meth:`Approvals.tool` makes a function tool whose ``needs_approval`` is the gate's policy
  and whose body runs only what Holdpoint approved — the reviewer's edited arguments when
  there are some — then marks the approval executed;
- :meth:`Approvals.settle` asks Holdpoint for every pending call of the paused run (under an
  ``Idempotency-Key`` hashed from the agent id, the run's id and the call id, so asking again
  after a restart finds the same approval, and another run's call of the same id does not),
  waits at most ``wait_seconds``, and approves or rejects it in the run's state (a
  rejection's reason goes back to the model). ``False`` while some decision is pending: keep
  ``state.to_string()`` and settle again later.

The run's id is a UUID kept in the run's context under ``holdpoint_run_id`` (made at its
first paused call), so it is saved with the run state: run with a ``dict`` context, or none.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from agents import FunctionTool, RunContextWrapper, RunState, function_tool
from agents.tool_context import ToolContext

from holdpoint._json import loads
from holdpoint.aio import AsyncClient
from holdpoint.gate import Policy, always
from holdpoint.models import ApprovalRequest, Approved, Modified, Ticket, TimedOut, ToolCall

RUN_ID = "holdpoint_run_id"
"""The run context's key for the run's id."""


def run_id(ctx: RunContextWrapper[Any]) -> str:
    """The run's id, kept in its context (made there, a UUID, when it has none yet)."""
    if ctx.context is None:
        ctx.context = {}
    context = ctx.context
    if not isinstance(context, MutableMapping):
        raise TypeError(
            f"Approvals keeps the run's id in its context under {RUN_ID!r}: run with a dict "
            f"context (or none), not a {type(context).__name__}"
        )
    run = context.get(RUN_ID)
    if not isinstance(run, str) or not run:
        run = context[RUN_ID] = str(uuid.uuid4())
    return run


class Approvals:
    """Holdpoint as the approver of an agent's tools."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        reviewers: Sequence[str],
        agent_id: str = "",
        policy: Policy = always,
        wait_seconds: float = 0.0,
    ) -> None:
        self.client = client
        self.reviewers = list(reviewers)
        self.agent_id = agent_id
        self.policy = policy
        self.wait_seconds = wait_seconds
        self.tools: set[str] = set()

    def request(self, name: str, arguments: dict[str, Any]) -> ApprovalRequest:
        return ApprovalRequest(
            f"Run {name}",
            agent_id=self.agent_id,
            reviewers=self.reviewers,
            tool_call=ToolCall(name, arguments),
        )

    def key(self, run: str, call_id: str) -> str:
        """The ``Idempotency-Key`` of one call of one run (visible ASCII, 78 characters)."""
        scope = json.dumps([self.agent_id, run, call_id]).encode()
        return f"openai-agents:{hashlib.sha256(scope).hexdigest()}"

    async def ask(self, name: str, arguments: dict[str, Any], run: str, call_id: str) -> Ticket:
        """The approval of one call of run ``run``: asked once, found again by its ids."""
        key = self.key(run, call_id)
        return await self.client.request_approval(
            self.request(name, arguments), idempotency_key=key
        )

    def tool(self, fn: Callable[..., Awaitable[Any]]) -> FunctionTool:
        """``fn`` (an ``async def``) as a function tool approved in Holdpoint."""
        signature = inspect.signature(fn)
        context = inspect.Parameter(
            "holdpoint_tool_context",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=ToolContext[Any],
        )

        @functools.wraps(fn)
        async def approved(
            holdpoint_tool_context: ToolContext[Any], *args: Any, **kwargs: Any
        ) -> Any:
            ctx = holdpoint_tool_context
            arguments = dict(signature.bind(*args, **kwargs).arguments)
            # What the model sent, as settle() asked it (defaults filled in would differ).
            sent = loads(ctx.tool_arguments or "{}")
            if not self.policy(self.request(ctx.tool_name, sent)):
                return await fn(**arguments)
            ticket = await self.ask(ctx.tool_name, sent, run_id(ctx), ctx.tool_call_id)
            if ticket.approval.status == "executed":
                # A run state resumed again after the tool ran: never run it twice.
                return f"{ctx.tool_name} already ran (approval {ticket.id})"
            outcome = await self.client.wait(ticket.id, 0)
            if not isinstance(outcome, (Approved, Modified)):
                return f"not approved in Holdpoint, {ctx.tool_name} did not run: {outcome}"
            edited = outcome.output if isinstance(outcome, Modified) else None
            result = await fn(**(dict(edited) if edited is not None else arguments))
            await self.client.execute(ticket, outcome)
            return result

        approved.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[context, *signature.parameters.values()]
        )
        approved.__annotations__ = {
            "holdpoint_tool_context": ToolContext[Any],
            **fn.__annotations__,
        }

        async def needs(ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str) -> bool:
            if not self.policy(self.request(fn.__name__, params)):
                return False
            run_id(ctx)  # made now, so the paused run's state keeps it
            return True

        self.tools.add(fn.__name__)
        return function_tool(approved, needs_approval=needs)

    async def settle(self, state: RunState[Any, Any]) -> bool:
        """Settles the paused run's calls to these tools from Holdpoint's decisions; ``False``
        while some is still pending."""
        settled = True
        if state._context is None:
            raise ValueError("a run state without its context")
        run = run_id(state._context)
        for item in state.get_interruptions():
            if item.tool_name not in self.tools:
                continue
            raw = item.raw_item
            call_id = getattr(raw, "call_id", None) or (
                raw.get("call_id") if isinstance(raw, dict) else None
            )
            text = getattr(raw, "arguments", None) or (
                raw.get("arguments") if isinstance(raw, dict) else "{}"
            )
            arguments = loads(text or "{}")
            ticket = await self.ask(str(item.tool_name), arguments, run, str(call_id))
            outcome = await self.client.wait(ticket.id, self.wait_seconds)
            if isinstance(outcome, TimedOut):
                settled = False
            elif isinstance(outcome, (Approved, Modified)):
                state.approve(item)
            else:
                state.reject(item, rejection_message=f"not approved in Holdpoint: {outcome}")
        return settled
