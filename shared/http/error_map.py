"""The one place where failures become HTTP responses, in the seed's shapes."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from shared.domain.clock import error_timestamp, utc_now
from shared.domain.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceError,
)

# Seconds a client should wait after a 503. DynamoDB throttling clears within a second or two
# (on-demand tables double their capacity quickly), and botocore has already retried three times.
RETRY_AFTER_SECONDS = 2
# DynamoDB failures that say "not now" rather than "never": throttling, a busy or failing node,
# a transaction that lost to a concurrent one. botocore retries them with backoff first; when
# they persist the client is told to come back (503 with Retry-After), never given a bare 500.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)


@dataclass(frozen=True)
class ErrorStatus:
    """One error status of the API: what its body says, what the OpenAPI document says of it, an example.

    The one table of them (``ERRORS``) feeds the responses, the operations' documented responses,
    the document's examples and the local server's own errors.
    """

    status: int
    # The seed's ``error`` and ``message``; empty for the 422, whose body is FastAPI's ``detail`` list.
    code: str
    message: str
    description: str
    # The example's ``details`` (for the 422: its one ``detail`` item).
    example_details: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: HTTPStatus, message: str | None = None) -> ErrorStatus:
        """A status outside the API's table (the local server's 405, 411...): its name is the code."""
        return cls(int(status), status.name, message or status.phrase, status.phrase)

    def body(self, details: Mapping[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
        """The seed's error shape for this status."""
        return {
            "error": self.code,
            "message": self.message,
            # Details may echo client text (a path, an id): redacted and bounded like any echo.
            "details": {key: _echo(value) for key, value in (details or {}).items()},
            "timestamp": error_timestamp(now or utc_now()),
            "status_code": self.status,
        }

    def example(self) -> dict[str, Any]:
        """The body the OpenAPI document shows for this status."""
        if self.status == HTTPStatus.UNPROCESSABLE_ENTITY:
            return {"detail": [dict(self.example_details)]}
        return self.body(self.example_details, EXAMPLE_TIME)


# The examples' moment: fixed, so that the document is the same at every generation.
EXAMPLE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
ERRORS = {
    error.status: error
    for error in (
        ErrorStatus(
            401,
            "AUTHENTICATION_FAILED",
            "Authentication required",
            "Missing, malformed, unknown, expired or revoked token.",
            headers={"WWW-Authenticate": "Bearer"},
        ),
        ErrorStatus(
            403,
            "FORBIDDEN",
            "You don't have permission to perform this action",
            "The caller lacks the permission named in `details.required_permission`.",
            {"required_permission": "app_tokens:create"},
        ),
        ErrorStatus(
            404,
            "RESOURCE_NOT_FOUND",
            "The requested resource was not found",
            "No such app or token in the caller's organisation.",
            {"resource_type": "app", "resource_id": "billing"},
        ),
        ErrorStatus(
            409,
            "CONFLICT",
            "The token was changed by another request; read it again and retry",
            "Another request changed the token between this one's read and its write; nothing was "
            "written. Read the token again and retry.",
            {"resource_type": "token", "resource_id": "1k1c0z5r88ffbydmt9be37zjsa"},
        ),
        ErrorStatus(
            413,
            "REQUEST_ENTITY_TOO_LARGE",
            "The request body is too large",
            "The body is longer than the route's largest valid body (`details.max_bytes`, 0 for a route "
            "that takes none); it was not read.",
            {"max_bytes": 68771, "content_length": 4700000},
        ),
        ErrorStatus(
            422,
            "",
            "",
            "The request is invalid; `detail` says where and why.",
            {"loc": ["body", "name"], "msg": "Field required", "type": "missing", "input": {}, "ctx": {}},
        ),
        ErrorStatus(
            500,
            "INTERNAL_SERVER_ERROR",
            "An unexpected error occurred",
            "An unexpected error; nothing about it is disclosed.",
        ),
        ErrorStatus(
            503,
            "SERVICE_UNAVAILABLE",
            "The service is busy; retry after the time in Retry-After",
            "DynamoDB is throttling or failing for now; nothing was half-written. Retry after "
            "`Retry-After` seconds.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ),
    )
}


def error_response(
    status: int | ErrorStatus, details: Mapping[str, Any] | None = None, now: datetime | None = None
) -> Response[str]:
    """A 401, 403, 404, 409, 413, 500 or 503 in the seed's error shape, with its headers (a 503's
    ``Retry-After``).

    ``status`` may also be an ``ErrorStatus`` of its own (the local server's).
    """
    error = ERRORS[status] if isinstance(status, int) else status
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=_json(error.body(details, now)),
        headers=dict(error.headers) or None,
    )


