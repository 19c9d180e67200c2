"""The DynamoDB adapter's canary trips (issue 16): one conditional transaction a minute per source."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.domain.observability import logger
from shared.storage.dynamodb.table import Table, updates
from shared.storage.items import TTL_ATTRIBUTE, credential_key, token_key, token_partition
from shared.storage.repository import CanaryTrip

CANARY_SK_PREFIX = "CANARY#"


def canary_marker_key(token_id: str, source: str) -> dict[str, Any]:
    """The DynamoDB key of a canary's trip marker for one source address (``shared.storage.items``)."""
    return {"PK": token_partition(token_id), "SK": {"S": CANARY_SK_PREFIX + source}}


class CanaryOperations(Table):
    """What a canary's use writes (see :class:`TokenRepository`)."""

    def trip_canary(self, trip: CanaryTrip) -> bool:
        """See :class:`TokenRepository`. The marker first: its condition is what bounds a flood, and a
        refusal there cancels the rest (the event, the history entry, ``last_tripped_at``) with it."""
        token = trip.token
        marker = {
            "TableName": self.table_name,
            "Item": {
                **canary_marker_key(token.token_id, trip.source),
                "tripped_at": {"S": trip.tripped_at},
                TTL_ATTRIBUTE: {"N": str(trip.marker_purge_at)},
            },
            "ConditionExpression": "attribute_not_exists(PK) OR tripped_at <= :not_since",
            "ExpressionAttributeValues": {":not_since": {"S": trip.not_since}},
        }
        noted: dict[str, Any] = {
            "TableName": self.table_name,
            "UpdateExpression": "SET last_tripped_at = :at",
            # Only on items that are there: a trip never brings a purged token's item back.
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":at": {"S": trip.tripped_at}},
        }
        items: list[Any] = [
            {"Put": marker},
            *updates(
                noted, token_key(token.org_id, token.app_id, token.token_id), credential_key(token.token_id)
            ),
            *self.outbox_puts(trip.events),
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException:
            return False  # this source tripped it within the minute (or the token is gone): nothing more
        except (BotoCoreError, ClientError) as error:
            # The answer is an unknown token's whatever happens here: a failed alarm must not tell.
            logger.warning("could not record a canary trip", extra={"error_type": type(error).__name__})
            return False
        return True
