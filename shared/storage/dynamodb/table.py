"""The DynamoDB adapter's common ground: the table, its client, and the writes several operations share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared.domain.records import LifecycleEvent
from shared.storage.aws import new_dynamodb_client
from shared.storage.items import (
    TTL_ATTRIBUTE,
    credential_key,
    history_item,
    outbox_item,
    token_key,
    token_partition,
)
from shared.storage.repository import TokenKey, TokenMissing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def first_reason(error: Any) -> str | None:
    """The cancellation reason of a transaction's first item (the one the condition is on)."""
    reasons: list[dict[str, Any]] = error.response.get("CancellationReasons") or [{}]
    return reasons[0].get("Code")


def updates(update: dict[str, Any], *keys: dict[str, Any]) -> list[Any]:
    """The same update applied to several items, as items of one transaction."""
    return [{"Update": {**update, "Key": key}} for key in keys]


class Table:
    """One DynamoDB table through a boto3 client built only when first needed; revocation's writes."""

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

    def partition_page(
        self, token_id: str, sk_prefix: str, page: tuple[int, str | None], *, newest_first: bool = False
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One strongly consistent Query of a token's own partition: the items whose sort key starts
        with ``sk_prefix``, ``page`` = (limit, the sort key to start after), and the last sort key read
        when there may be more."""
        limit, after = page
        pk = token_partition(token_id)
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": pk, ":prefix": {"S": sk_prefix}},
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {"PK": pk, "SK": {"S": after}}
        response = self.client.query(**request)
        last = response.get("LastEvaluatedKey")
        return response.get("Items", []), last["SK"]["S"] if last else None

    def outbox_puts(self, events: Sequence[LifecycleEvent]) -> list[Any]:
        """The transaction items of a change's events: each one's outbox item, and its history entry.

        So every change that reports an event records it in the token's history in the same
        transaction, and no call site can forget to (``history_item`` decides which events have one).
        """
        items = [outbox_item(event, event.occurred_epoch + self._outbox_seconds) for event in events]
        entries = (history_item(event, position) for position, event in enumerate(events))
        items.extend(entry for entry in entries if entry is not None)
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for item in items
        ]

    def revoke_token(
        self,
        key: TokenKey,
        revoked_at: str,
        reason: str | None,
        purge_at: int,
        events: Sequence[LifecycleEvent] = (),
    ) -> bool:
        """See :class:`TokenRepository`. One transaction over the token's two items and its events."""
        items = self.revocation(key, revoked_at, reason, purge_at)
        try:
            self.client.transact_write_items(TransactItems=[*items, *self.outbox_puts(events)])
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                if reasons[0].get("Item") is None:
                    raise TokenMissing from None
                return False
            raise
        return True

    def revocation(self, key: TokenKey, revoked_at: str, reason: str | None, purge_at: int) -> list[Any]:
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
        return updates(update, token_key(key.org_id, key.app_id, key.token_id), credential_key(key.token_id))
