"""What can go wrong: the server refused (a problem with a stable ``code``, one class per code
openapi.yaml documents), the server could not be reached, or its answer was not understood."""

from __future__ import annotations

from typing import Any, ClassVar


class HoldpointError(Exception):
    """Every error of this package: ``code`` (a problem code, or ``unreachable`` /
    ``unexpected_answer``), the HTTP ``status`` (``None`` without an answer) and ``detail``."""

    code: str = "error"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        if code is not None:
            self.code = code
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        status = f" ({self.status})" if self.status is not None else ""
        return f"{self.code}{status}: {self.detail}"


class UnreachableError(HoldpointError):
    """No answer: the server could not be reached, or the connection failed."""

    code = "unreachable"


class UnexpectedAnswerError(HoldpointError):
    """An answer this client does not understand."""

    code = "unexpected_answer"


class ProblemError(HoldpointError):
    """The server answered and refused, with an ``application/problem+json`` body: one subclass
    per documented code; this class itself for a code newer than this package."""

    documented: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, code=code, status=status)
        self.body: dict[str, Any] = body if body is not None else {}
        """The whole problem, for the fields some codes add (``field``, ``current_status``, ...)."""
        self.retry_after = retry_after
        """Seconds the answer's ``Retry-After`` asked for (429, 503), if any."""


class InvalidBodyError(ProblemError):
    code = "invalid_body"
    documented = True


class InvalidFieldError(ProblemError):
    code = "invalid_field"
    documented = True


class InvalidIdError(ProblemError):
    code = "invalid_id"
    documented = True


class InvalidQueryError(ProblemError):
    code = "invalid_query"
    documented = True


class InvalidCursorError(ProblemError):
    code = "invalid_cursor"
    documented = True


class InvalidIdempotencyKeyError(ProblemError):
    code = "invalid_idempotency_key"
    documented = True


class UnsupportedMediaTypeError(ProblemError):
    code = "unsupported_media_type"
    documented = True


class BodyTooLargeError(ProblemError):
    code = "body_too_large"
    documented = True


class UnauthenticatedError(ProblemError):
    code = "unauthenticated"
    documented = True


class InvalidCredentialError(ProblemError):
    code = "invalid_credential"
    documented = True


class UnknownPrincipalError(ProblemError):
    code = "unknown_principal"
    documented = True


class NotAdminError(ProblemError):
    code = "not_admin"
    documented = True


class RequestTimeoutError(ProblemError):
    code = "request_timeout"
    documented = True


class MalformedRequestError(ProblemError):
    code = "malformed_request"
    documented = True


class HeadersTooLargeError(ProblemError):
    code = "headers_too_large"
    documented = True


class UriTooLongError(ProblemError):
    code = "uri_too_long"
    documented = True


class AgentsCannotDecideError(ProblemError):
    code = "agents_cannot_decide"
    documented = True


class NotAReviewerError(ProblemError):
    code = "not_a_reviewer"
    documented = True


class SelfApprovalError(ProblemError):
    code = "self_approval"
    documented = True


class NotRequesterError(ProblemError):
    code = "not_requester"
    documented = True


class CommentRequiredError(ProblemError):
    code = "comment_required"
    documented = True


class ModifiedOutputRequiredError(ProblemError):
    code = "modified_output_required"
    documented = True


class UnexpectedModifiedOutputError(ProblemError):
    code = "unexpected_modified_output"
    documented = True


class ContextMismatchError(ProblemError):
    code = "context_mismatch"
    documented = True


class ExecutionWindowClosedError(ProblemError):
    code = "execution_window_closed"
    documented = True


class IdempotencyKeyReusedError(ProblemError):
    code = "idempotency_key_reused"
    documented = True


class DeniedByPolicyError(ProblemError):
    code = "denied_by_policy"
    documented = True


class InvalidPolicyError(ProblemError):
    code = "invalid_policy"
    documented = True


class NoPolicyError(ProblemError):
    code = "no_policy"
    documented = True


class PolicyVersionMismatchError(ProblemError):
    code = "policy_version_mismatch"
    documented = True


class InvalidIfMatchError(ProblemError):
    code = "invalid_if_match"
    documented = True


class PolicyUnusableError(ProblemError):
    code = "policy_unusable"
    documented = True


class ConflictError(ProblemError):
    code = "conflict"
    documented = True


class NotFoundError(ProblemError):
    code = "not_found"
    documented = True


class NoRouteError(ProblemError):
    code = "no_route"
    documented = True


