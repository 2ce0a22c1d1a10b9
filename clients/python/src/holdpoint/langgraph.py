"""LangGraph: a tool that asks Holdpoint before it runs (extra ``langgraph``).

:func:`gated_tool` wraps a LangChain tool for a graph's ``ToolNode``. When the model calls it,
it asks for approval under an ``Idempotency-Key`` hashed from the agent id, the graph's thread
and the model's tool-call id (so a thread id of any length or characters still makes a valid
key), the last two kept in the graph's checkpointed state; while nobody has decided it pauses
the graph with LangGraph's ``interrupt`` (the approval's id in the interrupt). Resumed — by the
same process or another after a restart, with ``Command(resume=...)`` and the same checkpointer
— the node runs again, the same key finds the same approval (never a second one), and the tool
runs only once approved: with the reviewer's edited arguments when there are some, then marked
executed. A refusal stops the tool; the model reads why in the tool's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolCallId
from langgraph.types import interrupt
from pydantic import BaseModel, create_model

from holdpoint.client import Client
from holdpoint.gate import Policy, always
from holdpoint.models import ApprovalRequest, Approved, Modified, TimedOut, ToolCall


def _arguments(tool: BaseTool, given: Mapping[str, Any]) -> dict[str, Any]:
    """JSON arguments: pydantic values as plain data."""
    return {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in given.items()}


class GatedTool(BaseTool):
    """``inner``, run only once a Holdpoint reviewer approves (see :func:`gated_tool`)."""

    inner: BaseTool
    client: Any
    reviewers: list[str]
    policy: Any = always
    agent_id: str = ""
    wait_seconds: float = 0.0
    expires_in_seconds: int | None = None

    def _run(self, *args: Any, config: RunnableConfig, **kwargs: Any) -> Any:
        tool_call_id = str(kwargs.pop("tool_call_id", ""))
        kwargs.pop("run_manager", None)
        arguments = _arguments(self.inner, kwargs)
        client: Client = self.client
        request = ApprovalRequest(
            f"Run {self.inner.name}",
            agent_id=self.agent_id,
            reviewers=list(self.reviewers),
            tool_call=ToolCall(self.inner.name, arguments),
            expires_in_seconds=self.expires_in_seconds,
        )
        policy: Policy = self.policy
        if not policy(request):
            return self.inner.invoke(arguments, config)
        thread = (config.get("configurable") or {}).get("thread_id", "")
        scope = json.dumps([self.agent_id, str(thread), tool_call_id]).encode()
        key = f"langgraph:{hashlib.sha256(scope).hexdigest()}"
        ticket = client.request_approval(request, idempotency_key=key)
        if ticket.approval.status == "executed":
            return f"{self.inner.name} already ran (approval {ticket.id})"
        while True:
            outcome = client.wait(ticket.id, self.wait_seconds)
            if not isinstance(outcome, TimedOut):
                break
            # Still pending: pause the graph. Resumed, this node runs again from its start.
            interrupt({"holdpoint_approval_id": ticket.id, "tool": self.inner.name})
        if not isinstance(outcome, (Approved, Modified)):
            return f"not approved, {self.inner.name} did not run: {outcome}"
        edited = outcome.output if isinstance(outcome, Modified) else None
        result = self.inner.invoke(dict(edited) if edited is not None else arguments, config)
        client.execute(ticket, outcome)
        return result


def gated_tool(
    client: Client,
    tool: BaseTool,
    *,
    reviewers: Sequence[str],
    policy: Policy = always,
    agent_id: str = "",
    wait_seconds: float = 0.0,
    expires_in_seconds: int | None = None,
) -> GatedTool:
    """``tool`` behind a human: same name, description and arguments for the model. Each call
    waits at most ``wait_seconds`` in the node before pausing the graph until resumed."""
    schema = tool.args_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"{tool.name}: a tool with a pydantic args_schema")
    gated_schema = create_model(
        f"{schema.__name__}Gated",
        __base__=schema,
        tool_call_id=(Annotated[str, InjectedToolCallId], ...),
    )
    return GatedTool(
        name=tool.name,
        description=tool.description,
        args_schema=gated_schema,
        inner=tool,
        client=client,
        reviewers=list(reviewers),
        policy=policy,
        agent_id=agent_id,
        wait_seconds=wait_seconds,
        expires_in_seconds=expires_in_seconds,
    )
