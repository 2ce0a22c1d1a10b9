"""The callback helper accepts what the secret signed, fresh, and nothing else."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

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
