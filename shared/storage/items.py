"""Storage: the item layout of the one table, and the conversions between items and domain records.

Every item has ``PK`` / ``SK``; all other attributes are strings (``S``) unless
noted (``N`` numbers, ``L`` lists of strings). Unset record fields are left out
rather than stored as NULL, so that ``attribute_not_exists`` works on them.

- ``ORG#<org>#APP#<app>`` / ``APP``: the app's registration: ``org_id``,
  ``app_id``, ``registered_at``. A token can only be created under it.
- ``ORG#<org>#APP#<app>`` / ``TOKEN#<token_id>``: the token's metadata; one
  Query lists an app's tokens newest first, since token ids sort by time.
  Attributes: every field of ``TokenRecord`` that is set (``token_id``,
  ``org_id``, ``app_id``, ``name``, ``description``, ``token_type``, ``prefix``,
  ``owner_type``, ``owner_id``, ``created_by_user_id``, ``created_by_token_id``,
  ``issued_at``, ``expires_at``; the lists ``permissions`` and the restriction
  lists of ``shared.domain.restrictions.RESTRICTIONS`` (``L``); ``rate_limit_rps``
  and ``rate_limit_burst`` (``N``)), and then, as the token lives:
  ``last_used_at`` (at most once a minute), ``rotated_at`` (the last rotation),
  ``previous_access_expires_at`` (issue 16: the grace end of the access secret the
  last rotation replaced), ``ip_allowlist`` (``L``, issue 16: canonical networks; on both
  items, so that get and verification read it without another read), ``updated_at`` and
  ``revision`` (``N``, counts the edits; an edit is conditioned
  on it), ``disabled_at`` (while disabled; enabling removes it),
  ``revoked_at`` and ``revoked_reason`` (revocation), ``expiring_notified_at``
  (the expiry warning went out), ``purge_at`` (``N``, the TTL: set on
  revocation or expiry to the end plus the retention). While a token is live it
  also carries ``expiry_shard`` and ``warning_shard`` (the same value, one of
  ``EXPIRY_SHARDS``), which put it in the two sparse expiry indexes: revocation
  and expiry remove both, the expiry warning removes ``warning_shard``.
- ``TOKEN#<token_id>`` / ``CREDENTIAL``: a copy of the record's attributes
  (never the shards; ``last_used_at``, ``rotated_at``, an edit's fields and the
  revocation are written to both) plus
  ``access_hash`` and ``refresh_hash`` (keyed hashes of the secrets),
  ``previous_refresh_hashes`` (``L``, the last ``MAX_PREVIOUS_REFRESH_HASHES``
  rotated-away refresh hashes, for reuse detection; the last is the immediately
  previous one), ``rotated_at`` (when that one was rotated away), and the rate
  limit's bucket ``bucket_level``, ``bucket_at`` (epoch milliseconds) and
  ``bucket_version`` (all ``N``, written under a version condition); issue 16's
  ``previous_access_hash`` (the access secret a rotation with a grace replaced, at
  most one) beside the record's ``previous_access_expires_at`` (its end, on both
  items; a refresh or a rotation without a grace removes both). Issue 16's usage
  credits: ``credits_remaining`` and ``credits_refill_amount`` (``N``), ``credits_refill_interval``
  and ``credits_period`` (the start of the period the figure belongs to), record fields on both
  items; the credential's figure is the live one (every spend writes it, in the same conditional
  UpdateItem as the bucket), the metadata's is as the last create or edit left it. The token
  id inside a presented secret finds it with one strongly consistent GetItem.
  Expiry removes the hash attributes (nothing authenticates again) and
  sets ``purge_at``; revocation sets ``revoked_at``, ``revoked_reason`` and
  ``purge_at`` here too.
- ``TOKEN#<parent_id>`` / ``CHILD#<child_id>``: a link from a token to a token
  it created: ``org_id`` and ``app_id`` (the child's), ``cascaded_at`` once a
  cascade revoked the child, and ``purge_at`` (``N``), its TTL: the child's
  expiry plus the retention, so a link never outlives its child. A token's
  children are one Query of its own partition.
- ``TOKEN#<token_id>`` / ``HISTORY#<occurred_at>#<n>#<event_id>``: one entry of the
  token's history (issue 15), written in the same transaction as the change it
  records, derived from its lifecycle event (``shared.domain.lifecycle.HISTORY_TYPES``;
  ``n`` is the event's place in its transaction, two digits, so that entries of one
  moment keep their order): ``org_id``, ``app_id``, ``type``, ``occurred_at``,
  ``actor_token_id`` and ``actor_user_id`` (both absent: the service itself),
  ``changes`` (an edit's ``[{field, old, new}]`` as JSON text, never a secret) and
  ``purge_at`` (``N``): the token's expiry plus the retention as the change left it,
  or for a revocation the record's own ``purge_at``. A token's history is one Query
  of its own partition, newest first.
- ``TOKEN#<token_id>`` / ``CANARY#<source>``: issue 16, a canary's trip marker per source
  address (``source`` is the address, or ``unknown``): ``tripped_at`` (the last trip that wrote
  an event) and ``purge_at`` (``N``, a day later). A trip is written only under the condition that
  the marker is absent or its ``tripped_at`` is a minute old, so a flood from one address costs one
  event a minute. A canary's token and credential items carry ``canary`` (``BOOL``, only when
  true) and ``last_tripped_at``.
- ``OUTBOX#<event_id>`` / ``EVENT``: a lifecycle event, written in the same
  transaction as the change it reports: ``detail_type``, ``org_id``,
  ``app_id``, ``token_id``, ``occurred_at``, ``extra`` (a JSON object as text)
  and ``purge_at`` (``N``, the occurrence plus the outbox's days); the table's
  stream publishes it.

The TTL attribute is ``purge_at`` on every item that has one. Two global
secondary indexes, keys only: ``ExpiryIndex`` (``expiry_shard`` / ``expires_at``)
and ``ExpiringIndex`` (``warning_shard`` / ``expires_at``).

Every change to a token is one transaction over all the items it touches.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from shared.domain.history import Actor, FieldChange, HistoryEvent, HistoryType
from shared.domain.lifecycle import HISTORY_TYPES
from shared.domain.networks import IP_ALLOWLIST_FIELD
from shared.domain.records import Bucket, ChildLink, Credential, LifecycleEvent, TokenRecord
from shared.domain.restrictions import TOKEN_LIST_FIELDS

APP_SK = "APP"
CREDENTIAL_SK = "CREDENTIAL"
TOKEN_SK_PREFIX = "TOKEN#"
# A token's own partition: its credential and its links to the tokens it created.
TOKEN_PK_PREFIX = "TOKEN#"
CHILD_SK_PREFIX = "CHILD#"
HISTORY_SK_PREFIX = "HISTORY#"
OUTBOX_PK_PREFIX = "OUTBOX#"
OUTBOX_SK = "EVENT"
TTL_ATTRIBUTE = "purge_at"
# How many rotated-away refresh hashes a credential keeps for reuse detection.
MAX_PREVIOUS_REFRESH_HASHES = 100
EXPIRY_INDEX = "ExpiryIndex"
EXPIRING_INDEX = "ExpiringIndex"
# Live tokens are spread over this many index partitions, so that no moment of expiry is
# ever one hot partition. Changing it needs a migration of the shard attributes.
EXPIRY_SHARDS = 16

_TOKEN_FIELDS = tuple(f.name for f in fields(TokenRecord))
_INT_FIELDS = {"rate_limit_rps", "rate_limit_burst", "revision", "credits_remaining", "credits_refill_amount"}
# Stored as BOOL, and only when true (a false flag is left out, as an unset field is).
_BOOL_FIELDS = {"canary"}
_LIST_FIELDS = frozenset(TOKEN_LIST_FIELDS)
# Lists of the record that are tuples (not of the seed's AppToken): issue 16's ip_allowlist.
_TUPLE_FIELDS = frozenset({IP_ALLOWLIST_FIELD})


def app_key(org_id: str, app_id: str) -> dict[str, Any]:
    """The DynamoDB key of an app's registration."""
    return {"PK": {"S": f"ORG#{org_id}#APP#{app_id}"}, "SK": {"S": APP_SK}}


