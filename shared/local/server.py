"""``app-tokens serve``: the API over HTTP on this machine, through the very Lambda handlers.

Each request becomes an API Gateway REST proxy event and goes to the handler
that ``template.yaml`` routes it to. Powertools keeps the current event on a
class attribute shared by every resolver, so requests go through the handlers
one at a time (a lock), as one Lambda container would serve them.
"""

from __future__ import annotations

import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from shared.error_map import error_response
from shared.local.context import LocalContext
from shared.local.embedded import DEMO_APP, DEMO_ORG, ensure_hash_key, local_aws, prepare_table
from shared.local.events import proxy_event
from shared.local.handlers import Handler, apply_environment, load_handler
from shared.local.openapi import build_document, render
from shared.local.template import DEFAULT_TEMPLATE, Route, functions, load_template

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's limit for a REST API payload
Reply = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class _Bound:
    route: Route
    handler: Handler


class LocalApi:
    """Routes HTTP requests to the template's handlers, one at a time."""

    def __init__(self, template_path: Path = DEFAULT_TEMPLATE) -> None:
        specs = list(functions(load_template(template_path)).values())
        apply_environment(specs)
        self._bound = [_Bound(route, load_handler(spec)) for spec in specs for route in spec.routes]
        self._lock = threading.Lock()
        self._openapi = render(build_document()).encode()
        self._docs = _swagger_page(self._openapi.decode()).encode()

    def respond(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        """The HTTP reply to one request."""
        url = urlsplit(target)
        path = unquote(url.path)
        if method == "GET" and path == "/openapi.json":
            return 200, [("Content-Type", "application/json")], self._openapi
        if method == "GET" and path == "/docs":
            return 200, [("Content-Type", "text/html; charset=utf-8")], self._docs
        for bound in self._bound:
            match = bound.route.pattern.match(path)
            if match and bound.route.method == method:
                event = proxy_event(
                    method,
                    path,
                    resource=bound.route.path,
                    path_parameters=match.groupdict(),
                    headers=headers,
                    query=parse_qsl(url.query, keep_blank_values=True),
                    body=body or None,
                )
                with self._lock:
                    result = bound.handler(event, LocalContext(bound.route.function))
                return _http_reply(result)
        return _error_reply(error_response(404, {"resource_type": "route", "resource_id": path}))


def _http_reply(result: dict[str, Any]) -> Reply:
    headers: dict[str, str] = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = values[-1]
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        import base64

        raw = base64.b64decode(body)
    else:
        raw = body.encode()
    return int(result["statusCode"]), list(headers.items()), raw


def _error_reply(response: Any) -> Reply:
    return response.status_code, [(k, v) for k, v in response.headers.items()], str(response.body).encode()


def _swagger_page(spec: str) -> str:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    return generate_swagger_html(
        spec=spec,
        swagger_js=(assets / "swagger-ui-bundle.min.js").read_text(),
        swagger_css=(assets / "swagger-ui.min.css").read_text(),
        swagger_base_url="",
        oauth2_config=None,
    )


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            status, headers, body = (
                413,
                [("Content-Type", "application/json")],
                b'{"message":"Request Too Long"}',
            )
            self.close_connection = True
        else:
            status, headers, body = self.server.api.respond(
                self.command,
                self.path,
                list(self.headers.items()),
                self.rfile.read(length) if length else b"",
            )
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # One access line per request on stderr, like API Gateway's access log; never a header.
        sys.stderr.write(f"{self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: LocalApi) -> None:
        self.api = api
        super().__init__(address, _RequestHandler)


def _banner(url: str, endpoint: str, embedded: bool, admin_token: str | None, made_up_key: bool) -> str:
    lines = [
        f"App Tokens API on {url}",
        f"DynamoDB endpoint: {endpoint}" + (" (embedded moto server)" if embedded else ""),
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
        lines.append("No demo data on an external endpoint: mint a first token with `app-tokens bootstrap`.")
    lines += [f"OpenAPI: {url}/openapi.json   interactive docs: {url}/docs", "Ctrl-C stops."]
    return "\n".join(lines) + "\n"


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server the way Ctrl-C does


def serve(host: str, port: int, template_path: Path = DEFAULT_TEMPLATE) -> int:
    """Run the local API until Ctrl-C or SIGTERM; 2 when the port cannot be had."""
    # Powertools warns on every response that added no metric; locally that is only noise.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    made_up_key = ensure_hash_key()
    with local_aws() as aws:
        demo = prepare_table(with_demo=aws.embedded)
        api = LocalApi(template_path)
        try:
            server = _Server((host, port), api)
        except OSError as error:
            sys.stderr.write(f"app-tokens serve: cannot listen on {host}:{port}: {error.strerror}\n")
            return 2
        signal.signal(signal.SIGTERM, _stop)
        url = f"http://{host}:{server.server_address[1]}"
        sys.stdout.write(
            _banner(url, aws.endpoint, aws.embedded, demo.plaintext_token if demo else None, made_up_key)
        )
        sys.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    sys.stdout.write("stopped\n")
    return 0
