"""The table's invariants, checked after every fault and every race: no half-written token."""

from __future__ import annotations

from typing import Any

from shared.lifecycle import CREATED, EXPIRED, EXPIRING, REVOKED, ROTATED
from shared.repository import record_from_item
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
        assert count_events(items, ROTATED, token_id) == rotations, token_id
        assert count_events(items, EXPIRED, token_id) == (1 if retired else 0), token_id
        notified = "expiring_notified_at" in item
        assert count_events(items, EXPIRING, token_id) == (1 if notified else 0), token_id
    events = [i for i in items if i["PK"]["S"].startswith("OUTBOX#")]
    assert {e["token_id"]["S"] for e in events} <= set(metadata), "an event about no token"
