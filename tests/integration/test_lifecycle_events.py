"""Every lifecycle event reaches EventBridge (moto's), once, with metadata and without a secret."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from functions.publish_events.app import lambda_handler as publish_handler
from shared.domain.lifecycle import (
    CREATED,
    DISABLED,
    ENABLED,
    EXPIRED,
    EXPIRING,
    REFRESH_REUSE,
    REVOKED,
    ROTATED,
    SOURCE,
    UPDATED,
)
from shared.entry.runtime import Runtime
from shared.services.sweep import sweep
from shared.services.tokens import IssuedToken
from tests.conftest import TABLE, TOKENS_URL, FakeClock, LambdaContextStub, call

# Every detail type the service publishes (CASCADE_PENDING is bookkeeping, never on the bus).
DETAIL_TYPES = (CREATED, REVOKED, ROTATED, EXPIRED, EXPIRING, REFRESH_REUSE)


def stream_records(dynamodb: Any, seen: set[str]) -> list[dict[str, Any]]:
    """The INSERT records the table's stream would deliver for outbox items not delivered yet."""
    records = []
    for item in dynamodb.scan(TableName=TABLE)["Items"]:
        key = item["PK"]["S"]
        if key.startswith("OUTBOX#") and key not in seen:
            seen.add(key)
            records.append(
                {
                    "eventID": key,
                    "eventName": "INSERT",
                    "eventSource": "aws:dynamodb",
                    "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/stream/2026",
                    "dynamodb": {
                        "Keys": {"PK": item["PK"], "SK": item["SK"]},
                        "NewImage": item,
                        "SequenceNumber": str(len(seen)),
                        "StreamViewType": "NEW_IMAGE",
                    },
                }
            )
    return records


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_every_event_once_and_no_secret(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, dynamodb: Any, bus_queue: str
) -> None:
    token = admin.plaintext_token
    secrets = [admin.plaintext_token, admin.refresh_token_plaintext]
    made = []
    for lifetime in ("reuse", "revoke", "expire", "warn"):
        expires = clock.now + (timedelta(hours=1) if lifetime == "expire" else timedelta(days=3))
        body = {"name": lifetime, "expires_at": expires.isoformat()}
        made.append(call("create_token", "POST", TOKENS_URL, token=token, body=body).json())
        clock.advance(seconds=1)
    reuse, revoke, _, _ = made
    rotated = call(
        "refresh_token",
        "POST",
        f"{TOKENS_URL}/{reuse['token']['token_id']}/refresh",
        body={"refresh_token": reuse["refresh_token_plaintext"]},
    ).json()
    clock.advance(seconds=runtime.settings.refresh_token_grace_seconds)  # a replay, not a retry
    assert (
        call(
            "refresh_token",
            "POST",
            f"{TOKENS_URL}/{reuse['token']['token_id']}/refresh",
            body={"refresh_token": reuse["refresh_token_plaintext"]},
        ).status
        == 401
    )
    assert (
        call(
            "revoke_token",
            "DELETE",
            f"{TOKENS_URL}/{revoke['token']['token_id']}",
            token=token,
            body={"reason": "left the team"},
        ).status
        == 204
    )
    clock.advance(hours=2)
    report = sweep(runtime, time_left=lambda: 60.0)  # the default lifetimes and week of warning
    # "expire" expired, "warn" expires within the week; revoked tokens are neither, the admin's lives a year.
    assert (report.expired, report.expiring_notified) == (1, 1)
    for issued in made:
        secrets += [issued["plaintext_token"], issued["refresh_token_plaintext"]]
    secrets += [rotated["plaintext_token"], rotated["refresh_token_plaintext"]]

    seen: set[str] = set()
    result = publish_handler({"Records": stream_records(dynamodb, seen)}, LambdaContextStub())
    assert result == {"batchItemFailures": []}
    events = received(bus_queue)
    kinds = sorted((e["detail-type"], e["detail"]["token_id"]) for e in events)
    ids = {
        name: issued["token"]["token_id"]
        for name, issued in zip(("reuse", "revoke", "expire", "warn"), made, strict=True)
    }
    assert kinds == sorted(
        [
            *((CREATED, token_id) for token_id in [admin.token.token_id, *ids.values()]),
            (ROTATED, ids["reuse"]),
            (REVOKED, ids["reuse"]),
            (REFRESH_REUSE, ids["reuse"]),
            (REVOKED, ids["revoke"]),
            (EXPIRED, ids["expire"]),
            (EXPIRING, ids["warn"]),
        ]
    )
    assert {e["source"] for e in events} == {SOURCE}
    assert {e["detail-type"] for e in events} <= set(DETAIL_TYPES)
    revoked = next(
        e for e in events if e["detail-type"] == REVOKED and e["detail"]["token_id"] == ids["revoke"]
    )
    assert revoked["detail"]["revoked_reason"] == "left the team"
    assert revoked["detail"]["token"]["name"] == "revoke"
    text = json.dumps(events)
    for secret in secrets:
        assert secret not in text and secret.rsplit("_", 1)[1] not in text
    assert "hash" not in text
    # A second delivery of nothing new publishes nothing.
    assert publish_handler({"Records": stream_records(dynamodb, seen)}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert received(bus_queue) == []


def test_a_refused_publish_is_reported_for_retry(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any, bus_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = stream_records(dynamodb, set())
    assert records  # the admin's "created" event

    def refuse(**_: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}

    with monkeypatch.context() as patch:
        patch.setattr(runtime.events, "put_events", refuse)
        result = publish_handler({"Records": records}, LambdaContextStub())
    assert result == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    assert publish_handler({"Records": records}, LambdaContextStub()) == {"batchItemFailures": []}
    assert [e["detail-type"] for e in received(bus_queue)] == [CREATED]


def test_an_update_a_disable_and_an_enable_through_the_api_each_publish_their_event(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, dynamodb: Any, bus_queue: str
) -> None:
    """Issue 15: the changed fields' names, never their values (those are in the history only)."""
    made = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "ci"}).json()
    path = f"{TOKENS_URL}/{made['token']['token_id']}"
    for body in ({"name": "ci-eu", "scopes": ["deploy"]}, {"enabled": False}, {"enabled": True}):
        clock.advance(seconds=1)
        assert call("update_token", "PATCH", path, token=admin.plaintext_token, body=body).status == 200
    seen: set[str] = set()
    assert publish_handler({"Records": stream_records(dynamodb, seen)}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    # The admin's own Created event (its bootstrap) is not this token's.
    events = [e for e in received(bus_queue) if e["detail"]["token_id"] == made["token"]["token_id"]]
    events.sort(key=lambda event: event["detail"]["occurred_at"])
    assert [event["detail-type"] for event in events] == [CREATED, UPDATED, DISABLED, ENABLED]
    assert all(event["source"] == SOURCE for event in events)
    changed = [sorted(event["detail"].get("changed_fields", [])) for event in events[1:]]
    assert changed == [["name", "scopes"], ["enabled"], ["enabled"]]
    assert "ci-eu" not in json.dumps(events[1]["detail"]["changed_fields"])
    published = json.dumps(events)
    assert made["plaintext_token"] not in published and made["refresh_token_plaintext"] not in published
