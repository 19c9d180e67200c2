"""A token's state, and the facts beyond the seed's AppToken that the new endpoints show (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.domain.credits import CreditsView, credits_view
from shared.domain.errors import InvalidInput

if TYPE_CHECKING:
    from shared.domain.records import TokenRecord


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
    # Issue 16: when the access secret replaced by the last rotation stops working; None when no
    # grace is running (none was given, it has passed, or a refresh ended it).
    previous_secret_expires_at: str | None = None
    # Issue 16: the live credits (any due refill applied); None when the token is unlimited.
    credits: CreditsView | None = None
    # Issue 16: whether the token is a canary (a decoy), and when one was last used (tripped).
    canary: bool = False
    last_tripped_at: str | None = None
    # Issue 16: the networks the token may be used from; empty: any address.
    ip_allowlist: tuple[str, ...] = ()


def token_status(record: TokenRecord, now_iso: str) -> TokenStatus:
    """The token's state at ``now_iso``: revoked, else expired, else disabled, else active.

    A disabled token keeps its expiry, so once that passes it is expired like any other.
    """
    if record.revoked_at is not None:
        return TokenStatus.REVOKED
    if record.is_expired(now_iso):
        return TokenStatus.EXPIRED
    if record.disabled_at is not None:
        return TokenStatus.DISABLED
    return TokenStatus.ACTIVE


def token_details(record: TokenRecord, now_iso: str) -> TokenDetails:
    """The ``details`` of a token at ``now_iso``: what the seed's AppToken does not show."""
    return TokenDetails(
        status=token_status(record, now_iso),
        enabled=record.enabled,
        created_by_token_id=record.created_by_token_id,
        rotated_at=record.rotated_at,
        updated_at=record.updated_at,
        previous_secret_expires_at=grace_end(record, now_iso),
        credits=credits_view(record, datetime.fromisoformat(now_iso)),
        canary=record.canary,
        last_tripped_at=record.last_tripped_at,
        ip_allowlist=record.ip_allowlist,
    )


def grace_end(record: TokenRecord, now_iso: str) -> str | None:
    """When the previous access secret stops working, if it still works at ``now_iso`` (strictly before)."""
    end = record.previous_access_expires_at
    return end if end is not None and now_iso < end else None


def no_longer(token_id: str, status: TokenStatus, done: str, error_type: str) -> InvalidInput:
    """The 422 at the token's id for a token whose ``status`` refuses what was asked (``done``:
    "changed", "rotated")."""
    return InvalidInput(
        field="token_id",
        msg=f"Token is {status.value} and can no longer be {done}",
        error_type=error_type,
        value=token_id,
        ctx={"status": status.value},
    )
