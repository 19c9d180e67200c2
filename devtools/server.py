"""``app-tokens serve``: the API over HTTP on this machine, through the very Lambda handlers.

The requests are routed as API Gateway would (``devtools.local_api``). What this
HTTP server itself answers, in the seed's error shape with an ``error`` code of
its own, never with ``http.server``'s HTML page:

- what ``http.server`` refuses before any route is looked at (a request line
  or header it cannot parse, a header line over 64 KiB, over 100 headers);
- a body over 10 MiB (API Gateway's REST limit) is a 413, a chunked body
  (no ``Content-Length``) a 411; a ``Content-Length`` that is not a number is a 422.

``/console`` is the web console's static files (``devtools.console``), on the API's origin.

Stdout carries the banner only (with ``API_URL=`` and ``ADMIN_TOKEN=`` lines for
scripts); the access log and the functions' own logs and metrics go to stderr.
"""

from __future__ import annotations

import signal
import sys
import warnings
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from devtools.console import PREFIX as CONSOLE_PREFIX
from devtools.console import console_reply, is_console
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
from devtools.handlers import apply_environment, logs_to_stderr
from devtools.local_api import LocalApi, Reply, local_error, response_reply
from devtools.template import DEFAULT_TEMPLATE, TemplateError, functions, load_template
from shared.domain.errors import PayloadTooLarge
from shared.http.error_map import redact, to_response, validation_response

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's limit for a REST API payload
EXIT_PORT_UNAVAILABLE = 2


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
        path = unquote(urlsplit(self.path).path)
        if is_console(path):  # the web console's static files, beside the API (same origin)
            if (self.headers.get("Content-Length") or "0").strip() != "0":
                self.close_connection = True  # a body sent to a static file is never read
            return console_reply(self.command, path)
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
            return 0, response_reply(validation_response([{**problem, "type": "int_parsing", "input": raw}]))
        length = int(raw)
        if length > MAX_BODY_BYTES:
            return 0, response_reply(to_response(PayloadTooLarge(MAX_BODY_BYTES, length)))
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
            f"Console: {url}{CONSOLE_PREFIX}/ (paste the admin token to sign in)",
            "",
            "Try:",
            f'  curl -s -H "Authorization: Bearer {admin_token}" {url}/v1/whoami',
            f'  curl -s -H "Authorization: Bearer {admin_token}" {tokens}',
            f'  curl -s -X POST -H "Authorization: Bearer {admin_token}" '
            f"-H 'Content-Type: application/json' -d '{{\"name\": \"ci\"}}' {tokens}",
        ]
    else:
        lines.append(
            "No demo data on an endpoint of your own: mint a first token with "
            "`app-tokens bootstrap --org ORG --app APP` (same TABLE_NAME, TOKEN_HASH_KEY and endpoint)."
        )
    if not admin_token:
        lines.append(f"Console: {url}{CONSOLE_PREFIX}/")
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
