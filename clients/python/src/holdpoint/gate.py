"""A human gate around one step: ask only when a policy says so, run the step only on
approval (with the reviewer's edits when there are some), and mark the approval executed.

A policy is any ``Callable[[ApprovalRequest], bool]``: :func:`always`, :func:`risk_at_least`,
:func:`tools` and :func:`any_of` make the usual ones.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeAlias, TypeVar, cast

from holdpoint.errors import HoldpointError
from holdpoint.models import Approval, ApprovalRequest, Outcome, ToolCall

if TYPE_CHECKING:
    from holdpoint.aio import AsyncClient
    from holdpoint.client import Client

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

Policy: TypeAlias = Callable[[ApprovalRequest], bool]
"""Whether a request must be approved before it runs."""


def always(request: ApprovalRequest) -> bool:
    """Every time."""
    return True


def risk_at_least(threshold: int) -> Policy:
    """When the request's ``risk_score`` is at least ``threshold`` (a request without one is
    asked)."""
    return lambda request: request.risk_score is None or request.risk_score >= threshold


def tools(*names: str) -> Policy:
    """When the request's tool call names one of ``names``."""
    return lambda request: request.tool_call is not None and request.tool_call.name in names


def any_of(*policies: Policy) -> Policy:
    """When any of ``policies`` asks."""
    return lambda request: any(p(request) for p in policies)


@dataclass(frozen=True)
class Unasked(Generic[T]):
    """The policy did not ask: the step ran without an approval."""

    value: T


@dataclass(frozen=True)
class Ran(Generic[T]):
    """Approved (with edits when ``edited`` is not ``None``): the step ran, and the approval is
    marked executed."""

    value: T
    approval: Approval
    edited: Any = None


@dataclass(frozen=True)
class Refused:
    """Not approved (rejected, expired, cancelled, or still pending when the wait ended, in
    which case the request was withdrawn): the step did not run."""

    outcome: Outcome


Gated: TypeAlias = "Unasked[T] | Ran[T] | Refused"


class NotApprovedError(HoldpointError):
    """Raised by a :func:`requires_approval` tool that was not approved: it did not run."""

    code = "not_approved"

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"not approved: {outcome}")
        self.outcome = outcome


def _arguments(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _edited_arguments(edited: Any) -> dict[str, Any]:
    if not isinstance(edited, Mapping):
        raise TypeError(f"the reviewer's edits are not the tool's arguments: {edited!r}")
    return dict(edited)


def _call(fn: Callable[..., Any], arguments: Mapping[str, Any]) -> Any:
    """Calls ``fn`` with ``arguments`` (its parameters by name, as approved or edited): a
    ``*args`` parameter's values passed positionally, a ``**kwargs`` one's by their own names,
    so the tool gets exactly the arguments the reviewer saw."""
    signature = inspect.signature(fn)
    unknown = set(arguments) - set(signature.parameters)
    if unknown:
        raise TypeError(f"{fn.__name__} has no parameter {sorted(unknown)[0]!r}")
    named: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if name not in arguments:
            continue
        value = arguments[name]
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
                raise TypeError(f"*{name} is not a list: {value!r}")
            value = tuple(value)
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD and not isinstance(value, Mapping):
            raise TypeError(f"**{name} is not an object: {value!r}")
        named[name] = value
    bound = inspect.BoundArguments(signature, named)
    return fn(*bound.args, **bound.kwargs)


def requires_approval(
    client: Client | AsyncClient,
    *,
    reviewers: Sequence[str],
    policy: Policy = always,
    action: str | None = None,
    agent_id: str = "",
    risk_score: int | None = None,
    timeout: float = 900.0,
    expires_in_seconds: int | None = None,
    context: Mapping[str, Any] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Puts a tool behind a human: each call builds a request (its tool call is the function's
    name and the call's arguments), asks when ``policy`` says so, runs the tool only on
    approval — with the reviewer's edited arguments when approved with edits — marks it
    executed, and returns what the tool returned; a refusal raises :class:`NotApprovedError`.
    With an :class:`AsyncClient` the tool must be ``async def``."""
    from holdpoint.aio import AsyncClient

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:

        def request_of(arguments: Any) -> ApprovalRequest:
            return ApprovalRequest(
                action or f"Run {fn.__name__}",
                agent_id=agent_id,
                reviewers=list(reviewers),
                context=dict(context) if context is not None else None,
                tool_call=ToolCall(fn.__name__, arguments),
                risk_score=risk_score,
                expires_in_seconds=expires_in_seconds,
            )

        if isinstance(client, AsyncClient):
            if not inspect.iscoroutinefunction(fn):
                raise TypeError("an AsyncClient gates async functions")
            aclient = client

            @functools.wraps(fn)
            async def gated_async(*args: Any, **kwargs: Any) -> Any:
                arguments = _arguments(fn, args, kwargs)

                async def step(edited: Any) -> Any:
                    given = arguments if edited is None else _edited_arguments(edited)
                    return await _call(fn, given)

                done = await aclient.gate(policy, request_of(arguments), timeout, step)
                if isinstance(done, Refused):
                    raise NotApprovedError(done.outcome)
                return done.value

            return gated_async  # type: ignore[return-value]

        sclient = client

        @functools.wraps(fn)
        def gated(*args: P.args, **kwargs: P.kwargs) -> R:
            arguments = _arguments(fn, args, kwargs)

            def step(edited: Any) -> R:
                given = arguments if edited is None else _edited_arguments(edited)
                return cast(R, _call(fn, given))

            done = sclient.gate(policy, request_of(arguments), timeout, step)
            if isinstance(done, Refused):
                raise NotApprovedError(done.outcome)
            return done.value

        return gated

    return decorate
