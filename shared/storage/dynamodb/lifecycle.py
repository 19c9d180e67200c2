"""The DynamoDB adapter's lifecycle operations: the cascade's links, the sweep's indexes, the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.domain.lifecycle import PARENT_REVOKED_REASON
from shared.domain.records import ChildLink, LifecycleEvent, LinkPage
from shared.storage.dynamodb.table import Table, first_reason
from shared.storage.items import (
    CHILD_SK_PREFIX,
    EXPIRING_INDEX,
    EXPIRY_INDEX,
    TTL_ATTRIBUTE,
    credential_key,
    index_entry,
    link_from_item,
    link_key,
    token_key,
)
from shared.storage.repository import IndexPage, RevokeOutcome, TokenKey, TokenMissing


class LifecycleOperations(Table):
    """What the cascade, the sweep and the publisher write and read (see :class:`TokenRepository`)."""

    def child_links(self, parent_token_id: str, after: str | None, limit: int) -> LinkPage:
        """See :class:`TokenRepository`. One strongly consistent Query of the parent's own partition."""
        items, last = self.partition_page(parent_token_id, CHILD_SK_PREFIX, (limit, after))
        return LinkPage(links=[link_from_item(item) for item in items], next_after=last)

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
            *self.revocation(key, revoked_at, PARENT_REVOKED_REASON, purge_at),
            link_update,
            *self.outbox_puts(events),
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
            self.client.transact_write_items(TransactItems=self.outbox_puts(events))
        except self.client.exceptions.TransactionCanceledException as error:
            if first_reason(error) == "ConditionalCheckFailed":
                return False  # written before, by an earlier delivery of the same record
            raise
        return True

    def _index_page(self, request: dict[str, Any], start: dict[str, Any] | None) -> IndexPage:
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = self.client.query(TableName=self.table_name, **request)
        return IndexPage(
            keys=[TokenKey(**index_entry(item)) for item in response.get("Items", [])],
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
                    "REMOVE access_hash, refresh_hash, previous_refresh_hashes, previous_access_hash",
                    "ExpressionAttributeValues": {":purge_at": {"N": str(purge_at)}},
                }
            },
            *self.outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if first_reason(error) == "ConditionalCheckFailed":
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
            *self.outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if first_reason(error) == "ConditionalCheckFailed":
                return False
            raise
        return True
