"""A token's state, and the facts beyond the seed's AppToken that the new endpoints show (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TokenStatus(StrEnum):
    """Where a token is in its life. Revoked wins over expired, expired over disabled."""

    ACTIVE = "active"
    DISABLED = "disabled"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class TokenDetails:
    """The ``details`` object of the get, patch and whoami answers: never part of the seed's AppToken."""

    status: TokenStatus
    enabled: bool
    created_by_token_id: str | None
    rotated_at: str | None
    updated_at: str | None
