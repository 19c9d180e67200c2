"""The expiry sweep: exact, idempotent, overlap-safe, resumable, and reading only what expired."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.domain.clock import to_iso
from shared.domain.crypto import new_token_id
from shared.domain.errors import AuthenticationFailed
from shared.domain.lifecycle import EXPIRED, EXPIRING
from shared.domain.records import Credential
from shared.entry.runtime import Runtime
from shared.services.authentication import parse_bearer, verify_access
from shared.services.deps import LifetimePolicy
from shared.services.sweep import ALL_SHARDS, SweepReport, shards_of, sweep
from shared.services.tokens import IssuedToken, refresh_token
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.items import expiry_shard, token_items
from shared.storage.repository import EXPIRY_SHARDS, TokenKey
from tests.conftest import APP, ORG, TABLE, FakeClock, LambdaContextStub, issue

POLICY = LifetimePolicy()


def make(runtime: Runtime, admin: IssuedToken, lifetime: timedelta) -> IssuedToken:
    return issue(runtime, admin, expires_at=runtime.clock() + lifetime)


def run(runtime: Runtime, time_left: float = 900.0) -> SweepReport:
    return sweep(runtime, time_left=lambda: time_left)


def outbox(runtime: Runtime, detail_type: str) -> list[str]:
    client: Any = runtime.repository.client  # type: ignore[attr-defined]
    items = client.scan(TableName=TABLE)["Items"]
    return sorted(i["token_id"]["S"] for i in items if i.get("detail_type", {}).get("S") == detail_type)


def test_finds_exactly_the_expired_and_only_once(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    short = [make(runtime, admin, timedelta(hours=1)) for _ in range(3)]
    long = [make(runtime, admin, timedelta(days=60)) for _ in range(3)]
    clock.advance(hours=2)
    first = run(runtime)
    assert (first.expired, first.complete) == (3, True)
    assert outbox(runtime, EXPIRED) == sorted(t.token.token_id for t in short)
    second = run(runtime)
    assert (second.expired, second.expiring_notified, second.items_read) == (0, 0, 0)
    for token in short:
        with pytest.raises(AuthenticationFailed):
            verify_access(runtime, parse_bearer(f"Bearer {token.plaintext_token}"))
        with pytest.raises(AuthenticationFailed):
            refresh_token(runtime, TokenKey(ORG, APP, token.token.token_id), token.refresh_token_plaintext)
    for token in long:
        assert verify_access(runtime, parse_bearer(f"Bearer {token.plaintext_token}"))


def test_expired_tokens_get_a_ttl_and_lose_their_hashes(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    token = make(runtime, admin, timedelta(minutes=1))
    expired_at = clock.now + timedelta(minutes=1)
    clock.advance(minutes=20)
    run(runtime)
    client: Any = runtime.repository.client  # type: ignore[attr-defined]
    items = [
        i
        for i in client.scan(TableName=TABLE)["Items"]
        if token.token.token_id in i["PK"]["S"] + i["SK"]["S"]
    ]
    # its two items, and the link from the token that created it, which goes at the same time; its
    # history entries (created, expired) last as long: expiry plus the retention (issue 15)
    history = [i for i in items if i["SK"]["S"].startswith("HISTORY#")]
    assert sorted(i["type"]["S"] for i in history) == ["created", "expired"]
    assert len(items) - len(history) == 3
    expected_purge = int((expired_at + POLICY.retention).timestamp())  # counted from expiry, not the sweep
    for item in items:
        assert int(item["purge_at"]["N"]) == expected_purge
        assert not {"access_hash", "refresh_hash", "expiry_shard", "warning_shard"} & set(item)


def test_warns_once_per_token_inside_the_window(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    soon = [make(runtime, admin, timedelta(days=3)) for _ in range(2)]
    later = make(runtime, admin, timedelta(days=30))
    first = run(runtime)
    assert (first.expired, first.expiring_notified) == (0, 2)
    assert run(runtime).expiring_notified == 0
    clock.advance(days=24)
    late_run = run(runtime)
    assert (late_run.expired, late_run.expiring_notified) == (2, 1)
    assert outbox(runtime, EXPIRING) == sorted([t.token.token_id for t in soon] + [later.token.token_id])
    clock.advance(days=10)
    assert run(runtime).expired == 1


def test_revoked_tokens_are_neither_expired_nor_warned(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    from shared.services.tokens import revoke_token

    token = make(runtime, admin, timedelta(days=1))
    revoke_token(runtime, admin.token, TokenKey(ORG, APP, token.token.token_id), None)
    clock.advance(days=2)
    report = run(runtime)
    assert (report.expired, report.expiring_notified, report.items_read) == (0, 0, 0)


def bulk_load_tokens(runtime: Runtime, admin: IssuedToken, count: int, lifetime: timedelta) -> None:
    """Real token items, written in batches: moto copies every table on each transaction."""
    client: Any = runtime.repository.client  # type: ignore[attr-defined]
    now = runtime.clock()
    items = []
    for _ in range(count):
        token_id = new_token_id(now)
        token = replace(admin.token, token_id=token_id, name="bulk", expires_at=to_iso(now + lifetime))
        items += token_items(Credential(token=token, access_hash=token_id, refresh_hash=token_id))
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={TABLE: requests})


@pytest.mark.parametrize("expired_count", [2, 8])
def test_reads_follow_the_expired_count_not_the_table(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, expired_count: int
) -> None:
    bulk_load_tokens(runtime, admin, 2000, timedelta(days=30))
    bulk_load_tokens(runtime, admin, expired_count, timedelta(minutes=10))
    clock.advance(hours=1)
    report = run(runtime)
    assert report.expired == expired_count
    assert report.items_read == expired_count


@pytest.mark.also_on_dynamodb_local
def test_overlapping_sweeps_act_once_per_token(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, race_client: Any
) -> None:
    runtime.repository = DynamoDBTokenRepository(TABLE, race_client)
    tokens = [make(runtime, admin, timedelta(minutes=5)) for _ in range(40)]
    clock.advance(minutes=10)
    barrier = threading.Barrier(3)

    def overlapping(_: int) -> SweepReport:
        barrier.wait()
        return run(runtime)

    with ThreadPoolExecutor(3) as pool:
        reports = list(pool.map(overlapping, range(3)))
    assert sum(r.expired for r in reports) == len(tokens)
    assert outbox(runtime, EXPIRED) == sorted(t.token.token_id for t in tokens)  # each event once


def test_stops_near_the_time_limit_and_the_next_run_carries_on(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    for _ in range(6):
        make(runtime, admin, timedelta(minutes=5))
    clock.advance(minutes=10)
    budget = iter([10.0, 10.0, 1.0])
    partial = sweep(runtime, time_left=lambda: next(budget, 1.0))
    assert (partial.expired, partial.complete) == (2, False)
    rest = run(runtime)
    assert (rest.expired, rest.complete) == (4, True)


def test_the_scheduled_function_returns_and_logs_its_counts(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    from functions.sweep_expired_tokens.app import lambda_handler

    make(runtime, admin, timedelta(minutes=5))
    make(runtime, admin, timedelta(days=2))
    clock.advance(minutes=10)

    assert lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, LambdaContextStub()
    ) == {
        "expired": 1,
        "expiring_notified": 1,
    }
    [logged] = [record for record in caplog.records if record.getMessage() == "sweep finished"]
    assert (logged.expired, logged.expiring_notified) == (1, 1)  # type: ignore[attr-defined]
    assert logged.shards == list(ALL_SHARDS)  # type: ignore[attr-defined]


def test_the_scheduled_function_sweeps_the_shards_its_event_names(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    from functions.sweep_expired_tokens.app import lambda_handler

    token = make(runtime, admin, timedelta(minutes=5))
    clock.advance(minutes=10)
    shard = int(expiry_shard(token.token.token_id))
    others = [s for s in ALL_SHARDS if s != shard]
    assert lambda_handler({"shards": others}, LambdaContextStub())["expired"] == 0
    assert lambda_handler({"shards": [shard]}, LambdaContextStub())["expired"] == 1


def test_runs_over_groups_of_shards_retire_each_token_once(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    tokens = [make(runtime, admin, timedelta(minutes=5)) for _ in range(40)]
    clock.advance(minutes=10)
    groups = [ALL_SHARDS[start : start + 4] for start in range(0, EXPIRY_SHARDS, 4)]
    by_group = [sweep(runtime, time_left=lambda: 900.0, shards=group) for group in groups]
    for group, report in zip(groups, by_group, strict=True):
        in_group = [t for t in tokens if int(expiry_shard(t.token.token_id)) in group]
        assert (report.expired, report.items_read) == (len(in_group), len(in_group))
    assert outbox(runtime, EXPIRED) == sorted(t.token.token_id for t in tokens)  # each event once
    assert run(runtime).expired == 0


@pytest.mark.parametrize(
    "shards",
    [[], [16], [-1], [0, 0], ["0"], [1.0], [True], "0-3", {"0": 1}, 3],
    ids=repr,
)
def test_a_malformed_shard_list_fails_the_run(shards: Any) -> None:
    with pytest.raises(ValueError, match="shards must be"):
        shards_of({"shards": shards})


def test_an_event_without_shards_sweeps_them_all() -> None:
    assert shards_of({"source": "aws.events", "detail-type": "Scheduled Event"}) == ALL_SHARDS
    assert shards_of({"shards": [15, 3]}) == (15, 3)
