#!/usr/bin/env python3
"""Verifies a Holdpoint evidence bundle offline, with the published keys and nothing else.

Written apart from Holdpoint, from the format in docs/audit-evidence.md, so an auditor need not
trust Holdpoint's own binary. Needs Python 3.9+ and `cryptography` (pip install cryptography).

Usage: verify_bundle.py BUNDLE --keys JWKS
  BUNDLE  an evidence bundle (GET /v1/approvals/{id}/evidence, `holdpoint audit export ID`)
  JWKS    the keys (GET /.well-known/holdpoint/audit-keys)
Exit 0: verified (warnings may say what is not proven yet); 1: something failed, each failure
named on a FAIL line; 2: the files cannot be read as a bundle and a key set.
"""

import argparse
import base64
import hashlib
import json
import re
import sys
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

GENESIS = "0" * 64
TIME = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
NOT_STATE = ("audit_head", "published_seq", "seal", "integrity")
# The members each part has (optional ones second): a bundle is read as written, so a member
# added or renamed, which a reader might take for checked, fails. (The approval's own members
# are all in its state digest but for NOT_STATE.)
BUNDLE = ({"format", "version", "approval", "records", "checkpoints", "key_ids"}, set())
RECORD = ({"approval_id", "tenant", "sequence", "event", "actor", "at", "payload",
           "payload_digest", "state_digest", "prev_hash", "hash", "key_id", "signature"},
          {"state_fields"})
CHECKPOINT = ({"version", "tenant", "sequence", "at", "prev_hash", "heads", "hash", "key_id",
               "signature"}, set())
HEAD = ({"approval_id", "sequence", "hash"}, set())
# The deepest a bundle's text may nest, measured before it is parsed: more than a genuine bundle
# ever does (an agent's document nests at most 64 levels), as the Rust verifier refuses.
MAX_NESTING = 127
NO_CHECKPOINT = ("NOT CHECKPOINTED: the bundle carries no checkpoint, so nothing signed covers "
                 "its records (anyone could have written them)")


class Num(str):
    """A JSON number kept as written: digests are over the text the agent sent (1e2 stays 1e2)."""


def no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate member {k!r}")
        obj[k] = v
    return obj


def reject(name):
    raise ValueError(f"{name} is not JSON")


def nesting(text):
    """How deep JSON text nests, brackets counted outside strings (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if nesting(text) > MAX_NESTING:
        raise ValueError(f"{path}: nests deeper than {MAX_NESTING} levels")
    return json.loads(text, object_pairs_hook=no_duplicates, parse_float=Num,
                      parse_int=Num, parse_constant=reject)


def printable(line):
    """`line` with every character a terminal could act on (control, format, separator)
    escaped: a bundle's strings cannot rewrite what the verifier shows."""
    return "".join(c if c.isprintable() else f"\\u{{{ord(c):x}}}" for c in line)


def approval_id(a):
    """The approval's id; not a UUID at all is unusable input (the Rust verifier reads it as
    one), one in another spelling than lowercase hyphenated an edit."""
    try:
        uuid.UUID(a["id"])
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"approval id {a['id']!r} is not a UUID") from e
    return a["id"]


def dump(v, sort=False):
    """Compact JSON, numbers as written, strings escaped only as JSON requires; members sorted
    by key (the canonical form) when `sort`, else in the order written."""
    if isinstance(v, Num):
        return str(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(dump(x, sort) for x in v) + "]"
    # Code point order is UTF-8 byte order.
    items = sorted(v.items()) if sort else v.items()
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dump(x, sort)
                          for k, x in items) + "}"


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def integer(v):
    if not isinstance(v, Num) or not re.fullmatch(r"0|[1-9][0-9]*", v):
        raise ValueError(f"{v!r} is not a whole number")
    return int(v)


