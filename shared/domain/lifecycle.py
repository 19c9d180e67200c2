"""Lifecycle events: published to EventBridge from the outbox items that the table's stream delivers.

Every token change writes its events as outbox items in the same transaction
(nothing half-done, nothing lost); the publisher function receives each new
outbox item from the stream, adds the token's current public metadata and puts
it on the bus, and the stream retries the record until EventBridge has it.
Credential items, which hold the secret hashes, never become events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from shared.domain.history import HistoryType
from shared.domain.records import LifecycleEvent, TokenRecord

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "app-tokens"
CREATED = "App Token Created"
REVOKED = "App Token Revoked"
ROTATED = "App Token Rotated"
EXPIRED = "App Token Expired"
EXPIRING = "App Token Expiring"
REFRESH_REUSE = "App Token Refresh Reuse Detected"
# Issue 15: an edit (their extra is ``changed_fields``, the names of the fields it changed).
UPDATED = "App Token Updated"
DISABLED = "App Token Disabled"
ENABLED = "App Token Enabled"
# Issue 16: someone reported a live secret of the token (POST /v1/credentials/revoke); written
# beside the token's revoked event, with ``credential_kind`` (access or refresh), never the secret.
REPORTED_LEAKED = "App Token Reported Leaked"
# Issue 16 (canary tokens): a decoy token was used; its extra is where the use came from
# (``source_ip``, ``user_agent``, ``method``, ``path``: ``shared.services.canary``), never the secret.
CANARY_TRIPPED = "App Token Canary Tripped"
# The one mapping from a lifecycle event to the history entry written beside it, in the same
# transaction. An event not here (the expiry warning, a cascade's bookkeeping) writes none.
HISTORY_TYPES: dict[str, HistoryType] = {
    CREATED: HistoryType.CREATED,
    UPDATED: HistoryType.UPDATED,
    DISABLED: HistoryType.DISABLED,
    ENABLED: HistoryType.ENABLED,
    ROTATED: HistoryType.ROTATED,
    REVOKED: HistoryType.REVOKED,
    EXPIRED: HistoryType.EXPIRED,
    REFRESH_REUSE: HistoryType.REFRESH_REUSE_DETECTED,
    REPORTED_LEAKED: HistoryType.REPORTED_LEAKED,
    CANARY_TRIPPED: HistoryType.CANARY_TRIPPED,
}
REFRESH_REUSE_REASON = "refresh_token_reuse"
# A token revoked because the token that created it was revoked with ``cascade=true``.
PARENT_REVOKED_REASON = "parent_revoked"
# A token revoked because one of its live secrets was reported (anyone may report one).
REPORTED_LEAKED_REASON = "reported_leaked"
# Reasons only the service itself writes: a user may not claim them (a 422), so that a reason
# such as refresh_token_reuse, and the event it raises, always means what it says.
SERVICE_REVOKE_REASONS = frozenset({REFRESH_REUSE_REASON, PARENT_REVOKED_REASON, REPORTED_LEAKED_REASON})
# In the extra of the revoked event of every token a cascade revoked (the root too): the publisher
# then revokes that token's live children, so a cascade past the request's bound still finishes.
CASCADE_MARKER = "cascade"
# An outbox item the publisher acts on and never puts on the bus: cascade work that no marked
# revoked event covers (the children of an already revoked token, the rest of a long page).
CASCADE_PENDING = "App Token Cascade Pending"
MAX_ENTRIES_PER_CALL = 10

TokenLookup = Callable[[str, str, str], TokenRecord | None]


class PublishFailed(Exception):
    """EventBridge refused some entries; the stream delivers the record again."""


def event_detail(event: LifecycleEvent, token: TokenRecord | None) -> dict[str, Any]:
    """The ``detail`` of an event: ids, time, extra facts and the token's public metadata."""
    return {
        "event_id": event.event_id,
        "org_id": event.org_id,
        "app_id": event.app_id,
        "token_id": event.token_id,
        "occurred_at": event.occurred_at,
        **event.extra,
        "token": token.public_fields() if token is not None else None,
    }


def publish(
    client: EventBridgeClient, bus_name: str, events: Sequence[LifecycleEvent], lookup: TokenLookup
) -> None:
    """Put the events on the bus; raise if any was refused, so that the stream retries."""
    for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
        chunk = events[start : start + MAX_ENTRIES_PER_CALL]
        entries: list[Any] = [
            {
                "Source": SOURCE,
                "DetailType": event.detail_type,
                "Detail": json.dumps(
                    event_detail(event, lookup(event.org_id, event.app_id, event.token_id)), sort_keys=True
                ),
                "EventBusName": bus_name,
            }
            for event in chunk
        ]
        response = client.put_events(Entries=entries)
        if response.get("FailedEntryCount", 0):
            codes = sorted({entry["ErrorCode"] for entry in response["Entries"] if "ErrorCode" in entry})
            raise PublishFailed(f"EventBridge refused {response['FailedEntryCount']} entries: {codes}")
