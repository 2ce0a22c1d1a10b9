"""The shared context-hash vectors (tests/vectors/context_hash.json at the repository's root):
the hash computed here from each request and edits is the file's, the canonical form too, and
the running server agrees (it answers the same context_hash, and accepts the edited one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from holdpoint import Client, RawJSON, canonical, canonical_text, context_hash, loads

FILE = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "context_hash.json"
VECTORS: list[dict[str, Any]] = json.loads(FILE.read_text(encoding="utf-8"))["vectors"]


def bound_of(vector: dict[str, Any]) -> tuple[str, Any, Any, Any]:
    body = loads(vector["request"])
    edited = vector.get("edited")
    return (
        body["action"],
        body.get("context"),
        body.get("tool_call"),
        None if edited is None else loads(edited),
    )


def test_the_file_covers_what_it_must() -> None:
    text = FILE.read_text(encoding="utf-8")
    for needed in ["1e2", "1.50", "18446744073709551616", "1e400", "\\\\u00e9", "😀", "edited"]:
        assert needed in text, needed
    assert len(VECTORS) >= 10


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_local_hash_and_canonical_form(vector: dict[str, Any]) -> None:
    action, context, tool, edited = bound_of(vector)
    assert context_hash(action, context, tool, edited) == vector["context_hash"]
    bound: dict[str, Any] = {"action": action, "context": context or {}, "tool_call": tool}
    if tool is not None:
        bound["tool_call"] = {"name": tool["name"], "arguments": tool.get("arguments")}
    if edited is not None:
        bound["modified_output"] = edited

    assert canonical(bound) == vector["canonical"]
    assert canonical_text(vector["canonical"]) == vector["canonical"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_server_agrees(vector: dict[str, Any], agent: Client, reviewer: Client) -> None:
    created = agent._send("POST", "v1/approvals", content=vector["request"].encode())
    if vector.get("edited") is None:
        assert created["context_hash"] == vector["context_hash"]
        agent.cancel(created["id"])
    else:
        reviewer.decide(created["id"], "modified", None, RawJSON(vector["edited"]))
        done = agent.execute_with_hash(created["id"], vector["context_hash"])
        assert done.status == "executed"
