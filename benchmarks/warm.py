"""Warm requests: the time a request spends in our code rather than in DynamoDB, and its calls.

In one process, on moto in-process (``mock_aws``), each handler serves ``requests`` requests
after a warm-up. A request's overhead is the time inside ``lambda_handler`` minus the time
inside botocore calls (:class:`~benchmarks.meter.CallMeter`), so moto's own speed drops out.

Each operation serves the same request every time, and every call after the first is answered
with moto's first answer (:mod:`benchmarks.replay`): moto copies a whole table for every item
of a transaction and takes a third of a second for a page of 100, time the benchmark subtracts
anyway. The time measured in our code, and the calls and items counted, are the same.
"""

from __future__ import annotations

import io
import logging
import os
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import redirect_stdout
from dataclasses import dataclass
from importlib import import_module
from typing import Any, cast

from moto import mock_aws
from moto.core.models import botocore_stubber

from benchmarks.cold_child import LambdaContextStandIn
from benchmarks.meter import CallMeter
from benchmarks.replay import AnswerReplay
from benchmarks.scenario import (
    LIMITS,
    authorize_event,
    create_event,
    environment,
    floor_event,
    get_event,
    history_event,
    issue,
    lambda_environment,
    list_event,
    patch_event,
    refresh_event,
    report_leaked_event,
    revoke_event,
    rotate_event,
    seeded_runtime,
    verify_event,
    whoami_event,
)
from shared.domain.observability import logger

# What SPEC.md allows each operation (the caller's last_used_at write, at most once a minute per
# token, is the one extra call a request may make; the steady state below has none).
_READ_TOKEN: dict[str, Any] = {"calls": {"GetItem": 1}, "items_read": 1}
_ONE_WRITE: dict[str, Any] = {"calls": {"GetItem": 1, "TransactWriteItems": 1}, "items_read": 1}
_SPEND = {"GetItem": 1, "UpdateItem": 1}
EXPECTED: dict[str, dict[str, Any]] = {
    "create": _ONE_WRITE,
    "revoke": _ONE_WRITE,
    "refresh": _ONE_WRITE,
    "whoami": _READ_TOKEN,
    "get": {"calls": {"GetItem": 2}, "items_read": 2},
    "patch": {"calls": {"GetItem": 2, "TransactWriteItems": 1}, "items_read": 2},
    # The token's created event and the patch's rename (its one real serving): two history items.
    "history": {"calls": {"GetItem": 1, "Query": 1}, "items_read": 3},
    "rotate": {"calls": {"GetItem": 2, "TransactWriteItems": 1}, "items_read": 2},
    "report leaked": _ONE_WRITE,
    "verify": {"calls": {"GetItem": 2}, "items_read": 2},
    "verify (rate limit)": {"calls": {"GetItem": 2, "UpdateItem": 1}, "items_read": 2},
    "verify (credits)": {"calls": {"GetItem": 2, "UpdateItem": 1}, "items_read": 2},
    "verify (rate limit + credits)": {"calls": {"GetItem": 2, "UpdateItem": 1}, "items_read": 2},
    # The authorizer: one read of the credential, plus the bucket's one conditional write when the
    # token has a rate limit, credits or both (one write for both).
    "authorize": _READ_TOKEN,
    "authorize (rate limit)": {"calls": _SPEND, "items_read": 1},
    "authorize (credits)": {"calls": _SPEND, "items_read": 1},
    "authorize (rate limit + credits)": {"calls": _SPEND, "items_read": 1},
    "list (page of 1)": {"calls": {"GetItem": 1, "Query": 1}, "items_read": 2},
    "list (page of 100)": {"calls": {"GetItem": 1, "Query": 1}, "items_read": 101},
}
# Not an operation: the design's own cost per request (benchmarks.design_floor), below which no HTTP
# function can go; it makes no call.
DESIGN_FLOOR = "design floor (no AWS call)"
EXPECTED[DESIGN_FLOOR] = {"calls": {}, "items_read": 0}


