"""``app-tokens serve``: the API over HTTP on this machine, through the very Lambda handlers.

Each request becomes an API Gateway REST proxy event and goes to the handler
that ``template.yaml`` routes it to. Powertools keeps the current event on a
class attribute shared by every resolver, so requests go through the handlers
one at a time (a lock), as one Lambda container would serve them.

A route behind a Lambda authorizer in the template (the example API) gets its
authorizer first, as API Gateway does: ``Unauthorized`` is a 401, a Deny a 403
with the template's ``ACCESS_DENIED`` body, an Allow passes the policy's context
on in ``requestContext.authorizer``. Decisions are never cached here.

What differs from API Gateway, on purpose or for simplicity:

- a path that no route matches is a 404 in the seed's error shape
  (``resource_type`` ``route``), as the functions' own resolvers answer it; a
  known path with another method (any method name, ``TRACE`` included) is a
  405 in that shape with an ``Allow`` header;
- what ``http.server`` refuses before any route is looked at (a request line
  or header it cannot parse, a header line over 64 KiB, over 100 headers) is
  answered in that shape too, never with its HTML page;
- a body over 10 MiB (API Gateway's REST limit) is a 413, a chunked body
  (no ``Content-Length``) a 411, both in the error shape with an ``error``
  code of their own; a ``Content-Length`` that is not a number is a 422;
- ``/openapi.json`` and ``/docs`` (Swagger UI, served from Powertools' bundled
  assets, no CDN) exist only here, never in the deployed API.

Stdout carries the banner only (with ``API_URL=`` and ``ADMIN_TOKEN=`` lines for
scripts); the access log and the functions' own logs and metrics go to stderr.
"""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Mapping
from contextlib import redirect_stdout
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aws_lambda_powertools.event_handler import Response

from devtools.context import LocalContext
from devtools.embedded import (
    DEMO_APP,
    DEMO_ORG,
    EMBEDDED,
    LocalAws,
    LocalAwsUnavailable,
    ensure_hash_key,
    local_aws,
    prepare_table,
)
from devtools.events import authorizer_event, proxy_event, with_authorizer_context
from devtools.handlers import Handler, apply_environment, load_handler, logs_to_stderr
from devtools.template import (
    DEFAULT_TEMPLATE,
    FunctionSpec,
    Route,
    TemplateError,
    functions,
    load_template,
)
from shared.domain.errors import PayloadTooLarge
from shared.http.error_map import ErrorStatus, error_response, redact, to_response, validation_response

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's limit for a REST API payload
EXIT_PORT_UNAVAILABLE = 2
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
        return _response_reply(error_response(404, {"resource_type": "route", "resource_id": path}))

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
            return _response_reply(error_response(500))


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


def _response_reply(response: Response[str]) -> Reply:
    headers = [(name, value) for name, value in response.headers.items() if isinstance(value, str)]
    return response.status_code, headers, str(response.body).encode()


