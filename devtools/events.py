"""API Gateway REST proxy events, as API Gateway would build them from an HTTP request."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, Unpack


class EventOptions(TypedDict, total=False):
    """What a proxy event may say besides its method and path; each has API Gateway's default."""

    resource: str | None  # default: the path
    path_parameters: Mapping[str, str] | None
    headers: Sequence[tuple[str, str]] | Mapping[str, str]
    query: Sequence[tuple[str, str]] | Mapping[str, str]
    body: bytes | str | None
    stage: str  # default "local"
    source_ip: str  # default "127.0.0.1"


def proxy_event(method: str, path: str, **options: Unpack[EventOptions]) -> dict[str, Any]:
    """A REST API (v1) proxy event. Repeated headers and query keys keep every value, as API Gateway does."""
    resource, path_parameters = options.get("resource"), options.get("path_parameters")
    headers, query = options.get("headers", ()), options.get("query", ())
    body = options.get("body")
    stage, source_ip = options.get("stage", "local"), options.get("source_ip", "127.0.0.1")
    header_pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    query_pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)
    text, encoded = _body_text(body)
    request_id = str(uuid.uuid4())
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": dict(header_pairs).get("User-Agent")},
            "protocol": "HTTP/1.1",
            "accountId": "123456789012",
            "apiId": "local",
        },
        "body": text or None,
        "isBase64Encoded": encoded,
    }


def _body_text(body: bytes | str | None) -> tuple[str | None, bool]:
    """The event's body and ``isBase64Encoded``: bytes that are not UTF-8 travel base64-encoded."""
    if not isinstance(body, bytes):
        return body, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def authorizer_event(proxy: Mapping[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """The REQUEST authorizer event API Gateway sends before it passes ``proxy`` to the function."""
    context = proxy["requestContext"]
    method_arn = (
        f"arn:aws:execute-api:{region}:{context['accountId']}:{context['apiId']}/{context['stage']}"
        f"/{proxy['httpMethod']}{proxy['path']}"
    )
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        **{key: proxy[key] for key in _REQUEST_KEYS},
        "requestContext": dict(context),
    }


_REQUEST_KEYS = (
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
)


def with_authorizer_context(proxy: dict[str, Any], policy: Mapping[str, Any]) -> dict[str, Any]:
    """``proxy`` as the function behind an authorizer receives it: the policy's context and principal."""
    authorizer = {"principalId": policy["principalId"], **policy.get("context", {})}
    return {**proxy, "requestContext": {**proxy["requestContext"], "authorizer": authorizer}}
