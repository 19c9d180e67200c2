"""``python -m benchmarks.capacity``: the capacity model of docs/capacity.md, from benchmarks/results.json.

Each request's DynamoDB calls, items read and warm overhead come from the benchmark; DynamoDB's
latency, item sizes and the list prices are stated assumptions (constants below). No figure here
is measured in AWS.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")
# Assumptions (docs/capacity.md says where they come from).
ACCOUNT_CONCURRENCY = 1_000  # Lambda's default concurrency per account and region
API_GATEWAY_RPS = 10_000  # API Gateway's default account throttle (REST), per region
# template.yaml's MemorySize per function (issue 18: Globals 1,024 MB, verify 1,769 MB).
MEMORY_GB = {"verify": 1769 / 1024}
DEFAULT_MEMORY_GB = 1.0
LATENCY_MS = {"GetItem": 4.0, "Query": 6.0, "TransactWriteItems": 12.0, "UpdateItem": 6.0}
PLATFORM_MS = 1.0  # Lambda's own per-invocation overhead, billed
PARTITION_RCU, PARTITION_WCU = 3_000, 1_000
# List prices, us-east-1, as of 2024-11 (DynamoDB on-demand after its November 2024 cut).
PRICE_LAMBDA_GB_S_ARM = 0.0000133334
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_API_GATEWAY_REST = 3.50 / 1e6
PRICE_READ_UNIT = 0.125 / 1e6
PRICE_WRITE_UNIT = 0.625 / 1e6
# Request units per call, for items under 1 KB (metadata, outbox, history) and 4 KB (credential): a
# strongly consistent read is 1 unit; in a transaction each item costs 2 write units, plus 1 per
# index entry the token item adds or removes (two sparse indexes); a plain UpdateItem of an item
# under 1 KB is 1 unit.
UNITS = {
    "list (page of 1)": (1 + 1, 0),
    "list (page of 100)": (1 + math.ceil(100 * 0.7 / 4), 0),  # a Query reads 4 KB per unit
    # condition check, token, credential, the creator's link, outbox, history entry; two index entries
    "create": (1, 2 * 6 + 2),
    "revoke": (1, 2 * 4 + 2),  # token, credential, outbox, history entry; two index entries removed
    "verify": (2, 0),
}
# The writes of issues 15 and 16's features (tests/integration pin the transactions' items), per
# event that causes them: (read units, write units). Each is what the event costs in DynamoDB,
# on top of the request's own line above where it rides on one.
FEATURE_UNITS = {
    "verify of a token with credits: one conditional UpdateItem of its credential": (2, 1),
    "verify of a token with a rate limit and credits: the same one UpdateItem": (2, 1),
    "create paid from the creator's credits: one more Update in its transaction": (1, 2 * 7 + 2),
    "PATCH: token, credential, outbox, history entry": (1, 2 * 4),
    "PATCH giving credits, paid by the editor: one more Update": (1, 2 * 5),
    "rotate: credential, token, outbox, history entry": (1, 2 * 4),
    "canary trip: marker, token, credential, outbox, history entry (at most 1/min per token and source)": (
        2,
        2 * 5,
    ),
    "history entry of any lifecycle change: one Put in the change's transaction": (0, 2),
    "history page: one Query": (1, 0),
    "IP allowlist check: on the credential already read": (0, 0),
    "leak report, per credential reported: one GetItem": (1, 0),
    "leak report of a live secret: the revoke transaction, two index entries removed": (1, 2 * 4 + 2),
}
# The leak report's route takes no authentication: its stage throttle (LeakReportRateLimit, 10/s by
# default) times at most 100 credentials a request bounds what anyone can make it read.
LEAK_REPORT_RPS, LEAK_REPORT_MAX_CREDENTIALS = 10, 100


def model(results: dict[str, Any]) -> dict[str, Any]:
    """Duration, throughput and cost per operation from the warm figures and the assumptions."""
    rows = {}
    # The operations of the model's table (UNITS), not every row of the warm benchmark.
    for name, (reads, writes) in UNITS.items():
        warm = results["warm"][name]
        dynamodb_ms = sum(LATENCY_MS[call] * count for call, count in warm["calls"].items())
        duration_ms = warm["p50_ms"] + dynamodb_ms + PLATFORM_MS
        memory_gb = MEMORY_GB.get(name, DEFAULT_MEMORY_GB)
        lambda_cost = math.ceil(duration_ms) / 1000 * memory_gb * PRICE_LAMBDA_GB_S_ARM + PRICE_LAMBDA_REQUEST
        dynamodb_cost = reads * PRICE_READ_UNIT + writes * PRICE_WRITE_UNIT
        rows[name] = {
            "duration_ms": round(duration_ms, 1),
            "rps_at_default_concurrency": int(ACCOUNT_CONCURRENCY / duration_ms * 1000),
            "read_units": reads,
            "write_units": writes,
            "usd_per_million": {
                "lambda": round(lambda_cost * 1e6, 2),
                "dynamodb": round(dynamodb_cost * 1e6, 2),
                "api_gateway": round(PRICE_API_GATEWAY_REST * 1e6, 2),
            },
        }
    return rows


def hot_token(rps: int) -> dict[str, float]:
    """One token verified ``rps`` times a second: the load on its one credential item."""
    return {
        "verify_rps": rps,
        "read_units_per_s_on_one_item": rps,  # one strongly consistent GetItem each
        "partition_read_limit": PARTITION_RCU,
        "rate_limited_writes_per_s": rps,  # one conditional UpdateItem each, if it has a rate limit
        "partition_write_limit": PARTITION_WCU,
    }


def features() -> dict[str, Any]:
    """DynamoDB's dollars per million of each feature's event, and the leak report's worst hour."""
    rows = {
        name: {
            "read_units": reads,
            "write_units": writes,
            "usd_per_million": round((reads * PRICE_READ_UNIT + writes * PRICE_WRITE_UNIT) * 1e6, 3),
        }
        for name, (reads, writes) in FEATURE_UNITS.items()
    }
    worst_reads_per_hour = LEAK_REPORT_RPS * LEAK_REPORT_MAX_CREDENTIALS * 3600
    return {
        "per_event": rows,
        "leak_report_worst_hour_usd": round(worst_reads_per_hour * PRICE_READ_UNIT, 2),
    }


def main() -> int:
    """Print the model as JSON."""
    results = json.loads(RESULTS.read_text())
    out = {"operations": model(results), "features": features(), "hot_token": hot_token(5_000)}
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