def local_error(
    status: HTTPStatus, message: str | None = None, details: Mapping[str, Any] | None = None
) -> Reply:
    """A failure only the local server produces, in the seed's error shape with its status's name as code."""
    return _response_reply(error_response(ErrorStatus.of(status, message), details))


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


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        status, headers, body = self._reply()
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reply(self) -> Reply:
        api = self.server.api
        if api is None:
            return local_error(HTTPStatus.SERVICE_UNAVAILABLE, "The local API is starting")
        length, refused = self._body_length()
        if refused is not None:
            self.close_connection = True  # the body was not read, so the connection cannot be reused
            return refused
        body = self.rfile.read(length) if length else b""
        return api.respond(self.command, self.path, list(self.headers.items()), body)

    def _body_length(self) -> tuple[int, Reply | None]:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return 0, local_error(HTTPStatus.LENGTH_REQUIRED, "Send the body with a Content-Length")
        raw = self.headers.get("Content-Length") or "0"
        if not raw.strip().isdigit():
            problem = {"loc": ["header", "content-length"], "msg": "Content-Length must be a whole number"}
            return 0, _response_reply(validation_response([{**problem, "type": "int_parsing", "input": raw}]))
        length = int(raw)
        if length > MAX_BODY_BYTES:
            return 0, _response_reply(to_response(PayloadTooLarge(MAX_BODY_BYTES, length)))
        return length, None

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers a 501 HTML page when it is missing; every
        # method name is ours to answer (405 on a known path, 404 elsewhere), in our shape.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What ``http.server`` refuses by itself (bad request line, headers too long), in our shape."""
        status = HTTPStatus(code)
        _, headers, body = local_error(status)
        self.close_connection = True  # the request was not fully read
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # One access line per request, like API Gateway's access log: never a header, never a query,
        # and the path redacted (a client may put a token in it). A request refused while its first
        # line was parsed may have no command or path yet.
        status = args[1] if len(args) > 1 else ""
        path = redact(urlsplit(getattr(self, "path", "") or "").path)
        sys.stderr.write(f"{getattr(self, 'command', None) or '-'} {path} -> {status}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client that keeps its connection open must not hold up the exit

    def __init__(self, address: tuple[str, int]) -> None:
        self.api: LocalApi | None = None
        super().__init__(address, _RequestHandler)


def _banner(url: str, aws: LocalAws, admin_token: str | None, made_up_key: bool) -> str:
    lines = [
        f"App Tokens API on {url}",
        f"API_URL={url}",
        f"DynamoDB endpoint: {aws.endpoint}" + (f" ({aws.server})" if aws.embedded else ""),
    ]
    if made_up_key:
        lines.append("TOKEN_HASH_KEY was not set: a random key is in use, so tokens die with this process.")
    if admin_token:
        tokens = f"{url}/v1/orgs/{DEMO_ORG}/apps/{DEMO_APP}/tokens"
        lines += [
            f"Admin token for org {DEMO_ORG!r}, app {DEMO_APP!r} (permission '*'):",
            f"ADMIN_TOKEN={admin_token}",
            "",
            "Try:",
            f'  curl -s -H "Authorization: Bearer {admin_token}" {tokens}',
            f'  curl -s -X POST -H "Authorization: Bearer {admin_token}" '
            f"-H 'Content-Type: application/json' -d '{{\"name\": \"ci\"}}' {tokens}",
        ]
    else:
        lines.append(
            "No demo data on an endpoint of your own: mint a first token with "
            "`app-tokens bootstrap --org ORG --app APP` (same TABLE_NAME, TOKEN_HASH_KEY and endpoint)."
        )
    lines += [f"OpenAPI: {url}/openapi.json   interactive docs: {url}/docs", "Ctrl-C stops."]
    return "\n".join(lines) + "\n"


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server the way Ctrl-C does


def serve(host: str, port: int, template_path: Path = DEFAULT_TEMPLATE, dynamodb: str = EMBEDDED) -> int:
    """Run the local API until Ctrl-C or SIGTERM (exit 0); 2 when the port cannot be had.

    ``dynamodb`` ``local`` runs it on DynamoDB Local instead of the embedded moto server.

    The port is bound first, so that a port in use fails at once, before the
    embedded server starts. ``port`` 0 takes a free one; the banner's
    ``API_URL=`` line says which.
    """
    # SIGINT too: a shell starts a background job with SIGINT ignored, and Python then never
    # raises KeyboardInterrupt, so `kill -INT` from a script would do nothing.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        server = _Server((host, port))
    except OSError as error:
        sys.stderr.write(f"app-tokens serve: cannot listen on {host}:{port}: {error.strerror or error}\n")
        return EXIT_PORT_UNAVAILABLE
    try:
        with server:
            _run(server, template_path, dynamodb)
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM, while serving or starting up: the context managers stopped everything
    except (TemplateError, LocalAwsUnavailable) as error:
        sys.stderr.write(f"app-tokens serve: {error}\n")
        return 1
    sys.stdout.write("stopped\n")
    return 0


def _run(server: _Server, template_path: Path, dynamodb: str) -> None:
    # Powertools warns on every response that added no metric; locally that is only noise.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    specs = list(functions(load_template(template_path)).values())
    made_up_key = ensure_hash_key()
    apply_environment(specs)  # before the table: TABLE_NAME and the lifetimes come from here too
    with local_aws(dynamodb) as aws:
        demo = prepare_table(aws)
        logs_to_stderr()
        server.api = LocalApi(specs)
        host, port = server.server_address[:2]
        url = f"http://{host!s}:{port}"
        token = demo.plaintext_token if demo else None
        sys.stdout.write(_banner(url, aws, token, made_up_key))
        sys.stdout.flush()
        server.serve_forever()  # until Ctrl-C or SIGTERM, which serve() turns into exit 0
