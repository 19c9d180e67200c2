"""CORS for the one browser origin the deployment names: the web console's (issue 17).

API Gateway answers the preflight (``OPTIONS``, the template's ``Cors``); every other answer
comes from a function, and gets its CORS headers here, the early refusals (401, 403, 422 before
routing) as much as the routed answers: a browser hides the body of an answer without them, and
the console shows a 403's missing permission from that body. The allowed origin is the setting
``CONSOLE_ORIGIN`` (one exact origin, never ``*``); unset, no answer carries CORS headers. A
request from any other origin gets none either, so its browser refuses to hand it the answer.
"""

from __future__ import annotations

from typing import Any

from shared.http.request import header

ALLOWED_HEADERS = "Authorization,Content-Type"
ALLOWED_METHODS = "GET,POST,PATCH,DELETE,OPTIONS"
EXPOSED_HEADERS = "Retry-After"


def cors_headers(allowed_origin: str | None, request_origin: str | None) -> dict[str, str]:
    """The headers that let ``request_origin`` read the answer: none unless it is the allowed one."""
    if not allowed_origin or request_origin != allowed_origin:
        return {"Vary": "Origin"} if allowed_origin else {}
    return {
        "Access-Control-Allow-Origin": allowed_origin,
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def with_cors(result: dict[str, Any], event: dict[str, Any], allowed_origin: str | None) -> dict[str, Any]:
    """``result`` (a proxy result) with the CORS headers for the event's ``Origin``."""
    extra = cors_headers(allowed_origin, header(event, "origin"))
    if not extra:
        return result
    # multiValueHeaders win over headers in API Gateway (and in the local server), so they go there.
    multi = {**(result.get("multiValueHeaders") or {}), **{name: [value] for name, value in extra.items()}}
    return {**result, "multiValueHeaders": multi}
