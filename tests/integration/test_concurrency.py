"""Concurrent creates and revokes from threads: nothing lost, nothing half-written.

The use cases are driven directly: Powertools keeps the current event on a class
attribute, so one process serves one request at a time through the handlers, as
Lambda does. Concurrency between Lambda containers meets in DynamoDB, and that is
what these threads exercise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from shared.domain.crypto import parse_secret
from shared.domain.errors import AuthenticationFailed
from shared.domain.lifecycle import REVOKED, ROTATED
from shared.entry.runtime import Runtime
from shared.services.authentication import verify_access
from shared.services.listing import PageRequest, list_tokens
from shared.services.tokens import (
    IssuedToken,
    refresh_token,
    revoke_token,
)
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.repository import TokenKey
from tests.conftest import APP, ORG, TABLE, issue
from tests.invariants import assert_invariants, count_events, table_items

THREADS = 8


# Every test here runs on moto and, in the DynamoDB Local tier, on AWS's emulator with real concurrency.
pytestmark = pytest.mark.also_on_dynamodb_local


@pytest.fixture(autouse=True)
def serialized(runtime: Runtime, race_client: Any) -> None:
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, race_client))


def admitted_across_threads(attempt: Callable[[], bool], threads: int, each: int) -> int:
    """How many of ``threads`` x ``each`` attempts, started together, were admitted."""
    barrier = threading.Barrier(threads)

    def attempts(_: int) -> int:
        barrier.wait()
        return sum(attempt() for _ in range(each))

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(attempts, range(threads)))


def create(runtime: Runtime, admin: IssuedToken, name: str) -> IssuedToken:
    return issue(runtime, admin, name=name)


def all_tokens(runtime: Runtime, admin: IssuedToken) -> list[Any]:
    page = list_tokens(runtime, admin.token, ORG, APP, PageRequest(limit=100, next_token=None, status=None))
    return page.tokens


def test_concurrent_creates_lose_nothing(runtime: Runtime, admin: IssuedToken) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        issued = list(pool.map(lambda i: create(runtime, admin, f"t{i}"), range(40)))
    listed = {token.token_id for token in all_tokens(runtime, admin)}
    assert {i.token.token_id for i in issued} | {admin.token.token_id} == listed
    for token in issued:
        credential = runtime.repository.get_credential(token.token.token_id)
        assert credential is not None and credential.token == token.token
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


def test_racing_revokes_keep_exactly_one_reason(runtime: Runtime, admin: IssuedToken) -> None:
    victims = [create(runtime, admin, f"v{i}") for i in range(5)]
    jobs = [(victim.token.token_id, f"reason-{n}") for victim in victims for n in range(THREADS)]

    def revoke(job: tuple[str, str]) -> tuple[str, str, bool]:
        token_id, reason = job
        return (
            token_id,
            reason,
            revoke_token(runtime, admin.token, TokenKey(ORG, APP, token_id), reason),
        )

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(revoke, jobs))
    client: Any = runtime.repository.client  # type: ignore[attr-defined]
    for victim in victims:
        token_id = victim.token.token_id
        winners = [reason for tid, reason, won in outcomes if tid == token_id and won]
        assert len(winners) == 1
        credential = runtime.repository.get_credential(token_id)
        assert credential is not None and credential.token.revoked_reason == winners[0]
        listed = next(t for t in all_tokens(runtime, admin) if t.token_id == token_id)
        assert (listed.revoked_at, listed.revoked_reason) == (credential.token.revoked_at, winners[0])
    items = client.scan(TableName=TABLE)["Items"]
    outbox = [item for item in items if item["PK"]["S"].startswith("OUTBOX#")]
    history = [item for item in items if item["SK"]["S"].startswith("HISTORY#")]
    # the app, two items per token, and the link from the admin's token to each victim it created
    assert len(items) - len(outbox) - len(history) == 1 + 2 * (1 + len(victims)) + len(victims)
    # one history entry per event but the expiry warning: created for each token, revoked per victim
    assert len(history) == len(outbox)
    revoked_events = sorted(item["token_id"]["S"] for item in outbox if item["detail_type"]["S"] == REVOKED)
    assert revoked_events == sorted(victim.token.token_id for victim in victims)  # one event per revocation
    assert_invariants(items)


def test_revoke_racing_creates_leaves_both_consistent(runtime: Runtime, admin: IssuedToken) -> None:
    target = create(runtime, admin, "target")

    def work(n: int) -> Any:
        if n % 5 == 0:
            return revoke_token(runtime, admin.token, TokenKey(ORG, APP, target.token.token_id), "race")
        return create(runtime, admin, f"c{n}")

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(30)))
    assert sum(1 for r in results if r is True) == 1
    created = [r for r in results if isinstance(r, IssuedToken)]
    assert len(all_tokens(runtime, admin)) == 2 + len(created)
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


def test_revoke_racing_refresh_always_ends_revoked(runtime: Runtime, admin: IssuedToken) -> None:
    """Revoke wins in the end, whichever write lands first.

    Documented outcomes, per token: the refresh lands first (200; the rotated secrets then
    die with the revocation), or the revoke lands first (the refresh is the one 401, either
    ``revoked`` when it read the token after the revoke or ``refresh_race_lost`` when its
    conditional write lost). Never a live token, never a half-rotated one.
    """
    victims = [create(runtime, admin, f"r{i}") for i in range(12)]

    def rotate(victim: IssuedToken) -> IssuedToken | str:
        try:
            return refresh_token(
                runtime, TokenKey(ORG, APP, victim.token.token_id), victim.refresh_token_plaintext
            )
        except AuthenticationFailed as failure:
            return failure.reason

    def revoke(victim: IssuedToken) -> bool:
        token_id = victim.token.token_id
        return revoke_token(runtime, admin.token, TokenKey(ORG, APP, token_id), "race")

    with ThreadPoolExecutor(THREADS) as pool:
        rotations = [pool.submit(rotate, victim) for victim in victims]
        revocations = [pool.submit(revoke, victim) for victim in victims]
        outcomes = [(r.result(), v.result()) for r, v in zip(rotations, revocations, strict=True)]

    for victim, (rotated, revoked_now) in zip(victims, outcomes, strict=True):
        assert revoked_now is True  # the only revocation of this token
        credential = runtime.repository.get_credential(victim.token.token_id)
        assert credential is not None and credential.token.revoked_reason == "race"
        if isinstance(rotated, IssuedToken):
            assert credential.previous_refresh_hashes  # the rotation landed, then the revocation
            presented = parse_secret(rotated.plaintext_token)
            assert presented is not None
            with pytest.raises(AuthenticationFailed):
                verify_access(runtime, presented)
        else:
            assert rotated in {"revoked", "refresh_race_lost"}
            assert credential.previous_refresh_hashes == []  # no rotation at all
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


class LaterReadsAfterAWrite:
    """A client on which every ``GetItem`` but the first waits for a ``TransactWriteItems`` to land.

    Makes certain the race that used to revoke the token: the first refresh commits while
    the others still hold the refresh token it has just rotated away.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._reads = 0
        self._count = threading.Lock()
        self._written = threading.Event()
        self.exceptions = client.exceptions
        self.meta = client.meta

    def get_item(self, **request: Any) -> Any:
        with self._count:
            first = self._reads == 0
            self._reads += 1
        if not first:
            self._written.wait(timeout=30)
        return self._client.get_item(**request)

    def transact_write_items(self, **request: Any) -> Any:
        answer = self._client.transact_write_items(**request)
        self._written.set()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_concurrent_refreshes_with_one_refresh_token_leave_it_live_with_one_working_pair(
    runtime: Runtime, admin: IssuedToken, dynamodb: Any, race_client: Any
) -> None:
    """Each rotation is conditioned on the exact hash it replaces: at no time two working pairs.

    Callers that read after a rotation present the immediately previous refresh token within
    the grace, which is a retry, not reuse: the token is never revoked by the race.
    """
    target = create(runtime, admin, "raced")
    token_id = target.token.token_id
    client = LaterReadsAfterAWrite(race_client)
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, client))
    barrier = threading.Barrier(THREADS)

    def rotate(_: int) -> IssuedToken | str:
        barrier.wait()
        try:
            return refresh_token(runtime, TokenKey(ORG, APP, token_id), target.refresh_token_plaintext)
        except AuthenticationFailed as failure:
            return failure.reason

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(rotate, range(THREADS)))
    pairs = [outcome for outcome in outcomes if isinstance(outcome, IssuedToken)]
    # The first rotation, and at least the first retry of the readers that waited for it.
    assert len(pairs) >= 2
    assert {outcome for outcome in outcomes if isinstance(outcome, str)} <= {"refresh_race_lost"}
    credential = runtime.repository.get_credential(token_id)
    assert credential is not None and credential.token.revoked_at is None

    def works(pair: IssuedToken) -> bool:
        presented = parse_secret(pair.plaintext_token)
        assert presented is not None
        try:
            verify_access(runtime, presented)
        except AuthenticationFailed:
            return False
        return True

    assert sum(works(pair) for pair in pairs) == 1
    # Checked against the stored hash: presenting a dead one would (rightly) be reuse.
    live_refresh = [
        p for p in pairs if runtime.hasher.matches(p.refresh_token_plaintext, credential.refresh_hash)
    ]
    assert live_refresh == [p for p in pairs if works(p)]
    items = table_items(dynamodb)
    assert count_events(items, ROTATED, token_id) == len(pairs)  # one event per rotation that landed
    assert_invariants(items)
