"""DynamoDB faults injected into every call of every endpoint, under botocore's own retries.

The faults go in below botocore's retry layer: moto's ``before-send`` handler on the
product's own client (``shared.storage.aws.new_dynamodb_client``, with its retry configuration) is
replaced by an injector that answers chosen attempts with a throttle, a server error, a read
timeout or a transaction conflict, and hands every other attempt to moto. So what retries,
how often and with what backoff is botocore's real behaviour, not a model of it.

Each case fails the n-th DynamoDB call of one request, for n = 1, 2, ... until the request
makes fewer calls. Which calls exist is learned from the requests themselves, not listed
here; the expected answer is derived from three rules:

- botocore retries throttles, server errors and timeouts with backoff, so one failed attempt
  is invisible to the client (the usual status), and a failure that outlasts the retries is a
  503 with ``Retry-After`` in our error shape;
- a transaction cancelled by a conflict is not retried by botocore: a 503 at once;
- the ``last_used_at`` write is best effort: its failure never changes the answer.

The scheduled sweep and the stream publisher take the same faults in each of their calls: a
fault that outlasts the retries fails the run (the next scheduled run, or the stream's redelivery
of the record, finishes the work, each event exactly once).

A fifth kind, a lost answer, lets moto commit a transaction and then times its answer out:
botocore's retry must be answered as DynamoDB answers a repeated client request token. moto
ignores the token, so on moto the injector plays that one rule; in the DynamoDB Local tier the
lost-answer tests run on AWS's emulator instead, which answers the retry itself.

After every request the table's invariants hold (``assert_invariants``), and a request that
failed left the table exactly as it was (only ``last_used_at`` may have moved).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Generic, TypeVar, cast

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.handlers import generate_idempotent_uuid
from botocore.httpsession import URLLib3Session
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

from devtools.table import create_table
from shared.domain.lifecycle import CREATED, EXPIRED, EXPIRING
from shared.domain.settings import Settings
from shared.entry.runtime import Runtime, set_runtime
from shared.services.sweep import SweepReport, sweep
from shared.services.tokens import IssuedToken
from shared.storage.aws import new_dynamodb_client, new_events_client
from shared.storage.dynamodb import DynamoDBTokenRepository
from tests.conftest import (
    APP,
    HASH_KEY,
    MOTO,
    ORG,
    TABLE,
    TOKENS_URL,
    FakeClock,
    LambdaContextStub,
    Result,
    call,
    issue,
    mint_admin,
)
from tests.integration.test_api import assert_error
from tests.integration.test_lifecycle_events import received, stream_records
from tests.invariants import assert_invariants, count_events, table_items
from tests.leak_guard import check_table

THROTTLE = "throttle"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
CONFLICT = "conflict"
LOST_ANSWER = "lost_answer"  # DynamoDB applies a transaction, then its answer never arrives
RETRIED_BY_BOTOCORE = {THROTTLE, SERVER_ERROR, TIMEOUT}
ONCE, ALWAYS = 1, 99  # failed attempts: one (a retry succeeds), or more than botocore makes
# Totals for the end of the run (tests/conftest.py prints them): requests faulted, attempts failed.
TOTALS = {"requests": 0, "attempts": 0}


@dataclass
class Injected:
    """One fault that reached a request: which call, what it was doing."""

    operation: str
    best_effort: bool
    attempts: int = 0


T = TypeVar("T")


@dataclass
class Faulted(Generic[T]):
    """What a run returned when one of its calls was planned to fail, and the fault that did."""

    result: T
    injected: Injected | None


@dataclass
class FaultInjector:
    """Answers chosen attempts of one client's DynamoDB calls with a fault; moto serves the rest."""

    kind: str | None = None
    at_call: int = 0  # 1-based index of the logical call (retries are the same call) to fail
    failures: int = 0  # how many attempts of that call fail
    calls: int = 0
    injected: list[Injected] = field(default_factory=list)
    total_attempts_failed: int = 0
    applied_request_tokens: set[str] = field(default_factory=set)
    answered_idempotently: int = 0
    # False on DynamoDB Local: a retry goes to the emulator, which knows the token itself.
    plays_request_tokens: bool = True
    retries_left_to_dynamodb: int = 0

    def plan(self, kind: str, at_call: int, failures: int) -> None:
        self.kind, self.at_call, self.failures, self.calls = kind, at_call, failures, 0

    def off(self) -> None:
        self.kind = None

    def fault_one_call(
        self, kind: str, at_call: int, failures: int, run: Callable[[], T]
    ) -> Faulted[T] | None:
        """Run ``run`` with the fault planned for its ``at_call``-th call.

        ``None`` when ``run`` made fewer calls (every call has had its turn); otherwise what it
        returned and the fault that reached it (``None`` when that call cannot take this kind).
        """
        injected_before = len(self.injected)
        self.plan(kind, at_call, failures)
        try:
            result = run()
        finally:
            made = self.calls
            self.off()
        if made < at_call:
            return None
        if len(self.injected) == injected_before:
            return Faulted(result, None)
        injected = self.injected[-1]
        TOTALS["requests"] += 1
        TOTALS["attempts"] += injected.attempts
        return Faulted(result, injected)

    def __call__(self, request: Any, **kwargs: Any) -> Any:
        attempt = int(request.headers.get("amz-sdk-request", b"attempt=1").decode().split(";")[0][8:])
        if attempt == 1:
            self.calls += 1
        operation = request.headers["X-Amz-Target"].decode().rsplit(".", 1)[1]
        if self.kind is None or self.calls != self.at_call:
            return botocore_stubber(request=request, **kwargs)
        if self.kind in (CONFLICT, LOST_ANSWER) and operation != "TransactWriteItems":
            return botocore_stubber(request=request, **kwargs)  # only transactions conflict or carry a token
        if attempt == 1:
            body = json.loads(request.body or b"{}")
            best_effort = "last_used_at" in json.dumps(body.get("TransactItems", []))
            self.injected.append(Injected(operation, best_effort))
        if self.kind == LOST_ANSWER:
            return self._lose_answer(request, attempt, **kwargs)
        if attempt > self.failures:
            return botocore_stubber(request=request, **kwargs)
        self.injected[-1].attempts += 1
        self.total_attempts_failed += 1
        return self._fault(request, body=json.loads(request.body or b"{}"))

    def _lose_answer(self, request: Any, attempt: int, **kwargs: Any) -> Any:
        """Apply the first attempt in moto and drop its answer; answer a retry as DynamoDB does.

        DynamoDB answers a retried transaction that carries an applied attempt's client request
        token with success, without applying it again. moto ignores the token, so that one rule
        is played here; a retry without the token goes to moto, which runs it a second time.
        """
        request_token = json.loads(request.body or b"{}").get("ClientRequestToken")
        if attempt == 1:
            _apply(request, **kwargs)
            if request_token:
                self.applied_request_tokens.add(request_token)
            self.injected[-1].attempts += 1
            self.total_attempts_failed += 1
            raise ReadTimeoutError(endpoint_url=request.url)
        if request_token in self.applied_request_tokens and self.plays_request_tokens:
            self.answered_idempotently += 1
            return _answer(request, 200, {})
        self.retries_left_to_dynamodb += 1
        return botocore_stubber(request=request, **kwargs)

    def _fault(self, request: Any, body: dict[str, Any]) -> Any:
        if self.kind == TIMEOUT:
            raise ReadTimeoutError(endpoint_url=request.url)
        if self.kind == THROTTLE:
            return _error(request, 400, "ProvisionedThroughputExceededException", {})
        if self.kind == SERVER_ERROR:
            return _error(request, 500, "InternalServerError", {})
        reasons = [{"Code": "TransactionConflict"} for _ in body.get("TransactItems", [])]
        return _error(request, 400, "TransactionCanceledException", {"CancellationReasons": reasons})