def app_item(org_id: str, app_id: str, registered_at: str) -> dict[str, Any]:
    """The registration item of an app."""
    return {
        **app_key(org_id, app_id),
        "org_id": {"S": org_id},
        "app_id": {"S": app_id},
        "registered_at": {"S": registered_at},
    }


def token_key(org_id: str, app_id: str, token_id: str) -> dict[str, Any]:
    """The DynamoDB key of a token's metadata item."""
    return {"PK": {"S": f"ORG#{org_id}#APP#{app_id}"}, "SK": {"S": TOKEN_SK_PREFIX + token_id}}


def token_partition(token_id: str) -> dict[str, str]:
    """The partition key of a token's own partition."""
    return {"S": TOKEN_PK_PREFIX + token_id}


def credential_key(token_id: str) -> dict[str, Any]:
    """The DynamoDB key of a token's credential item."""
    return {"PK": token_partition(token_id), "SK": {"S": CREDENTIAL_SK}}


def expiry_shard(token_id: str) -> str:
    """The index partition a token's expiry entries go to."""
    return f"{zlib.crc32(token_id.encode()) % EXPIRY_SHARDS:02d}"


def to_attribute(value: Any) -> dict[str, Any]:
    """A record field's value as a DynamoDB attribute (strings, numbers, lists of strings)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list | tuple):
        return {"L": [{"S": item} for item in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def link_key(parent_token_id: str, child_token_id: str) -> dict[str, Any]:
    """The DynamoDB key of the link from a token to a token it created."""
    return {"PK": token_partition(parent_token_id), "SK": {"S": CHILD_SK_PREFIX + child_token_id}}


def link_item(token: TokenRecord, purge_at: int) -> dict[str, Any]:
    """The link item of a token that a token created, in the creator's partition."""
    assert token.created_by_token_id is not None, "only a token created by a token is linked"
    return {
        **link_key(token.created_by_token_id, token.token_id),
        "org_id": {"S": token.org_id},
        "app_id": {"S": token.app_id},
        TTL_ATTRIBUTE: {"N": str(purge_at)},
    }


