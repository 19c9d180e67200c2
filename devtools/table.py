"""The table's shape and its creation: local runs, tests and benchmarks only (in AWS the stack owns it).

template.yaml declares the same table; tests/unit/test_template.py keeps the two in step. The
index names, the TTL attribute and the shard count stay in ``shared.storage``: the running
functions query them, and this module reads them from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.items import EXPIRING_INDEX, EXPIRY_INDEX, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from shared.entry.runtime import Runtime

KEY_SCHEMA = [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": name, "AttributeType": "S"}
    for name in ("PK", "SK", "expiry_shard", "warning_shard", "expires_at")
]
GLOBAL_SECONDARY_INDEXES = [
    {
        "IndexName": index,
        "KeySchema": [
            {"AttributeName": shard_attribute, "KeyType": "HASH"},
            {"AttributeName": "expires_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
    for index, shard_attribute in ((EXPIRY_INDEX, "expiry_shard"), (EXPIRING_INDEX, "warning_shard"))
]


def create_table(client: DynamoDBClient, table_name: str) -> bool:
    """Create the table with its indexes and TTL, waiting until it is active; ``False`` if it exists."""
    try:
        client.create_table(
            TableName=table_name,
            KeySchema=KEY_SCHEMA,  # type: ignore[arg-type]
            AttributeDefinitions=ATTRIBUTE_DEFINITIONS,  # type: ignore[arg-type]
            GlobalSecondaryIndexes=GLOBAL_SECONDARY_INDEXES,  # type: ignore[arg-type]
            BillingMode="PAY_PER_REQUEST",
        )
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return True


def create_runtime_table(runtime: Runtime) -> bool:
    """Create the runtime's table through its repository's own client (the endpoint requests will use)."""
    repository = runtime.repository
    # Only the DynamoDB adapter has a table; a stand-in repository has nothing to create.
    if not isinstance(repository, DynamoDBTokenRepository):
        raise TypeError(f"the runtime's repository is not on DynamoDB: {type(repository).__name__}")
    return create_table(repository.client, repository.table_name)
