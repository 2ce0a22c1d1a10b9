"""How the client spaces its requests (the server's one backoff rule, as in the Rust client):
capped exponential backoff with equal jitter from a floor, never below the floor, never shorter
than a ``Retry-After``, which is waited out in full."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

MIN_FLOOR = 0.1
"""No policy polls faster than this (seconds)."""


def is_retryable_status(status: int) -> bool:
    """A timeout (408), too many requests (429) or any server error (5xx)."""
    return status in (408, 429) or 500 <= status <= 599


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` value as seconds from ``now``: delta-seconds or an HTTP date; ``None``
    when it is neither or names a time already past."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also takes "²" and "٣"
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    left = (at - (now or datetime.now(timezone.utc))).total_seconds()
    return left if left >= 0 else None


@dataclass(frozen=True)
class WaitPolicy:
    """How ``wait`` (and a retried create) spaces requests, in seconds."""

    floor: float = 1.0
    cap: float = 30.0

    def backoff(self) -> Backoff:
        return Backoff(max(self.floor, MIN_FLOOR), self.cap)


class Backoff:
    """The pauses of one run of requests."""

    def __init__(self, floor: float, cap: float) -> None:
        self.floor = floor
        self.cap = max(cap, floor)
        self.failures = 0

    def next(self, retry_after: float | None = None) -> float:
        self.failures += 1
        exp = min(self.floor * 2.0 ** min(self.failures - 1, 20), self.cap)
        jittered = exp / 2 + (exp / 2) * random.random()
        return max(jittered, self.floor, retry_after or 0.0)
