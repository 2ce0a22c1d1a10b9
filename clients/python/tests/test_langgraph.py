"""LangGraph's real graph, ToolNode, interrupt and SQLite checkpointer, with a scripted model:
the gated tool asks once, survives a restart between asking and the decision, runs with the
reviewer's edits, and a rejection stops it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

from holdpoint import Client
from holdpoint.langgraph import gated_tool

REFUNDS: list[dict[str, Any]] = []


@tool
def refund(order: int, eur: int) -> str:
    """Refunds an order."""
    REFUNDS.append({"order": order, "eur": eur})
    return f"refunded {eur} EUR on order {order}"


def scripted_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
    """The model: asks for the refund, then says what the tool answered."""
    last = state["messages"][-1]
    if isinstance(last, HumanMessage):
        call = {"name": "refund", "args": {"order": 1042, "eur": 900}, "id": "call_refund_1"}
        return {"messages": [AIMessage(content="", tool_calls=[call])]}
    return {"messages": [AIMessage(content=f"done: {last.content}")]}


def build(agent: Client, db: Path, agent_id: str) -> Any:
    """The graph as a freshly started process builds it: new objects, the same database."""
    gated = gated_tool(agent, refund, reviewers=["reviewer"], agent_id=agent_id, wait_seconds=0.2)
    graph = StateGraph(MessagesState)
    graph.add_node("model", scripted_model)
    graph.add_node("tools", ToolNode([gated]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    graph.add_edge("model", END)
    saver = SqliteSaver(sqlite3.connect(db, check_same_thread=False))
    return graph.compile(checkpointer=saver)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    REFUNDS.clear()
    yield tmp_path / "checkpoints.sqlite"


def test_restart_between_ask_and_decision_runs_the_edits_once(
    agent: Client, reviewer: Client, agent_id: str, db: Path
) -> None:
    config: Any = {"configurable": {"thread_id": f"t-{agent_id}"}}
    first = build(agent, db, agent_id).invoke({"messages": [HumanMessage("refund 1042")]}, config)
    paused = first["__interrupt__"][0].value
    assert REFUNDS == []
    (pending,) = agent.list_approvals(agent_id=agent_id).items
    assert pending.status == "pending" and paused["holdpoint_approval_id"] == pending.id

    # The process restarts; meanwhile the reviewer halves the refund.
    reviewer.decide(pending.id, "modified", "half", {"order": 1042, "eur": 450})
    done = build(agent, db, agent_id).invoke(Command(resume="decided"), config)

    assert REFUNDS == [{"order": 1042, "eur": 450}]
    tool_answer = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_answer] == ["refunded 450 EUR on order 1042"]
    assert done["messages"][-1].content == "done: refunded 450 EUR on order 1042"
    (executed,) = agent.list_approvals(agent_id=agent_id).items
    assert executed.id == pending.id and executed.status == "executed"


def test_a_rejection_stops_the_tool(
    agent: Client, reviewer: Client, agent_id: str, db: Path
) -> None:
    config: Any = {"configurable": {"thread_id": f"t-{agent_id}"}}
    graph = build(agent, db, agent_id)
    graph.invoke({"messages": [HumanMessage("refund 1042")]}, config)
    (pending,) = agent.list_approvals(agent_id=agent_id).items
    reviewer.decide(pending.id, "rejected", "order already refunded")
    done = graph.invoke(Command(resume="decided"), config)
    assert REFUNDS == []
    answer = done["messages"][-1].content
    assert "not approved" in answer and "order already refunded" in answer
    assert [a.status for a in agent.list_approvals(agent_id=agent_id).items] == ["rejected"]