def link_from_item(item: Mapping[str, Any]) -> ChildLink:
    """The link a link item holds."""
    cascaded = item.get("cascaded_at")
    return ChildLink(
        parent_token_id=item["PK"]["S"].removeprefix(TOKEN_PK_PREFIX),
        org_id=item["org_id"]["S"],
        app_id=item["app_id"]["S"],
        token_id=item["SK"]["S"].removeprefix(CHILD_SK_PREFIX),
        cascaded_at=cascaded["S"] if cascaded else None,
    )


def _record_attributes(record: TokenRecord) -> dict[str, Any]:
    # Unset fields are left out rather than stored as NULL, so that attribute_not_exists works on them.
    return {
        name: to_attribute(value)
        for name, value in vars(record).items()
        if value is not None and not (name in _BOOL_FIELDS and value is False)
    }


def record_from_item(item: Mapping[str, Any]) -> TokenRecord:
    """A token record from a token or credential item (other attributes are ignored)."""
    values: dict[str, Any] = {}
    for name in _TOKEN_FIELDS:
        attribute = item.get(name)
        if attribute is None:
            continue
        if name in _LIST_FIELDS:
            values[name] = [entry["S"] for entry in attribute["L"]]
        elif name in _BOOL_FIELDS:
            values[name] = attribute["BOOL"]
        elif name in _TUPLE_FIELDS:
            values[name] = tuple(entry["S"] for entry in attribute["L"])
        elif name in _INT_FIELDS:
            values[name] = int(attribute["N"])
        else:
            values[name] = attribute["S"]
    return TokenRecord(**values)


def credential_from_item(item: Mapping[str, Any]) -> Credential | None:
    """The credential a credential item holds; ``None`` once expiry has removed its hashes."""
    if "access_hash" not in item:
        return None
    return Credential(
        token=record_from_item(item),
        access_hash=item["access_hash"]["S"],
        refresh_hash=item["refresh_hash"]["S"],
        previous_refresh_hashes=[
            entry["S"] for entry in item.get("previous_refresh_hashes", {}).get("L", [])
        ],
        bucket=bucket_from_item(item),
        rotated_at=item["rotated_at"]["S"] if "rotated_at" in item else None,
        previous_access_hash=item["previous_access_hash"]["S"] if "previous_access_hash" in item else None,
    )


def index_entry(item: Mapping[str, Any]) -> dict[str, str]:
    """The org, app, token id and expiry of a token item as an expiry index returns it (keys only)."""
    _, org_id, _, app_id = item["PK"]["S"].split("#", 3)
    return {
        "org_id": org_id,
        "app_id": app_id,
        "token_id": item["SK"]["S"].removeprefix(TOKEN_SK_PREFIX),
        "expires_at": item["expires_at"]["S"],  # the index's sort key, so always projected
    }


