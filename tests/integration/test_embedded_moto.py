"""The embedded moto server under load (issue 12): lean transactions, nothing kept, one request at a time.

Every figure here is a count (items built, objects still alive, requests inside at once),
never a time: ``python -m benchmarks.embedded_load`` prints the times.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item

from devtools.moto_dynamodb import EmbeddedMotoServer, SerialisedApp, installed

TABLE = "lean"
SEEDED = 200  # items in the table before the transaction under test


def _client(endpoint: str | None = None) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)


def _make_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        # A stream, so that a cancelled transaction is seen to leave no record in it either.
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


def _seed(client: Any, count: int = SEEDED) -> None:
    for number in range(count):
        client.put_item(
            TableName=TABLE,
            Item={"PK": {"S": f"P#{number % 7}"}, "SK": {"S": f"S#{number}"}, "n": {"N": "1"}},
        )


def _put(pk: str, sk: str, **extra: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {"PK": {"S": pk}, "SK": {"S": sk}, "n": {"N": "1"}}, **extra}}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _moto_table() -> Any:
    return dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]


def _table_state() -> tuple[list[Any], list[str], int]:
    """What a client can see (a full scan), the partitions moto holds, and the stream's length."""
    table = _moto_table()
    scan = _client().scan(TableName=TABLE, ConsistentRead=True)["Items"]
    ordered = sorted(scan, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))
    partitions = sorted(str(key.value) for key in table.items)
    return ordered, partitions, len(table.stream_shard.items)


def test_a_transaction_builds_only_the_items_it_touches(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's own transaction deep-copies the whole table once per item: 2 x 200 items built here."""
    with mock_aws(), installed():
        client = _client()
        _make_table(client)
        _seed(client)
        built: list[Any] = []
        monkeypatch.setattr(Item, "instances_tracked", built)  # counts every Item constructed
        client.transact_write_items(
            TransactItems=[
                _put("P#new", "S#a", ConditionExpression="attribute_not_exists(PK)"),
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("P#1", "S#1"),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
    # Per touched item: its snapshot, the new item or the stream's copy of the old one.
    assert len(built) <= 4 * 2, f"{len(built)} items built for a transaction of 2 on a table of {SEEDED}"


def test_a_replaced_item_is_not_kept_alive() -> None:
    """moto logs every model instance it builds for its dashboard: each write's old item lived forever."""
    with mock_aws(), installed():
        client = _client()
        _make_table(client)
        table = _moto_table()
        gone = []
        for round_ in range(20):
            client.transact_write_items(TransactItems=[_put("P#1", "S#1"), _put("P#2", f"S#{round_}")])
            gone.append(weakref.ref(table.items[_dynamo("P#1")][_dynamo("S#1")]))
        table.stream_shard.items.clear()  # the stream holds images, not the items themselves, but be sure
        gc.collect()
        alive = sum(ref() is not None for ref in gone)
    assert alive == 1, f"{alive} of 20 replaced versions of one item still alive"  # only the current one


def _dynamo(value: str) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": value})


# Transactions whose answer and effect moto's own implementation is the reference for.
CANCELLED: dict[str, list[dict[str, Any]]] = {
    "a condition check fails after three writes": [
        _put("P#new", "S#new"),
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("P#1", "S#1"),
                "UpdateExpression": "SET n = :two, added = :x",
                "ExpressionAttributeValues": {":two": {"N": "2"}, ":x": {"S": "x"}},
            }
        },
        {"Delete": {"TableName": TABLE, "Key": _key("P#2", "S#2")}},
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": _key("P#3", "S#3"),
                "ConditionExpression": "attribute_not_exists(PK)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ],
    "a put's condition fails after an update": [
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("P#4", "S#4"),
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        _put("P#5", "S#5", ConditionExpression="attribute_not_exists(PK)"),
    ],
    "an update's expression is invalid after a put": [
        _put("P#new", "S#new"),
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("P#1", "S#1"),
                "UpdateExpression": "SET n = n + :text",
                "ExpressionAttributeValues": {":text": {"S": "text"}},
            }
        },
    ],
    "the same item twice": [_put("P#new", "S#new"), _put("P#new", "S#new")],
    "an update creates an item in a new partition, then a check fails": [
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("P#fresh", "S#1"),
                "UpdateExpression": "SET n = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": _key("P#fresh2", "S#1"),
                "ConditionExpression": "attribute_exists(PK)",
            }
        },
    ],
    "nothing fails": [
        _put("P#new", "S#new", ConditionExpression="attribute_not_exists(PK)"),
        {"Delete": {"TableName": TABLE, "Key": _key("P#2", "S#2")}},
    ],
}


