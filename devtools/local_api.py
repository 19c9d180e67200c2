"""The local API: HTTP requests routed to the template's Lambda handlers, as API Gateway would.

Each request becomes an API Gateway REST proxy event and goes to the handler
that ``template.yaml`` routes it to. Powertools keeps the current event on a
class attribute shared by every resolver, so requests go through the handlers
one at a time (a lock), as one Lambda container would serve them.

A route behind a Lambda authorizer in the template (the example API) gets its
authorizer first, as API Gateway does: ``Unauthorized`` is a 401, a Deny a 403
with the template's ``ACCESS_DENIED`` body, an Allow passes the policy's context
on in ``requestContext.authorizer``. Decisions are never cached here.

What differs from API Gateway, on purpose or for simplicity: a path that no
route matches is a 404 in the seed's error shape (``resource_type`` ``route``),
as the functions' own resolvers answer it; a known path with another method (any
method name, ``TRACE`` included) is a 405 in that shape with an ``Allow`` header;
``/openapi.json`` and ``/docs`` (Swagger UI, served from Powertools' bundled
assets, no CDN) exist only here, never in the deployed API. The HTTP server
around it is ``devtools.server``.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import traceback
from collections.abc import Mapping
from contextlib import redirect_stdout
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aws_lambda_powertools.event_handler import Response

from devtools.context import LocalContext
from devtools.events import authorizer_event, proxy_event, with_authorizer_context
from devtools.handlers import Handler, load_handler
from devtools.template import FunctionSpec, Route
from shared.http.error_map import ErrorStatus, error_response

JSON = "application/json"
Reply = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class _Bound:
    route: Route
    handler: Handler
    authorizer: Handler | None = None


class LocalApi:
    """Routes HTTP requests to the template's handlers, one at a time.

    The functions' environment must be in place before this is built: the
    handlers' modules read some of it (Powertools' service name) on import.
    """

    def __init__(self, specs: list[FunctionSpec]) -> None:
        by_id = {spec.logical_id: spec for spec in specs}
        self._bound = [
            _Bound(
                route,
                load_handler(spec),
                load_handler(by_id[route.authorizer]) if route.authorizer else None,
            )
            for spec in specs
            for route in spec.routes
        ]
        self._lock = threading.Lock()
        self._openapi = _openapi_json()
        self._docs = _swagger_page(self._openapi.decode()).encode()

    def respond(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        """The HTTP reply to one request."""
        url = urlsplit(target)
        path = unquote(url.path)
        if method in ("GET", "HEAD") and path in ("/openapi.json", "/docs"):
            return self._documentation(path, url.query)
        # As in API Gateway, a literal segment wins over a parameter: /tokens/verify is the verify
        # resource (POST only), never the token "verify" of /tokens/{token_id}.
        candidates = [bound for bound in self._bound if bound.route.pattern.match(path)]
        fewest = min((bound.route.path.count("{") for bound in candidates), default=0)
        candidates = [bound for bound in candidates if bound.route.path.count("{") == fewest]
        allowed = [bound.route.method for bound in candidates]
        for bound in candidates:
            parameters = bound.route.matches(method, path)
            if parameters is not None:
                event = proxy_event(
                    method,
                    path,
                    resource=bound.route.path,
                    path_parameters=parameters,
                    headers=headers,
                    query=parse_qsl(url.query, keep_blank_values=True),
                    body=body or None,
                )
                return self._invoke(bound, event)
        if allowed:
            return _method_not_allowed(sorted(set(allowed)))
        return response_reply(error_response(404, {"resource_type": "route", "resource_id": path}))

    def _documentation(self, path: str, query: str) -> Reply:
        # Swagger UI's page points its URL bar at /docs?format=json, as Powertools' own route does.
        if path == "/openapi.json" or ("format", "json") in parse_qsl(query):
            return 200, [("Content-Type", JSON)], self._openapi
        return 200, [("Content-Type", "text/html; charset=utf-8")], self._docs

    def _invoke(self, bound: _Bound, event: dict[str, Any]) -> Reply:
        try:
            # stdout is the banner's; the functions' logs and metrics go with the access log.
            with self._lock, redirect_stdout(sys.stderr):
                if bound.authorizer is not None:
                    policy = _authorize(bound, event)
                    if not isinstance(policy, dict):
                        return policy
                    event = with_authorizer_context(event, policy)
                result = bound.handler(event, LocalContext(bound.route.function))
            return proxy_reply(result)
        except Exception:
            # The handlers answer every failure themselves; reaching here is a bug worth a full trace
            # on this developer's terminal, while the client gets the same bare 500 as in AWS.
            traceback.print_exc(file=sys.stderr)
            return response_reply(error_response(500))


def _authorize(bound: _Bound, event: dict[str, Any]) -> dict[str, Any] | Reply:
    """Ask the route's authorizer, as API Gateway would: its policy, or the reply that refuses."""
    assert bound.authorizer is not None and bound.route.authorizer is not None
    request = authorizer_event(event)
    try:
        policy = bound.authorizer(request, LocalContext(bound.route.authorizer))
    except Exception as error:
        if str(error) == "Unauthorized":
            return 401, [("Content-Type", JSON)], b'{"message": "Unauthorized"}'
        traceback.print_exc(file=sys.stderr)
        # What API Gateway answers when an authorizer fails (AuthorizerConfigurationException).
        return 500, [("Content-Type", JSON)], b'{"message": null}'
    statement = policy["policyDocument"]["Statement"][0]
    if statement["Effect"] != "Allow" or statement["Resource"] != request["methodArn"]:
        # The template's ACCESS_DENIED gateway response: why a live token was refused.
        denied = {"message": "Forbidden", "code": policy.get("context", {}).get("code", "")}
        return 403, [("Content-Type", JSON)], json.dumps(denied).encode()
    return dict(policy)


def proxy_reply(result: Mapping[str, Any]) -> Reply:
    """A Lambda proxy result as an HTTP reply; ``multiValueHeaders`` win, as in API Gateway."""
    multi: Mapping[str, list[str]] = result.get("multiValueHeaders") or {}
    single: Mapping[str, str] = result.get("headers") or {}
    taken = {name.lower() for name in multi}
    headers = [(name, str(value)) for name, values in multi.items() for value in values]
    headers += [(name, str(value)) for name, value in single.items() if name.lower() not in taken]
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


def response_reply(response: Response[str]) -> Reply:
    headers = [(name, value) for name, value in response.headers.items() if isinstance(value, str)]
    return response.status_code, headers, str(response.body).encode()


def local_error(
    status: HTTPStatus, message: str | None = None, details: Mapping[str, Any] | None = None
) -> Reply:
    """A failure only the local server produces, in the seed's error shape with its status's name as code."""
    return response_reply(error_response(ErrorStatus.of(status, message), details))


def _method_not_allowed(allowed: list[str]) -> Reply:
    status, headers, body = local_error(
        HTTPStatus.METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested resource",
        {"allowed_methods": allowed},
    )
    return status, [*headers, ("Allow", ", ".join(allowed))], body


def _openapi_json() -> bytes:
    from devtools.openapi import build_document, render

    return render(build_document()).encode()


def _swagger_page(spec: str) -> str:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    return generate_swagger_html(
        spec=spec,
        swagger_js=(assets / "swagger-ui-bundle.min.js").read_text(),
        swagger_css=(assets / "swagger-ui.min.css").read_text(),
        swagger_base_url="",  # empty: the assets are inlined, so the page works offline
        oauth2_config=None,
        persist_authorization=True,  # keep the pasted bearer token across reloads
    )
