"""What an agent sends, the approval it becomes, and how a wait ends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from holdpoint._json import context_hash
from holdpoint.errors import UnexpectedAnswerError


@dataclass(frozen=True)
class ToolCall:
    """The call the agent wants to make: a tool's name and its arguments."""

    name: str
    arguments: Any = None

    def to_body(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class ApprovalRequest:
    """What ``POST /v1/approvals`` takes (see openapi.yaml). Documents (``context``, the tool
    call's arguments, ``state_snapshot``) are JSON values; a :class:`holdpoint.RawJSON` is sent
    and hashed exactly as written. Absent options are left out rather than sent as ``null``."""

    action: str
    agent_id: str = ""
    reviewers: list[str] = field(default_factory=list)
    context: Any = None
    tool_call: ToolCall | None = None
    reason: str | None = None
    risk_score: int | None = None
    quorum: int | None = None
    checkpoint_type: str | None = None
    execution_id: str | None = None
    session_id: str | None = None
    state_snapshot: Any = None
    expires_in_seconds: int | None = None
    execute_within_seconds: int | None = None
    escalation: list[dict[str, Any]] = field(default_factory=list)
    callback_url: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The JSON body sent (members as the server names them)."""
        body: dict[str, Any] = {"action": self.action}
        if self.agent_id:
            body["agent_id"] = self.agent_id
        if self.reviewers:
            body["reviewers"] = list(self.reviewers)
        if self.quorum is not None:
            body["quorum"] = self.quorum
        body["context"] = {} if self.context is None else self.context
        optional: dict[str, Any] = {
            "reason": self.reason,
            "tool_call": None if self.tool_call is None else self.tool_call.to_body(),
            "risk_score": self.risk_score,
            "checkpoint_type": self.checkpoint_type,
            "execution_id": self.execution_id,
            "session_id": self.session_id,
            "state_snapshot": self.state_snapshot,
            "expires_in_seconds": self.expires_in_seconds,
            "execute_within_seconds": self.execute_within_seconds,
            "callback_url": self.callback_url,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if self.escalation:
            body["escalation"] = list(self.escalation)
        return body

    def context_hash(self, edited: object = None) -> str:
        """The ``context_hash`` of what this request asks, with the reviewer's edits when it
        was approved with some: what the requester proves at execute."""
        tool = None if self.tool_call is None else self.tool_call.to_body()
        return context_hash(self.action, self.context, tool, edited)


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise UnexpectedAnswerError(f"not a time: {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Approval:
    """An approval as the server answered it; ``raw`` holds every field (numbers in its
    documents as sent)."""

    id: str
    status: str
    action: str
    agent_id: str
    requested_by: str
    reviewers: list[str]
    context: Any
    context_hash: str
    tool_call: Any
    expires_at: datetime
    decision: Mapping[str, Any] | None
    cancelled_by: str | None
    raw: Mapping[str, Any]

    @classmethod
    def from_answer(cls, body: object) -> Approval:
        if not isinstance(body, Mapping):
            raise UnexpectedAnswerError(f"not an approval: {body!r:.200}")
        try:
            return cls(
                id=str(body["id"]),
                status=str(body["status"]),
                action=str(body["action"]),
                agent_id=str(body.get("agent_id", "")),
                requested_by=str(body.get("requested_by", "")),
                reviewers=list(body.get("reviewers") or []),
                context=body.get("context"),
                context_hash=str(body["context_hash"]),
                tool_call=body.get("tool_call"),
                expires_at=_time(body["expires_at"]),
                decision=body.get("decision"),
                cancelled_by=body.get("cancelled_by"),
                raw=body,
            )
        except (KeyError, ValueError, TypeError) as e:
            raise UnexpectedAnswerError(f"not an approval: {e}") from e


@dataclass(frozen=True)
class Page:
    """One page of ``GET /v1/approvals``; ``next_cursor`` asks for the next."""

    items: list[Approval]
    next_cursor: str | None

    @classmethod
    def from_answer(cls, body: object) -> Page:
        if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
            raise UnexpectedAnswerError(f"not a page: {body!r:.200}")
        cursor = body.get("next_cursor")
        return cls([Approval.from_answer(a) for a in body["items"]], cursor)


@dataclass(frozen=True)
class Ticket:
    """A request the server accepted: the approval as created and the request as sent (to
    compute the context hash at execute)."""

    approval: Approval
    request: ApprovalRequest

    @property
    def id(self) -> str:
        return self.approval.id


@dataclass(frozen=True)
class Approved:
    by: str
    comment: str | None = None


@dataclass(frozen=True)
class Modified:
    """Approved with edits: do ``output`` instead of what was asked."""

    by: str
    output: Any
    comment: str | None = None


@dataclass(frozen=True)
class Rejected:
    by: str
    comment: str | None = None


@dataclass(frozen=True)
class Expired:
    """Nobody decided before the deadline."""


@dataclass(frozen=True)
class Lapsed:
    """Approved, but not executed within its execution window: it may no longer run."""


@dataclass(frozen=True)
class Cancelled:
    by: str | None = None


@dataclass(frozen=True)
class TimedOut:
    """The wait's own timeout passed first: the approval is still pending."""


Outcome: TypeAlias = Approved | Modified | Rejected | Expired | Lapsed | Cancelled | TimedOut
"""How a wait ended."""


def outcome_of(approval: Approval) -> Outcome | None:
    """The outcome ``approval`` has come to, or ``None`` while it is pending."""
    status = approval.status
    if status == "pending":
        return None
    if status == "expired":
        return Expired()
    if status == "lapsed":
        return Lapsed()
    if status == "cancelled":
        return Cancelled(approval.cancelled_by)
    d = approval.decision
    if d is None:
        raise UnexpectedAnswerError(f"approval {approval.id} is {status} without a decision")
    by, comment = str(d.get("by", "")), d.get("comment")
    verdict = d.get("decision")
    if verdict == "approved":
        return Approved(by, comment)
    if verdict == "rejected":
        return Rejected(by, comment)
    if verdict == "modified":
        return Modified(by, d.get("modified_output"), comment)
    raise UnexpectedAnswerError(f"unknown decision {verdict!r}")


def is_approved(outcome: Outcome) -> bool:
    """Approved, with or without edits: the step may run."""
    return isinstance(outcome, (Approved, Modified))
