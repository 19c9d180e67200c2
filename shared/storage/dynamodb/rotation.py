"""The DynamoDB adapter's rotation with a grace period (issue 16): one conditional transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.domain.records import Credential, LifecycleEvent
from shared.storage.dynamodb.table import Table
from shared.storage.items import credential_key, token_key
from shared.storage.repository import Reroll


class RotationOperations(Table):
    """What the rotate use case writes (see :class:`TokenRepository`)."""

    def reroll_secrets(
        self, credential: Credential, reroll: Reroll, events: Sequence[LifecycleEvent] = ()
    ) -> bool:
        """See :class:`TokenRepository`. The credential, the metadata, the events and history, or nothing.

        Conditioned on both hashes as read, so of two rotations (or a rotation and a refresh) that
        read the same credential exactly one lands; on the token being unrevoked and enabled (an edit
        that disabled it after the read wins), and on the metadata still being in the expiry index
        (not swept).
        """
        token = credential.token
        at = {":at": {"S": reroll.rotated_at}, ":ends": {"S": reroll.previous_access_expires_at}}
        sets = [
            "access_hash = :access",
            "refresh_hash = :refresh",
            "rotated_at = :at",
            "previous_access_expires_at = :ends",
        ]
        values: dict[str, Any] = {
            ":access": {"S": reroll.new_access_hash},
            ":refresh": {"S": reroll.new_refresh_hash},
            ":old_access": {"S": credential.access_hash},
            ":old_refresh": {"S": credential.refresh_hash},
            **at,
        }
        if reroll.previous_access_hash is not None:
            sets.append("previous_access_hash = :previous")
            values[":previous"] = {"S": reroll.previous_access_hash}
            expression = "SET " + ", ".join(sets)
        else:
            # No grace: an earlier previous secret ends now, and none is kept.
            expression = "SET " + ", ".join(sets) + " REMOVE previous_access_hash"
        credential_update = {
            "TableName": self.table_name,
            "Key": credential_key(token.token_id),
            "UpdateExpression": expression,
            "ConditionExpression": "access_hash = :old_access AND refresh_hash = :old_refresh "
            "AND attribute_not_exists(revoked_at) AND attribute_not_exists(disabled_at)",
            "ExpressionAttributeValues": values,
        }
        token_update = {
            "TableName": self.table_name,
            "Key": token_key(token.org_id, token.app_id, token.token_id),
            "UpdateExpression": "SET rotated_at = :at, previous_access_expires_at = :ends",
            "ConditionExpression": "attribute_exists(expiry_shard) AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": at,
        }
        items: list[Any] = [
            {"Update": credential_update},
            {"Update": token_update},
            *self.outbox_puts(events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons[:2]):
                return False
            raise
        return True
