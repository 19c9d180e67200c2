"""Canary tokens (issue 16): decoys that look like any token and never authenticate anywhere.

A canary is planted where only an intruder should look (a config file, a wiki page, a CI
variable). Whoever uses it is answered exactly as an unknown token would be, and the use trips
an alarm (``shared.services.canary``). These are the rules of what a canary may hold and become,
so that it can never be given, edited or rotated into a working credential.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.domain.errors import InvalidInput

# What a canary's PATCH may change: what it is called and how long it stays planted. Anything else
# (permissions, restriction lists, rate limits, enabled) would only pretend to shape a token that
# works nowhere, or is a step towards a real one: a 422 at that field.
CANARY_EDITABLE_FIELDS: tuple[str, ...] = ("name", "description", "expires_at")

# How long a trip's facts may be, so that a flood of long user agents or paths costs bounded bytes.
MAX_TRIP_FIELD_CHARS = {"source_ip": 64, "user_agent": 256, "method": 16, "path": 1024}
# What a trip says for a fact its entry point did not know (the alert's template reads every field).
UNKNOWN = "unknown"


def _refused(field: str, value: Any, msg: str, error_type: str) -> InvalidInput:
    return InvalidInput(field=field, msg=msg, error_type=error_type, value=value, ctx={"canary": True})


def create_problem(permissions: Iterable[str]) -> InvalidInput | None:
    """Why a canary cannot be created so: it may hold no permission (restrictions and rate limits
    are allowed, as decoration that makes it look like the real tokens around it)."""
    granted = list(permissions)
    if not granted:
        return None
    return _refused(
        "permissions", granted, "A canary token cannot be given permissions", "canary_permissions"
    )


def edit_problem(fields: Iterable[str], values: Mapping[str, Any]) -> InvalidInput | None:
    """Why a canary cannot be edited so: the first field (in ``fields``' order) beyond its name,
    description and expiry."""
    for name in fields:
        if name in values and name not in CANARY_EDITABLE_FIELDS:
            return _refused(
                name,
                values[name],
                "A canary token can only change its " + ", ".join(CANARY_EDITABLE_FIELDS),
                "canary_not_editable",
            )
    return None


def rotate_problem(token_id: str) -> InvalidInput:
    """The 422 at the token's id for a rotation of a canary: new secrets of a decoy would only be
    working-looking secrets of a token that works nowhere (and the old one must keep tripping)."""
    return _refused("token_id", token_id, "Token is a canary and cannot be rotated", "token_is_canary")


def capped(value: str | None, name: str) -> str:
    """A trip's fact as the event carries it: at most its length, ``unknown`` when not said."""
    if not value:
        return UNKNOWN
    return value[: MAX_TRIP_FIELD_CHARS[name]]