def _apply(request: Any, **kwargs: Any) -> None:
    """Send one attempt to the backend and drop its answer: moto's stubber, or over HTTP when
    the stubber passes the request through (a loopback endpoint: DynamoDB Local)."""
    if botocore_stubber(request=request, **kwargs) is None:
        URLLib3Session().send(request)


def _error(request: Any, status: int, code: str, extra: dict[str, Any]) -> AWSResponse:
    payload = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected", **extra}
    response = _answer(request, status, payload)
    response.headers["x-amzn-ErrorType"] = code
    return response


def _answer(request: Any, status: int, payload: dict[str, Any]) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(request.url, status, headers, MockRawResponse(json.dumps(payload).encode()))


@dataclass
class Faulty:
    runtime: Runtime
    injector: FaultInjector
    client: Any
    sleeps: list[float]


@pytest.fixture
def faulty(
    dynamodb: Any,
    backend: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Faulty]:
    """The product's DynamoDB client (its retry settings) with the injector in moto's place.

    On DynamoDB Local (``dynamodb`` set botocore's endpoint variable) the injector hands the
    attempts it does not fault to the emulator, and never plays the client request token rule.
    """
    client = new_dynamodb_client()
    if not getattr(request, "param", True):  # the one test that shows what idempotency tokens prevent
        client.meta.events.unregister("before-parameter-build", generate_idempotent_uuid)
    injector = FaultInjector(plays_request_tokens=backend == MOTO)
    client.meta.events.unregister("before-send", cast(Any, botocore_stubber))
    client.meta.events.register("before-send", injector)
    sleeps: list[float] = []
    # botocore sleeps between attempts; the length is recorded (it proves backoff) but not slept.
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)
    repository = DynamoDBTokenRepository(TABLE, client)
    create_table(repository.client, repository.table_name)
    runtime = Runtime(
        settings=Settings(table_name=TABLE, token_hash_key=HASH_KEY), repository=repository, clock=clock
    )
    set_runtime(runtime)
    yield Faulty(runtime, injector, client, sleeps)
    injector.off()
    check_table(table_items(client))  # the leak guard's table check, as the runtime fixture does it
    set_runtime(None)


