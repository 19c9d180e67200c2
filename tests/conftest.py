"""Fixtures shared by every test: moto-backed DynamoDB, a controllable clock, a runtime, events.

A test marked ``also_on_dynamodb_local`` runs twice: on moto, and in the DynamoDB Local tier
(``make test-dynamodb-local``) on AWS's own emulator, started once per session. The ``dynamodb``
fixture is the one switch; everything else (EventBridge, SQS, SSM) stays moto in both.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from moto import mock_aws

from devtools.events import proxy_event
from devtools.table import create_table
from shared.domain.lifecycle import SOURCE
from shared.domain.records import TokenSpec
from shared.domain.settings import Settings
from shared.entry.runtime import Runtime, set_runtime
from shared.http.models import TokenCreate
from shared.services.tokens import Bootstrap, IssuedToken, bootstrap_admin, create_token
from shared.storage.dynamodb import DynamoDBTokenRepository
from tests.leak_guard import check_table, leak_guard, record_response, summary

TABLE = "app-tokens-test"
HASH_KEY = "test-hash-key-that-is-long-enough-0123456789"
ORG = "acme"
APP = "billing"
TOKENS_URL = f"/v1/orgs/{ORG}/apps/{APP}/tokens"
# No answer of the service but a list page may be larger (issue 11): checked on every call below.
MAX_ANSWER_BYTES = 64 * 1024


__all__ = ["leak_guard"]  # an autouse fixture: every test is checked for leaks (tests/leak_guard.py)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The leak guard's and the fault injector's totals, for the README's figures."""
    terminalreporter.write_line(summary())
    faults = sys.modules.get("tests.integration.test_faults")
    if faults is not None:
        totals = faults.TOTALS
        terminalreporter.write_line(
            f"faults: {totals['requests']} requests faulted, {totals['attempts']} attempts failed"
        )


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account or a developer's local endpoint."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "TOKEN_HASH_KEY_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("TOKEN_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "AppTokens")


