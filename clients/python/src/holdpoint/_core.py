"""What the sync and async clients share: URLs, bodies, answers, and the wait's pacing."""

from __future__ import annotations

import ipaddress
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from holdpoint._json import dumps, loads
from holdpoint._pacing import Backoff, is_retryable_status, retry_after
from holdpoint.errors import (
    HoldpointError,
    ProblemError,
    UnexpectedAnswerError,
    UnreachableError,
    problem,
)
from holdpoint.models import (
    Approval,
    ApprovalRequest,
    Approved,
    Modified,
    Outcome,
    Ticket,
    outcome_of,
)

CREATE_ATTEMPTS = 4
"""How many times a create is sent before giving up (the same Idempotency-Key each time)."""
CREATE_MAX_PAUSE = 60.0
"""The longest ``Retry-After`` a create waits out before sending again (seconds)."""
REQUEST_TIMEOUT = 30.0
"""How long one request may take (seconds)."""
USER_AGENT = "holdpoint-python/1"


def approval_path(approval_id: str | uuid.UUID, action: str = "") -> str:
    """``v1/approvals/{id}`` (then ``/{action}``): the id a UUID, checked before any request
    (``ValueError``, or ``TypeError`` for what is not a string or a UUID), so no id reaches
    another path."""
    if isinstance(approval_id, uuid.UUID):
        parsed = approval_id
    elif isinstance(approval_id, str):
        try:
            parsed = uuid.UUID(approval_id)
        except ValueError:
            raise ValueError(f"an approval id is a UUID, not {approval_id!r}") from None
    else:
        raise TypeError(f"an approval id is a UUID, not a {type(approval_id).__name__}")
    return f"v1/approvals/{parsed}" + (f"/{action}" if action else "")


def base_url(url: str) -> str:
    """``url`` checked: ``https``, or plain ``http`` only to this machine (credentials in clear
    text only cross the loopback interface)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        pass
    elif parts.scheme == "http" and host:
        loopback = host == "localhost"
        if not loopback:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
        if not loopback:
            raise ValueError(
                f"{url}: plain http only to this machine (127.0.0.1, ::1, localhost); "
                "credentials to another host need https"
            )
    else:
        raise ValueError(f"{url} is not an http(s) URL")
    return url if url.endswith("/") else url + "/"


def headers(api_key: str | None) -> dict[str, str]:
    given = {"user-agent": USER_AGENT, "accept": "application/json"}
    if api_key is not None:
        given["authorization"] = f"Bearer {api_key}"
    return given


def params(**given: str | int | None) -> dict[str, str]:
    """Query parameters: those given, as text."""
    return {k: str(v) for k, v in given.items() if v is not None}


def new_key() -> str:
    return str(uuid.uuid4())


def json_body(value: object) -> bytes:
    return dumps(value).encode("utf-8")


def answer(response: httpx.Response) -> Any:
    """A 2xx answer's JSON (numbers as sent); the problem as an exception otherwise."""
    if 200 <= response.status_code < 300:
        try:
            return loads(response.content)
        except ValueError as e:
            raise UnexpectedAnswerError(f"not JSON: {e}", status=response.status_code) from e
    try:
        body = loads(response.content)
    except ValueError:
        body = None
    raise problem(
        response.status_code,
        body if isinstance(body, dict) else None,
        response.text,
        retry_after(response.headers.get("retry-after")),
    )


def transport_error(e: httpx.TransportError) -> UnreachableError:
    return UnreachableError(f"cannot reach Holdpoint: {type(e).__name__}: {e}")


def retry_pause(error: HoldpointError) -> tuple[bool, float | None]:
    """Whether a failed request is worth sending again, and the ``Retry-After`` it asked for."""
    if isinstance(error, UnreachableError):
        return True, None
    if isinstance(error, ProblemError) and error.status and is_retryable_status(error.status):
        return True, error.retry_after
    return False, None


def too_long(error: HoldpointError, after: float | None) -> bool:
    """Whether a create's ``Retry-After`` is longer than :data:`CREATE_MAX_PAUSE` (then
    ``error`` says so, and is raised instead of sleeping that long)."""
    if after is None or after <= CREATE_MAX_PAUSE:
        return False
    error.detail += (
        f" (the server asked to retry in {after:g} s, longer than the {CREATE_MAX_PAUSE:g} s"
        " request_approval waits: ask again later, with the same idempotency_key)"
    )
    return True


def ticket(body: Any, request: ApprovalRequest) -> Ticket:
    return Ticket(Approval.from_answer(body), request)


def edited_of(edited: object) -> object:
    """The edits a ``Modified`` outcome carries (an ``Approved`` one carries none), or
    ``edited`` as given."""
    if isinstance(edited, Modified):
        return edited.output
    return None if isinstance(edited, Approved) else edited


@dataclass
class Waiting:
    """One wait's state: its deadline, backoff and what the approval said last."""

    deadline: float
    backoff: Backoff
    expires_at: datetime | None = None

    @classmethod
    def start(cls, timeout: float, backoff: Backoff) -> Waiting:
        return cls(time.monotonic() + timeout, backoff)

    def seen(self, body: Any) -> Outcome | None:
        approval = Approval.from_answer(body)
        outcome = outcome_of(approval)
        if outcome is None:
            self.expires_at = approval.expires_at
        return outcome

    def pause(self, retry_after: float | None) -> tuple[float, bool]:
        """How long to sleep, and whether the wait is over (timed out) after that sleep."""
        pause = self.backoff.next(retry_after)
        if self.expires_at is not None and retry_after is None:
            # No pause runs past the approval's own deadline: its expiry is seen when it comes.
            until = (self.expires_at - datetime.now(timezone.utc)).total_seconds()
            pause = min(pause, max(until, self.backoff.floor))
        left = max(self.deadline - time.monotonic(), 0.0)
        if pause >= left:
            # Asking again before the pause is over would poll faster than allowed.
            return left, True
        return pause, False
