"""Checking a callback (or webhook) Holdpoint posted: Standard Webhooks signatures
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``),
verified by the ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from holdpoint._json import loads
from holdpoint.errors import HoldpointError

_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Whole seconds since the epoch in ASCII digits: what is signed is this text, so nothing else
(``1.5``, ``1e9``, `` 17``, other scripts' digits, which ``float()`` takes) is accepted."""
_SIGNATURE = re.compile(r"[a-z0-9]{1,8},[A-Za-z0-9+/]+={0,2}")
_LONGEST = 8192
"""Bytes a header may hold (a handful of signatures): more is refused before any work."""


class InvalidCallbackError(HoldpointError):
    """A callback whose signature does not verify: forged, altered, stale (its timestamp more
    than five minutes from now), missing or malformed headers, or a body that is not JSON.
    Refuse it."""

    code = "invalid_callback"


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The three headers by their lower-case names; a name given twice with different values
    (``Webhook-Id`` and ``webhook-id``), or a value that is not text, is refused."""
    try:
        items = list(headers.items())
    except (AttributeError, TypeError) as e:
        raise InvalidCallbackError("callback headers are not a mapping") from e
    found: dict[str, str] = {}
    for name, value in items:
        if not isinstance(name, str) or name.lower() not in _NAMES:
            continue
        name = name.lower()
        if not isinstance(value, str) or not value or len(value) > _LONGEST:
            raise InvalidCallbackError(f"callback header {name} is empty, too long or not text")
        if found.setdefault(name, value) != value:
            raise InvalidCallbackError(f"callback header {name} is given twice")
    missing = [n for n in _NAMES if n not in found]
    if missing:
        raise InvalidCallbackError(f"callback headers missing: {', '.join(missing)}")
    if not _TIMESTAMP.fullmatch(found["webhook-timestamp"]):
        raise InvalidCallbackError("callback webhook-timestamp is not whole seconds")
    for signature in found["webhook-signature"].split(" "):
        if not _SIGNATURE.fullmatch(signature):
            raise InvalidCallbackError("callback webhook-signature is malformed")
        try:
            base64.b64decode(signature.split(",", 1)[1], validate=True)
        except binascii.Error as e:
            raise InvalidCallbackError("callback webhook-signature is not base64") from e
    return found


def verify_callback(secret: str, headers: Mapping[str, str], body: bytes | str) -> Any:
    """The callback's JSON (numbers as sent) when ``body`` and ``headers`` carry a valid, fresh
    signature by ``secret`` (``whsec_…``); raises :class:`InvalidCallbackError` otherwise,
    whatever the headers and body hold (never an error from the parsers below it).

    ``body`` must be the raw bytes received, before any parsing. A ``secret`` that is not one
    (not base64, empty) is the receiver's mistake, not the sender's: ``ValueError``."""
    try:
        webhook = Webhook(secret)
    except Exception as e:
        raise ValueError("the webhook secret is not whsec_<base64>") from e
    found = _headers(headers)
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            text = bytes(body).decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise InvalidCallbackError("callback body is not UTF-8") from e
    elif isinstance(body, str):
        text = body
    else:
        raise InvalidCallbackError("callback body is not bytes")
    try:
        webhook.verify(text, found, json_parse=False)
    except (WebhookVerificationError, ValueError, TypeError, OverflowError) as e:
        raise InvalidCallbackError(f"callback refused: {e}") from e
    try:
        return loads(text)
    except (ValueError, RecursionError) as e:
        raise InvalidCallbackError(f"callback body is not JSON: {str(e)[:200]}") from e
