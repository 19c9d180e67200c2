"""Storage: the repository interface and its DynamoDB implementation (one table, single-table design).

Item layout (``PK`` / ``SK``):

- ``ORG#<org>#APP#<app>`` / ``APP``: the app's registration.
- ``ORG#<org>#APP#<app>`` / ``TOKEN#<token_id>``: the token's metadata; one
  Query lists an app's tokens newest first, since token ids sort by time.
- ``TOKEN#<token_id>`` / ``CREDENTIAL``: a copy of the metadata plus the keyed
  hashes of the access and refresh secrets. The token id inside a presented
  secret finds it with one strongly consistent GetItem.

The two token items are always written together in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.aws import new_dynamodb_client
from shared.records import Credential, TokenPage, TokenRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

StatusFilter = Literal["active", "expired", "revoked"]
APP_SK = "APP"
CREDENTIAL_SK = "CREDENTIAL"
TOKEN_SK_PREFIX = "TOKEN#"
TTL_ATTRIBUTE = "purge_at"

# The table's key schema. template.yaml declares the same; a test keeps the two in step.
KEY_SCHEMA = [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": "PK", "AttributeType": "S"},
    {"AttributeName": "SK", "AttributeType": "S"},
]
_TOKEN_FIELDS = tuple(f.name for f in fields(TokenRecord))
_INT_FIELDS = {"rate_limit_rps", "rate_limit_burst"}
_LIST_FIELDS = {
    "scopes",
    "permissions",
    "workspace_ids",
    "namespace_ids",
    "environment_ids",
    "endpoint_paths",
}


class AppNotRegistered(Exception):
    """Create was asked for an app that has no registration."""


class TokenMissing(Exception):
    """Revoke was asked for a token that does not exist in that org and app."""


class TokenRepository(Protocol):
    """What the use cases need from storage."""

    def get_credential(self, token_id: str) -> Credential | None:
        """The token and its secret hashes, read strongly consistently."""

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

    def create_token(self, credential: Credential) -> None:
        """Store a new token, all or nothing, if its app is registered (else ``AppNotRegistered``)."""

    def revoke_token(
        self, org_id: str, app_id: str, token_id: str, revoked_at: str, reason: str | None
    ) -> bool:
        """Mark a token revoked; ``False`` when it already was (first revocation kept)."""

    def record_use(self, token: TokenRecord, used_at: str, not_since: str) -> bool:
        """Set ``last_used_at`` unless it is already later than ``not_since``; best effort."""

    def register_app(self, org_id: str, app_id: str, registered_at: str) -> bool:
        """Register an app; ``False`` when it already was."""

    def create_table(self) -> bool:
        """Create the table if it does not exist (local and test use); ``False`` when it did."""


def app_key(org_id: str, app_id: str) -> dict[str, Any]:
    """The DynamoDB key of an app's registration."""
    return {"PK": {"S": f"ORG#{org_id}#APP#{app_id}"}, "SK": {"S": APP_SK}}


def token_key(org_id: str, app_id: str, token_id: str) -> dict[str, Any]:
    """The DynamoDB key of a token's metadata item."""
    return {"PK": {"S": f"ORG#{org_id}#APP#{app_id}"}, "SK": {"S": TOKEN_SK_PREFIX + token_id}}


def credential_key(token_id: str) -> dict[str, Any]:
    """The DynamoDB key of a token's credential item."""
    return {"PK": {"S": f"TOKEN#{token_id}"}, "SK": {"S": CREDENTIAL_SK}}


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


def _record_attributes(record: TokenRecord) -> dict[str, Any]:
    # Unset fields are left out rather than stored as NULL, so that if_not_exists and
    # attribute_not_exists work on them.
    return {name: _to_attribute(value) for name, value in asdict(record).items() if value is not None}


def _record_from_item(item: Mapping[str, Any]) -> TokenRecord:
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


class DynamoDBTokenRepository:
    """The repository on one DynamoDB table, through a boto3 client built only when first needed."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        """The boto3 DynamoDB client: the one passed in, or one created on first use."""
        if self._client is None:
            self._client = new_dynamodb_client()
        return self._client

    def get_credential(self, token_id: str) -> Credential | None:
        """See :class:`TokenRepository`."""
        item = self.client.get_item(
            TableName=self.table_name, Key=credential_key(token_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return Credential(
            token=_record_from_item(item),
            access_hash=item["access_hash"]["S"],
            refresh_hash=item["refresh_hash"]["S"],
        )

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
            _record_from_item(item)
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

    def create_token(self, credential: Credential) -> None:
        """See :class:`TokenRepository`. One transaction: app check, token item, credential item."""
        token = credential.token
        attributes = _record_attributes(token)
        credential_item = {
            **attributes,
            **credential_key(token.token_id),
            "access_hash": {"S": credential.access_hash},
            "refresh_hash": {"S": credential.refresh_hash},
        }
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table_name,
                            "Key": app_key(token.org_id, token.app_id),
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {**attributes, **token_key(token.org_id, token.app_id, token.token_id)},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": credential_item,
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as error:
            if _reason_codes(error)[0] == "ConditionalCheckFailed":
                raise AppNotRegistered from None
            raise

    def revoke_token(
        self, org_id: str, app_id: str, token_id: str, revoked_at: str, reason: str | None
    ) -> bool:
        """See :class:`TokenRepository`. One transaction over the token's two items."""
        assignments = ["revoked_at = :revoked_at"]
        values: dict[str, Any] = {":revoked_at": {"S": revoked_at}}
        if reason is not None:
            assignments.append("revoked_reason = :reason")
            values[":reason"] = {"S": reason}
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(revoked_at)",
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            self.client.transact_write_items(
                TransactItems=_updates(update, token_key(org_id, app_id, token_id), credential_key(token_id))
            )
        except self.client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                old = reasons[0].get("Item")
                if old is None:
                    raise TokenMissing from None
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
        try:
            self.client.transact_write_items(
                TransactItems=_updates(
                    update,
                    credential_key(token.token_id),
                    token_key(token.org_id, token.app_id, token.token_id),
                )
            )
        except self.client.exceptions.TransactionCanceledException:
            return False
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

    def create_table(self) -> bool:
        """Create the table (local and test use; in AWS the stack owns it). ``False`` if it exists."""
        try:
            self.client.create_table(
                TableName=self.table_name,
                KeySchema=KEY_SCHEMA,  # type: ignore[arg-type]
                AttributeDefinitions=ATTRIBUTE_DEFINITIONS,  # type: ignore[arg-type]
                BillingMode="PAY_PER_REQUEST",
            )
        except self.client.exceptions.ResourceInUseException:
            return False
        self.client.get_waiter("table_exists").wait(TableName=self.table_name)
        return True


_STATUS_FILTERS: dict[str, str] = {
    "revoked": "attribute_exists(revoked_at)",
    "expired": "attribute_not_exists(revoked_at) AND expires_at <= :now",
    "active": "attribute_not_exists(revoked_at) AND expires_at > :now",
}


def _updates(update: dict[str, Any], *keys: dict[str, Any]) -> list[Any]:
    """The same update applied to several items, as the items of one transaction."""
    return [{"Update": {**update, "Key": key}} for key in keys]


def _reason_codes(error: Any) -> Sequence[str]:
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]