@dataclass(frozen=True)
class Operation:
    """One benchmarked operation: its function, a source of events and the status it must answer."""

    name: str
    module: str
    events: Callable[[], dict[str, Any]]
    status: int
    # Served once by moto before the answers are recorded, so that they hold the tokens'
    # last_used_at as a steady state sees it (noted less than a minute ago: no write). Not for
    # the operations that change their target for good (revoke, rotate...): their callers were
    # noted by the operations before them.
    prime: bool = True


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def operations(runtime: Any, admin: Any) -> list[Operation]:
    """Every operation of every function, the verifications once per kind of token (``LIMITS``).

    Each one's event is made once: the answers replayed are those its first serving got.
    """
    bearer = admin.plaintext_token
    target = issue(runtime, admin)

    def fixed(event: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        return lambda: event

    ops = [
        Operation("create", "functions.create_token.app", fixed(create_event(bearer)), 201),
        Operation(
            "revoke",
            "functions.revoke_token.app",
            fixed(revoke_event(bearer, issue(runtime, admin).token.token_id)),
            204,
            prime=False,
        ),
        Operation(
            "refresh",
            "functions.refresh_token.app",
            fixed(refresh_event(issue(runtime, admin))),
            200,
            prime=False,
        ),
        Operation("whoami", "functions.whoami.app", fixed(whoami_event(bearer)), 200),
        Operation("get", "functions.get_token.app", fixed(get_event(bearer, target.token.token_id)), 200),
        # Not primed: the recorded state holds the old name, so every PATCH changes it (and writes).
        Operation(
            "patch",
            "functions.update_token.app",
            fixed(patch_event(bearer, target.token.token_id)),
            200,
            prime=False,
        ),
        Operation(
            "history", "functions.token_history.app", fixed(history_event(bearer, target.token.token_id)), 200
        ),
        Operation(
            "rotate",
            "functions.rotate_token.app",
            fixed(rotate_event(bearer, issue(runtime, admin).token.token_id)),
            200,
            prime=False,
        ),
        Operation(
            "report leaked",
            "functions.report_leaked.app",
            fixed(report_leaked_event(issue(runtime, admin).plaintext_token)),
            202,
            prime=False,
        ),
    ]
    for limits in LIMITS:
        presented = issue(runtime, admin, limits).plaintext_token
        suffix = "" if limits == "no limits" else f" ({limits})"
        ops.append(
            Operation(
                f"verify{suffix}", "functions.verify_token.app", fixed(verify_event(bearer, presented)), 200
            )
        )
        ops.append(
            Operation(f"authorize{suffix}", "functions.authorize.app", fixed(authorize_event(presented)), -1)
        )
    for _ in range(100):
        issue(runtime, admin)
    ops.append(Operation("list (page of 1)", "functions.list_tokens.app", fixed(list_event(bearer, 1)), 200))
    ops.append(
        Operation("list (page of 100)", "functions.list_tokens.app", fixed(list_event(bearer, 100)), 200)
    )
    ops.append(Operation(DESIGN_FLOOR, "benchmarks.design_floor", fixed(floor_event()), 200, prime=False))
    return ops


def _status(response: dict[str, Any]) -> int:
    """The HTTP status, or -1 for an authorizer's Allow policy (which has none)."""
    if "statusCode" in response:
        return int(response["statusCode"])
    effect = response["policyDocument"]["Statement"][0]["Effect"]
    return -1 if effect == "Allow" else -2


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def measure(
    requests: int,
    warmup: int = 20,
    *,
    only: Collection[str] | None = None,
    wrap: Callable[[Handler], Handler] | None = None,
) -> dict[str, Any]:
    """p50/p99 overhead (ms) and the calls and items read of one steady-state request, per operation.

    ``only`` names the operations to serve (default: all); ``wrap`` replaces each handler after its
    priming request, for a profiler (``benchmarks.profile``) to watch the requests measured here.
    """
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
        meter = CallMeter().attach(client)
        handler_stream = logger.registered_handler
        assert isinstance(handler_stream, logging.StreamHandler)
        logs = handler_stream.setStream(devnull)
        stub = cast(Any, botocore_stubber)
        for operation in operations(runtime, admin):
            if only is not None and operation.name not in only:
                continue
            handler = import_module(operation.module).lambda_handler
            if operation.prime:
                handler(operation.events(), LambdaContextStandIn())
            if wrap is not None:
                handler = wrap(handler)
            # A fresh replay per operation: its first request is served by moto itself.
            replay = AnswerReplay(stub).attach(client, replacing=stub)
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
                if _status(response) != operation.status:
                    raise RuntimeError(f"{operation.name} answered {_status(response)}")
                if index >= warmup:
                    overheads.append((elapsed - meter.seconds) * 1000)
                    calls[tuple(sorted(meter.calls.items()))] += 1
                    items[meter.items_read] += 1
                replay.recording = False
                sink.seek(0)
                sink.truncate()
            replay.detach(client, restoring=stub)
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
