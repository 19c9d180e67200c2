"""The repository on one DynamoDB table: the request path's operations (see ``shared.storage.items``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.observability import logger
from shared.domain.records import Credential, LifecycleEvent, TokenPage, TokenRecord
from shared.storage.dynamodb.canary import CanaryOperations
from shared.storage.dynamodb.credits import CreditOperations, draw_item
from shared.storage.dynamodb.lifecycle import LifecycleOperations
from shared.storage.dynamodb.managing import ManagingOperations
from shared.storage.dynamodb.rotation import RotationOperations
from shared.storage.dynamodb.table import first_reason, updates
from shared.storage.items import (
    MAX_PREVIOUS_REFRESH_HASHES,
    TOKEN_SK_PREFIX,
    app_item,
    app_key,
    credential_from_item,
    credential_key,
    link_item,
    record_from_item,
    token_items,
    token_key,
)
from shared.storage.repository import AppNotRegistered, CreditDraw, CreditsShort, ListQuery, Rotation

# In the order of precedence of a token's status (shared.domain.status.token_status): revoked, expired,
# disabled, active. A disabled token that expired is expired; ``active`` excludes disabled ones.
_STATUS_FILTERS: dict[str, str] = {
    "revoked": "attribute_exists(revoked_at)",
    "expired": "attribute_not_exists(revoked_at) AND expires_at <= :now",
    "disabled": "attribute_not_exists(revoked_at) AND expires_at > :now AND attribute_exists(disabled_at)",
    "active": "attribute_not_exists(revoked_at) AND expires_at > :now AND attribute_not_exists(disabled_at)",
}


class DynamoDBTokenRepository(
    LifecycleOperations, ManagingOperations, RotationOperations, CreditOperations, CanaryOperations
):
    """The repository on one DynamoDB table, through a boto3 client built only when first needed."""

    def get_credential(self, token_id: str) -> Credential | None:
        """See :class:`TokenRepository`."""
        item = self.client.get_item(
            TableName=self.table_name, Key=credential_key(token_id), ConsistentRead=True
        ).get("Item")
        # None when unknown, or expired and swept (its hashes removed).
        return credential_from_item(item) if item is not None else None

    def get_token(self, org_id: str, app_id: str, token_id: str) -> TokenRecord | None:
        """See :class:`TokenRepository`."""
        item = self.client.get_item(
            TableName=self.table_name, Key=token_key(org_id, app_id, token_id), ConsistentRead=True
        ).get("Item")
        return record_from_item(item) if item is not None else None

    def list_tokens(self, org_id: str, app_id: str, query: ListQuery) -> TokenPage:
        """See :class:`TokenRepository`. One Query, descending, so the newest token comes first."""
        limit, after, status, now_iso = query.limit, query.after, query.status, query.now_iso
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
        self,
        credential: Credential,
        events: Sequence[LifecycleEvent] = (),
        link_purge_at: int | None = None,
        funding: CreditDraw | None = None,
    ) -> None:
        """See :class:`TokenRepository`. One transaction: app check, token item, credential, link, the
        creator's credits (issue 16), events."""
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
        ]
        funding_at = len(items)
        if funding is not None:
            items.append(draw_item(self.table_name, funding))
        items.extend(self.outbox_puts(events))
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            if first_reason(error) == "ConditionalCheckFailed":
                raise AppNotRegistered from None
            reasons = error.response.get("CancellationReasons") or []
            funding_failed = (
                len(reasons) > funding_at and reasons[funding_at].get("Code") == "ConditionalCheckFailed"
            )
            if funding is not None and funding_failed:
                raise CreditsShort from None
            raise

    def rotate_secrets(
        self, credential: Credential, rotation: Rotation, events: Sequence[LifecycleEvent] = ()
    ) -> bool:
        """See :class:`TokenRepository`. The condition on the old refresh hash lets one rotation win.

        The condition is on the exact hash being replaced, so of two rotations that read the
        same credential (two grace retries included) only one lands.
        """
        token = credential.token
        # Old refresh hashes are kept (the latest ones) so that a replay can be recognised as reuse.
        previous = list(rotation.previous_refresh_hashes)[-MAX_PREVIOUS_REFRESH_HASHES:]
        rotated_at = rotation.rotated_at
        credential_update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": credential_key(token.token_id),
            "UpdateExpression": "SET access_hash = :access, refresh_hash = :refresh, "
            "previous_refresh_hashes = :previous, rotated_at = :at "
            # A refresh ends any grace a rotation left (issue 16): no previous access secret after it.
            "REMOVE previous_access_hash, previous_access_expires_at",
            # Not disabled: an edit that disabled the token after the refresh read it wins.
            "ConditionExpression": "refresh_hash = :old AND attribute_not_exists(revoked_at) "
            "AND attribute_not_exists(disabled_at)",
            "ExpressionAttributeValues": {
                ":access": {"S": rotation.new_access_hash},
                ":refresh": {"S": rotation.new_refresh_hash},
                ":previous": {"L": [{"S": value} for value in previous]},
                ":at": {"S": rotated_at},
                ":old": {"S": credential.refresh_hash},
            },
        }
        token_update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": token_key(token.org_id, token.app_id, token.token_id),
            "UpdateExpression": "SET rotated_at = :at REMOVE previous_access_expires_at",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": {":at": {"S": rotated_at}},
        }
        try:
            items: list[Any] = [
                {"Update": credential_update},
                {"Update": token_update},
                *self.outbox_puts(events),
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
        items = updates(
            update, credential_key(token.token_id), token_key(token.org_id, token.app_id, token.token_id)
        )
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException:
            return False
        except (BotoCoreError, ClientError) as error:
            # last_used_at is advisory; failing to note it must not fail the request.
            logger.warning("could not record token use", extra={"error_type": type(error).__name__})
            return False
        return True

    def register_app(self, org_id: str, app_id: str, registered_at: str) -> bool:
        """See :class:`TokenRepository`."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=app_item(org_id, app_id, registered_at),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