class MethodNotAllowedError(ProblemError):
    code = "method_not_allowed"
    documented = True


class UnavailableError(ProblemError):
    code = "unavailable"
    documented = True


class KeyUnavailableError(ProblemError):
    code = "key_unavailable"
    documented = True


class IntegrityViolationError(ProblemError):
    code = "integrity_violation"
    documented = True


class InvalidLinkError(ProblemError):
    code = "invalid_link"
    documented = True


class InternalError(ProblemError):
    code = "internal"
    documented = True


PROBLEMS: dict[str, type[ProblemError]] = {
    "invalid_body": InvalidBodyError,
    "invalid_field": InvalidFieldError,
    "invalid_id": InvalidIdError,
    "invalid_query": InvalidQueryError,
    "invalid_cursor": InvalidCursorError,
    "invalid_idempotency_key": InvalidIdempotencyKeyError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "body_too_large": BodyTooLargeError,
    "unauthenticated": UnauthenticatedError,
    "invalid_credential": InvalidCredentialError,
    "unknown_principal": UnknownPrincipalError,
    "not_admin": NotAdminError,
    "request_timeout": RequestTimeoutError,
    "malformed_request": MalformedRequestError,
    "headers_too_large": HeadersTooLargeError,
    "uri_too_long": UriTooLongError,
    "agents_cannot_decide": AgentsCannotDecideError,
    "not_a_reviewer": NotAReviewerError,
    "self_approval": SelfApprovalError,
    "not_requester": NotRequesterError,
    "comment_required": CommentRequiredError,
    "modified_output_required": ModifiedOutputRequiredError,
    "unexpected_modified_output": UnexpectedModifiedOutputError,
    "context_mismatch": ContextMismatchError,
    "execution_window_closed": ExecutionWindowClosedError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "denied_by_policy": DeniedByPolicyError,
    "invalid_policy": InvalidPolicyError,
    "no_policy": NoPolicyError,
    "policy_version_mismatch": PolicyVersionMismatchError,
    "invalid_if_match": InvalidIfMatchError,
    "policy_unusable": PolicyUnusableError,
    "conflict": ConflictError,
    "not_found": NotFoundError,
    "no_route": NoRouteError,
    "method_not_allowed": MethodNotAllowedError,
    "unavailable": UnavailableError,
    "key_unavailable": KeyUnavailableError,
    "integrity_violation": IntegrityViolationError,
    "invalid_link": InvalidLinkError,
    "internal": InternalError,
}
"""Every documented problem code and its class."""


def problem(
    status: int, body: dict[str, Any] | None, text: str, retry_after: float | None
) -> ProblemError:
    """The exception for a refusal: its code's class (``ProblemError`` for an unknown code)."""
    body = body or {}
    code = body.get("code")
    if not isinstance(code, str) or not code:
        code = f"http_{status}"
    detail = body.get("detail")
    if not isinstance(detail, str):
        detail = text[:200]
    kind = PROBLEMS.get(code, ProblemError)
    return kind(detail, code=code, status=status, body=body, retry_after=retry_after)


__all__ = [
    "PROBLEMS",
    "AgentsCannotDecideError",
    "BodyTooLargeError",
    "CommentRequiredError",
    "ConflictError",
    "ContextMismatchError",
    "DeniedByPolicyError",
    "ExecutionWindowClosedError",
    "HeadersTooLargeError",
    "HoldpointError",
    "IdempotencyKeyReusedError",
    "IntegrityViolationError",
    "InternalError",
    "InvalidBodyError",
    "InvalidCredentialError",
    "InvalidCursorError",
    "InvalidFieldError",
    "InvalidIdError",
    "InvalidIdempotencyKeyError",
    "InvalidIfMatchError",
    "InvalidLinkError",
    "InvalidPolicyError",
    "InvalidQueryError",
    "KeyUnavailableError",
    "MalformedRequestError",
    "MethodNotAllowedError",
    "ModifiedOutputRequiredError",
    "NoPolicyError",
    "NoRouteError",
    "NotAReviewerError",
    "NotAdminError",
    "NotFoundError",
    "NotRequesterError",
    "PolicyUnusableError",
    "PolicyVersionMismatchError",
    "ProblemError",
    "RequestTimeoutError",
    "SelfApprovalError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnexpectedAnswerError",
    "UnexpectedModifiedOutputError",
    "UnknownPrincipalError",
    "UnreachableError",
    "UnsupportedMediaTypeError",
    "UriTooLongError",
    "problem",
]
