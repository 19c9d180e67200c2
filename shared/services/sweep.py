"""The scheduled expiry sweep: report and retire expired tokens, warn before they expire.

Its cost follows the tokens that expire, not the table: it reads two sparse
indexes whose entries leave as tokens are swept, each sharded over
``EXPIRY_SHARDS`` partitions and sorted by expiry time. Every change is
conditional on the index entry, so overlapping runs act once per token, and a
run that nears the Lambda time limit stops; the next one finds what is left.

A run may take only some of the shards (``{"shards": [0, 1, 2, 3]}`` as its
event): the template schedules one run per group of shards, so that the
groups retire tokens side by side rather than one transaction after another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.clock import to_iso
from shared.domain.lifecycle import EXPIRED, EXPIRING
from shared.domain.observability import logger, metrics
from shared.services.deps import Deps, purge_epoch
from shared.services.events import Provenance, token_event
from shared.storage.repository import EXPIRY_SHARDS, IndexPage, TokenKey

PAGE_SIZE = 100
ALL_SHARDS = tuple(range(EXPIRY_SHARDS))


@dataclass
class SweepReport:
    """What one run did."""

    expired: int = 0
    expiring_notified: int = 0
    items_read: int = 0
    complete: bool = True

    def summary(self) -> dict[str, int]:
        """The run's result as the function returns and logs it."""
        return {"expired": self.expired, "expiring_notified": self.expiring_notified}


def shards_of(event: Mapping[str, Any]) -> tuple[int, ...]:
    """The index shards a scheduled event asks to sweep: its ``shards`` list, or every shard.

    A malformed list fails the run loudly (``ValueError``) rather than sweeping a guess.
    """
    shards = event.get("shards")
    if shards is None:
        return ALL_SHARDS
    valid = (
        isinstance(shards, list)
        and shards
        and all(type(shard) is int and 0 <= shard < EXPIRY_SHARDS for shard in shards)
        and len(set(shards)) == len(shards)
    )
    if not valid:
        raise ValueError(
            f"shards must be a non-empty list of distinct integers from 0 to {EXPIRY_SHARDS - 1}"
        )
    return tuple(shards)


def _entries(
    query: Callable[[int, dict[str, Any] | None], IndexPage], shards: Sequence[int], report: SweepReport
) -> Iterator[TokenKey]:
    for shard in shards:
        start: dict[str, Any] | None = None
        while True:
            page = query(shard, start)
            report.items_read += page.items_read
            yield from page.keys
            if page.next_start is None:
                break
            start = page.next_start


def sweep(
    deps: Deps,
    time_left: Callable[[], float],
    *,
    shards: Sequence[int] = ALL_SHARDS,
    reserve_seconds: float = 5.0,
) -> SweepReport:
    """One run over ``shards``: retire the expired tokens, then warn of those expiring within the window."""
    repository, policy, warning_window = deps.repository, deps.lifetimes, deps.warning_window
    report = SweepReport()
    now = deps.clock()
    now_iso = to_iso(now)

    def expired_page(shard: int, start: dict[str, Any] | None) -> IndexPage:
        return repository.expired_tokens(shard, now_iso, PAGE_SIZE, start)

    def expiring_page(shard: int, start: dict[str, Any] | None) -> IndexPage:
        return repository.expiring_tokens(shard, now_iso, to_iso(now + warning_window), PAGE_SIZE, start)

    for key in _entries(expired_page, shards, report):
        if time_left() < reserve_seconds:
            report.complete = False
            return report
        # Retention counts from the moment of expiry, not from when this run noticed it.
        expired_at = datetime.fromisoformat(key.expires_at) if key.expires_at else now
        purge_at = purge_epoch(expired_at, policy)
        # The service expired it (actor None); the entry lasts as long as the record now does.
        event = token_event(EXPIRED, key, now, Provenance(actor=None, retain_until=purge_at))
        if repository.mark_expired(key, purge_at, [event]):
            report.expired += 1
    for key in _entries(expiring_page, shards, report):
        if time_left() < reserve_seconds:
            report.complete = False
            return report
        if repository.mark_expiring(key, now_iso, [token_event(EXPIRING, key, now)]):
            report.expiring_notified += 1
    return report


def run_scheduled_sweep(
    deps: Deps, context: LambdaContext, shards: Sequence[int] = ALL_SHARDS
) -> dict[str, int]:
    """The scheduled function's body: sweep until done or near the time limit, log and return the counts."""
    report = sweep(deps, time_left=lambda: context.get_remaining_time_in_millis() / 1000, shards=shards)
    logger.info(
        "sweep finished",
        extra={
            **report.summary(),
            "items_read": report.items_read,
            "complete": report.complete,
            "shards": list(shards),
        },
    )
    metrics.add_metric(name="TokensExpired", unit=MetricUnit.Count, value=report.expired)
    metrics.add_metric(name="ExpiryWarnings", unit=MetricUnit.Count, value=report.expiring_notified)
    return report.summary()
