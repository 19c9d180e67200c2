"""Signed page cursors, shared by every paged use case (the token list, a token's history).

A cursor is signed for exactly one listing (``made_for``: org, app, filter, token...), so a
cursor of another listing, or a forged one, is refused rather than read from.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.domain.crypto import SecretHasher
from shared.domain.errors import InvalidInput

# The largest page of every paged use case (the HTTP parameters say the same: PageLimit).
MAX_PAGE_SIZE = 100


def cursor_position(hasher: SecretHasher, next_token: str | None, made_for: Mapping[str, str]) -> str | None:
    """Where the page after ``next_token`` starts (``None``: the first page); 422 for a foreign cursor."""
    if next_token is None:
        return None
    payload = hasher.open_cursor(next_token)
    if payload is None or any(payload.get(name) != value for name, value in made_for.items()):
        raise InvalidInput(
            field="next_token",
            msg="Invalid pagination cursor",
            error_type="cursor_invalid",
            value=next_token,
            ctx={},
        )
    return payload["after"]


def next_cursor(hasher: SecretHasher, made_for: Mapping[str, str], last_key: str | None) -> str | None:
    """The cursor of the page after the one that ended at ``last_key`` (``None``: that was the last)."""
    return None if last_key is None else hasher.sign_cursor({**made_for, "after": last_key})
