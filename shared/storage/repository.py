"""Storage: the repository interface and its DynamoDB implementation (one table, single-table design).

Item layout (``PK`` / ``SK``):

- ``ORG#<org>#APP#<app>`` / ``APP``: the app's registration.
- ``ORG#<org>#APP#<app>`` / ``TOKEN#<token_id>``: the token's metadata; one
  Query lists an app's tokens newest first, since token ids sort by time.
  While a token is live it also carries ``expiry_shard`` and
  ``warning_shard``, which put it in the two sparse expiry indexes.
- ``TOKEN#<token_id>`` / ``CREDENTIAL``: a copy of the metadata plus the keyed
  hashes of the access and refresh secrets. The token id inside a presented
  secret finds it with one strongly consistent GetItem.
- ``TOKEN#<parent_id>`` / ``CHILD#<child_id>``: a link from a token to a token
  it created (the child's org and app, ``cascaded_at`` once a cascade revoked
  it), so that a token's children are one Query of its own partition. Its TTL
  is the child's expiry plus the retention: a link never outlives its child.
- ``OUTBOX#<event_id>`` / ``EVENT``: a lifecycle event, written in the same
  transaction as the change it reports; the table's stream publishes it.

Every change to a token is one transaction over all the items it touches.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.domain.lifecycle import PARENT_REVOKED_REASON
from shared.domain.permissions import TOKEN_LIST_FIELDS
from shared.domain.records import (
    Bucket,
    ChildLink,
    Credential,
    LifecycleEvent,
    LinkPage,
    TokenPage,
    TokenRecord,
)
from shared.storage.aws import new_dynamodb_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

StatusFilter = Literal["active", "expired", "revoked"]
APP_SK = "APP"
CREDENTIAL_SK = "CREDENTIAL"
TOKEN_SK_PREFIX = "TOKEN#"
# A token's own partition: its credential and its links to the tokens it created.
TOKEN_PK_PREFIX = "TOKEN#"
CHILD_SK_PREFIX = "CHILD#"
OUTBOX_PK_PREFIX = "OUTBOX#"
TTL_ATTRIBUTE = "purge_at"
# How many rotated-away refresh hashes a credential keeps for reuse detection.
MAX_PREVIOUS_REFRESH_HASHES = 100
EXPIRY_INDEX = "ExpiryIndex"
EXPIRING_INDEX = "ExpiringIndex"
# Live tokens are spread over this many index partitions, so that no moment of expiry is
# ever one hot partition. Changing it needs a migration of the shard attributes.
EXPIRY_SHARDS = 16

_TOKEN_FIELDS = tuple(f.name for f in fields(TokenRecord))
_INT_FIELDS = {"rate_limit_rps", "rate_limit_burst"}
_LIST_FIELDS = frozenset(TOKEN_LIST_FIELDS)


class AppNotRegistered(Exception):
    """Create was asked for an app that has no registration."""


class TokenMissing(Exception):
    """Revoke was asked for a token that does not exist in that org and app."""


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


class TokenRepository(Protocol):
    """What the use cases need from storage."""

    def get_credential(self, token_id: str) -> Credential | None:
        """The token and its secret hashes, read strongly consistently."""

    def get_token(self, org_id: str, app_id: str, token_id: str) -> TokenRecord | None:
        """A token's metadata, read strongly consistently."""

    def list_tokens(
        self,
        org_id: str,
        app_id: str,
        *,
        limit: int,
        after: str | None,
        status: StatusFilter | None,
        now_iso: str,
    ) -> TokenPage:
        """One page of an app's tokens, newest first, after the key ``after``."""

    def create_token(
        self, credential: Credential, events: Sequence[LifecycleEvent] = (), link_purge_at: int | None = None
    ) -> None:
        """Store a new token, all or nothing, if its app is registered (else ``AppNotRegistered``).

        A token created by a token is linked from its creator's partition, the link expiring
        from the table at ``link_purge_at``.
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
        self,
        credential: Credential,
        new_access_hash: str,
        new_refresh_hash: str,
        previous_refresh_hashes: Sequence[str],
        rotated_at: str,
        events: Sequence[LifecycleEvent] = (),
    ) -> bool:
        """Replace both secret hashes if the refresh hash is still ``credential``'s; else ``False``.

        ``previous_refresh_hashes`` (the immediately previous last) and ``rotated_at`` (when
        that one was rotated away) are stored as given: which hash counts as previous is the
        use case's rule.
        """

    def record_use(self, token: TokenRecord, used_at: str, not_since: str) -> bool:
        """Set ``last_used_at`` unless it is already later than ``not_since``; best effort."""

    def spend_from_bucket(
        self, token_id: str, level: float, at_ms: int, expected_version: int | None
    ) -> Bucket | None:
        """Store the bucket if nobody wrote it since ``expected_version``; else the bucket as it now is."""

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


def app_key(org_id: str, app_id: str) -> dict[str, Any]:
    """The DynamoDB key of an app's registration."""
    return {"PK": {"S": f"ORG#{org_id}#APP#{app_id}"}, "SK": {"S": APP_SK}}


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


