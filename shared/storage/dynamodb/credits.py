"""The DynamoDB adapter's usage spends (issue 16): the rate-limit bucket and the credits in one write.

A verification's spend is one conditional UpdateItem of the credential item; the credits a
create or an edit takes from its giver are the same expression as one item of its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.domain.credits import CreditSpend
from shared.domain.records import Bucket
from shared.storage.dynamodb.table import Table
from shared.storage.items import bucket_from_item, credential_key
from shared.storage.repository import BucketWrite, CreditDraw, CreditsRead, UsageSpend, UsageState


@dataclass
class _Expression:
    """An update being built: its assignments, its conditions (all must hold) and their values."""

    sets: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def update(self, table_name: str, token_id: str) -> dict[str, Any]:
        """The UpdateItem (or transaction Update) of the token's credential item."""
        request: dict[str, Any] = {
            "TableName": table_name,
            "Key": credential_key(token_id),
            "UpdateExpression": "SET " + ", ".join(self.sets),
            "ConditionExpression": " AND ".join(self.conditions),
        }
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


def _bucket(expression: _Expression, bucket: BucketWrite) -> None:
    expression.sets.append("bucket_level = :level, bucket_at = :at, bucket_version = :next")
    expression.values.update(
        {
            ":level": {"N": repr(bucket.level)},
            ":at": {"N": str(bucket.at_ms)},
            ":next": {"N": str((bucket.expected_version or 0) + 1)},
        }
    )
    if bucket.expected_version is None:
        expression.conditions.append("attribute_exists(PK) AND attribute_not_exists(bucket_version)")
    else:
        expression.conditions.append("bucket_version = :expected")
        expression.values[":expected"] = {"N": str(bucket.expected_version)}


def _credits(expression: _Expression, spend: CreditSpend) -> None:
    if spend.refills:
        # The first use of a new period: the figure is the refill's amount, less this spend. Only
        # if nobody began the period first (else this one decides again on what that one left).
        assert spend.refill_amount is not None and spend.period is not None
        expression.sets.append("credits_remaining = :fresh, credits_period = :period")
        expression.values[":fresh"] = {"N": str(spend.refill_amount - spend.cost)}
        expression.values[":period"] = {"S": spend.period}
        if spend.read_period is None:
            expression.conditions.append("attribute_exists(credits_remaining)")
            expression.conditions.append("attribute_not_exists(credits_period)")
        else:
            expression.conditions.append("credits_period = :read_period")
            expression.values[":read_period"] = {"S": spend.read_period}
        return
    # Subtracted in place under ``remaining >= cost``: concurrent spends never take one credit twice.
    expression.sets.append("credits_remaining = credits_remaining - :cost")
    expression.conditions.append("credits_remaining >= :cost")
    expression.values[":cost"] = {"N": str(spend.cost)}
    if spend.period is not None:
        expression.conditions.append("credits_period = :period")
        expression.values[":period"] = {"S": spend.period}


def spend_expression(spend: UsageSpend) -> _Expression:
    """The one update of a verification's spend: the bucket's assignments and the credits', every
    condition of both."""
    expression = _Expression()
    if spend.bucket is not None:
        _bucket(expression, spend.bucket)
    if spend.credits is not None:
        _credits(expression, spend.credits)
    return expression


def draw_item(table_name: str, draw: CreditDraw) -> dict[str, Any]:
    """The transaction item that takes a giver's credits (or checks that it holds no limit)."""
    if draw.spend is None:
        check = {
            "TableName": table_name,
            "Key": credential_key(draw.token_id),
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(credits_remaining)",
        }
        return {"ConditionCheck": check}
    expression = _Expression()
    _credits(expression, draw.spend)
    return {"Update": expression.update(table_name, draw.token_id)}


def credits_guard(read: CreditsRead) -> tuple[str, dict[str, Any]]:
    """The condition that the credential's credits are still as an edit read them, and its values."""
    conditions, values = [], {}
    if read.remaining is None:
        conditions.append("attribute_not_exists(credits_remaining)")
    else:
        conditions.append("credits_remaining = :read_credits")
        values[":read_credits"] = {"N": str(read.remaining)}
    if read.period is None:
        conditions.append("attribute_not_exists(credits_period)")
    else:
        conditions.append("credits_period = :read_credits_period")
        values[":read_credits_period"] = {"S": read.period}
    return " AND ".join(conditions), values


class CreditOperations(Table):
    """A verification's spend of its bucket and credits (see :class:`TokenRepository`)."""

    def spend_usage(self, spend: UsageSpend) -> UsageState | None:
        """See :class:`TokenRepository`. One conditional UpdateItem; a refusal carries the item as the
        winner left it (``ALL_OLD``), so deciding again costs no read."""
        request = spend_expression(spend).update(self.table_name, spend.token_id)
        try:
            self.client.update_item(**request, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except self.client.exceptions.ConditionalCheckFailedException as error:
            item: Any = error.response.get("Item") or {}
            remaining, period = item.get("credits_remaining"), item.get("credits_period")
            return UsageState(
                bucket=bucket_from_item(item),
                credits_remaining=int(remaining["N"]) if remaining else None,
                credits_period=period["S"] if period else None,
            )
        return None

    def spend_from_bucket(
        self, token_id: str, level: float, at_ms: int, expected_version: int | None
    ) -> Bucket | None:
        """See :class:`TokenRepository`. :meth:`spend_usage` with the bucket alone."""
        state = self.spend_usage(UsageSpend(token_id, bucket=BucketWrite(level, at_ms, expected_version)))
        if state is None:
            return None
        return state.bucket or Bucket(level=0.0, at_ms=at_ms, version=-1)