def record_hash(r):
    head = "\n".join([r["tenant"], r["approval_id"], str(integer(r["sequence"])), r["event"],
                      r["actor"], r["at"], r["payload_digest"]])
    state, fields = r.get("state_digest", ""), r.get("state_fields", "")
    if not state:
        line = f"holdpoint-audit-v1\n{head}\n{r['prev_hash']}"
    elif fields:
        line = f"holdpoint-audit-v3\n{head}\n{state}\n{fields}\n{r['prev_hash']}"
    else:
        line = f"holdpoint-audit-v2\n{head}\n{state}\n{r['prev_hash']}"
    return sha256(line)


def state_members(approval):
    """The approval's state: its members as written, less those that follow from its record."""
    members = {k: v for k, v in approval.items() if k not in NOT_STATE}
    if isinstance(members.get("decision"), dict):
        members["decision"] = {k: v for k, v in members["decision"].items() if k != "signature"}
    return members


def state_digest(approval):
    members = state_members(approval)
    if approval.get("seal", {}).get("fields"):
        # The first seal: the digest of each member's digest (docs/audit-evidence.md).
        digests = {k: sha256(dump(v, sort=True)) for k, v in members.items()}
        return sha256(dump(digests, sort=True))
    return sha256(dump(members))


def differing(approval, signed):
    """The state members whose fingerprint is not among those the record signed."""
    if not signed or len(signed) % 6 or not signed.isascii():
        return []
    prints = [signed[i:i + 6] for i in range(0, len(signed), 6)]
    now = sorted((k, sha256(k + "\n" + dump(v))[:6]) for k, v in state_members(approval).items())
    if len(now) == len(prints):
        return [k for (k, p), s in zip(now, prints) if p != s]
    return [k for k, p in now if p not in prints]


def checkpoint_hash(c):
    lines = [f"holdpoint-checkpoint-v{integer(c['version'])}", c["tenant"],
             str(integer(c["sequence"])), c["at"], c["prev_hash"], c["key_id"],
             str(len(c["heads"]))]
    lines += [f"{h['approval_id']} {integer(h['sequence'])} {h['hash']}" for h in c["heads"]]
    return sha256("\n".join(lines))


def public_key(jwk):
    if (jwk.get("kty"), jwk.get("crv"), jwk.get("alg")) != ("EC", "P-256", "ES256"):
        return None
    try:
        x, y = (base64.urlsafe_b64decode(jwk[c] + "=" * (-len(jwk[c]) % 4)) for c in "xy")
        if len(x) != 32 or len(y) != 32:
            return None
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"),
                                                int.from_bytes(y, "big"), ec.SECP256R1())
        return numbers.public_key()
    except (KeyError, ValueError):
        return None


