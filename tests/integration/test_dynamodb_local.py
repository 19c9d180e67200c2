"""What only the DynamoDB Local tier can show: the stream publisher fed by a real DynamoDB stream.

moto's Streams endpoint does not answer current botocore, so the moto tier builds the stream's
records by hand from a scan (``test_lifecycle_events.stream_records``). Here the table has the
stream ``template.yaml`` gives it (``NEW_IMAGE``), the records are read with boto3's
``dynamodbstreams`` client from DynamoDB Local, and the publisher's handler gets them as Lambda's
event source mapping would hand them over. EventBridge stays moto: the events are read back from
an SQS queue a rule on the bus fills (``bus_queue``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
import pytest

from functions.publish_events.app import lambda_handler as publish
from shared.domain.lifecycle import CREATED, REVOKED, ROTATED, SOURCE
from shared.entry.runtime import Runtime
from tests.conftest import APP, ORG, TABLE, TOKENS_URL, LambdaContextStub, call, mint_admin
from tests.integration.test_lifecycle_events import received

pytestmark = pytest.mark.dynamodb_local


def stream_arn(dynamodb: Any) -> str:
    """Turn the table's stream on, as template.yaml declares it, and return its ARN."""
    dynamodb.update_table(
        TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    arn: str = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    return arn


def read_stream(dynamodb: Any, arn: str) -> list[dict[str, Any]]:
    """Every record of every shard from the start, as Lambda's event source mapping delivers them.

    The mapping adds ``eventSourceARN`` and sends ``ApproximateCreationDateTime`` as epoch
    seconds (boto3 parses it into a datetime); nothing else about a record is changed.
    """
    streams = boto3.client(
        "dynamodbstreams", region_name="us-east-1", endpoint_url=dynamodb.meta.endpoint_url
    )
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break  # an open shard always has a next iterator: stop at the first empty read
            records += page["Records"]
            iterator = page.get("NextShardIterator")
    for record in records:
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
        record["eventSourceARN"] = arn
    return records


def test_the_publisher_puts_each_event_of_a_real_stream_once(
    runtime: Runtime, dynamodb: Any, bus_queue: str
) -> None:
    arn = stream_arn(dynamodb)
    admin = mint_admin(runtime, ORG, APP, ["*"])
    created = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "s"}).json()
    token_id = created["token"]["token_id"]
    body = {"refresh_token": created["refresh_token_plaintext"]}
    assert call("refresh_token", "POST", f"{TOKENS_URL}/{token_id}/refresh", body=body).status == 200
    path = f"{TOKENS_URL}/{token_id}"
    assert call("revoke_token", "DELETE", path, token=admin.plaintext_token).status == 204

    records = read_stream(dynamodb, arn)
    # The stream carries every write (tokens, credentials, links, modifies), not only the outbox.
    assert {"INSERT", "MODIFY"} <= {record["eventName"] for record in records}
    assert publish({"Records": records}, LambdaContextStub()) == {"batchItemFailures": []}
    events = received(bus_queue)
    assert {event["source"] for event in events} == {SOURCE}
    published = sorted((event["detail-type"], event["detail"]["token_id"]) for event in events)
    assert published == sorted(
        [(CREATED, admin.token.token_id), (CREATED, token_id), (ROTATED, token_id), (REVOKED, token_id)]
    )
