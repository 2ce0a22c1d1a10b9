"""Rules of a request that JSON Schema cannot state, for schemathesis's generated cases.

The API refuses (422) a create request whose reviewers, without the requester, cannot reach its
quorum at some escalation level. openapi.yaml says so in words; a schema cannot compare two
fields, so a generated quorum the schema allows is lowered to what the reviewers can reach.
Nothing else is changed, and a quorum the schema itself refuses is left as it is.

Without a tenant policy naming them (this tenant has none), a create must name its reviewers,
which the schema leaves optional for tenants whose policy does: a generated body without them
names one.

A callback URL must name a public host, which no schema can state either: a generated
`callback_url` the schema allows (an https string) becomes one that is public. One the schema
refuses is left as it is.
"""

import schemathesis

REQUESTER = "agent"  # the principal of the API key infra/schemathesis.sh runs with
ROLE_CAP = 20


def _approvers(reviewers):
    if any(isinstance(r, str) and r.startswith("role:") for r in reviewers):
        return ROLE_CAP
    return len([r for r in reviewers if r != REQUESTER])


def _fit_quorum(body):
    """The quorum a create body can reach, when its quorum is one the schema allows."""
    if not isinstance(body, dict) or not isinstance(body.get("reviewers"), list):
        return
    if not all(isinstance(r, str) for r in body["reviewers"]):
        return
    quorum = body.get("quorum")
    whole = isinstance(quorum, int) or (isinstance(quorum, float) and quorum.is_integer())
    if not whole or isinstance(quorum, bool) or not 1 <= quorum <= ROLE_CAP:
        return
    levels = [body["reviewers"]] + [
        level["reviewers"]
        for level in body.get("escalation") or []
        if isinstance(level, dict) and isinstance(level.get("reviewers"), list)
    ]
    reachable = min(_approvers(r) for r in levels)
    if reachable >= 1:
        body["quorum"] = min(int(quorum), reachable)


def _named_reviewers(body):
    """Reviewers for a create body that names none (this tenant has no policy to name them)."""
    if isinstance(body, dict) and "action" in body and "reviewers" not in body:
        body["reviewers"] = ["reviewer"]


def _public_callback(body):
    """A schema-valid callback URL, made public (the host's DNS is looked up only at delivery)."""
    if isinstance(body, dict) and isinstance(body.get("callback_url"), str):
        url = body["callback_url"]
        if url.startswith("https://") and len(url) <= 2048:
            body["callback_url"] = "https://agent.example.com/holdpoint/callback"


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A client reuses an Idempotency-Key only to retry the same body (a key reused with another
    body is 422 idempotency_key_reused, as the IETF Idempotency-Key draft asks): generated keys
    are made specific to their body."""
    import hashlib
    import json

    _named_reviewers(case.body)
    _fit_quorum(case.body)
    _public_callback(case.body)
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and key:
        digest = hashlib.sha256(json.dumps(case.body, sort_keys=True, default=str).encode()).hexdigest()[:16]
        headers["Idempotency-Key"] = (key[:180] + "-" + digest)
        case.headers = headers