def outbox_item(event: LifecycleEvent, purge_at: int) -> dict[str, Any]:
    """The outbox item of a lifecycle event; the stream publishes it, TTL removes it later."""
    return {
        "PK": {"S": OUTBOX_PK_PREFIX + event.event_id},
        "SK": {"S": OUTBOX_SK},
        "detail_type": {"S": event.detail_type},
        "org_id": {"S": event.org_id},
        "app_id": {"S": event.app_id},
        "token_id": {"S": event.token_id},
        "occurred_at": {"S": event.occurred_at},
        "extra": {"S": json.dumps(event.extra, sort_keys=True)},
        TTL_ATTRIBUTE: {"N": str(purge_at)},
    }


def event_from_outbox_item(item: Mapping[str, Any]) -> LifecycleEvent | None:
    """The lifecycle event an outbox item holds, or ``None`` for any other item."""
    if not item.get("PK", {}).get("S", "").startswith(OUTBOX_PK_PREFIX):
        return None
    return LifecycleEvent(
        event_id=item["PK"]["S"].removeprefix(OUTBOX_PK_PREFIX),
        detail_type=item["detail_type"]["S"],
        org_id=item["org_id"]["S"],
        app_id=item["app_id"]["S"],
        token_id=item["token_id"]["S"],
        occurred_at=item["occurred_at"]["S"],
        extra=json.loads(item["extra"]["S"]),
    )


def token_items(credential: Credential) -> list[dict[str, Any]]:
    """The two items of a new token: its metadata (in the expiry indexes) and its credential."""
    token = credential.token
    attributes = _record_attributes(token)
    shard = {"S": expiry_shard(token.token_id)}
    token_item = {
        **attributes,
        **token_key(token.org_id, token.app_id, token.token_id),
        "expiry_shard": shard,
        "warning_shard": shard,
    }
    credential_item = {
        **attributes,
        **credential_key(token.token_id),
        "access_hash": {"S": credential.access_hash},
        "refresh_hash": {"S": credential.refresh_hash},
    }
    return [token_item, credential_item]


def bucket_from_item(item: Mapping[str, Any]) -> Bucket | None:
    """The rate-limit bucket a credential item holds, if one was ever written."""
    if "bucket_version" not in item:
        return None
    return Bucket(
        level=float(item["bucket_level"]["N"]),
        at_ms=int(item["bucket_at"]["N"]),
        version=int(item["bucket_version"]["N"]),
    )


def history_key(event: LifecycleEvent, position: int) -> dict[str, Any]:
    """The DynamoDB key of the history entry of ``event``, the ``position``-th of its transaction."""
    sk = f"{HISTORY_SK_PREFIX}{event.occurred_at}#{position:02d}#{event.event_id}"
    return {"PK": token_partition(event.token_id), "SK": {"S": sk}}


def history_item(event: LifecycleEvent, position: int) -> dict[str, Any] | None:
    """The history entry of a lifecycle event; ``None`` for an event that has none."""
    history_type = HISTORY_TYPES.get(event.detail_type)
    if history_type is None:
        return None
    if event.retain_until is None:
        raise ValueError(f"{event.detail_type} needs the TTL of its history entry")
    item: dict[str, Any] = {
        **history_key(event, position),
        "org_id": {"S": event.org_id},
        "app_id": {"S": event.app_id},
        "type": {"S": history_type.value},
        "occurred_at": {"S": event.occurred_at},
        TTL_ATTRIBUTE: {"N": str(event.retain_until)},
    }
    if event.actor is not None:
        for name, value in (("actor_token_id", event.actor.token_id), ("actor_user_id", event.actor.user_id)):
            if value is not None:
                item[name] = {"S": value}
    if event.changes:
        changes = [{"field": c.field, "old": c.old, "new": c.new} for c in event.changes]
        item["changes"] = {"S": json.dumps(changes, sort_keys=True)}
    return item


def history_from_item(item: Mapping[str, Any]) -> HistoryEvent:
    """The history event a history item holds."""
    token_id, user_id = item.get("actor_token_id"), item.get("actor_user_id")
    actor = None
    if token_id is not None or user_id is not None:
        actor = Actor(token_id=token_id["S"] if token_id else None, user_id=user_id["S"] if user_id else None)
    changes = json.loads(item["changes"]["S"]) if "changes" in item else []
    return HistoryEvent(
        type=HistoryType(item["type"]["S"]),
        occurred_at=item["occurred_at"]["S"],
        actor=actor,
        changes=tuple(FieldChange(c["field"], c["old"], c["new"]) for c in changes),
    )
