"""SigV4: the signature this package makes is botocore's own for the same request."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from unittest import mock
from urllib.parse import parse_qsl

import botocore.auth
import botocore.credentials
import httpx
import pytest
from botocore.awsrequest import AWSRequest

from holdpoint import Client, NotFoundError
from holdpoint.aws import AwsCredentials, SigV4Auth, sign

AT = datetime(2026, 11, 30, 12, 34, 56, tzinfo=timezone.utc)
CREDS = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/approvals"


def botocore_signs(request: AWSRequest) -> str:
    creds = botocore.credentials.Credentials(CREDS.access_key, CREDS.secret_key, CREDS.token)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=AT):
        botocore.auth.SigV4Auth(creds, "execute-api", "eu-west-1").add_auth(request)
    return str(request.headers["Authorization"])


def botocores(method: str, url: str, headers: dict[str, str], body: bytes) -> str:
    return botocore_signs(AWSRequest(method=method, url=url, headers=headers, data=body))


@pytest.mark.parametrize(
    ("method", "url", "headers", "body"),
    [
        (
            "POST",
            URL,
            {"content-type": "application/json", "idempotency-key": "k-1"},
            b'{"action":"Refund","context":{"eur":1.50}}',
        ),
        ("GET", URL + "/6f1c2a8e-0000-4000-8000-000000000001", {}, b""),
        ("GET", URL + "?status=pending&reviewer=role%3Afinance&agent_id=a%20b", {}, b""),
    ],
)
def test_signature_is_botocores(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> None:
    added = sign(method, url, headers, body, CREDS, "eu-west-1", AT)
    # botocore signs every header it is given: give it the ones this signer signs.
    theirs = {**headers, "X-Amz-Content-SHA256": added["x-amz-content-sha256"]}
    assert added["authorization"] == botocores(method, url, theirs, body)
    assert added["x-amz-date"] == "20261130T123456Z"
    assert added["x-amz-security-token"] == "session-token"


TRICKY = (
    ("agent_id", "a b"),
    ("agent_id", "a+b"),
    ("reviewer", "role:finance/eu~1"),
    ("q", "café €"),
    ("ü", "x=y&z"),
    ("empty", ""),
    ("agent_id", "A"),
)
"""Spaces, ``+``, ``~``, ``/``, unicode (in keys too), repeated keys, ``=`` and ``&`` in a value."""


def sent_through_the_signer(params: tuple[tuple[str, str], ...] | str) -> httpx.Request:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    auth = SigV4Auth(lambda: CREDS, "eu-west-1", clock=lambda: AT)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(answer)) as http:
        if isinstance(params, str):
            http.get(URL + params)
        else:
            http.get(URL, params=params)
    return seen[0]


def signed_headers(sent: httpx.Request) -> dict[str, str]:
    """The headers the signature covers, as botocore is to be given them (it signs all)."""
    names = sent.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    return {n: sent.headers[n] for n in names if n not in ("host", "x-amz-security-token")}


@pytest.mark.parametrize("case", range(len(TRICKY) + 1))
def test_a_tricky_query_is_signed_as_botocore_signs_the_request_sent(case: int) -> None:
    params = TRICKY if case == len(TRICKY) else (TRICKY[case],)
    sent = sent_through_the_signer(params)
    theirs = signed_headers(sent)
    # botocore signing the very request that went on the wire...
    on_the_wire = AWSRequest(method="GET", url=str(sent.url), headers=theirs, data=b"")
    assert sent.headers["authorization"] == botocore_signs(on_the_wire)
    # ...and botocore signing the same query given as its parameters, which it encodes itself.
    given = AWSRequest(method="GET", url=URL, headers=theirs, data=b"", params=params)
    assert sent.headers["authorization"] == botocore_signs(given)
    # What the server reads is what was asked for, in httpx's order (repeated names together).
    assert parse_qsl(sent.url.query.decode("ascii"), keep_blank_values=True) == list(
        httpx.QueryParams(params).multi_items()
    )


@pytest.mark.parametrize(
    "query",
    [
        "?agent_id=a+b&agent_id=a%2Bb&agent_id=a%20b",
        "?t=%7e/x&u=caf%C3%A9&u=café&flag",
        "?b=2&a=1&a=0&%C3%BC=1",
    ],
)
def test_a_query_written_in_the_url_is_signed_as_botocore_signs_the_request_sent(
    query: str,
) -> None:
    sent = sent_through_the_signer(query)
    on_the_wire = AWSRequest(
        method="GET", url=str(sent.url), headers=signed_headers(sent), data=b""
    )
    assert sent.headers["authorization"] == botocore_signs(on_the_wire)


def test_the_client_signs_each_request_and_sends_no_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"code": "not_found", "detail": "no"})

    auth = SigV4Auth(lambda: CREDS, "eu-west-1", clock=lambda: AT)
    client = Client(
        URL.removesuffix("/v1/approvals"), auth=auth, transport=httpx.MockTransport(answer)
    )
    with pytest.raises(NotFoundError):
        client.get(str(uuid.uuid4()))
    sent = seen[0]
    expected = sign("GET", str(sent.url), dict(sent.headers), b"", CREDS, "eu-west-1", AT)
    assert sent.headers["authorization"] == expected["authorization"]
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")


def test_client_aws_uses_the_credentials_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    client = Client.aws("https://api.example.com")
    auth = client._http.auth
    assert isinstance(auth, SigV4Auth) and auth.region == "eu-central-1"
    assert auth.credentials().access_key == "AKIDENV"
    with pytest.raises(ValueError):
        Client("https://api.example.com")  # neither a key nor a signer


def test_credentials_do_not_show_their_secrets() -> None:
    shown = repr(CREDS) + str(CREDS)
    assert "AKIDEXAMPLE" in shown
    assert CREDS.secret_key not in shown and "session-token" not in shown
