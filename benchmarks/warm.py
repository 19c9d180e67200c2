"""Warm requests: the time a request spends in our code rather than in DynamoDB, and its calls.

In one process, on moto in-process (``mock_aws``), each handler serves ``requests`` requests
after a warm-up. A request's overhead is the time inside ``lambda_handler`` minus the time
inside botocore calls (:class:`~benchmarks.meter.CallMeter`), so moto's own speed drops out.

moto copies a whole table for every item of a transaction, so between requests (untimed) the
table goes back to its seed: a thousand creates would otherwise make each one slower than the last.
For the same reason of moto's speed, a list's repeated Query is answered with moto's first answer
(:mod:`benchmarks.replay`): the time subtracted shrinks, the time measured in our code does not.
"""

from __future__ import annotations

import io
import logging
import os
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from moto import mock_aws

from benchmarks.cold_child import LambdaContextStandIn
from benchmarks.meter import CallMeter
from benchmarks.replay import QueryReplay
from benchmarks.scenario import (
    TABLE,
    create_event,
    environment,
    issue,
    lambda_environment,
    list_event,
    revoke_event,
    seeded_runtime,
    verify_event,
)
from shared.domain.observability import logger

# What SPEC.md allows each operation (the caller's last_used_at write, at most once a minute per
# token, is the one extra call a request may make; the steady state below has none).
EXPECTED: dict[str, dict[str, Any]] = {
    "list (page of 1)": {"calls": {"GetItem": 1, "Query": 1}, "items_read": 2},
    "list (page of 100)": {"calls": {"GetItem": 1, "Query": 1}, "items_read": 101},
    "create": {"calls": {"GetItem": 1, "TransactWriteItems": 1}, "items_read": 1},
    "revoke": {"calls": {"GetItem": 1, "TransactWriteItems": 1}, "items_read": 1},
    "verify": {"calls": {"GetItem": 2}, "items_read": 2},
}


@dataclass(frozen=True)
class Operation:
    """One benchmarked operation: its function, a source of events and the status it must answer."""

    name: str
    module: str
    events: Callable[[], dict[str, Any]]
    status: int


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _keys(client: Any) -> list[dict[str, Any]]:
    items = client.scan(TableName=TABLE, ProjectionExpression="PK, SK")["Items"]
    return [{"PK": item["PK"], "SK": item["SK"]} for item in items]


def _restore(client: Any, seed: list[dict[str, Any]]) -> None:
    """Delete every item that was not in the table at ``seed`` time."""
    for key in _keys(client):
        if key not in seed:
            client.delete_item(TableName=TABLE, Key=key)


def measure(requests: int, warmup: int = 20) -> dict[str, Any]:
    """p50/p99 overhead (ms) and the calls and items read of one steady-state request, per operation."""
    warnings.filterwarnings("ignore", "No application metrics to publish")
    results: dict[str, Any] = {}
    # The functions' logs and metrics go to stdout, as in Lambda; here they are dropped.
    with (
        environment(lambda_environment()),
        mock_aws(),
        redirect_stdout(io.StringIO()) as sink,
        open(os.devnull, "w") as devnull,
    ):
        runtime, admin = seeded_runtime()
        client: Any = runtime.repository.client  # type: ignore[attr-defined]
        seed = _keys(client)
        meter = CallMeter().attach(client)
        bearer = admin.plaintext_token
        handler_stream = logger.registered_handler
        assert isinstance(handler_stream, logging.StreamHandler)
        logs = handler_stream.setStream(devnull)

        def fresh_token_id() -> str:
            _restore(client, seed)
            return issue(runtime, admin).token.token_id

        def run(operation: Operation, after: Callable[[], None] = lambda: None) -> None:
            handler = import_module(operation.module).lambda_handler
            began = time.perf_counter()
            overheads: list[float] = []
            calls: Counter[tuple[tuple[str, int], ...]] = Counter()
            items: Counter[int] = Counter()
            for index in range(warmup + requests):
                event = operation.events()
                meter.reset()
                started = time.perf_counter()
                response = handler(event, LambdaContextStandIn())
                elapsed = time.perf_counter() - started
                if response["statusCode"] != operation.status:
                    raise RuntimeError(f"{operation.name} answered {response['statusCode']}")
                if index >= warmup:
                    overheads.append((elapsed - meter.seconds) * 1000)
                    calls[tuple(sorted(meter.calls.items()))] += 1
                    items[meter.items_read] += 1
                after()
                sink.seek(0)
                sink.truncate()
            # The most common request: the rare one that also notes last_used_at is not typical.
            typical_calls = dict(calls.most_common(1)[0][0])
            results[operation.name] = {
                "requests": requests,
                "p50_ms": round(statistics.median(overheads), 3),
                "p99_ms": round(_percentile(overheads, 0.99), 3),
                "calls": typical_calls,
                "items_read": items.most_common(1)[0][0],
                "wall_s": round(time.perf_counter() - began, 1),
            }

        run(
            Operation("create", "functions.create_token.app", lambda: create_event(bearer), 201),
            after=lambda: _restore(client, seed),
        )
        run(
            Operation(
                "revoke", "functions.revoke_token.app", lambda: revoke_event(bearer, fresh_token_id()), 204
            )
        )
        _restore(client, seed)
        verified = issue(runtime, admin).plaintext_token
        run(Operation("verify", "functions.verify_token.app", lambda: verify_event(bearer, verified), 200))
        for _ in range(100):
            issue(runtime, admin)
        replay = QueryReplay().attach(client)
        run(Operation("list (page of 1)", "functions.list_tokens.app", lambda: list_event(bearer, 1), 200))
        run(
            Operation("list (page of 100)", "functions.list_tokens.app", lambda: list_event(bearer, 100), 200)
        )
        replay.detach(client)
        handler_stream.setStream(logs)
    return results


def count_mismatches(results: dict[str, Any]) -> list[str]:
    """Each operation whose calls or items read differ from :data:`EXPECTED`, said in one line."""
    return [
        f"{name}: {results[name]['calls']} reading {results[name]['items_read']} items, "
        f"expected {expected['calls']} reading {expected['items_read']}"
        for name, expected in EXPECTED.items()
        if {key: results[name][key] for key in ("calls", "items_read")} != expected
    ]
