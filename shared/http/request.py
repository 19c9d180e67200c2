"""What an API Gateway event presents, read the same way by the handlers and the authorizer.

The bearer credential of an ``Authorization`` header is read by
``shared.services.authentication.bearer_credential``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.services.verification import Origin


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header by its lower-case name (HTTP header names are case-insensitive)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def request_origin(event: Mapping[str, Any]) -> Origin:
    """Where an API Gateway proxy or REQUEST authorizer event comes from: its source address
    (API Gateway's own reading of the connection, not a header a client could set) and user agent."""
    request_context = event.get("requestContext")
    identity = request_context.get("identity") if isinstance(request_context, Mapping) else None
    source_ip = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    return Origin(
        source_ip=source_ip if isinstance(source_ip, str) and source_ip else None,
        user_agent=header(event, "user-agent"),
    )
