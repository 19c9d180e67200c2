"""The one place where failures become HTTP responses, in the seed's shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from shared.clock import error_timestamp, utc_now
from shared.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound

MESSAGES = {
    401: ("AUTHENTICATION_FAILED", "Authentication required"),
    403: ("FORBIDDEN", "You don't have permission to perform this action"),
    404: ("RESOURCE_NOT_FOUND", "The requested resource was not found"),
    500: ("INTERNAL_SERVER_ERROR", "An unexpected error occurred"),
    503: ("SERVICE_UNAVAILABLE", "The service is busy; retry after the time in Retry-After"),
}
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


def error_response(
    status: int, details: Mapping[str, Any] | None = None, now: datetime | None = None
) -> Response[str]:
    """A 401, 403, 404, 500 or 503 in the seed's error shape (a 503 with ``Retry-After``)."""
    error, message = MESSAGES[status]
    body = {
        "error": error,
        "message": message,
        "details": dict(details or {}),
        "timestamp": error_timestamp(now or utc_now()),
        "status_code": status,
    }
    headers: dict[str, str] | None = None
    if status == HTTPStatus.UNAUTHORIZED:
        headers = {"WWW-Authenticate": "Bearer"}
    elif status == HTTPStatus.SERVICE_UNAVAILABLE:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


# Anything shaped like one of our secrets, wherever it sits in an echoed input.
_SECRET_SHAPE = re.compile(r"a(?:tok|ref)_[0-9a-z]{26}_[0-9A-Za-z]+")
REDACTED = "[redacted]"


# A 422 echoes what was refused, within bounds: a hostile body may be megabytes long or nested
# hundreds of levels deep, and its echo must neither blow up the response nor the recursion here.
ECHO_MAX_CHARS = 1024
ECHO_MAX_ITEMS = 100
ECHO_MAX_DEPTH = 16
TRUNCATED = "[truncated]"


def _jsonable(value: Any, depth: int = 0) -> Any:
    """The echoed input, JSON-safe and bounded, with secret-shaped text redacted.

    A 422 must not carry a secret, nor grow with a hostile input.
    """
    if depth > ECHO_MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, str):
        # Redacted before it is cut, so that a cut can never leave part of a secret behind.
        text = _SECRET_SHAPE.sub(REDACTED, value)
        return text if len(text) <= ECHO_MAX_CHARS else text[:ECHO_MAX_CHARS] + TRUNCATED
    if value is None or isinstance(value, int | float | bool):
        return value
    if isinstance(value, Mapping):
        pairs = list(value.items())
        echoed = {
            str(key)[:ECHO_MAX_CHARS]: _jsonable(item, depth + 1) for key, item in pairs[:ECHO_MAX_ITEMS]
        }
        if len(pairs) > ECHO_MAX_ITEMS:
            echoed[TRUNCATED] = len(pairs) - ECHO_MAX_ITEMS
        return echoed
    if isinstance(value, list | tuple):
        items = [_jsonable(item, depth + 1) for item in value[:ECHO_MAX_ITEMS]]
        return [*items, TRUNCATED] if len(value) > ECHO_MAX_ITEMS else items
    return _jsonable(str(value), depth)


def validation_response(errors: Iterable[Mapping[str, Any]]) -> Response[str]:
    """A 422 in FastAPI's shape: every item has ``loc``, ``msg``, ``type``, ``input`` and ``ctx``."""
    detail = [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "Invalid input")),
            "type": str(error.get("type", "value_error")),
            "input": _jsonable(error.get("input")),
            "ctx": _jsonable(error.get("ctx") or {}),
        }
        for error in errors
    ]
    return Response(
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"detail": detail}),
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


def to_response(error: Exception) -> Response[str]:
    """The response for any failure; anything unforeseen is a bare 500 that leaks nothing."""
    if isinstance(error, AuthenticationFailed):
        return error_response(401)
    if isinstance(error, Forbidden):
        return error_response(403, {"required_permission": error.required_permission})
    if isinstance(error, NotFound):
        return error_response(404, {"resource_type": error.resource_type, "resource_id": error.resource_id})
    if isinstance(error, InvalidInput):
        return validation_response(error.errors)
    if is_transient(error):
        return error_response(503)
    return error_response(500)