def without_last_use(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in item.items() if k != "last_used_at"} for item in items),
        key=lambda i: (i["PK"]["S"], i["SK"]["S"]),
    )


# ---- the requests, each with the state it needs made fresh (before any fault is planned) --------

Prepared = tuple[int, Callable[[], Result]]


def _list(env: Faulty, admin: IssuedToken) -> Prepared:
    return 200, lambda: call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)


def _create(env: Faulty, admin: IssuedToken) -> Prepared:
    return 201, lambda: call(
        "create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "f"}
    )


def _revoke(env: Faulty, admin: IssuedToken) -> Prepared:
    path = f"{TOKENS_URL}/{issue(env.runtime, admin).token.token_id}"
    return 204, lambda: call(
        "revoke_token", "DELETE", path, token=admin.plaintext_token, body={"reason": "fault"}
    )


def _refresh(env: Faulty, admin: IssuedToken) -> Prepared:
    target = issue(env.runtime, admin)
    path = f"{TOKENS_URL}/{target.token.token_id}/refresh"
    return 200, lambda: call(
        "refresh_token", "POST", path, body={"refresh_token": target.refresh_token_plaintext}
    )


def _verify(env: Faulty, admin: IssuedToken) -> Prepared:
    target = issue(env.runtime, admin, rate_limit_rps=5)  # a rate limit: one more write to fail
    body = {"token": target.plaintext_token}
    path = TOKENS_URL + "/verify"
    return 200, lambda: call("verify_token", "POST", path, token=admin.plaintext_token, body=body)


REQUESTS: dict[str, Callable[[Faulty, IssuedToken], Prepared]] = {
    "list": _list,
    "create": _create,
    "revoke": _revoke,
    "refresh": _refresh,
    "verify": _verify,
}


def expected_status(kind: str, failures: int, injected: Injected, success: int) -> int:
    """The answer the three rules of the module docstring give."""
    if injected.best_effort:
        return success
    if kind in RETRIED_BY_BOTOCORE and failures == ONCE:
        return success
    return 503


@dataclass
class FaultedRequest:
    """One request whose n-th DynamoDB call took the fault, and the table around it."""

    at_call: int
    success: int  # the status the request answers when nothing fails
    result: Result
    injected: Injected
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]