# Anything shaped like one of our secrets, wherever it sits in an echoed input, path or key: the
# type prefix and token id, then the secret and checksum (at most 49 characters, possibly cut
# short), stopping where the next secret's prefix starts, so that adjacent copies are each caught.
_SECRET_SHAPE = re.compile(r"a(?:tok|ref)_[0-9a-z]{26}_(?:(?!a(?:tok|ref)_)[0-9A-Za-z]){1,49}")
REDACTED = "[redacted]"


# A 422 echoes what was refused, within bounds: a hostile body may be megabytes long or nested
# hundreds of levels deep, and its echo must neither blow up the response nor the recursion here.
ECHO_MAX_CHARS = 1024
ECHO_MAX_ITEMS = 100
ECHO_MAX_DEPTH = 16
TRUNCATED = "[truncated]"
# A 422 lists the first problems only, and no error body outgrows the response budget: a body of
# 400,000 unknown keys must not become a 48 MB answer (API Gateway's limit is 6 MB).
MAX_PROBLEMS = 50
MAX_ERROR_BODY_BYTES = 64 * 1024
# An echoed input or context costs at most this many bytes of JSON; beyond, it is cut.
ECHO_MAX_BYTES = 1024
# Location parts and messages are ours or the client's keys: kept short too.
LOCATION_MAX_CHARS = 128
MESSAGE_MAX_CHARS = 512


def redact(text: str, max_chars: int = ECHO_MAX_CHARS) -> str:
    """``text`` with every secret-shaped substring replaced, then cut to ``max_chars``.

    Redacted before it is cut, so that a cut can never leave part of a secret behind. Every
    echo of client text (inputs, keys, paths, ids) and every logged path goes through here.
    """
    text = _SECRET_SHAPE.sub(REDACTED, text)
    return text if len(text) <= max_chars else text[:max_chars] + TRUNCATED


def _jsonable(value: Any, depth: int = 0) -> Any:
    """The echoed input, JSON-safe and bounded, with secret-shaped text redacted.

    A 422 must not carry a secret, nor grow with a hostile input.
    """
    if depth > ECHO_MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # NaN and Infinity are not JSON (RFC 8259): echoed as text
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float | bool):
        return value
    if isinstance(value, Mapping):
        pairs = list(value.items())
        echoed = {redact(str(key)): _jsonable(item, depth + 1) for key, item in pairs[:ECHO_MAX_ITEMS]}
        if len(pairs) > ECHO_MAX_ITEMS:
            echoed[TRUNCATED] = len(pairs) - ECHO_MAX_ITEMS
        return echoed
    if isinstance(value, list | tuple):
        items = [_jsonable(item, depth + 1) for item in value[:ECHO_MAX_ITEMS]]
        return [*items, TRUNCATED] if len(value) > ECHO_MAX_ITEMS else items
    return _jsonable(str(value), depth)


def _echo(value: Any) -> Any:
    """An echo within ``ECHO_MAX_BYTES`` of JSON: the value, or its JSON text cut short.

    An object stays an object (``{"[truncated]": text}``), so that ``ctx`` keeps its type.
    """
    echoed = _jsonable(value)
    text = _json(echoed)
    if len(text) <= ECHO_MAX_BYTES:
        return echoed
    cut = text[:ECHO_MAX_BYTES] + TRUNCATED  # the text was redacted above: a cut reveals nothing
    return {TRUNCATED: cut} if isinstance(echoed, dict) else cut


