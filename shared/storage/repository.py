"""Storage: the repository interface, what the use cases need from storage and nothing of DynamoDB.

The DynamoDB implementation is ``shared.storage.dynamodb`` (only the composition root,
``shared.entry.runtime``, builds it); its item layout is ``shared.storage.items``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from shared.domain.credits import CreditSpend
from shared.domain.history import HistoryEvent
from shared.domain.records import (
    Bucket,
    ChildLink,
    Credential,
    LifecycleEvent,
    LinkPage,
    StatusFilter,
    TokenPage,
    TokenRecord,
)

# The shard count bounds expired_tokens' and expiring_tokens' shard numbers; the table's stream
# delivers items, and an outbox item's event is read by the publisher: both are part of the interface.
from shared.storage.items import EXPIRY_SHARDS, event_from_outbox_item

__all__ = [
    "EXPIRY_SHARDS",
    "AppNotRegistered",
    "BucketWrite",
    "CanaryTrip",
    "CreditDraw",
    "CreditsRead",
    "CreditsShort",
    "HistoryEntry",
    "HistoryItems",
    "IndexPage",
    "ListQuery",
    "Reroll",
    "RevokeOutcome",
    "Rotation",
    "TokenEdit",
    "TokenKey",
    "TokenMissing",
    "TokenRepository",
    "UsageSpend",
    "UsageState",
    "event_from_outbox_item",
]


class AppNotRegistered(Exception):
    """Create was asked for an app that has no registration."""


class TokenMissing(Exception):
    """Revoke was asked for a token that does not exist in that org and app."""


class CreditsShort(Exception):
    """A create's giver no longer held the credits it was to give when the transaction ran (issue 16)."""


class RevokeOutcome(Enum):
    """What revoking a descendant in a cascade found."""

    REVOKED = "revoked"
    ALREADY_REVOKED = "already_revoked"
    MISSING = "missing"  # purged by TTL (or never stored): its own children may still be live


@dataclass(frozen=True)
class TokenKey:
    """Where a token lives: enough to update it, as an expiry index returns it (with its expiry)."""

    org_id: str
    app_id: str
    token_id: str
    expires_at: str | None = None


@dataclass(frozen=True)
class IndexPage:
    """One page of an expiry index query."""

    keys: list[TokenKey]
    next_start: dict[str, Any] | None
    items_read: int


@dataclass(frozen=True)
class ListQuery:
    """Which page of an app's tokens to read: its size, when it is read (for the status filter),
    the key it starts after, and the status filter."""

    limit: int
    now_iso: str
    after: str | None = None
    status: StatusFilter | None = None


@dataclass(frozen=True)
class Rotation:
    """A rotation's new secret hashes, the refresh hashes it keeps for reuse detection, and when."""

    new_access_hash: str = field(repr=False)
    new_refresh_hash: str = field(repr=False)
    # The immediately previous hash last; which hash counts as previous is the use case's rule.
    previous_refresh_hashes: Sequence[str] = field(repr=False)
    rotated_at: str


@dataclass(frozen=True)
class Reroll:
    """A rotation by the management API (issue 16): new secret hashes, and the replaced access hash
    kept until ``previous_access_expires_at`` (``None``: not kept; the end is stored all the same)."""

    new_access_hash: str = field(repr=False)
    new_refresh_hash: str = field(repr=False)
    previous_access_hash: str | None = field(repr=False)
    rotated_at: str
    previous_access_expires_at: str


@dataclass(frozen=True)
class CreditDraw:
    """Credits a create or an edit takes from the giver's credential in its own transaction (issue 16).

    ``spend`` ``None``: take nothing, but the giver must hold no limit at all (a caller vouched for
    by an authorizer, whose credits the request does not show).
    """

    token_id: str
    spend: CreditSpend | None


@dataclass(frozen=True)
class CreditsRead:
    """A token's credits as an edit read them from its credential: the edit is conditioned on them,
    so a spend landing in between makes it a conflict rather than lost or double-counted credits."""

    remaining: int | None
    period: str | None


@dataclass(frozen=True)
class BucketWrite:
    """The rate-limit bucket a verification leaves: level, when, on the version it read."""

    level: float
    at_ms: int
    expected_version: int | None


@dataclass(frozen=True)
class UsageSpend:
    """What one verification spends, in one conditional UpdateItem: a request from the bucket,
    credits, or both (issue 16)."""

    token_id: str
    bucket: BucketWrite | None = None
    credits: CreditSpend | None = None


@dataclass(frozen=True)
class UsageState:
    """What a refused spend found on the credential (from the refusal itself, no read): the bucket
    and the credits as they now are."""

    bucket: Bucket | None
    credits_remaining: int | None
    credits_period: str | None


@dataclass(frozen=True)
class TokenEdit:
    """An edit to store: the token as it was read (the write is conditioned on its ``revision``),
    the token as it becomes, and the events (with their history entries) of the change."""

    before: TokenRecord
    after: TokenRecord
    events: Sequence[LifecycleEvent] = ()
    # Issue 16: the target's credits as read (the credential is conditioned on them) when the edit
    # changes them, and what the editor pays for a top-up, in the same transaction.
    credits_read: CreditsRead | None = None
    funding: CreditDraw | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """A stored history event and the org and app its item names (checked against the request's)."""

    org_id: str
    app_id: str
    event: HistoryEvent


@dataclass(frozen=True)
class HistoryItems:
    """One page of a token's history entries, newest first, and the key the next page starts after."""

    entries: list[HistoryEntry]
    last_key: str | None