def each_call_faulted(
    faulty: Faulty, clock: FakeClock, name: str, kind: str, failures: int
) -> Iterator[FaultedRequest]:
    """Run request ``name`` once per DynamoDB call it makes, that call taking the fault."""
    admin = mint_admin(faulty.runtime, ORG, APP, ["*"])
    injector = faulty.injector
    for at_call in range(1, 20):
        clock.advance(minutes=2)  # every request then also writes last_used_at: one more call to fail
        injector.off()
        success, run = REQUESTS[name](faulty, admin)
        before = table_items(faulty.client)
        faulted = injector.fault_one_call(kind, at_call, failures, run)
        if faulted is None:
            break  # the request made fewer calls: every one of them was tried
        if faulted.injected is None:
            continue  # that call cannot have this fault (a conflict needs a transaction)
        yield FaultedRequest(
            at_call, success, faulted.result, faulted.injected, before, table_items(faulty.client)
        )
    assert injector.injected, "no call of this request could take this fault"


@pytest.mark.parametrize("failures", [ONCE, ALWAYS], ids=["once", "always"])
@pytest.mark.parametrize("kind", [THROTTLE, SERVER_ERROR, TIMEOUT, CONFLICT])
@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_fault_in_every_call(faulty: Faulty, clock: FakeClock, name: str, kind: str, failures: int) -> None:
    for faulted in each_call_faulted(faulty, clock, name, kind, failures):
        result, injected = faulted.result, faulted.injected
        want = expected_status(kind, failures, injected, faulted.success)
        assert result.status == want, (name, kind, failures, faulted.at_call, injected, result.body)
        assert_invariants(faulted.after)
        if kind in RETRIED_BY_BOTOCORE and not injected.best_effort:
            assert injected.attempts == (1 if failures == ONCE else 4)  # botocore's 1 + 3 retries
        if want != 503:
            continue
        assert_error(
            result, 503, "SERVICE_UNAVAILABLE", "The service is busy; retry after the time in Retry-After", {}
        )
        assert int(result.headers["retry-after"]) >= 1
        assert "injected" not in (result.body or "")
        assert without_last_use(faulted.after) == without_last_use(faulted.before), "a failed request wrote"
    if kind in RETRIED_BY_BOTOCORE:
        assert faulty.sleeps and all(s >= 0 for s in faulty.sleeps), "botocore never backed off"


@pytest.mark.also_on_dynamodb_local
@pytest.mark.parametrize("name", list(REQUESTS))
def test_a_transaction_whose_answer_was_lost_is_not_applied_twice(
    faulty: Faulty, clock: FakeClock, backend: str, name: str
) -> None:
    """DynamoDB applied the transaction, its answer timed out, botocore sent it again.

    botocore gives every TransactWriteItems a client request token (an idempotency token in
    DynamoDB's model) and keeps it across retries, so DynamoDB answers the retry with the first
    attempt's success instead of running the transaction against the table it already changed.
    On moto the injector answers the retry; on DynamoDB Local every retry reaches the emulator.
    """
    lost = list(each_call_faulted(faulty, clock, name, LOST_ANSWER, ONCE))
    for faulted in lost:
        assert faulted.result.status == faulted.success, (name, faulted.at_call, faulted.result.body)
        assert_invariants(faulted.after)
    answered_by_us, answered_by_dynamodb = (len(lost), 0) if backend == MOTO else (0, len(lost))
    assert faulty.injector.answered_idempotently == answered_by_us
    assert faulty.injector.retries_left_to_dynamodb == answered_by_dynamodb


@pytest.mark.also_on_dynamodb_local
@pytest.mark.parametrize("faulty", [False], indirect=True, ids=["without idempotency tokens"])
def test_without_the_token_a_lost_answer_fails_requests_that_succeeded(
    faulty: Faulty, clock: FakeClock
) -> None:
    """What the token prevents: the retry fails the conditions its own first attempt made false.

    On DynamoDB Local this is also the proof that the test above is the emulator's doing: the
    same retries, without the token, are run a second time.
    """
    created = [f.result.status for f in each_call_faulted(faulty, clock, "create", LOST_ANSWER, ONCE)]
    refreshed = [f.result.status for f in each_call_faulted(faulty, clock, "refresh", LOST_ANSWER, ONCE)]
    assert 500 in created  # the token was stored, the caller never gets it
    assert 401 in refreshed  # the secrets were rotated, the caller never gets the new ones
    assert faulty.injector.answered_idempotently == 0


