"""What an API Gateway event presents, read the same way by the handlers and the authorizer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header by its lower-case name (HTTP header names are case-insensitive)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, unchecked; ``None`` otherwise."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None