def _to_attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        raise TypeError("booleans are not stored")
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
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
    return {name: _to_attribute(value) for name, value in vars(record).items() if value is not None}


def record_from_item(item: Mapping[str, Any]) -> TokenRecord:
    """A token record from a token or credential item (other attributes are ignored)."""
    values: dict[str, Any] = {}
    for name in _TOKEN_FIELDS:
        attribute = item.get(name)
        if attribute is None:
            continue
        if name in _LIST_FIELDS:
            values[name] = [entry["S"] for entry in attribute["L"]]
        elif name in _INT_FIELDS:
            values[name] = int(attribute["N"])
        else:
            values[name] = attribute["S"]
    return TokenRecord(**values)


def _key_from_index_item(item: Mapping[str, Any]) -> TokenKey:
    _, org_id, _, app_id = item["PK"]["S"].split("#", 3)
    return TokenKey(
        org_id=org_id,
        app_id=app_id,
        token_id=item["SK"]["S"].removeprefix(TOKEN_SK_PREFIX),
        expires_at=item["expires_at"]["S"],  # the index's sort key, so always projected
    )


def outbox_item(event: LifecycleEvent, purge_at: int) -> dict[str, Any]:
    """The outbox item of a lifecycle event; the stream publishes it, TTL removes it later."""
    return {
        "PK": {"S": OUTBOX_PK_PREFIX + event.event_id},
        "SK": {"S": "EVENT"},
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


def _bucket_from_item(item: Mapping[str, Any]) -> Bucket | None:
    if "bucket_version" not in item:
        return None
    return Bucket(
        level=float(item["bucket_level"]["N"]),
        at_ms=int(item["bucket_at"]["N"]),
        version=int(item["bucket_version"]["N"]),
    )


def _first_reason(error: Any) -> str | None:
    """The cancellation reason of a transaction's first item (the one the condition is on)."""
    reasons: list[dict[str, Any]] = error.response.get("CancellationReasons") or [{}]
    return reasons[0].get("Code")


def _updates(update: dict[str, Any], *keys: dict[str, Any]) -> list[Any]:
    """The same update applied to several items, as items of one transaction."""
    return [{"Update": {**update, "Key": key}} for key in keys]


class DynamoDBTokenRepository:
    """The repository on one DynamoDB table, through a boto3 client built only when first needed."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, outbox_days: int = 7) -> None:
        self.table_name = table_name
        self._client = client
        self._outbox_seconds = outbox_days * 86_400

    @property
    def client(self) -> DynamoDBClient:
        """The boto3 DynamoDB client: the one passed in, or one created on first use."""
        if self._client is None:
            self._client = new_dynamodb_client()
        return self._client

    def _outbox_puts(self, events: Sequence[LifecycleEvent]) -> list[Any]:
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": outbox_item(event, event.occurred_epoch + self._outbox_seconds),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for event in events
        ]

    def get_credential(self, token_id: str) -> Credential | None:
        """See :class:`TokenRepository`."""
        item = self.client.get_item(
            TableName=self.table_name, Key=credential_key(token_id), ConsistentRead=True
        ).get("Item")
        if item is None or "access_hash" not in item:
            return None  # unknown, or expired and swept
        return Credential(
            token=record_from_item(item),
            access_hash=item["access_hash"]["S"],
            refresh_hash=item["refresh_hash"]["S"],
            previous_refresh_hashes=[
                entry["S"] for entry in item.get("previous_refresh_hashes", {}).get("L", [])
            ],
            bucket=_bucket_from_item(item),
            rotated_at=item["rotated_at"]["S"] if "rotated_at" in item else None,
        )

    def get_token(self, org_id: str, app_id: str, token_id: str) -> TokenRecord | None:
        """See :class:`TokenRepository`."""
        item = self.client.get_item(
            TableName=self.table_name, Key=token_key(org_id, app_id, token_id), ConsistentRead=True
        ).get("Item")
        return record_from_item(item) if item is not None else None

    def list_tokens(
        self,
        org_id: str,
        app_id: str,
        *,
        limit: int,
        after: str | None,
        status: StatusFilter | None,
        now_iso: str,
    ) -> TokenPage:
        """See :class:`TokenRepository`. One Query, descending, so the newest token comes first."""
        pk = app_key(org_id, app_id)["PK"]
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": pk},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {"PK": pk, "SK": {"S": after}}
        if status is not None:
            request["FilterExpression"] = _STATUS_FILTERS[status]
            if status != "revoked":
                request["ExpressionAttributeValues"][":now"] = {"S": now_iso}
        response = self.client.query(**request)
        tokens = [
            record_from_item(item)
            for item in response.get("Items", [])
            if item["SK"]["S"].startswith(TOKEN_SK_PREFIX)
        ]
        last = response.get("LastEvaluatedKey")
        # Every item of the partition exists only because the app was registered first, so any
        # item read (even one the filter dropped) proves the registration.
        return TokenPage(
            tokens=tokens,
            app_found=response.get("ScannedCount", 0) > 0 or after is not None,
            last_key=last["SK"]["S"] if last else None,
        )

    def create_token(
        self, credential: Credential, events: Sequence[LifecycleEvent] = (), link_purge_at: int | None = None
    ) -> None:
        """See :class:`TokenRepository`. One transaction: app check, token item, credential, link, events."""
        token = credential.token
        puts = token_items(credential)
        if token.created_by_token_id is not None:
            if link_purge_at is None:
                raise ValueError("a linked token needs the link's purge time")
            puts.append(link_item(token, link_purge_at))
        app_check = {
            "TableName": self.table_name,
            "Key": app_key(token.org_id, token.app_id),
            "ConditionExpression": "attribute_exists(PK)",
        }
        new_item = {"TableName": self.table_name, "ConditionExpression": "attribute_not_exists(PK)"}
        items: list[Any] = [
            {"ConditionCheck": app_check},
            *({"Put": {**new_item, "Item": item}} for item in puts),
            *self._outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if _first_reason(error) == "ConditionalCheckFailed":
                raise AppNotRegistered from None
            raise

    def revoke_token(
        self,
        key: TokenKey,
        revoked_at: str,
        reason: str | None,
        purge_at: int,
        events: Sequence[LifecycleEvent] = (),
    ) -> bool:
        """See :class:`TokenRepository`. One transaction over the token's two items and its events."""
        items = self._revocation(key, revoked_at, reason, purge_at)
        try:
            self.client.transact_write_items(TransactItems=[*items, *self._outbox_puts(events)])
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                if reasons[0].get("Item") is None:
                    raise TokenMissing from None
                return False
            raise
        return True

    def _revocation(self, key: TokenKey, revoked_at: str, reason: str | None, purge_at: int) -> list[Any]:
        """The transaction items that revoke a token: its metadata and its credential, alike."""
        assignments = ["revoked_at = :revoked_at", f"{TTL_ATTRIBUTE} = :purge_at"]
        values: dict[str, Any] = {":revoked_at": {"S": revoked_at}, ":purge_at": {"N": str(purge_at)}}
        if reason is not None:
            assignments.append("revoked_reason = :reason")
            values[":reason"] = {"S": reason}
        update: dict[str, Any] = {
            "TableName": self.table_name,
            # A revoked token leaves the expiry indexes: it will never be reported expired or expiring.
            "UpdateExpression": "SET " + ", ".join(assignments) + " REMOVE expiry_shard, warning_shard",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return _updates(update, token_key(key.org_id, key.app_id, key.token_id), credential_key(key.token_id))

    def child_links(self, parent_token_id: str, after: str | None, limit: int) -> LinkPage:
        """See :class:`TokenRepository`. One strongly consistent Query of the parent's own partition."""
        pk = token_partition(parent_token_id)
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :child)",
            "ExpressionAttributeValues": {":pk": pk, ":child": {"S": CHILD_SK_PREFIX}},
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {"PK": pk, "SK": {"S": after}}
        response = self.client.query(**request)
        last = response.get("LastEvaluatedKey")
        return LinkPage(
            links=[link_from_item(item) for item in response.get("Items", [])],
            next_after=last["SK"]["S"] if last else None,
        )

    def revoke_descendant(
        self, link: ChildLink, revoked_at: str, purge_at: int, events: Sequence[LifecycleEvent] = ()
    ) -> RevokeOutcome:
        """See :class:`TokenRepository`. One transaction: the token's two items, its link, its events."""
        key = TokenKey(org_id=link.org_id, app_id=link.app_id, token_id=link.token_id)
        link_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": link_key(link.parent_token_id, link.token_id),
                "UpdateExpression": "SET cascaded_at = :at",
                # A link its TTL has just removed is not brought back as a stub without its child's place.
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":at": {"S": revoked_at}},
            }
        }
        items = [
            *self._revocation(key, revoked_at, PARENT_REVOKED_REASON, purge_at),
            link_update,
            *self._outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                missing = reasons[0].get("Item") is None
                return RevokeOutcome.MISSING if missing else RevokeOutcome.ALREADY_REVOKED
            if len(reasons) > 2 and reasons[2].get("Code") == "ConditionalCheckFailed":
                # The link expired in between: the child is revoked all the same, its link left unmarked.
                try:
                    revoked = self.revoke_token(key, revoked_at, PARENT_REVOKED_REASON, purge_at, events)
                except TokenMissing:
                    return RevokeOutcome.MISSING
                return RevokeOutcome.REVOKED if revoked else RevokeOutcome.ALREADY_REVOKED
            raise
        return RevokeOutcome.REVOKED

    def put_events(self, events: Sequence[LifecycleEvent]) -> bool:
        """See :class:`TokenRepository`. One transaction, so that a continuation is written whole or not."""
        if not events:
            return True
        try:
            self.client.transact_write_items(TransactItems=self._outbox_puts(events))
        except self.client.exceptions.TransactionCanceledException as error:
            if _first_reason(error) == "ConditionalCheckFailed":
                return False  # written before, by an earlier delivery of the same record
            raise
        return True

    def rotate_secrets(
        self,
        credential: Credential,
        new_access_hash: str,
        new_refresh_hash: str,
        previous_refresh_hashes: Sequence[str],
        rotated_at: str,
        events: Sequence[LifecycleEvent] = (),
    ) -> bool:
        """See :class:`TokenRepository`. The condition on the old refresh hash lets one rotation win.

        The condition is on the exact hash being replaced, so of two rotations that read the
        same credential (two grace retries included) only one lands.
        """
        token = credential.token
        # Old refresh hashes are kept (the latest ones) so that a replay can be recognised as reuse.
        previous = list(previous_refresh_hashes)[-MAX_PREVIOUS_REFRESH_HASHES:]
        credential_update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": credential_key(token.token_id),
            "UpdateExpression": "SET access_hash = :access, refresh_hash = :refresh, "
            "previous_refresh_hashes = :previous, rotated_at = :at",
            "ConditionExpression": "refresh_hash = :old AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": {
                ":access": {"S": new_access_hash},
                ":refresh": {"S": new_refresh_hash},
                ":previous": {"L": [{"S": value} for value in previous]},
                ":at": {"S": rotated_at},
                ":old": {"S": credential.refresh_hash},
            },
        }
        token_update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": token_key(token.org_id, token.app_id, token.token_id),
            "UpdateExpression": "SET rotated_at = :at",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": {":at": {"S": rotated_at}},
        }
        try:
            items: list[Any] = [
                {"Update": credential_update},
                {"Update": token_update},
                *self._outbox_puts(events),
            ]
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if any(
                r.get("Code") == "ConditionalCheckFailed"
                for r in error.response.get("CancellationReasons", [])
            ):
                return False
            raise
        return True

    def record_use(self, token: TokenRecord, used_at: str, not_since: str) -> bool:
        """See :class:`TokenRepository`. Conditional, so a busy token costs one write a minute."""
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "UpdateExpression": "SET last_used_at = :used_at",
            "ExpressionAttributeValues": {":used_at": {"S": used_at}, ":not_since": {"S": not_since}},
            "ConditionExpression": "attribute_exists(PK) AND "
            "(attribute_not_exists(last_used_at) OR last_used_at < :not_since)",
        }
        items = _updates(
            update, credential_key(token.token_id), token_key(token.org_id, token.app_id, token.token_id)
        )
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException:
            return False
        return True

    def spend_from_bucket(
        self, token_id: str, level: float, at_ms: int, expected_version: int | None
    ) -> Bucket | None:
        """See :class:`TokenRepository`. One conditional UpdateItem; a lost race returns the new state."""
        values: dict[str, Any] = {
            ":level": {"N": repr(level)},
            ":at": {"N": str(at_ms)},
            ":next": {"N": str((expected_version or 0) + 1)},
        }
        condition = "attribute_exists(PK) AND attribute_not_exists(bucket_version)"
        if expected_version is not None:
            condition = "bucket_version = :expected"
            values[":expected"] = {"N": str(expected_version)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=credential_key(token_id),
                UpdateExpression="SET bucket_level = :level, bucket_at = :at, bucket_version = :next",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            # With ALL_OLD the refusal carries the bucket as the winner left it: no extra read.
            old_item: Any = error.response.get("Item") or {}
            current = _bucket_from_item(old_item)
            return current or Bucket(level=0.0, at_ms=at_ms, version=-1)
        return None

    def _index_page(self, request: dict[str, Any], start: dict[str, Any] | None) -> IndexPage:
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = self.client.query(TableName=self.table_name, **request)
        return IndexPage(
            keys=[_key_from_index_item(item) for item in response.get("Items", [])],
            next_start=response.get("LastEvaluatedKey"),
            items_read=response.get("ScannedCount", 0),
        )

    def expired_tokens(self, shard: int, now_iso: str, limit: int, start: dict[str, Any] | None) -> IndexPage:
        """See :class:`TokenRepository`. Reads only expired entries: the index is sparse and sorted."""
        return self._index_page(
            {
                "IndexName": EXPIRY_INDEX,
                "KeyConditionExpression": "expiry_shard = :shard AND expires_at <= :now",
                "ExpressionAttributeValues": {":shard": {"S": f"{shard:02d}"}, ":now": {"S": now_iso}},
                "Limit": limit,
            },
            start,
        )

    def expiring_tokens(
        self, shard: int, after_iso: str, until_iso: str, limit: int, start: dict[str, Any] | None
    ) -> IndexPage:
        """See :class:`TokenRepository`."""
        return self._index_page(
            {
                "IndexName": EXPIRING_INDEX,
                "KeyConditionExpression": "warning_shard = :shard AND expires_at BETWEEN :after AND :until",
                "ExpressionAttributeValues": {
                    ":shard": {"S": f"{shard:02d}"},
                    ":after": {"S": after_iso},
                    ":until": {"S": until_iso},
                },
                "Limit": limit,
            },
            start,
        )

    def mark_expired(self, key: TokenKey, purge_at: int, events: Sequence[LifecycleEvent] = ()) -> bool:
        """See :class:`TokenRepository`. Conditional on the index entry, so overlapping sweeps act once."""
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": token_key(key.org_id, key.app_id, key.token_id),
                    "UpdateExpression": f"SET {TTL_ATTRIBUTE} = :purge_at REMOVE expiry_shard, warning_shard",
                    "ConditionExpression": "attribute_exists(expiry_shard) "
                    "AND attribute_not_exists(revoked_at)",
                    "ExpressionAttributeValues": {":purge_at": {"N": str(purge_at)}},
                }
            },
            {
                # The hashes go, so nothing can authenticate with them again; the item stays until TTL
                # so that a later revoke still finds both items of the token.
                "Update": {
                    "TableName": self.table_name,
                    "Key": credential_key(key.token_id),
                    "UpdateExpression": f"SET {TTL_ATTRIBUTE} = :purge_at "
                    "REMOVE access_hash, refresh_hash, previous_refresh_hashes",
                    "ExpressionAttributeValues": {":purge_at": {"N": str(purge_at)}},
                }
            },
            *self._outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if _first_reason(error) == "ConditionalCheckFailed":
                return False
            raise
        return True

    def mark_expiring(self, key: TokenKey, notified_at: str, events: Sequence[LifecycleEvent] = ()) -> bool:
        """See :class:`TokenRepository`."""
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": token_key(key.org_id, key.app_id, key.token_id),
                    "UpdateExpression": "SET expiring_notified_at = :at REMOVE warning_shard",
                    "ConditionExpression": "attribute_exists(warning_shard)",
                    "ExpressionAttributeValues": {":at": {"S": notified_at}},
                }
            },
            *self._outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if _first_reason(error) == "ConditionalCheckFailed":
                return False
            raise
        return True

    def register_app(self, org_id: str, app_id: str, registered_at: str) -> bool:
        """See :class:`TokenRepository`."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **app_key(org_id, app_id),
                    "org_id": {"S": org_id},
                    "app_id": {"S": app_id},
                    "registered_at": {"S": registered_at},
                },
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


_STATUS_FILTERS: dict[str, str] = {
    "revoked": "attribute_exists(revoked_at)",
    "expired": "attribute_not_exists(revoked_at) AND expires_at <= :now",
    "active": "attribute_not_exists(revoked_at) AND expires_at > :now",
}
