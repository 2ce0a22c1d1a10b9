"""Writes tests/vectors/context_hash.json (at the repository's root) from a running server.

Each vector is a create request (and, for some, a reviewer's edits) as JSON text, so that a
reader's JSON parser cannot re-spell its numbers. Its expected hash is the server's: the
``context_hash`` the server answers for the created approval and, with edits, the one hash the
server's execute accepts after the reviewer approved with those edits (it refuses every other
with context_mismatch). The local computation proposes it; only the server's answer keeps it.

    python scripts/make_vectors.py URL AGENT_KEY REVIEWER_KEY
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from holdpoint import ApprovalRequest, Client, RawJSON, ToolCall, canonical, context_hash, loads

CASES: list[tuple[str, str, str | None]] = [
    ("empty context", '{"action":"noop","reviewers":["reviewer"]}', None),
    (
        "key order at every depth",
        '{"action":"sort","reviewers":["reviewer"],'
        '"context":{"b":1,"a":{"z":[1,2,{"y":"x","c":null}],"A":true}}}',
        None,
    ),
    (
        "spelled numbers",
        '{"action":"numbers","reviewers":["reviewer"],"context":{"hundred":1e2,'
        '"Hundred":1E2,"plus":1e+2,"price":1.50,"zero":-0,"fzero":0.0,"tiny":1.0e-7,'
        '"u64_plus_one":18446744073709551616,"neg":-18446744073709551617,'
        '"long":123456789012345678901234567890.5,"huge":1e400}}',
        None,
    ),
    (
        "unicode and escapes",
        '{"action":"unicode \\u00e9t\\u00e9 😀","reviewers":["reviewer"],"context":{'
        '"é":"accent","e\\u0301":"combining","日本":"語","z":"last ascii","\\ud83d\\ude00":'
        '"astral key","ctl":"nl\\n tab\\t cr\\r bs\\b ff\\f one\\u0001 us\\u001f del\\u007f",'
        '"quote":"\\" back \\\\ slash \\/","seps":"\\u2028\\u2029","bom":"\\ufeff"}}',
        None,
    ),
    (
        "nesting and whitespace",
        '{ "action" : "nest", "reviewers" : [ "reviewer" ], "context" : { "a" : [ [ [ ] ], '
        '{ } , [ { "d" : [ 1 , [ 2 , [ 3 , { "e" : { } } ] ] ] } ] ] ,\n\t"b":{"c":{"d":'
        '{"e":{"f":"deep"}}}} } }',
        None,
    ),
    (
        "tool call with arguments",
        '{"action":"Refund order 1042","reviewers":["reviewer"],"context":{"order":1042},'
        '"tool_call":{"name":"payments.refund","arguments":{"order":1042,"eur":900.00,'
        '"lines":[{"sku":"A-1","qty":2},{"qty":1e0,"sku":"B-2"}]}}}',
        None,
    ),
    (
        "tool call without arguments",
        '{"action":"ping","reviewers":["reviewer"],"tool_call":{"name":"ops.ping"}}',
        None,
    ),
    (
        "edits with spelled numbers",
        '{"action":"pay","reviewers":["reviewer"],"context":{"eur":900},'
        '"tool_call":{"name":"payments.send","arguments":{"eur":900}}}',
        '{"eur":4.50e2,"note":"halved — é","z":{"b":2,"a":18446744073709551616}}',
    ),
    (
        "edits as an array",
        '{"action":"drop tables","reviewers":["reviewer"],"context":{"tables":["a","b","c"]}}',
        '["b", "a"]',
    ),
    (
        "edits as a string",
        '{"action":"send mail","reviewers":["reviewer"],"context":{"body":"hi"}}',
        '"Bonjour, ça va ? 😀"',
    ),
    (
        "edits as a number",
        '{"action":"set limit","reviewers":["reviewer"],"context":{"limit":10}}',
        "1.0E+1",
    ),
]


def request_of(text: str) -> ApprovalRequest:
    body = loads(text)
    tool = body.get("tool_call")
    return ApprovalRequest(
        action=body["action"],
        reviewers=body.get("reviewers", []),
        context=body.get("context"),
        tool_call=None if tool is None else ToolCall(tool["name"], tool.get("arguments")),
    )


def main(url: str, agent_key: str, reviewer_key: str) -> None:
    agent = Client(url, api_key=agent_key)
    reviewer = Client(url, api_key=reviewer_key)
    vectors = []
    for name, text, edited in CASES:
        body = loads(text)
        tool = body.get("tool_call")
        bound: dict[str, object] = {
            "action": body["action"],
            "context": body.get("context", {}),
            "tool_call": None
            if tool is None
            else {"name": tool["name"], "arguments": tool.get("arguments")},
        }
        local = context_hash(body["action"], body.get("context"), tool)
        # The request goes out as the vector's own text, byte for byte.
        created = agent._send("POST", "v1/approvals", content=text.encode("utf-8"))
        served = str(created["context_hash"])
        assert served == local, f"{name}: server {served}, local {local}"
        vector: dict[str, object] = {"name": name, "request": text}
        if edited is None:
            vector.update(canonical=canonical(bound), context_hash=served)
        else:
            edits = loads(edited)
            bound["modified_output"] = edits
            proposed = context_hash(body["action"], body.get("context"), tool, edits)
            reviewer.decide(created["id"], "modified", "edited", RawJSON(edited))
            done = agent.execute_with_hash(created["id"], proposed)  # refused unless equal
            assert done.status == "executed", done.status
            vector.update(edited=edited, canonical=canonical(bound), context_hash=proposed)
        vectors.append(vector)
        again = request_of(text).context_hash(None if edited is None else loads(edited))
        assert again == vector["context_hash"], name
    document = {
        "about": (
            "Requests (and reviewers' edits) as JSON text, the canonical form of what "
            "context_hash covers ({action, context, tool_call[, modified_output]}) and its "
            "lowercase hex SHA-256, as the server computed it. Checked by the Rust core "
            "(shared/core/tests/context_hash_vectors.rs) and the Python client "
            "(clients/python/tests/test_vectors.py). Made by "
            "clients/python/scripts/make_vectors.py against a running server."
        ),
        "vectors": vectors,
    }
    out = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "context_hash.json"
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(vectors)} vectors written to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
