"""A leak check that runs with every test of the suite, not only the leak tests.

Every secret the service issues (``shared.services.tokens.new_secret``) and every keyed hash of one
(``SecretHasher.hash``) is recorded while a test runs. When it ends:

- no log record (message, extras and exception text, at any level) holds a secret, the
  random part of one, or a hash;
- no response holds a hash, and a secret appears in at most one response: the 201 of the
  create or the 200 of the refresh that issued it, in its ``plaintext_token`` or
  ``refresh_token_plaintext`` field;
- the table (checked by the ``runtime`` fixture before moto's table goes away) holds no
  secret anywhere, and hashes only in a credential item's hash attributes: never in the
  token's metadata, nor in an outbox event.

The totals are printed at the end of the run, for the README's figures.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.domain.crypto import SecretHasher
from shared.services import tokens as services

HASH_ATTRIBUTES = {"access_hash", "refresh_hash", "previous_refresh_hashes", "previous_access_hash"}


@dataclass
class Seen:
    """What one test issued and what it showed."""

    secrets: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    records: list[str] = field(default_factory=list)
    responses: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class Totals:
    tests: int = 0
    secrets: int = 0
    records: int = 0
    responses: int = 0
    table_items: int = 0


TOTALS = Totals()
_current: Seen | None = None


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if _current is None:
            return
        text = json.dumps(record.__dict__, default=str)
        if record.exc_info and record.exc_info[1] is not None:
            text += logging.Formatter().formatException(record.exc_info)
        _current.records.append(text)


def record_response(status: int, body: str | None) -> None:
    """Called by ``tests.conftest.call`` for every response a handler gives."""
    if _current is not None:
        _current.responses.append((status, body or ""))


def _parts(secret: str) -> list[str]:
    return [secret, secret.rsplit("_", 1)[1]]  # the whole secret and its random part (the prefix is public)


@pytest.fixture(autouse=True)
def leak_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Seen]:
    """Record this test's secrets, hashes, logs and responses; check them when it ends."""
    global _current  # noqa: PLW0603 - one test at a time, by pytest's design
    seen = Seen()
    issue: Callable[..., str] = services.new_secret  # type: ignore[attr-defined]
    hash_of: Callable[[SecretHasher, str], str] = SecretHasher.hash

    def recorded_secret(*args: Any, **kwargs: Any) -> str:
        secret = issue(*args, **kwargs)
        seen.secrets.add(secret)
        return secret

    def recorded_hash(self: SecretHasher, plaintext: str) -> str:
        digest = hash_of(self, plaintext)
        if plaintext in seen.secrets:
            seen.hashes.add(digest)
        return digest

    monkeypatch.setattr(services, "new_secret", recorded_secret)
    monkeypatch.setattr(SecretHasher, "hash", recorded_hash)
    recorder = _Recorder(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(recorder)
    _current = seen
    try:
        yield seen
    finally:
        _current = None
        root.removeHandler(recorder)
    _check(seen)


def _check(seen: Seen) -> None:
    TOTALS.tests += 1
    TOTALS.secrets += len(seen.secrets)
    TOTALS.records += len(seen.records)
    TOTALS.responses += len(seen.responses)
    if not seen.secrets:
        return
    logs = "\n".join(seen.records)
    for secret in seen.secrets:
        for part in _parts(secret):
            assert part not in logs, "a secret in the logs"
        showing = [(status, body) for status, body in seen.responses if secret in body]
        assert len(showing) <= 1, "a secret in more than the one response that issued it"
        for status, body in showing:
            issued = json.loads(body)
            assert status in (200, 201), "a secret in a response that does not issue it"
            assert secret in (issued.get("plaintext_token"), issued.get("refresh_token_plaintext"))
    for digest in seen.hashes:
        assert digest not in logs, "a hash in the logs"
        assert all(digest not in body for _, body in seen.responses), "a hash in a response"


def check_table(items: list[dict[str, Any]]) -> None:
    """No secret anywhere in the table; hashes only in a credential item's hash attributes."""
    seen = _current
    if seen is None:
        return
    TOTALS.table_items += len(items)
    for item in items:
        text = json.dumps(item)
        for secret in seen.secrets:
            assert all(part not in text for part in _parts(secret)), "a secret in the table"
        outside = json.dumps({k: v for k, v in item.items() if k not in HASH_ATTRIBUTES})
        assert all(digest not in outside for digest in seen.hashes), (
            f"a hash outside the hashes: {item['PK']}"
        )
        if item["SK"]["S"] != "CREDENTIAL":
            assert not HASH_ATTRIBUTES & set(item), f"hash attributes on {item['PK']}"


def summary() -> str:
    """One line for the end of the run."""
    return (
        f"leak guard: {TOTALS.tests} tests, {TOTALS.secrets} secrets issued, {TOTALS.records} log records, "
        f"{TOTALS.responses} responses and {TOTALS.table_items} table items checked, no leak"
    )
