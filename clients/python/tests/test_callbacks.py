"""The callback helper accepts what the secret signed, fresh, and nothing else."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from standardwebhooks import Webhook

from holdpoint import InvalidCallbackError, verify_callback

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = b'{"type":"approval.approved","data":{"id":"a1","eur":1.50}}'


def signed(body: bytes, at: datetime, secret: str = SECRET, msg: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": msg,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg, at, body.decode()),
    }


def test_a_fresh_signature_by_the_secret_verifies_and_keeps_numbers() -> None:
    event = verify_callback(SECRET, signed(BODY, datetime.now(timezone.utc)), BODY)
    assert event["data"]["eur"].json_text == "1.50"
    # Header names in any case, several signatures (a rotated secret) in one header.
    headers = signed(BODY, datetime.now(timezone.utc))
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert verify_callback(SECRET, {k.title(): v for k, v in headers.items()}, BODY)


def test_forged_altered_stale_or_unsigned_callbacks_are_refused() -> None:
    now = datetime.now(timezone.utc)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    refused = {
        "forged": (signed(BODY, now, secret=other), BODY),
        "altered body": (signed(BODY, now), BODY.replace(b"1.50", b"150")),
        "another id": ({**signed(BODY, now), "webhook-id": "msg_2"}, BODY),
        "stale": (signed(BODY, now - timedelta(minutes=6)), BODY),
        "from the future": (signed(BODY, now + timedelta(minutes=6)), BODY),
        "unsigned": ({"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp()))}, BODY),
        "malformed": ({**signed(BODY, now), "webhook-signature": "garbage"}, BODY),
    }
    for case, (headers, body) in refused.items():
        with pytest.raises(InvalidCallbackError) as e:
            verify_callback(SECRET, headers, body)
        assert e.value.code == "invalid_callback", case


def sig(secret: str, msg: str, timestamp: str, body: bytes) -> str:
    """A valid ``v1`` signature over exactly these bytes, whatever they are."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def refused(headers: Any, body: Any, case: str) -> None:
    """Refused with this package's own error, never a bare one from below."""
    try:
        verify_callback(SECRET, headers, body)
    except InvalidCallbackError as e:
        assert e.code == "invalid_callback", case
    except Exception as e:  # pragma: no cover - the failure being tested for
        pytest.fail(f"{case}: {type(e).__name__}: {e}")
    else:  # pragma: no cover
        pytest.fail(f"{case}: accepted")


def test_malformed_headers_are_refused_with_the_packages_error() -> None:
    now = datetime.now(timezone.utc)
    good = signed(BODY, now)
    cases: dict[str, Any] = {
        "no comma": "v1",
        "too many commas": "v1,AAAA,BBBB",
        "empty": "",
        "only spaces": "   ",
        "bad base64": "v1,@@@@",
        "bad padding": "v1,AAA",
        "non-ASCII base64": "v1,ÄÄÄÄ",
        "a good one after a malformed one": "v1 " + good["webhook-signature"],
        "another version only": "v1a," + good["webhook-signature"][3:],
        "bytes": good["webhook-signature"].encode(),
        "a list": [good["webhook-signature"]],
        "None": None,
        "huge": "v1," + "A" * 1_000_000,
    }
    for case, value in cases.items():
        refused({**good, "webhook-signature": value}, BODY, f"signature {case}")
    refused({**good, "webhook-id": ""}, BODY, "empty id")
    refused({**good, "webhook-id": 7}, BODY, "id not text")
    refused({k.encode(): v.encode() for k, v in good.items()}, BODY, "bytes, as ASGI has them")
    # The same header twice, spelled differently, with different values: which one was meant?
    refused({**good, "Webhook-Id": "msg_2"}, BODY, "two ids")
    refused(None, BODY, "no headers at all")
    # A secret that is not one is the receiver's own mistake, and says so.
    for secret in ("whsec_", "whsec_@@@"):
        with pytest.raises(ValueError, match="webhook secret"):
            verify_callback(secret, good, BODY)
    refused([("webhook-id", "msg_1")], BODY, "not a mapping")


def test_timestamps_that_are_not_plain_integers_are_refused() -> None:
    now = int(datetime.now(timezone.utc).timestamp())
    plain = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    plain["webhook-signature"] = sig(SECRET, "msg_1", str(now), BODY)
    assert verify_callback(SECRET, plain, BODY)["type"] == "approval.approved"
    for stamp in [
        f"{now}.0",
        f"{now}.9",
        f"{now / 1e9}e9",
        f" {now}",
        f"+{now}",
        f"{now:_}",
        "".join(chr(0x0660 + int(d)) for d in str(now)),  # Arabic-Indic digits: float() takes them
        "nan",
        "inf",
        "-inf",
        "1e400",
        "9" * 400,
        "9" * 20_000,
        "-1",
        "",
        "0x" + format(now, "x"),
    ]:
        # Signed over the text as sent, and over the whole seconds standardwebhooks reads in it.
        signatures = [sig(SECRET, "msg_1", stamp, BODY)]
        with contextlib.suppress(ValueError, OverflowError):
            signatures.append(sig(SECRET, "msg_1", str(math.floor(float(stamp))), BODY))
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": stamp,
            "webhook-signature": " ".join(signatures),
        }
        refused(headers, BODY, f"timestamp {stamp[:30]!r}")


def test_signed_bodies_that_are_not_json_are_refused() -> None:
    now = str(int(datetime.now(timezone.utc).timestamp()))
    for body in [
        b"",
        b"not json",
        b'{"a":1',
        b"\xff\xfe{}",  # not UTF-8
        b'{"a":NaN}',
        b'{"a":1}{"b":2}',
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser recurses
        b'{"n":' + b"9" * 10_000 + b"}",  # more digits than int() reads
    ]:
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": now,
            "webhook-signature": sig(SECRET, "msg_1", now, body),
        }
        refused(headers, body, f"body {body[:20]!r}")
    refused(signed(BODY, datetime.now(timezone.utc)), 7, "a body not bytes")