MOTO, DYNAMODB_LOCAL = "moto", "dynamodb_local"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``also_on_dynamodb_local`` that uses DynamoDB runs on both backends."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "also_on_dynamodb_local"
    ):
        metafunc.parametrize(
            "backend",
            [MOTO, pytest.param(DYNAMODB_LOCAL, marks=pytest.mark.dynamodb_local)],
            indirect=True,
        )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which DynamoDB the test runs on: moto unless parametrized (above) or marked ``dynamodb_local``."""
    if request.node.get_closest_marker("dynamodb_local") is not None:
        return DYNAMODB_LOCAL
    return str(getattr(request, "param", MOTO))


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """DynamoDB Local, started by the project on a free port for the whole session."""
    from devtools.dynamodb_local import running

    with running(0) as endpoint:
        yield endpoint


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dynamodb(
    aws: None, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A DynamoDB client: moto's, or one on DynamoDB Local with the test's table dropped after it.

    On DynamoDB Local the product's own clients (``new_dynamodb_client``) go there too, through
    botocore's endpoint variable; moto's stubber passes a loopback endpoint through untouched.
    """
    if backend == MOTO:
        yield boto3.client("dynamodb", region_name="us-east-1")
        return
    endpoint: str = request.getfixturevalue("dynamodb_local_endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    drop_table(client)  # a test that failed before its teardown may have left it
    yield client
    drop_table(client)


def drop_table(client: Any) -> None:
    try:
        client.delete_table(TableName=TABLE)
    except client.exceptions.ResourceNotFoundException:
        return
    client.get_waiter("table_not_exists").wait(TableName=TABLE)


class OneRequestAtATime:
    """A DynamoDB client whose requests moto serves one at a time.

    moto's in-memory tables are not thread-safe (a transaction copies the table
    while another thread writes). DynamoDB applies each request atomically, so
    serialising whole requests models it faithfully; the threads still interleave
    between requests, which is where our races live. On DynamoDB Local nothing is
    serialised (``race_client``): the emulator's own atomicity is what is tested there.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.exceptions = client.exceptions
        self.meta = client.meta

    def __getattr__(self, name: str) -> Callable[..., Any]:
        operation = getattr(self._client, name)

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return operation(*args, **kwargs)

        return locked


@pytest.fixture
def race_client(dynamodb: Any, backend: str) -> Any:
    """The client a race test's threads share: serialised on moto, untouched on DynamoDB Local."""
    return OneRequestAtATime(dynamodb) if backend == MOTO else dynamodb


@pytest.fixture
def repository(dynamodb: Any) -> DynamoDBTokenRepository:
    repo = DynamoDBTokenRepository(TABLE, dynamodb)
    create_table(repo.client, repo.table_name)
    return repo


@pytest.fixture
def runtime(repository: DynamoDBTokenRepository, clock: FakeClock) -> Iterator[Runtime]:
    current = Runtime(
        settings=Settings(table_name=TABLE, token_hash_key=HASH_KEY), repository=repository, clock=clock
    )
    set_runtime(current)
    yield current
    # Before moto's table goes away: no secret in it, hashes only where they belong.
    check_table(repository.client.scan(TableName=TABLE, ConsistentRead=True)["Items"])
    set_runtime(None)


@pytest.fixture
def admin(runtime: Runtime) -> IssuedToken:
    """A token with every permission in org ``acme``, app ``billing`` registered."""
    return mint_admin(runtime, ORG, APP, ["*"])


def spec_of(fields: Mapping[str, Any]) -> TokenSpec:
    """A create body validated by the API's model, as the create route hands it to the use case."""
    return TokenSpec.from_fields(TokenCreate.model_validate(fields).model_dump())


def issue(runtime: Runtime, creator: IssuedToken, **fields: Any) -> IssuedToken:
    """A token created by ``creator`` in org ``acme``, app ``billing``, through the create use case."""
    fields.setdefault("name", "t")
    return create_token(runtime, creator.token, ORG, APP, spec_of(fields))


def mint_admin(runtime: Runtime, org: str, app: str, permissions: list[str], days: int = 365) -> IssuedToken:
    return bootstrap_admin(runtime, Bootstrap(org, app, "admin", permissions, timedelta(days=days)))


def with_authorizer_environment(settings: Settings, environment: Mapping[str, str]) -> Settings:
    """``settings`` with the authorizer's knobs taken from a function's environment (a template's)."""
    return dataclasses.replace(
        settings,
        authorizer_org_id=environment.get("AUTHORIZER_ORG_ID") or None,
        authorizer_app_id=environment.get("AUTHORIZER_APP_ID") or None,
        authorizer_routes=environment.get("AUTHORIZER_ROUTES") or None,
    )


class LambdaContextStub(LambdaContext):
    """What Lambda passes as ``context``, with a minute left to run."""

    _function_name = "test"
    _memory_limit_in_mb = 128
    _invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    _aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def handler(name: str) -> Handler:
    """The ``lambda_handler`` of ``functions/<name>/app.py``."""
    module = import_module(f"functions.{name}.app")
    fn: Handler = module.lambda_handler
    return fn


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: str | None

    def json(self) -> Any:
        assert self.body is not None
        return json.loads(self.body)


def call(
    name: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    raw_body: str | bytes | None = None,
    query: dict[str, str] | list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
) -> Result:
    """Invoke a function's handler with an API Gateway event and unpack the proxy result.

    ``authorizer`` is the ``requestContext.authorizer`` that API Gateway adds behind an authorizer;
    ``source_ip`` is the address API Gateway saw the request come from.
    """
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    event = proxy_event(
        method, path, headers=all_headers, query=query or (), body=payload, source_ip=source_ip
    )
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    result = handler(name)(event, LambdaContextStub())
    flat = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        flat[key.lower()] = values[-1]
    record_response(result["statusCode"], result.get("body"))
    if name != "list_tokens":  # a page of 100 large tokens may be megabytes; nothing else may
        assert len((result.get("body") or "").encode()) <= MAX_ANSWER_BYTES, "an answer passed 64 KiB"
    return Result(status=result["statusCode"], headers=flat, body=result.get("body"))


def assert_event_outcome(expected: dict[str, Any], result: Any) -> None:
    """An event file's result is the one events/expected.json documents for it."""
    if "statusCode" in expected:
        assert result["statusCode"] == expected["statusCode"], result.get("body")
    elif "effect" in expected:
        assert result["policyDocument"]["Statement"][0]["Effect"] == expected["effect"], result
        assert result["context"]["code"] == expected.get("code", result["context"]["code"]), result
    elif "error" in expected:
        assert result == {"errorMessage": expected["error"], "errorType": "Exception"}
    else:
        assert result == expected["result"]


@dataclass
class CallLog:
    """The DynamoDB calls of the runtime's client: operations in order, their parameters, items read."""

    operations: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    items_read: int = 0

    def counts(self) -> Counter[str]:
        return Counter(self.operations)

    def clear(self) -> None:
        self.operations.clear()
        self.parameters.clear()
        self.items_read = 0


@pytest.fixture
def calls(runtime: Runtime) -> Iterator[CallLog]:
    """Count the round trips: they are part of the contract."""
    log = CallLog()
    events = runtime.repository.client.meta.events  # type: ignore[attr-defined]

    def before(model: Any, params: dict[str, Any], **_: Any) -> None:
        log.operations.append(model.name)
        log.parameters.append(params)

    def after(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        log.items_read += parsed.get("ScannedCount", 1 if parsed.get("Item") else 0)

    events.register("provide-client-params.dynamodb", before)
    events.register("after-call.dynamodb", after)
    yield log
    events.unregister("provide-client-params.dynamodb", before)
    events.unregister("after-call.dynamodb", after)


@pytest.fixture
def bus_queue(aws: None) -> str:
    """An SQS queue that receives everything with our source from the default bus."""
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    queue_url = sqs.create_queue(QueueName="lifecycle")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="app-tokens", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="app-tokens", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url
