"""JSON as Holdpoint reads it: numbers keep their spelling, and one canonical form.

The server stores an agent's documents as the text it was sent and computes ``context_hash``
over their canonical form: no whitespace, object members sorted by the UTF-8 bytes of their
keys, strings escaped only where JSON requires (``"``, ``\\``, control characters as ``\\n``,
``\\t``, ... or ``\\u00XX``), numbers exactly as written. Python's ``json`` re-spells numbers
(``1e2`` reads as ``100.0``), so documents read here keep theirs in :class:`SpelledInt` and
:class:`SpelledFloat`, which are ``int`` and ``float`` with their text attached, and every
document this package writes is written by :func:`dumps`, which writes them back as they came.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

JSON: TypeAlias = "bool | int | float | str | Sequence[JSON] | Mapping[str, JSON] | None"
"""A JSON value, as this package reads and writes it."""


class SpelledInt(int):
    """An integer read from JSON, with the text it was written as (``-0``, huge values)."""

    json_text: str

    def __new__(cls, text: str) -> SpelledInt:
        self = super().__new__(cls, int(text))
        self.json_text = text
        return self


class SpelledFloat(float):
    """A number with a fraction or an exponent read from JSON, with its text (``1e2``, ``1.50``).

    Its float value may round (``1e400`` is ``inf``); its text never does.
    """

    json_text: str

    def __new__(cls, text: str) -> SpelledFloat:
        self = super().__new__(cls, float(text))
        self.json_text = text
        return self


class RawJSON:
    """A document given as JSON text, sent and hashed exactly as written (numbers included)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        loads(text)  # refuses what is not JSON
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawJSON) and canonical_text(self.text) == canonical_text(
            other.text
        )

    def __hash__(self) -> int:
        return hash(canonical_text(self.text))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str | bytes) -> Any:
    """Parses JSON text, numbers kept as written (:class:`SpelledInt`, :class:`SpelledFloat`)."""
    return json.loads(
        text,
        parse_int=SpelledInt,
        parse_float=SpelledFloat,
        parse_constant=_refuse_constant,
    )


def _string(s: str) -> str:
    # Python escapes exactly what JSON requires with ensure_ascii off, as the server does:
    # '"', '\\', \b \f \n \r \t, other control characters as lowercase \u00xx.
    return json.dumps(s, ensure_ascii=False)


def _write(value: object, canonical: bool, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (SpelledInt, SpelledFloat)):
        out.append(value.json_text)
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a JSON number")
        out.append(float.__repr__(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, RawJSON):
        _write(loads(value.text), canonical, out)
    elif isinstance(value, Mapping):
        items: list[tuple[str, object]] = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"a JSON object's keys are strings, not {type(k).__name__}")
            items.append((k, v))
        if canonical:
            # Code-point order is UTF-8 byte order.
            items.sort(key=lambda kv: kv[0])
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            out.append(_string(k))
            out.append(":")
            _write(v, canonical, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, canonical, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: object) -> str:
    """Compact JSON text of ``value``, members in their order, spelled numbers as read."""
    out: list[str] = []
    _write(value, False, out)
    return "".join(out)


def canonical(value: object) -> str:
    """The canonical form of ``value`` (what the server hashes)."""
    out: list[str] = []
    _write(value, True, out)
    return "".join(out)


def canonical_text(text: str | bytes) -> str:
    """The canonical form of JSON ``text``, its numbers as written."""
    return canonical(loads(text))


def digest(value: object) -> str:
    """Lowercase hex SHA-256 of the canonical form of ``value``."""
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def context_hash(
    action: str,
    context: object = None,
    tool_call: Mapping[str, object] | None = None,
    edited: object = None,
) -> str:
    """The ``context_hash`` the server binds an approval to: of its action, context and tool
    call, and of the reviewer's edits (``edited``) when it was approved with some.

    ``context`` ``None`` is ``{}``, as on the server; ``tool_call`` is ``{"name", "arguments"}``
    (``arguments`` ``null`` when absent); ``edited`` ``None`` means no edits.
    """
    bound: dict[str, object] = {
        "action": action,
        "context": {} if context is None else context,
        "tool_call": None
        if tool_call is None
        else {"name": tool_call["name"], "arguments": tool_call.get("arguments")},
    }
    if edited is not None:
        bound["modified_output"] = edited
    return digest(bound)
