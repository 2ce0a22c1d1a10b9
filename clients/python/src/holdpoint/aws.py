"""AWS SigV4 over each request, for the IAM-authorised API on AWS (API Gateway's IAM
authorizer, service ``execute-api``): the signer is written here (stdlib only) and checked
against botocore's own; the credentials and region come from botocore's credentials chain
(environment, profile, SSO, web identity, container and instance roles), extra ``aws``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import httpx

from holdpoint.errors import HoldpointError

SERVICE = "execute-api"
"""The service name API Gateway's IAM authorizer expects."""
SIGNED = ("content-type", "host", "idempotency-key", "if-match")
"""Headers signed besides the ``x-amz-*`` ones (those no proxy on the way rewrites)."""


class CredentialsError(HoldpointError):
    """No AWS credentials or region could be found, or botocore is not installed."""

    code = "credentials"


@dataclass(frozen=True)
class AwsCredentials:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def query_pairs(query: str) -> list[tuple[str, str]]:
    """A query's pairs, in order, each name and value encoded as SigV4 encodes them: every byte
    but the unreserved ``A-Z a-z 0-9 - _ . ~`` as ``%XX`` (upper-case hex), so a space is ``%20``
    and a ``+`` is ``%2B``. The query is read as HTML forms (and httpx's ``params=``, and the
    server) write it: ``+`` is a space, ``%XX`` a byte (any byte, UTF-8 or not), a pair without
    ``=`` has an empty value, empty pairs are nothing."""

    def encoded(part: str) -> str:
        return quote(unquote_to_bytes(part.replace("+", " ")), safe="-_.~")

    pairs = (piece.partition("=") for piece in query.split("&") if piece)
    return [(encoded(name), encoded(value)) for name, _, value in pairs]


def canonical_url(url: httpx.URL) -> httpx.URL:
    """``url`` with its query written as SigV4 encodes it, pairs in their order (same meaning).

    botocore signs the query text as it is sent, only sorted, so a request is sent
    this way before it is signed: a ``+``, a ``%7e`` or a raw ``/`` then reads the same to the
    signer, to botocore and to the service."""
    if not url.query:
        return url
    query = "&".join(f"{k}={v}" for k, v in query_pairs(url.query.decode("ascii")))
    return url.copy_with(query=query.encode("ascii") or None)


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: AwsCredentials,
    region: str,
    now: datetime,
    service: str = SERVICE,
) -> dict[str, str]:
    """The headers a SigV4 signature adds to a request: ``x-amz-date``,
    ``x-amz-content-sha256``, ``x-amz-security-token`` (temporary credentials) and
    ``authorization``.

    The query is signed as :func:`canonical_url` writes it: send ``canonical_url(url)`` (as
    :class:`SigV4Auth` does), and the signature is botocore's for the request sent."""
    parsed = httpx.URL(url)
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload = hashlib.sha256(body).hexdigest()
    added = {"x-amz-date": stamp, "x-amz-content-sha256": payload}
    if credentials.token:
        added["x-amz-security-token"] = credentials.token
    signed = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed = {k: v for k, v in signed.items() if k in SIGNED}
    signed.setdefault("host", parsed.netloc.decode("ascii"))
    signed.update(added)
    names = sorted(signed)
    # Non-S3 services sign the path encoded once more, and the query's pairs sorted, encoded.
    path = quote(parsed.raw_path.split(b"?")[0].decode("ascii") or "/", safe="/~")
    query = "&".join(f"{k}={v}" for k, v in sorted(query_pairs(parsed.query.decode("ascii"))))
    canonical = "\n".join(
        [
            method.upper(),
            path,
            query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(f"AWS4{credentials.secret_key}".encode(), stamp[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    added["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return added


class SigV4Auth(httpx.Auth):
    """Signs every request (retries too, afresh) with credentials from ``credentials``, called
    each time so that temporary credentials are refreshed as their provider sees fit."""

    requires_request_body = True

    def __init__(
        self,
        credentials: Callable[[], AwsCredentials],
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.credentials = credentials
        self.region = region
        self.clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = canonical_url(request.url)
        added = sign(
            request.method,
            str(request.url),
            dict(request.headers),
            request.content,
            self.credentials(),
            self.region,
            self.clock(),
        )
        request.headers.update(added)
        yield request


def from_environment(region: str | None = None, session: Any = None) -> SigV4Auth:
    """A signer with botocore's default credentials chain and region (``region`` overrides)."""
    try:
        import botocore.session
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise CredentialsError("Client.aws() needs botocore: pip install 'holdpoint[aws]'") from e
    session = session or botocore.session.get_session()
    found = session.get_credentials()
    if found is None:
        raise CredentialsError("the AWS credentials chain found no credentials")
    region = region or session.get_config_variable("region")
    if not region:
        raise CredentialsError("no AWS region is configured (AWS_REGION, or region=...)")

    def credentials() -> AwsCredentials:
        frozen = found.get_frozen_credentials()
        return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    return SigV4Auth(credentials, str(region))
