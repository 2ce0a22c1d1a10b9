"""Checking a callback (or webhook) Holdpoint posted: Standard Webhooks signatures
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``),
verified by the ``standardwebhooks`` package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from holdpoint._json import loads
from holdpoint.errors import HoldpointError


class InvalidCallbackError(HoldpointError):
    """A callback whose signature does not verify: forged, altered, stale (its timestamp more
    than five minutes from now) or missing its headers. Refuse it."""

    code = "invalid_callback"


def verify_callback(secret: str, headers: Mapping[str, str], body: bytes | str) -> Any:
    """The callback's JSON (numbers as sent) when ``body`` and ``headers`` carry a valid, fresh
    signature by ``secret`` (``whsec_…``); raises :class:`InvalidCallbackError` otherwise.

    ``body`` must be the raw bytes received, before any parsing."""
    text = body if isinstance(body, str) else body.decode("utf-8", errors="strict")
    try:
        Webhook(secret).verify(text, {k: v for k, v in headers.items()}, json_parse=False)
    except (WebhookVerificationError, ValueError) as e:
        # A malformed signature or base64 is refused like a wrong one.
        raise InvalidCallbackError(f"callback refused: {e}") from e
    try:
        return loads(text)
    except ValueError as e:
        raise InvalidCallbackError(f"callback body is not JSON: {e}") from e
