"""The web console's static files, as ``app-tokens serve`` answers them at ``/console``.

The console (``console/`` at the repository's root) is plain HTML, CSS and ES modules: no build
step. Locally it is served from the API's own origin, so it needs no CORS; ``config.js`` is
answered here rather than read from disk: an empty ``apiUrl`` (this origin) and the template's
``MAX_TOKEN_LIFETIME_DAYS`` for the expiry picker. Every answer carries the security headers the
deployed console gets from its CloudFront response headers policy (``template.yaml``
``ConsoleHeadersPolicy``), with ``connect-src 'self'`` instead of the API's origin, so the
browser tests run under the same Content-Security-Policy.
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus
from pathlib import Path

from devtools.local_api import Reply, local_error

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
PREFIX = "/console"

# The Content-Security-Policy of the console, with {api} for the origin it may call. No inline
# script or style, no eval, nothing from another origin: the one policy behind a pasted token.
CSP_TEMPLATE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src {api}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def console_reply(method: str, path: str) -> Reply:
    """The reply to a request under ``/console``: a file, the generated config, a redirect or a 404."""
    if method not in ("GET", "HEAD"):
        status, headers, body = local_error(
            HTTPStatus.METHOD_NOT_ALLOWED, None, {"allowed_methods": ["GET", "HEAD"]}
        )
        return status, [*headers, ("Allow", "GET, HEAD")], body
    if path == PREFIX:
        body = b"Moved to /console/\n"
        return 301, [("Location", PREFIX + "/"), ("Content-Type", "text/plain; charset=utf-8")], body
    name = path[len(PREFIX) + 1 :] or "index.html"
    if name == "config.js":
        return _file(".js", local_config().encode())
    target = (CONSOLE_DIR / name).resolve()
    # Only the console's own files: no '..', no directory, no file of another suffix.
    if CONSOLE_DIR not in target.parents or not target.is_file() or target.suffix not in MEDIA_TYPES:
        return local_error(HTTPStatus.NOT_FOUND, None, {"resource_type": "route", "resource_id": path})
    return _file(target.suffix, target.read_bytes())


def local_config() -> str:
    """``config.js`` for the local console: this origin, and the lifetime limit the functions use."""
    days = int(os.environ.get("MAX_TOKEN_LIFETIME_DAYS") or 365)
    settings = json.dumps({"apiUrl": "", "maxTokenLifetimeDays": days})
    return f"export default {settings};\n"


def security_headers(api_origin: str) -> list[tuple[str, str]]:
    return [("Content-Security-Policy", CSP_TEMPLATE.format(api=api_origin)), *SECURITY_HEADERS]


def _file(suffix: str, body: bytes) -> Reply:
    return 200, [("Content-Type", MEDIA_TYPES[suffix]), *security_headers("'self'")], body
