"""A LangGraph agent with a gated refund tool and a scripted model, run as its own process by
tests/test_langgraph.py (to restart between asking and the decision):

    python -m tests.langgraph_agent URL KEY DB AGENT_ID THREAD LOG ask|resume

Each refund the tool makes is a line of LOG; the graph's last answer is printed as JSON.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

from holdpoint import Client, WaitPolicy
from holdpoint.langgraph import gated_tool


def refund_tool(log: Path) -> BaseTool:
    @tool
    def refund(order: int, eur: int) -> str:
        """Refunds an order."""
        with log.open("a") as f:
            f.write(json.dumps({"order": order, "eur": eur}) + "\n")
        return f"refunded {eur} EUR on order {order}"

    return refund


def scripted_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
    """The model: asks for the refund, then says what the tool answered."""
    last = state["messages"][-1]
    if isinstance(last, HumanMessage):
        call = {"name": "refund", "args": {"order": 1042, "eur": 900}, "id": "call_refund_1"}
        return {"messages": [AIMessage(content="", tool_calls=[call])]}
    return {"messages": [AIMessage(content=f"done: {last.content}")]}


def build(agent: Client, db: Path, agent_id: str, log: Path) -> Any:
    """The graph as a freshly started process builds it: new objects, the same database."""
    gated = gated_tool(
        agent, refund_tool(log), reviewers=["reviewer"], agent_id=agent_id, wait_seconds=0.2
    )
    graph = StateGraph(MessagesState)
    graph.add_node("model", scripted_model)
    graph.add_node("tools", ToolNode([gated]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    graph.add_edge("model", END)
    saver = SqliteSaver(sqlite3.connect(db, check_same_thread=False))
    return graph.compile(checkpointer=saver)


def main(url: str, key: str, db: str, agent_id: str, thread: str, log: str, mode: str) -> None:
    with Client(url, api_key=key, wait_policy=WaitPolicy(0.1, 0.5)) as agent:
        graph = build(agent, Path(db), agent_id, Path(log))
        config: Any = {"configurable": {"thread_id": thread}}
        given: Any = (
            {"messages": [HumanMessage("refund 1042")]}
            if mode == "ask"
            else Command(resume="decided")
        )
        result = graph.invoke(given, config)
        paused = result.get("__interrupt__")
        print(
            json.dumps(
                {
                    "paused": paused[0].value if paused else None,
                    "last": result["messages"][-1].content,
                }
            )
        )


if __name__ == "__main__":
    main(*sys.argv[1:8])