@dataclass(frozen=True)
class CanaryTrip:
    """A use of a canary to note (issue 16): which token, from where (its marker's source), when, and
    the event (with its history entry) to write unless this source already tripped since ``not_since``.
    ``marker_purge_at`` is the marker's TTL (epoch seconds)."""

    token: TokenRecord
    source: str
    tripped_at: str
    not_since: str
    marker_purge_at: int
    events: Sequence[LifecycleEvent] = ()


class TokenRepository(Protocol):
    """What the use cases need from storage."""

    def get_credential(self, token_id: str) -> Credential | None:
        """The token and its secret hashes, read strongly consistently."""

    def get_token(self, org_id: str, app_id: str, token_id: str) -> TokenRecord | None:
        """A token's metadata, read strongly consistently."""

    def list_tokens(self, org_id: str, app_id: str, query: ListQuery) -> TokenPage:
        """One page of an app's tokens, newest first, after the key ``query.after``."""

    def create_token(
        self,
        credential: Credential,
        events: Sequence[LifecycleEvent] = (),
        link_purge_at: int | None = None,
        funding: CreditDraw | None = None,
    ) -> None:
        """Store a new token, all or nothing, if its app is registered (else ``AppNotRegistered``).

        A token created by a token is linked from its creator's partition, the link expiring
        from the table at ``link_purge_at``. ``funding``: the credits taken from the creator in the
        same transaction (issue 16); ``CreditsShort`` when it no longer holds them.
        """

    def child_links(self, parent_token_id: str, after: str | None, limit: int) -> LinkPage:
        """Up to ``limit`` of the tokens ``parent_token_id`` created, oldest first, after ``after``."""

    def revoke_descendant(
        self, link: ChildLink, revoked_at: str, purge_at: int, events: Sequence[LifecycleEvent] = ()
    ) -> RevokeOutcome:
        """Revoke a child in a cascade (reason ``parent_revoked``) and mark its link as cascaded."""

    def put_events(self, events: Sequence[LifecycleEvent]) -> bool:
        """Write outbox items that no token change carries; ``False`` if an event id was already there."""

    def revoke_token(
        self,
        key: TokenKey,
        revoked_at: str,
        reason: str | None,
        purge_at: int,
        events: Sequence[LifecycleEvent] = (),
    ) -> bool:
        """Mark a token revoked; ``False`` when it already was (first revocation kept)."""

    def rotate_secrets(
        self, credential: Credential, rotation: Rotation, events: Sequence[LifecycleEvent] = ()
    ) -> bool:
        """Replace both secret hashes if the refresh hash is still ``credential``'s; else ``False``.

        ``rotation.previous_refresh_hashes`` (the immediately previous last) and
        ``rotation.rotated_at`` (when that one was rotated away) are stored as given: which
        hash counts as previous is the use case's rule.
        """

    def reroll_secrets(
        self, credential: Credential, reroll: Reroll, events: Sequence[LifecycleEvent] = ()
    ) -> bool:
        """Replace both secrets if both hashes are still ``credential``'s and the token is live and
        enabled; else ``False``, nothing written. One transaction with the events (issue 16).

        The replaced access hash becomes the one previous hash (any earlier one is overwritten);
        the refresh hashes kept for reuse detection stay as they are.
        """

    def update_token(self, edit: TokenEdit) -> bool:
        """Write an edit to both items of the token with its events, all or nothing.

        ``False`` when the token is no longer as read (another edit landed, it was revoked or
        swept since): nothing is written. ``TokenMissing`` when it is gone altogether.
        """

    def token_history(self, token_id: str, limit: int, after: str | None) -> HistoryItems:
        """Up to ``limit`` of the token's history entries, newest first, after the key ``after``."""

    def record_use(self, token: TokenRecord, used_at: str, not_since: str) -> bool:
        """Set ``last_used_at`` unless it is already later than ``not_since``.

        Best effort: a storage failure is logged and answered ``False``, never raised.
        """

    def spend_from_bucket(
        self, token_id: str, level: float, at_ms: int, expected_version: int | None
    ) -> Bucket | None:
        """Store the bucket if nobody wrote it since ``expected_version``; else the bucket as it now is."""

    def spend_usage(self, spend: UsageSpend) -> UsageState | None:
        """One conditional UpdateItem of the credential: the bucket and the credits together, or
        neither; ``None`` when it landed, else what the refusal found (issue 16)."""

    def expired_tokens(self, shard: int, now_iso: str, limit: int, start: dict[str, Any] | None) -> IndexPage:
        """Tokens of one shard that have expired and were not swept yet."""

    def expiring_tokens(
        self, shard: int, after_iso: str, until_iso: str, limit: int, start: dict[str, Any] | None
    ) -> IndexPage:
        """Tokens of one shard expiring in ``(after, until]`` whose owners were not warned yet."""

    def mark_expired(self, key: TokenKey, purge_at: int, events: Sequence[LifecycleEvent] = ()) -> bool:
        """Drop an expired token's credential and take it out of the indexes; ``False`` if done before."""

    def mark_expiring(self, key: TokenKey, notified_at: str, events: Sequence[LifecycleEvent] = ()) -> bool:
        """Note that the expiry warning went out; ``False`` if it had already."""

    def register_app(self, org_id: str, app_id: str, registered_at: str) -> bool:
        """Register an app; ``False`` when it already was."""

    def trip_canary(self, trip: CanaryTrip) -> bool:
        """Note a canary's use: its source's marker, ``last_tripped_at`` on both of the token's items and
        the events, in one transaction, unless that source tripped it since ``trip.not_since``.

        ``False`` when it did (nothing written) or the write failed: best effort, logged, never raised.
        """
