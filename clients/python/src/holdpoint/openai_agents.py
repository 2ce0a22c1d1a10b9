"""OpenAI Agents SDK: tool approvals decided in Holdpoint (extra ``openai-agents``).

The SDK pauses a run before a tool marked ``needs_approval`` and lists the call among the run's
interruptions; :class:`Approvals` routes each such call to Holdpoint and settles it:

- :meth:`Approvals.tool` makes a function tool whose ``needs_approval`` is the gate's policy
  and whose body runs only what Holdpoint approved — the reviewer's edited arguments when
  there are some — then marks the approval executed;
- :meth:`Approvals.settle` asks Holdpoint for every pending call of the paused run (under an
  ``Idempotency-Key`` made of the call id, so asking again after a restart finds the same
  approval), waits at most ``wait_seconds``, and approves or rejects it in the run's state
  (a rejection's reason goes back to the model). ``False`` while some decision is pending: keep
  ``state.to_string()`` and settle again later.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agents import FunctionTool, RunContextWrapper, RunState, function_tool
from agents.tool_context import ToolContext

from holdpoint._json import loads
from holdpoint.aio import AsyncClient
from holdpoint.gate import Policy, always
from holdpoint.models import ApprovalRequest, Approved, Modified, Ticket, TimedOut, ToolCall


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

    async def ask(self, name: str, arguments: dict[str, Any], call_id: str) -> Ticket:
        """The approval of one call: asked once, found again by its call id."""
        key = f"openai-agents:{call_id}"
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
            ticket = await self.ask(ctx.tool_name, sent, ctx.tool_call_id)
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

        async def needs(_: RunContextWrapper[Any], params: dict[str, Any], call_id: str) -> bool:
            return self.policy(self.request(fn.__name__, params))

        self.tools.add(fn.__name__)
        return function_tool(approved, needs_approval=needs)

    async def settle(self, state: RunState[Any, Any]) -> bool:
        """Settles the paused run's calls to these tools from Holdpoint's decisions; ``False``
        while some is still pending."""
        settled = True
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
            ticket = await self.ask(str(item.tool_name), arguments, str(call_id))
            outcome = await self.client.wait(ticket.id, self.wait_seconds)
            if isinstance(outcome, TimedOut):
                settled = False
            elif isinstance(outcome, (Approved, Modified)):
                state.approve(item)
            else:
                state.reject(item, rejection_message=f"not approved in Holdpoint: {outcome}")
        return settled