def signature_problem(c, keys):
    try:
        der = base64.b64decode(c["signature"], validate=True)
    except ValueError:
        return "signature is not base64"
    if base64.b64encode(der).decode() != c["signature"]:
        # Unused low bits set: another text of the same bytes, refused as an edit.
        return "signature is not base64"
    key = next((public_key(k) for k in keys if k.get("kid") == c["key_id"]), None)
    if key is None:
        return f'signed with unknown key "{c["key_id"]}"'
    try:
        key.verify(der, c["hash"].encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return None
    except (InvalidSignature, ValueError):
        return f'signature does not verify under key "{c["key_id"]}"'


def earlier(x, y):
    """Whether time `x` is before time `y`, both in the one form times are written in (so the
    text orders as the time does); a time in another form has already failed its hash."""
    return bool(TIME.match(x) and TIME.match(y)) and x < y


def shape_problem(bundle):
    """The first member added, renamed or left out, as a dotted path."""
    def odd(obj, shape, path):
        required, optional = shape
        for k in sorted(set(obj) ^ required):
            if k not in optional:
                return f"{path}.{k}" if path else k
        return None
    top = odd(bundle, BUNDLE, "")
    if top:
        return top
    a = bundle["approval"]
    if not UUID.match(approval_id(a)):
        return "approval.id"
    if "integrity" in a:
        # Only "broken" is ever written (on a read that found the state broken); "ok" is left
        # out; anything else is not an approval at all.
        if a["integrity"] == "ok":
            return "approval.integrity"
        if a["integrity"] != "broken":
            raise ValueError(f"approval.integrity {a['integrity']!r} is not ok or broken")
    parts = []
    parts += [(r, RECORD, f"records.{i}") for i, r in enumerate(bundle["records"])]
    for i, c in enumerate(bundle["checkpoints"]):
        parts.append((c, CHECKPOINT, f"checkpoints.{i}"))
        parts += [(h, HEAD, f"checkpoints.{i}.heads.{j}") for j, h in enumerate(c["heads"])]
    return next((p for p in (odd(*part) for part in parts) if p), None)


def verify(bundle, keys):
    """(failures, warnings, unchecked), each a list of text."""
    fail, warn = [], []
    version = bundle.get("version")
    if bundle.get("format") != "holdpoint-evidence" or not isinstance(version, Num) \
            or version != "1":
        fail.append(f"bundle: not a holdpoint-evidence bundle of version 1 "
                    f"({bundle.get('format')} {bundle.get('version')})")
        return fail, warn, []
    a, records, checkpoints = bundle["approval"], bundle["records"], bundle["checkpoints"]
    approval_id(a)

    if not records:
        fail.append("bundle: has no audit records")
    prev = GENESIS
    for i, r in enumerate(records, 1):
        s = f"record {i}"
        if integer(r["sequence"]) != i:
            fail.append(f"{s}: sequence is {r['sequence']}, expected {i}")
        if r["approval_id"] != a["id"] or r["tenant"] != a["tenant"]:
            fail.append(f"{s}: is of another approval")
        if r["payload_digest"] != sha256(dump(r["payload"], sort=True)):
            fail.append(f"{s}: payload does not match its digest")
        if not TIME.match(r["at"]) or r["hash"] != record_hash(r):
            fail.append(f"{s}: hash does not match its content")
        if r["prev_hash"] != prev:
            fail.append(f"{s}: prev_hash does not link to the record before")
        prev = r["hash"]

    if records:
        last = records[-1]
        head = a["audit_head"]
        if integer(head["sequence"]) != integer(last["sequence"]) or head["hash"] != last["hash"]:
            fail.append(f"approval: its head (sequence {head['sequence']}) is not the last "
                        f"record (sequence {last['sequence']})")
        if not last.get("state_digest"):
            warn.append("approval: its last record predates states bound to records: "
                        "the state is not checked")
        elif state_digest(a) != last["state_digest"]:
            fields = [] if a.get("seal", {}).get("fields") else differing(
                a, last.get("state_fields", ""))
            named = f" (fields: {', '.join(fields)})" if fields else ""
            fail.append(f"approval: state does not match the digest record "
                        f"{last['sequence']} signed{named}")

    for c in checkpoints:
        s = f"checkpoint {c['sequence']}"
        if c["tenant"] != a["tenant"]:
            fail.append(f'{s}: is of tenant "{c["tenant"]}"')
        if integer(c["version"]) != 1:
            fail.append(f"{s}: unknown checkpoint version {c['version']}")
            continue
        ids = [h["approval_id"] for h in c["heads"]]
        if not all(UUID.match(i) for i in ids) or any(x >= y for x, y in zip(ids, ids[1:])):
            fail.append(f"{s}: heads are not in ascending approval id order, once each")
        if not TIME.match(c["at"]) or c["hash"] != checkpoint_hash(c):
            fail.append(f"{s}: hash does not match its content")
        problem = signature_problem(c, keys)
        if problem:
            fail.append(f"{s}: {problem}")
    if checkpoints and integer(checkpoints[0]["sequence"]) == 1 \
            and checkpoints[0]["prev_hash"] != GENESIS:
        fail.append("checkpoint 1: the first checkpoint does not start the chain")
    for p, c in zip(checkpoints, checkpoints[1:]):
        s = f"checkpoint {c['sequence']}"
        if c["tenant"] != p["tenant"]:
            fail.append(f"{s}: is of another tenant")
        if integer(c["sequence"]) != integer(p["sequence"]) + 1:
            fail.append(f"{s}: does not follow checkpoint {p['sequence']}")
        elif c["prev_hash"] != p["hash"]:
            fail.append(f"{s}: prev_hash does not link to checkpoint {p['sequence']}")

    hashes = [r["hash"] for r in records]
    newest = None
    for c in checkpoints:
        h = next((h for h in c["heads"] if h["approval_id"] == a["id"]), None)
        if h is None:
            continue
        seq = integer(h["sequence"])
        if seq > len(hashes):
            fail.append(f"approval: rollback: checkpoint {c['sequence']} recorded its head at "
                        f"sequence {seq} but its records end at {len(hashes)}")
        elif seq == 0 or hashes[seq - 1] != h["hash"]:
            fail.append(f"approval: rewritten: checkpoint {c['sequence']} recorded another hash "
                        f"for record {seq}")
        newest = (c["sequence"], seq)
    if newest is not None:
        if newest[1] < len(hashes):
            warn.append(f"approval: not yet checkpointed: records after sequence {newest[1]} "
                        f"(checkpoint {newest[0]}) are newer than any checkpoint")
    elif not records:
        pass
    elif not checkpoints:
        warn.append(f"approval: {NO_CHECKPOINT}")
    elif integer(checkpoints[0]["sequence"]) == 1 or earlier(checkpoints[0]["at"],
                                                            records[-1]["at"]):
        # None records it, and the bundle shows none could have: the tenant's chain from its
        # start, or from a checkpoint written before the approval's last record.
        warn.append("approval: not yet checkpointed: no checkpoint in the bundle records it")
    else:
        fail.append("approval: the bundle leaves out the checkpoints that would record this "
                    "approval (its first checkpoint is neither the tenant's first nor written "
                    "before its last record)")

    odd = shape_problem(bundle)
    if odd:
        fail.append(f"bundle: {odd} is not as this format writes it "
                    "(a member added, renamed or left out)")

    hmac_keys = ", ".join(sorted({r["key_id"] for r in records}))
    unchecked = [f"record signatures: HMAC-SHA256 under the service's secret keys ({hmac_keys}),"
                 " not checkable offline",
                 "the approval's seal: an HMAC under the same keys, not checkable offline"]
    if checkpoints:
        c = checkpoints[-1]
        unchecked.append(f"checkpoints after checkpoint {c['sequence']} (at {c['at']}, hash "
                         f"{c['hash']}): compare it with the service's newest")
    return fail, warn, unchecked


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--keys", required=True, help="the JWKS of the checkpoint keys")
    args = parser.parse_args()
    try:
        bundle, jwks = load(args.bundle), load(args.keys)
        fail, warn, unchecked = verify(bundle, jwks["keys"])
    except RecursionError:
        print("unusable input: nested too deeply to read", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        print(printable(f"unusable input: {e}"), file=sys.stderr)
        return 2
    for f in fail:
        print(printable(f"FAIL {f}"))
    for w in warn:
        print(printable(f"WARN {w}"))
    for u in unchecked:
        print(printable(f"NOT CHECKED {u}"))
    a = bundle["approval"]
    if fail:
        print(printable(f"NOT VERIFIED: approval {a['id']}: {len(fail)} failure(s)"))
        return 1
    unsigned = " WITH NO CHECKPOINT (nothing signed covers it)" if not bundle["checkpoints"] else ""
    print(printable(f"VERIFIED{unsigned}: approval {a['id']} (tenant {a['tenant']}), "
                    f"{len(bundle['records'])} records, {len(bundle['checkpoints'])} checkpoints"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
