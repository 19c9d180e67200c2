"""What an API Gateway event presents, read the same way by the handlers and the authorizer.

The bearer credential of an ``Authorization`` header is read by
``shared.services.authentication.bearer_credential``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header by its lower-case name (HTTP header names are case-insensitive)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value if isinstance(value, str) else None
    return None
