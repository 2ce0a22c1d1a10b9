"""The benchmark's peer (not part of Holdpoint): an approval service in the shape the seeds
describe (seed 001's FastAPI service), written plainly for the benchmark. It answers the same
requests as Holdpoint on the same paths with bearer keys, and keeps approvals in a dict: no
durability, no audit chain, no signatures. Run: uvicorn app:app (one worker: the state is in
this process)."""

import os
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

app = FastAPI()
KEYS = {
    os.environ["AGENT_KEY"]: "agent",
    os.environ["REVIEWER_KEY"]: "reviewer",
}
APPROVALS: dict[str, dict[str, Any]] = {}
ORDER: list[str] = []


class CreateRequest(BaseModel):
    action: str
    agent_id: str
    reviewers: list[str]
    context: dict[str, Any] = {}
    tool_call: Optional[dict[str, Any]] = None
    risk_score: Optional[int] = None
    expires_in_seconds: int = 3600


class DecisionRequest(BaseModel):
    decision: str
    comment: Optional[str] = None


def caller(authorization: Optional[str]) -> str:
    key = (authorization or "").removeprefix("Bearer ")
    if key not in KEYS:
        raise HTTPException(401, "unauthenticated")
    return KEYS[key]


def now() -> datetime:
    return datetime.now(timezone.utc)


def seen(a: dict[str, Any]) -> dict[str, Any]:
    if a["status"] == "pending" and now() >= a["expires_at"]:
        a["status"] = "expired"
    return a


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/v1/approvals", status_code=201)
def create(body: CreateRequest, authorization: Optional[str] = Header(None)):
    who = caller(authorization)
    if not body.reviewers:
        raise HTTPException(422, "reviewers required")
    at = now()
    a = body.model_dump()
    a.update(
        id=str(uuid.uuid4()),
        status="pending",
        requested_by=who,
        created_at=at,
        expires_at=at + timedelta(seconds=body.expires_in_seconds),
        decision=None,
        executed_at=None,
    )
    APPROVALS[a["id"]] = a
    ORDER.append(a["id"])
    return a


@app.get("/v1/approvals/{id}")
def get(id: str, authorization: Optional[str] = Header(None)):
    caller(authorization)
    if id not in APPROVALS:
        raise HTTPException(404, "not found")
    return seen(APPROVALS[id])


@app.get("/v1/approvals")
def list_(limit: int = 20, status: Optional[str] = None, authorization: Optional[str] = Header(None)):
    caller(authorization)
    items = []
    for id in reversed(ORDER):
        a = seen(APPROVALS[id])
        if status is None or a["status"] == status:
            items.append(a)
            if len(items) == limit:
                break
    return {"items": items, "next_cursor": None}


@app.post("/v1/approvals/{id}/decision")
def decide(id: str, body: DecisionRequest, authorization: Optional[str] = Header(None)):
    who = caller(authorization)
    a = APPROVALS.get(id)
    if a is None:
        raise HTTPException(404, "not found")
    if who not in a["reviewers"]:
        raise HTTPException(403, "not a reviewer")
    if seen(a)["status"] != "pending":
        raise HTTPException(409, "already decided")
    a["status"] = body.decision
    a["decision"] = {"decision": body.decision, "by": who, "at": now(), "comment": body.comment}
    return a


@app.post("/v1/approvals/{id}/execute")
def execute(id: str, authorization: Optional[str] = Header(None)):
    caller(authorization)
    a = APPROVALS.get(id)
    if a is None:
        raise HTTPException(404, "not found")
    if a["status"] not in ("approved", "modified"):
        raise HTTPException(409, "not approved")
    a["status"] = "executed"
    a["executed_at"] = now()
    return a
