"""The table's invariants, checked after every fault and every race: no half-written token."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.domain.lifecycle import (
    CREATED,
    EXPIRED,
    EXPIRING,
    HISTORY_TYPES,
    PARENT_REVOKED_REASON,
    REVOKED,
    ROTATED,
)
from shared.storage.items import CHILD_SK_PREFIX, HISTORY_SK_PREFIX, link_from_item, record_from_item
from tests.conftest import TABLE


def table_items(client: Any) -> list[dict[str, Any]]:
    """Every item (a test may scan; the product never does)."""
    items: list[dict[str, Any]] = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return items


def count_events(items: list[dict[str, Any]], detail_type: str, token_id: str) -> int:
    """How many outbox events of ``detail_type`` the table holds for ``token_id``."""
    return sum(
        1
        for item in items
        if item["PK"]["S"].startswith("OUTBOX#")
        and item["detail_type"]["S"] == detail_type
        and item["token_id"]["S"] == token_id
    )


def reroll_events(items: list[dict[str, Any]], token_id: str) -> int:
    """How many of ``token_id``'s rotated events are the management API's (they carry the grace end)."""
    return sum(
        1
        for item in items
        if item["PK"]["S"].startswith("OUTBOX#")
        and item["detail_type"]["S"] == ROTATED
        and item["token_id"]["S"] == token_id
        and "previous_secret_expires_at" in json.loads(item["extra"]["S"])
    )


def assert_invariants(items: list[dict[str, Any]]) -> None:
    """No half-written token: both items or none, in agreement, each change with exactly its events."""
    metadata = {i["SK"]["S"].removeprefix("TOKEN#"): i for i in items if i["SK"]["S"].startswith("TOKEN#")}
    credentials = {i["PK"]["S"].removeprefix("TOKEN#"): i for i in items if i["SK"]["S"] == "CREDENTIAL"}
    assert set(metadata) == set(credentials), "a token without its lookup item, or the reverse"
    for token_id, item in metadata.items():
        credential = credentials[token_id]
        assert record_from_item(item) == record_from_item(credential), token_id
        assert item.get("rotated_at") == credential.get("rotated_at"), token_id
        retired = "access_hash" not in credential
        if retired:  # by the sweep: hashes gone, out of the index, kept until TTL
            assert "refresh_hash" not in credential, token_id
            assert "expiry_shard" not in item and "purge_at" in item and "purge_at" in credential, token_id
        else:
            assert "refresh_hash" in credential, token_id
        if "revoked_at" in item:
            assert "expiry_shard" not in item and "purge_at" in item and "purge_at" in credential
        rotations = len(credential.get("previous_refresh_hashes", {}).get("L", []))
        assert count_events(items, CREATED, token_id) == 1, token_id
        assert count_events(items, REVOKED, token_id) == (1 if "revoked_at" in item else 0), token_id
        # A refresh keeps the refresh hash it replaced; a rotation by the management API (issue 16)
        # does not, and its event carries the grace end: each kind is counted by its own trace.
        assert count_events(items, ROTATED, token_id) == rotations + reroll_events(items, token_id), token_id
        assert count_events(items, EXPIRED, token_id) == (1 if retired else 0), token_id
        notified = "expiring_notified_at" in item
        assert count_events(items, EXPIRING, token_id) == (1 if notified else 0), token_id
    events = [i for i in items if i["PK"]["S"].startswith("OUTBOX#")]
    assert {e["token_id"]["S"] for e in events} <= set(metadata), "an event about no token"
    assert_lineage(items, metadata)
    assert_history(items, events)


def assert_history(items: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Each event of a history type has exactly one history entry, in its token's partition, that agrees.

    (Moto never applies TTLs, so no outbox item is gone before its entry.) No other entry exists.
    """
    entries = {}
    for item in items:
        if item["SK"]["S"].startswith(HISTORY_SK_PREFIX):
            event_id = item["SK"]["S"].rsplit("#", 1)[1]
            assert event_id not in entries, f"two history entries of {event_id}"
            assert "purge_at" in item, f"a history entry without a TTL: {event_id}"
            entries[event_id] = item
    for event in events:
        history_type = HISTORY_TYPES.get(event["detail_type"]["S"])
        event_id = event["PK"]["S"].removeprefix("OUTBOX#")
        if history_type is None:
            assert event_id not in entries, event_id
            continue
        entry = entries.pop(event_id, None)
        assert entry is not None, f"{event['detail_type']['S']} {event_id} without its history entry"
        assert entry["PK"]["S"] == "TOKEN#" + event["token_id"]["S"], event_id
        assert entry["type"]["S"] == history_type.value, event_id
        for name in ("org_id", "app_id", "occurred_at"):
            assert entry[name] == event[name], (event_id, name)
    assert not entries, f"history entries of no event: {sorted(entries)}"


def assert_lineage(items: list[dict[str, Any]], metadata: dict[str, dict[str, Any]]) -> None:
    """Each token created by a token has exactly one link, in its creator's partition, that agrees.

    A link is marked ``cascaded_at`` exactly when a cascade revoked its child (``parent_revoked``),
    and no link outlives its child's time in the table.
    """
    links = {}
    for item in items:
        if item["SK"]["S"].startswith(CHILD_SK_PREFIX):
            link = link_from_item(item)
            assert link.token_id not in links, f"two links to {link.token_id}"
            assert "purge_at" in item, f"a link without a TTL: {link.token_id}"
            links[link.token_id] = (link, int(item["purge_at"]["N"]))
    for token_id, item in metadata.items():
        record = record_from_item(item)
        if record.created_by_token_id is None:
            assert token_id not in links, f"a link to {token_id}, which no token created"
            continue
        assert token_id in links, f"{token_id} records its creator but is not linked from it"
        link, purge_at = links.pop(token_id)
        assert (link.parent_token_id, link.org_id, link.app_id) == (
            record.created_by_token_id,
            record.org_id,
            record.app_id,
        ), token_id
        assert record.expires_at is not None
        assert purge_at > datetime.fromisoformat(record.expires_at).timestamp(), token_id
        cascaded = record.revoked_reason == PARENT_REVOKED_REASON
        assert (link.cascaded_at is not None) == cascaded, token_id
        if cascaded:
            assert link.cascaded_at == record.revoked_at, token_id
    assert not links, f"links to no token: {sorted(links)}"
