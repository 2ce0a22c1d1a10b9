"""The OpenAI Agents SDK's real Runner, RunState and approvals, with a scripted model: the run
pauses before the tool, Holdpoint's reviewer decides, the run resumes (from its serialized
state, as after a restart) and the tool runs the reviewer's edits once; a rejection stops it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, ModelResponse, Runner, RunState, Usage
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from holdpoint import AsyncClient, Client
from holdpoint.openai_agents import Approvals
from tests.conftest import AGENT_KEY, FAST, Server


class ScriptedModel(Model):
    """Calls the refund tool (call id ``call_id``), then repeats what the tool answered."""

    def __init__(self, call_id: str | None = None) -> None:
        self.call_id = call_id or f"call_{uuid.uuid4()}"

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kw: Any
    ) -> ModelResponse:
        items = input if isinstance(input, list) else []
        outputs = [
            i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if not outputs:
            call = ResponseFunctionToolCall(
                type="function_call",
                call_id=self.call_id,
                name="refund",
                arguments='{"order": 1042, "eur": 900}',
                id="fc_1",
                status="completed",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = ResponseOutputText(
            type="output_text", text=f"done: {outputs[-1]['output']}", annotations=[]
        )
        message = ResponseOutputMessage(
            type="message", id="msg_1", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


REFUNDS: list[dict[str, int]] = []


def agent_with(approvals: Approvals, call_id: str | None = None) -> Agent[Any]:
    async def refund(order: int, eur: int) -> str:
        """Refunds an order."""
        REFUNDS.append({"order": order, "eur": eur})
        return f"refunded {eur} EUR on order {order}"

    return Agent(name="support", model=ScriptedModel(call_id), tools=[approvals.tool(refund)])


@pytest.mark.parametrize("decision", ["modified", "rejected"])
async def test_run_pauses_is_decided_in_holdpoint_and_resumes(
    server: Server, reviewer: Client, agent_id: str, decision: str
) -> None:
    REFUNDS.clear()
    async with AsyncClient(server.url, api_key=AGENT_KEY, wait_policy=FAST) as client:
        approvals = Approvals(client, reviewers=["reviewer"], agent_id=agent_id)
        agent = agent_with(approvals)
        result = await Runner.run(agent, "refund order 1042")
        assert len(result.interruptions) == 1 and REFUNDS == []
        assert await approvals.settle(result.to_state()) is False  # asked; nobody decided yet
        saved = result.to_state().to_string()

        (pending,) = (await client.list_approvals(agent_id=agent_id)).items
        if decision == "modified":
            reviewer.decide(pending.id, "modified", None, {"order": 1042, "eur": 450})
        else:
            reviewer.decide(pending.id, "rejected", "already refunded")

        # A new process: a new agent, the run state read back from storage.
        approvals = Approvals(client, reviewers=["reviewer"], agent_id=agent_id)
        agent = agent_with(approvals)
        state = await RunState.from_string(agent, saved)
        assert await approvals.settle(state) is True
        done = await Runner.run(agent, state)

        statuses = [a.status for a in (await client.list_approvals(agent_id=agent_id)).items]
    if decision == "modified":
        assert REFUNDS == [{"order": 1042, "eur": 450}]
        assert done.final_output == "done: refunded 450 EUR on order 1042"
        assert statuses == ["executed"]
    else:
        assert REFUNDS == []
        assert "already refunded" in str(done.final_output)
        assert statuses == ["rejected"]


async def test_a_state_resumed_twice_runs_the_tool_once(
    server: Server, reviewer: Client, agent_id: str
) -> None:
    REFUNDS.clear()
    async with AsyncClient(server.url, api_key=AGENT_KEY, wait_policy=FAST) as client:
        approvals = Approvals(client, reviewers=["reviewer"], agent_id=agent_id)
        agent = agent_with(approvals)
        result = await Runner.run(agent, "refund order 1042")
        assert await approvals.settle(result.to_state()) is False
        saved = result.to_state().to_string()
        (pending,) = (await client.list_approvals(agent_id=agent_id)).items
        reviewer.decide(pending.id, "approved")

        # Resumed, run, and then resumed again from the same saved state (a crash before the
        # new state was saved): the tool already ran and must not run again.
        outputs = []
        for _ in range(2):
            state = await RunState.from_string(agent, saved)
            assert await approvals.settle(state) is True
            outputs.append((await Runner.run(agent, state)).final_output)
        statuses = [a.status for a in (await client.list_approvals(agent_id=agent_id)).items]
    assert REFUNDS == [{"order": 1042, "eur": 900}]
    assert outputs[0] == "done: refunded 900 EUR on order 1042"
    assert "already ran" in str(outputs[1])
    assert statuses == ["executed"]


async def test_each_run_asks_for_its_own_calls(
    server: Server, reviewer: Client, agent_id: str
) -> None:
    """Two runs whose model gives the same call id: each run asks for its own approval."""
    REFUNDS.clear()
    call_id = f"call_{uuid.uuid4()}"
    async with AsyncClient(server.url, api_key=AGENT_KEY, wait_policy=FAST) as client:
        approvals = Approvals(client, reviewers=["reviewer"], agent_id=agent_id)
        agent = agent_with(approvals, call_id)
        for run in range(2):
            result = await Runner.run(agent, "refund order 1042")
            state = result.to_state()
            assert await approvals.settle(state) is False  # this run's call: nobody decided
            approvals_now = (await client.list_approvals(agent_id=agent_id)).items
            assert len(approvals_now) == run + 1
            pending = [a for a in approvals_now if a.status == "pending"]
            reviewer.decide(pending[0].id, "approved")
            state = await RunState.from_string(agent, state.to_string())
            assert await approvals.settle(state) is True
            await Runner.run(agent, state)
        statuses = [a.status for a in (await client.list_approvals(agent_id=agent_id)).items]
    assert REFUNDS == [{"order": 1042, "eur": 900}] * 2
    assert statuses == ["executed", "executed"]
    assert approvals.key("run-1", call_id) != approvals.key("run-2", call_id)
    assert len(approvals.key("r", "c")) <= 200 and approvals.key("r", "c").isascii()
