"""The expiry sweep against a large table: what it reads must follow the expired tokens, not the table.

moto copies the whole table for every item of a transaction, which makes a thousand retirements
in a table of ten thousand tokens take hours. So the reads are measured at scale with each
retirement reduced to one UpdateItem that takes the entry out of the indexes (what the real
transaction does to them), and the real retirement transactions are counted on a small table.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from benchmarks.meter import CallMeter
from benchmarks.scenario import APP, ORG, REPO_ROOT, TABLE, environment, lambda_environment
from devtools.table import create_table
from shared.domain.clock import to_iso
from shared.domain.crypto import SecretHasher, SecretKind, display_prefix, new_token_id
from shared.domain.records import Credential, LifecycleEvent, TokenRecord
from shared.services.deps import Collaborators
from shared.services.sweep import sweep
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.items import token_items, token_key
from shared.storage.repository import TokenKey

EXPIRED_STEPS = (10, 100, 1_000)
WARNING_WINDOW = timedelta(days=7)


def _credential(issued: datetime, expires: datetime) -> Credential:
    token_id = new_token_id(issued)
    token = TokenRecord(
        token_id=token_id,
        org_id=ORG,
        app_id=APP,
        name="sweep",
        prefix=display_prefix(SecretKind.ACCESS, token_id),
        owner_id="bench",
        created_by_user_id="bench",
        issued_at=to_iso(issued),
        expires_at=to_iso(expires),
    )
    # Stand-in hashes of secrets nobody holds: the sweep never reads them.
    hashed = secrets.token_hex(32)
    return Credential(token=token, access_hash=hashed, refresh_hash=hashed)


class _IndexOnlyRetirements(DynamoDBTokenRepository):
    """The real repository, except that retiring a token only takes it out of the expiry indexes."""

    def mark_expired(self, key: TokenKey, purge_at: int, events: Sequence[LifecycleEvent] = ()) -> bool:
        """One UpdateItem instead of the transaction (see the module's docstring)."""
        self.client.update_item(
            TableName=self.table_name,
            Key=token_key(key.org_id, key.app_id, key.token_id),
            UpdateExpression="REMOVE expiry_shard, warning_shard",
        )
        return True


def _load(client: Any, credentials: list[Credential], *, metadata_only: bool = False) -> None:
    """Write tokens as the create transaction would, 25 items per BatchWriteItem (untimed setup).

    ``metadata_only`` leaves out the credential items, which no index holds: the sweep never
    reads them, and moto's index queries would only get slower walking past them.
    """
    items = [item for c in credentials for item in token_items(c)[: 1 if metadata_only else 2]]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={TABLE: batch})


def _expired(now: datetime, count: int) -> list[Credential]:
    return [_credential(now - timedelta(days=2), now - timedelta(hours=1)) for _ in range(count)]


def _sweep_once(repository: DynamoDBTokenRepository, meter: CallMeter, now: datetime) -> dict[str, Any]:
    meter.reset()
    # The sweep hashes nothing: any key will do.
    deps = Collaborators(repository, SecretHasher(bytes(32)), lambda: now, warning_window=WARNING_WINDOW)
    report = sweep(deps, time_left=lambda: 900.0)
    return {
        "swept": report.expired,
        "items_read": meter.items_read,
        "calls": dict(sorted(meter.calls.items())),
    }


def measure(
    live: int, expired_steps: tuple[int, ...] = EXPIRED_STEPS, transactions: int = 100
) -> dict[str, Any]:
    """Items read and calls of a sweep with ``live`` live tokens and 10, 100, 1,000 newly expired ones.

    Then, on a table of ``transactions`` expired tokens alone, the real sweep's calls.
    """
    now = datetime.now(UTC)
    steps: list[dict[str, Any]] = []
    with environment(lambda_environment()), mock_aws():
        repository = _IndexOnlyRetirements(TABLE)
        create_table(repository.client, repository.table_name)
        client: Any = repository.client
        # Live tokens expire beyond the warning window, so the sweep has nothing to say about them.
        _load(client, [_credential(now, now + timedelta(days=200)) for _ in range(live)], metadata_only=True)
        meter = CallMeter().attach(client)
        for expired in expired_steps:
            _load(client, _expired(now, expired))
            steps.append({"live": live, "expired": expired, **_sweep_once(repository, meter, now)})
    with environment(lambda_environment()), mock_aws():
        real = DynamoDBTokenRepository(TABLE)
        create_table(real.client, real.table_name)
        _load(real.client, _expired(now, transactions))
        retirements = {"expired": transactions, **_sweep_once(real, CallMeter().attach(real.client), now)}
    return {"live_tokens": live, "steps": steps, "retirements": retirements}


def sweep_mismatches(result: dict[str, Any]) -> list[str]:
    """Each step whose reads or sweeps differ from its expired count (the live tokens must cost nothing)."""
    return [
        f"sweep with {step['live']} live and {step['expired']} expired read {step['items_read']} items "
        f"and retired {step['swept']}"
        for step in result["steps"]
        if step["items_read"] != step["expired"] or step["swept"] != step["expired"]
    ] + (
        []
        if result["retirements"]["calls"].get("TransactWriteItems") == result["retirements"]["expired"]
        else [
            f"the sweep retired {result['retirements']['expired']} tokens in {result['retirements']['calls']}"
        ]
    )


def measure_apart(
    live: int, expired_steps: tuple[int, ...] = EXPIRED_STEPS, transactions: int = 100
) -> dict[str, Any]:
    """:func:`measure` in a process of its own, so that it can run beside another part of the suite.

    Its figures are counts, which no clock or neighbour changes; moto's in-process mock would
    clash with the moto server the cold starts run against in the suite's own process.
    """
    steps = ",".join(str(step) for step in expired_steps)
    command = [sys.executable, "-m", "benchmarks.sweep", str(live), steps, str(transactions)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the sweep benchmark failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.sweep LIVE STEPS TRANSACTIONS``: :func:`measure`'s result as JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=main.__doc__)
    parser.add_argument("live", type=int)
    parser.add_argument("steps", help="expired tokens per step, comma-separated")
    parser.add_argument("transactions", type=int)
    args = parser.parse_args(argv)
    steps = tuple(int(step) for step in args.steps.split(","))
    json.dump(measure(args.live, steps, args.transactions), sys.stdout)


if __name__ == "__main__":
    main()
