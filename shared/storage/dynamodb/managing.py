"""The DynamoDB adapter's day-to-day management (issue 15): an edit's transaction, a token's history."""

from __future__ import annotations

from typing import Any

from shared.domain.records import TokenRecord
from shared.storage.dynamodb.credits import credits_guard, draw_item
from shared.storage.dynamodb.table import Table
from shared.storage.items import (
    HISTORY_SK_PREFIX,
    credential_key,
    history_from_item,
    to_attribute,
    token_key,
)
from shared.storage.repository import HistoryEntry, HistoryItems, TokenEdit, TokenMissing


def _edit_expression(before: TokenRecord, after: TokenRecord) -> dict[str, Any]:
    """The update of the fields an edit changed (a field set to ``None`` is removed), by placeholders.

    Only what changed is written, so that a rotation or ``last_used_at`` landing meanwhile is kept.
    """
    old = vars(before)
    sets, removes = [], []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for index, (name, value) in enumerate(vars(after).items()):
        if value == old[name]:
            continue
        names[f"#f{index}"] = name  # placeholders: ``name`` is one of DynamoDB's reserved words
        if value is None:
            removes.append(f"#f{index}")
        else:
            sets.append(f"#f{index} = :v{index}")
            values[f":v{index}"] = to_attribute(value)
    expression = ("SET " + ", ".join(sets) if sets else "") + (
        " REMOVE " + ", ".join(removes) if removes else ""
    )
    return {"UpdateExpression": expression.strip(), "ExpressionAttributeNames": names, "values": values}


class ManagingOperations(Table):
    """What the get, update and history use cases need beyond the request path's reads."""

    def update_token(self, edit: TokenEdit) -> bool:
        """See :class:`TokenRepository`. One transaction: the metadata, the credential, events, history.

        Conditioned on the revision read (so of two edits that read the same token one lands),
        on the token being unrevoked and still in the expiry index (not swept).
        """
        before, after = edit.before, edit.after
        expression = _edit_expression(before, after)
        values = expression.pop("values")
        if before.revision is None:
            same_revision = "attribute_not_exists(revision)"
        else:
            same_revision = "revision = :read_revision"
            values[":read_revision"] = {"N": str(before.revision)}
        update = {"TableName": self.table_name, **expression}
        if values:
            update["ExpressionAttributeValues"] = values
        metadata = {
            **update,
            "Key": token_key(before.org_id, before.app_id, before.token_id),
            "ConditionExpression": f"attribute_exists(expiry_shard) AND attribute_not_exists(revoked_at) "
            f"AND {same_revision}",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        # The credential's copy of the record moves in step; its revision is the metadata's.
        credential = {
            **update,
            "Key": credential_key(before.token_id),
            "ConditionExpression": f"attribute_exists(PK) AND {same_revision}",
        }
        if edit.credits_read is not None:
            # Issue 16: a spend landing since the read makes the edit a conflict, not lost credits.
            guard, guard_values = credits_guard(edit.credits_read)
            credential["ConditionExpression"] += f" AND {guard}"
            credential["ExpressionAttributeValues"] = {**values, **guard_values}
        items: list[Any] = [{"Update": metadata}, {"Update": credential}]
        if edit.funding is not None:
            items.append(draw_item(self.table_name, edit.funding))
        items.extend(self.outbox_puts(edit.events))
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            # The metadata, the credential, and the editor's credits when it pays (issue 16).
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons[:3]):
                if reasons[0].get("Code") == "ConditionalCheckFailed" and reasons[0].get("Item") is None:
                    raise TokenMissing from None
                return False
            raise
        return True

    def token_history(self, token_id: str, limit: int, after: str | None) -> HistoryItems:
        """See :class:`TokenRepository`. One strongly consistent Query of the token's own partition."""
        items, last = self.partition_page(token_id, HISTORY_SK_PREFIX, (limit, after), newest_first=True)
        return HistoryItems(
            entries=[
                HistoryEntry(
                    org_id=item["org_id"]["S"], app_id=item["app_id"]["S"], event=history_from_item(item)
                )
                for item in items
            ],
            last_key=last,
        )