def _outcome(implementation: Callable[[], AbstractContextManager[None]], items: list[dict[str, Any]]) -> Any:
    """The error (code, message, reasons) and the table before and after, on a fresh moto."""
    with mock_aws(), implementation():
        client = _client()
        _make_table(client)
        _seed(client, 30)
        before = _table_state()
        try:
            client.transact_write_items(TransactItems=items)
            error = None
        except ClientError as failure:
            error = (
                failure.response["Error"]["Code"],
                failure.response["Error"]["Message"],
                failure.response.get("CancellationReasons"),
            )
        return error, before, _table_state()


@pytest.mark.parametrize("case", CANCELLED)
def test_a_transaction_answers_and_rolls_back_as_moto_does(case: str) -> None:
    """All or nothing, through the lean implementation: the same answer as moto's, the same table after."""
    error, before, after = _outcome(installed, CANCELLED[case])
    assert (error, before, after) == _outcome(nullcontext, CANCELLED[case])
    if case != "nothing fails":
        assert error is not None
        assert after == before, "a cancelled transaction changed the table"


def test_a_malformed_second_item_leaves_the_first_unwritten() -> None:
    """moto raised mid-loop here and kept the first put; nothing may land from a refused request."""
    delete = {"TableName": TABLE, "Key": _key("P#x", "S#x")}
    two_operations = {"Put": _put("P#x", "S#x")["Put"], "Delete": delete}
    items = [_put("P#new", "S#new"), two_operations]
    with mock_aws(), installed():
        client = _client()
        _make_table(client)
        before = _table_state()
        with pytest.raises(ClientError, match="ValidationException"):
            client.transact_write_items(TransactItems=items)
        assert _table_state() == before


def test_serialised_app_lets_one_request_in_at_a_time() -> None:
    """The first request waits (up to 2 s) for a second one to arrive beside it; behind the lock none can."""
    inside = 0
    most = 0
    arrived = threading.Event()
    count_lock = threading.Lock()

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        nonlocal inside, most
        with count_lock:
            inside += 1
            most = max(most, inside)
            if inside > 1:
                arrived.set()
        arrived.wait(timeout=2)  # returns at once if a second request got in: the lock failed
        with count_lock:
            inside -= 1
        start_response("200 OK", [])
        yield b"ok"

    app = SerialisedApp(slow_app)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: app({}, lambda *args: None), range(2)))
    assert answers == [[b"ok"], [b"ok"]]
    assert most == 1


def test_concurrent_requests_through_the_embedded_server_all_land() -> None:
    """Four clients at once, each a hundred transactions on the same items: no error, no lost update."""
    with installed():
        server = EmbeddedMotoServer("127.0.0.1", 0)
        server.start()
        try:
            endpoint = f"http://127.0.0.1:{server.port}"
            _make_table(_client(endpoint))

            def bump(worker: int) -> None:
                client = _client(endpoint)
                for number in range(25):
                    client.transact_write_items(
                        TransactItems=[
                            {
                                "Update": {
                                    "TableName": TABLE,
                                    "Key": _key("P#counter", "S#0"),
                                    "UpdateExpression": "ADD n :one",
                                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                                }
                            },
                            _put(f"P#{worker}", f"S#{number}"),
                        ]
                    )
                    client.scan(TableName=TABLE)  # iterates the dicts the others write

            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(bump, range(4)))  # re-raises any worker's error
            client = _client(endpoint)
            counter = client.get_item(TableName=TABLE, Key=_key("P#counter", "S#0"), ConsistentRead=True)
            count = client.scan(TableName=TABLE, Select="COUNT")["Count"]
            client.delete_table(TableName=TABLE)  # the server's backend is this process's own
        finally:
            server.stop()
    assert counter["Item"]["n"] == {"N": "100"}
    assert count == 1 + 4 * 25
