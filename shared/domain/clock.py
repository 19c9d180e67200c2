"""Time as the service sees it: always timezone-aware UTC, injected where logic needs it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``: sorts as text in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def error_timestamp(moment: datetime) -> str:
    """The error body's ``timestamp``: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffff`` as the seed shows."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
