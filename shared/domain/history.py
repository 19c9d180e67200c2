"""What happened to a token, as its history shows it: the events, who caused them, what changed.

Issue 15. A history event is stored in the same transaction as the change it records and kept
as long as the token record may be (its expiry plus the retention).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class HistoryType(StrEnum):
    """The kinds of history event (later issues add theirs)."""

    CREATED = "created"
    UPDATED = "updated"
    DISABLED = "disabled"
    ENABLED = "enabled"
    ROTATED = "rotated"
    REVOKED = "revoked"
    EXPIRED = "expired"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    # Issue 16: a live secret of the token was reported leaked (the ``revoked`` entry follows).
    REPORTED_LEAKED = "reported_leaked"
    # Issue 16: a canary token was used (at most one entry a minute per source address).
    CANARY_TRIPPED = "canary_tripped"


@dataclass(frozen=True)
class Actor:
    """Who caused a change: the calling token and its user; ``None`` in an event means the service."""

    token_id: str | None
    user_id: str | None


@dataclass(frozen=True)
class FieldChange:
    """One field an update changed, with its value before and after (never a secret)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEvent:
    """One entry of a token's history."""

    type: HistoryType
    occurred_at: str
    actor: Actor | None
    # Only for ``updated`` (and ``disabled``/``enabled``, with the one field ``enabled``).
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class HistoryPage:
    """One page of a token's history, newest first, and the cursor of the next page."""

    events: list[HistoryEvent]
    next_token: str | None