def _json(value: Any) -> str:
    # Strict RFC 8259: a NaN or Infinity that slipped through is a bug to fail on, not to send.
    return json.dumps(value, allow_nan=False)


def _problem(error: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "loc": [
            part if isinstance(part, int) else redact(str(part), LOCATION_MAX_CHARS)
            for part in list(error.get("loc", ()))[:ECHO_MAX_DEPTH]
        ],
        "msg": redact(str(error.get("msg", "Invalid input")), MESSAGE_MAX_CHARS),
        "type": redact(str(error.get("type", "value_error")), LOCATION_MAX_CHARS),
        "input": _echo(error.get("input")),
        "ctx": _echo(error.get("ctx") or {}),
    }


def validation_response(errors: Iterable[Mapping[str, Any]]) -> Response[str]:
    """A 422 in FastAPI's shape: every item has ``loc``, ``msg``, ``type``, ``input`` and ``ctx``.

    The first ``MAX_PROBLEMS`` problems, in order, as many as fit in ``MAX_ERROR_BODY_BYTES``.
    """
    detail: list[str] = []
    size = len('{"detail": []}')
    for error in itertools.islice(errors, MAX_PROBLEMS):
        item = _json(_problem(error))
        if detail and size + len(item) + 2 > MAX_ERROR_BODY_BYTES:
            break
        detail.append(item)
        size += len(item) + 2
    return Response(
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        content_type=content_types.APPLICATION_JSON,
        body='{"detail": [' + ", ".join(detail) + "]}",
    )


def is_transient(error: BaseException) -> bool:
    """Whether a failure of DynamoDB (or of the network to it) may pass if the client retries.

    Throttling, server errors, timeouts, dropped connections and transactions cancelled only
    because they conflicted with another one. A transaction cancelled by one of our own
    conditions is not transient: the use cases handle those before they get here.
    """
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ConnectionError | HTTPClientError):
        return True  # timeouts and dropped connections, after botocore's own retries
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    if code in TRANSIENT_ERROR_CODES:
        return True
    reasons = error.response.get("CancellationReasons") or []
    codes = {reason.get("Code") for reason in reasons} - {None, "None"}
    return code == "TransactionCanceledException" and bool(codes) and codes <= {"TransactionConflict"}


class InvalidRequest(ServiceError):
    """A 422 the HTTP layer finds itself, at a location of the request it knows (the body guards)."""

    def __init__(
        self, loc: tuple[str | int, ...], msg: str, error_type: str, value: Any, ctx: dict[str, Any]
    ) -> None:
        super().__init__(msg)
        self.errors = [{"loc": list(loc), "msg": msg, "type": error_type, "input": value, "ctx": ctx}]


def located(error: InvalidInput, locations: Mapping[str, str]) -> InvalidRequest:
    """A use case's ``InvalidInput`` at the request location its field came from.

    ``locations`` is an operation's map of inputs to ``query``, ``path`` or ``body``, read
    from its route's signature (``shared.http.api.input_locations``); a field it does not
    know is reported by name alone.
    """
    where = locations.get(error.field)
    loc = (where, error.field) if where is not None else (error.field,)
    return InvalidRequest(loc, error.msg, error.error_type, error.value, error.ctx)


def to_response(error: Exception) -> Response[str]:
    """The response for any failure; anything unforeseen is a bare 500 that leaks nothing."""
    if isinstance(error, InvalidInput):
        error = located(error, {})
    if isinstance(error, InvalidRequest):
        return validation_response(error.errors)
    details: dict[str, Any] = {}
    if isinstance(error, AuthenticationFailed):
        status = 401
    elif isinstance(error, Forbidden):
        status, details = 403, {"required_permission": error.required_permission}
    elif isinstance(error, NotFound):
        status, details = 404, {"resource_type": error.resource_type, "resource_id": error.resource_id}
    elif isinstance(error, Conflict):
        status, details = 409, {"resource_type": error.resource_type, "resource_id": error.resource_id}
    elif isinstance(error, PayloadTooLarge):
        status, details = 413, {"max_bytes": error.max_bytes, "content_length": error.content_length}
    else:
        status = 503 if is_transient(error) else 500
    return error_response(status, details)
