"""Holdpoint for Python agents: ask a human before acting, wait for the decision, and execute
exactly what was approved.

>>> from holdpoint import Client, ApprovalRequest, ToolCall, Approved, Modified
>>> client = Client("http://127.0.0.1:8004", api_key=key)  # doctest: +SKIP
>>> ticket = client.request_approval(ApprovalRequest(  # doctest: +SKIP
...     "Refund order 1042", reviewers=["role:finance"],
...     tool_call=ToolCall("payments.refund", {"order": 1042, "eur": 900})))
>>> outcome = client.wait(ticket.id, timeout=900)  # doctest: +SKIP
"""

from holdpoint._json import (
    JSON,
    RawJSON,
    SpelledFloat,
    SpelledInt,
    canonical,
    canonical_text,
    context_hash,
    dumps,
    loads,
)
from holdpoint._pacing import WaitPolicy
from holdpoint.aio import AsyncClient
from holdpoint.client import Client
from holdpoint.errors import *  # noqa: F403
from holdpoint.errors import __all__ as _errors
from holdpoint.gate import (
    Gated,
    NotApprovedError,
    Policy,
    Ran,
    Refused,
    Unasked,
    always,
    any_of,
    requires_approval,
    risk_at_least,
    tools,
)
from holdpoint.models import (
    Approval,
    ApprovalRequest,
    Approved,
    Cancelled,
    Expired,
    Lapsed,
    Modified,
    Outcome,
    Page,
    Rejected,
    Ticket,
    TimedOut,
    ToolCall,
    is_approved,
    outcome_of,
)
from holdpoint.webhooks import InvalidCallbackError, verify_callback

__version__ = "1"
"""The package's version is the server's API version (openapi.yaml ``info.version``)."""

__all__ = [
    "JSON",
    "Approval",
    "ApprovalRequest",
    "Approved",
    "AsyncClient",
    "Cancelled",
    "Client",
    "Expired",
    "InvalidCallbackError",
    "Lapsed",
    "Modified",
    "Outcome",
    "RawJSON",
    "Rejected",
    "SpelledFloat",
    "SpelledInt",
    "Ticket",
    "TimedOut",
    "ToolCall",
    "Gated",
    "NotApprovedError",
    "Page",
    "Policy",
    "Ran",
    "Refused",
    "Unasked",
    "always",
    "any_of",
    "requires_approval",
    "risk_at_least",
    "tools",
    "WaitPolicy",
    "canonical",
    "canonical_text",
    "context_hash",
    "dumps",
    "is_approved",
    "loads",
    "outcome_of",
    "verify_callback",
    *_errors,
]
