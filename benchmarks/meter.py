"""Botocore event hooks that count a client's DynamoDB calls, the items they read and their time."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallMeter:
    """What one client did since the last :meth:`reset`: calls by operation, items read, seconds inside.

    The time runs from ``provide-client-params`` (the first event botocore emits in a call,
    before it validates and serialises the parameters) to ``after-call`` (or
    ``after-call-error``), so it holds botocore's own serialising and parsing as well as the
    round trip: everything that is DynamoDB's side of a request rather than ours.
    """

    calls: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    seconds: float = 0.0
    _started: float | None = None

    def attach(self, client: Any) -> CallMeter:
        """Hook this meter into a botocore DynamoDB client's events."""
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._start)
        events.register("after-call.dynamodb", self._finish)
        events.register("after-call-error.dynamodb", self._finish_error)
        return self

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.calls = Counter()
        self.items_read = 0
        self.seconds = 0.0
        self._started = None

    def _start(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        self._started = time.perf_counter()

    def _stop(self) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def _finish(self, parsed: dict[str, Any], **_: Any) -> None:
        self._stop()
        # A Query or Scan says how many items it read; a GetItem read one if it found one.
        self.items_read += parsed.get("ScannedCount", 1 if parsed.get("Item") else 0)

    def _finish_error(self, **_: Any) -> None:
        self._stop()