# ---- the scheduled sweep and the stream publisher -------------------------------------------------


def _outcome(run: Callable[[], Any]) -> tuple[Any, Exception | None]:
    try:
        return run(), None
    except (ClientError, BotoCoreError) as error:
        return None, error


@pytest.mark.parametrize("failures", [ONCE, ALWAYS], ids=["once", "always"])
@pytest.mark.parametrize("kind", [THROTTLE, SERVER_ERROR, TIMEOUT, CONFLICT])
def test_a_fault_in_every_call_of_the_sweep(
    faulty: Faulty, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, kind: str, failures: int
) -> None:
    """A fault botocore retries away changes nothing; one that lasts fails the run (the scheduled
    invocation errors), leaves no token half-retired, and the next run finishes the work, each
    token retired and warned exactly once.

    Every token goes to index shard 0: with shards drawn from random token ids, the sweep's
    sequence of calls changed from one iteration to the next, and a run could end before any
    transaction stood at the faulted position (a conflict then had nowhere to go).
    """
    monkeypatch.setattr("shared.storage.items.expiry_shard", lambda token_id: "00")
    runtime, injector = faulty.runtime, faulty.injector
    admin = mint_admin(runtime, ORG, APP, ["*"])
    for at_call in range(1, 20):
        injector.off()
        expired = issue(runtime, admin, expires_at=clock() + timedelta(minutes=5))
        expiring = issue(runtime, admin, expires_at=clock() + timedelta(days=2))
        clock.advance(minutes=10)
        shards = [0]

        run_sweep: Callable[[], SweepReport] = partial(sweep, runtime, lambda: 900.0, shards=shards)

        faulted = injector.fault_one_call(kind, at_call, failures, partial(_outcome, run_sweep))
        if faulted is None:
            break
        if faulted.injected is None:
            continue
        report, error = faulted.result
        assert_invariants(table_items(faulty.client))
        if kind in RETRIED_BY_BOTOCORE and failures == ONCE:
            assert error is None and report is not None
            assert (report.expired, report.expiring_notified) == (1, 1)
        else:
            assert error is not None, (kind, failures, at_call)
            assert run_sweep().complete
        items = table_items(faulty.client)
        assert_invariants(items)
        assert count_events(items, EXPIRED, expired.token.token_id) == 1
        assert count_events(items, EXPIRING, expiring.token.token_id) == 1
    assert injector.injected, "no call of the sweep could take this fault"


@pytest.mark.parametrize("failures", [ONCE, ALWAYS], ids=["once", "always"])
@pytest.mark.parametrize("kind", [THROTTLE, SERVER_ERROR, TIMEOUT])
def test_a_fault_in_every_call_of_the_publisher(
    faulty: Faulty, clock: FakeClock, bus_queue: str, kind: str, failures: int
) -> None:
    """The publisher reads the token (DynamoDB) and puts the event (EventBridge). A fault that
    lasts reports the record back to the stream, which delivers it again: published then, once."""
    from functions.publish_events.app import lambda_handler as publish_handler

    runtime, injector = faulty.runtime, faulty.injector
    events = new_events_client()
    events.meta.events.unregister("before-send", cast(Any, botocore_stubber))
    events.meta.events.register("before-send", injector)
    runtime._events = events
    admin = mint_admin(runtime, ORG, APP, ["*"])
    seen: set[str] = set()
    stream_records(faulty.client, seen)  # the admin's own event: not this test's
    for at_call in range(1, 20):
        injector.off()
        token = issue(runtime, admin)
        records = stream_records(faulty.client, seen)
        faulted = injector.fault_one_call(
            kind, at_call, failures, partial(publish_handler, {"Records": records}, LambdaContextStub())
        )
        if faulted is None:
            break
        if faulted.injected is None:
            continue
        result = faulted.result
        if kind in RETRIED_BY_BOTOCORE and failures == ONCE:
            assert result == {"batchItemFailures": []}
        else:
            sequence_number = records[0]["dynamodb"]["SequenceNumber"]
            assert result == {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
            assert received(bus_queue) == []
            assert publish_handler({"Records": records}, LambdaContextStub()) == {"batchItemFailures": []}
        [published] = received(bus_queue)
        assert (published["detail-type"], published["detail"]["token_id"]) == (CREATED, token.token.token_id)
    assert injector.injected, "no call of the publisher could take this fault"


# ---- the hashing key's store down at a cold start ------------------------------------------------

KEY_PARAMETER = "/app-tokens/token-hash-key"


def test_the_key_store_down_at_cold_start_is_a_clean_500_then_recovers(
    aws: None, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SSM unreachable while a new container loads the key: a 500 that says nothing, a log line
    that says why, and the first request after SSM is back succeeds (a failure is not cached)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    from aws_lambda_powertools.utilities.parameters.ssm import SSMProvider
    from botocore.exceptions import EndpointConnectionError

    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _: None)  # SSM's own retries, unslept
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    repository = DynamoDBTokenRepository(TABLE, dynamodb)
    create_table(repository.client, repository.table_name)
    keyed = Runtime(settings=Settings(table_name=TABLE, token_hash_key=HASH_KEY), repository=repository)
    keyed.clock = clock
    admin = mint_admin(keyed, ORG, APP, ["app_tokens:list"])

    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=KEY_PARAMETER, Value=HASH_KEY, Type="SecureString")
    down = {"now": True}

    def unreachable(request: Any, **kwargs: Any) -> Any:
        if down["now"]:
            raise EndpointConnectionError(endpoint_url=request.url)
        return botocore_stubber(request=request, **kwargs)

    ssm.meta.events.unregister("before-send", cast(Any, botocore_stubber))
    ssm.meta.events.register("before-send", unreachable)
    monkeypatch.setitem(DEFAULT_PROVIDERS, "ssm", SSMProvider(boto3_client=ssm))  # a cold cache
    settings = Settings(table_name=TABLE, token_hash_key_parameter=KEY_PARAMETER)
    set_runtime(Runtime(settings=settings, repository=repository, clock=clock))
    try:
        for _ in range(2):  # and again: the failure was not cached
            result = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
            assert_error(result, 500, "INTERNAL_SERVER_ERROR", "An unexpected error occurred", {})
            assert "EndpointConnection" not in (result.body or "") and "ssm" not in (result.body or "")
        failures = [r for r in caplog.records if getattr(r, "error_type", None) == "KeyUnavailable"]
        assert len(failures) == 2 and all(r.levelname == "ERROR" for r in failures)
        assert str(failures[0].exc_info[1]) == (  # type: ignore[index]
            f"the token hashing key could not be read from SSM parameter {KEY_PARAMETER}: "
            "GetParameterError <- EndpointConnectionError"
        )
        down["now"] = False
        assert call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token).status == 200
    finally:
        set_runtime(None)


def test_the_invariants_catch_what_they_guard(runtime: Runtime, admin: IssuedToken) -> None:
    """Each kind of damage the faults could do is caught: the checks can fail."""
    client: Any = runtime.repository.client  # type: ignore[attr-defined]
    items = table_items(client)
    assert_invariants(items)
    credential = next(i for i in items if i["SK"]["S"] == "CREDENTIAL")
    damaged = [
        [i for i in items if i is not credential],  # a token without its lookup item
        [{**i, "revoked_at": {"S": "2026-11-01T12:00:00.000000Z"}} if i is credential else i for i in items],
        [{k: v for k, v in i.items() if k != "refresh_hash"} for i in items],  # half-rotated
        [i for i in items if not i["PK"]["S"].startswith("OUTBOX#")],  # a change without its event
        # retired (hashes gone, TTL set) without the expiry event
        [
            {**{k: v for k, v in i.items() if not k.endswith("_hash")}, "purge_at": {"N": "1"}}
            if i is credential
            else {**{k: v for k, v in i.items() if k != "expiry_shard"}, "purge_at": {"N": "1"}}
            if i["SK"]["S"].startswith("TOKEN#")
            else i
            for i in items
        ],
        # warned of its expiry without the event
        [
            {**i, "expiring_notified_at": {"S": "x"}} if i["SK"]["S"].startswith("TOKEN#") else i
            for i in items
        ],
    ]
    for broken in damaged:
        with pytest.raises(AssertionError):
            assert_invariants(broken)
