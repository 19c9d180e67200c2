"""The results as Markdown tables (what the README shows); the JSON is ``benchmarks/results.json``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MB = 1_000_000


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A titled table whose first column is text and whose others are right-aligned."""
    align = ["---", *("---:" for _ in headers[1:])]
    return [title, "", _row(headers), _row(align), *(_row(row) for row in rows), ""]


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in calls.items()) or "none"


def _mib(function: dict[str, Any], key: str) -> str:
    memory = function.get("memory")
    return f"{memory[key] / 1024:.1f}" if memory else "-"


def render(results: dict[str, Any]) -> str:
    """Every figure of a run, as Markdown tables."""
    lines = [f"Benchmark run {results['date']} ({results['mode']} mode, {results['machine']})", ""]
    if cold := results.get("cold_start"):
        lines += _table(
            f"Cold start (import + first request), median of {cold['rounds']} alternating runs, against "
            "two floors making the same AWS calls in the same run: boto3 (import boto3, create the "
            "clients, make the calls) and design (the same behind a validating Powertools resolver, "
            "one pydantic route, Logger and Metrics). x floor: the authorizer, sweep and publisher "
            "to the boto3 floor, the HTTP functions to the design floor:",
            (
                "function",
                "cold (ms)",
                "import (ms)",
                "AWS calls",
                "boto3 floor (ms)",
                "design floor (ms)",
                "x floor",
                "RSS cold (MiB)",
                "RSS warm (MiB)",
            ),
            [
                (
                    name,
                    f["median_ms"],
                    f["import_ms"],
                    f.get("calls", ""),
                    f.get("boto3_floor_ms", ""),
                    f.get("design_floor_ms", ""),
                    f"{f['ratio_to_floor']} ({'boto3' if f.get('floor') == 'boto3-floor' else 'design'})",
                    _mib(f, "cold_rss_kb"),
                    _mib(f, "warm_rss_kb"),
                )
                for name, f in cold["functions"].items()
            ],
        )
        if memory_requests := next(
            (f["memory"]["requests"] for f in cold["functions"].values() if "memory" in f), None
        ):
            lines += [
                f"RSS: VmRSS of the function's process after its cold request, and after {memory_requests:,} "
                "warm requests more (answers replayed).",
                "",
            ]
    if warm := results.get("warm"):
        lines += _table(
            "Warm overhead (time in `lambda_handler` minus time in botocore) and DynamoDB work per request:",
            ("operation", "requests", "p50 (ms)", "p99 (ms)", "DynamoDB calls", "items read"),
            [
                (name, w["requests"], w["p50_ms"], w["p99_ms"], _calls(w["calls"]), w["items_read"])
                for name, w in warm.items()
            ],
        )
    if sweep := results.get("sweep"):
        retired = sweep["retirements"]
        lines += _table(
            "Expiry sweep, one run after the expired tokens appear (the last row: the real retirement "
            "transactions, on a table of expired tokens only):",
            ("live tokens", "expired", "retired", "items read", "DynamoDB calls"),
            [
                *(
                    (s["live"], s["expired"], s["swept"], s["items_read"], _calls(s["calls"]))
                    for s in sweep["steps"]
                ),
                (0, retired["expired"], retired["swept"], retired["items_read"], _calls(retired["calls"])),
            ],
        )
    if sizes := results.get("sizes"):
        lines += _table(
            f"Built size, unzipped (`sam build`); the shared layer is {sizes['layer_bytes'] / MB:.2f} MB:",
            ("function", "function (bytes)", "with its layer (MB)", "boto3 / botocore inside"),
            [
                (
                    name,
                    s["function_bytes"],
                    f"{s['with_layer_bytes'] / MB:.2f}",
                    ", ".join(s["boto3_or_botocore"]) or "none",
                )
                for name, s in sizes["functions"].items()
            ],
        )
    if "total_s" in results:
        lines += [f"The whole run took {results['total_s'] // 60} min {results['total_s'] % 60} s.", ""]
    if results.get("mismatches"):
        lines += ["Counts that differ from the contract:", "", *(f"- {m}" for m in results["mismatches"]), ""]
    return "\n".join(lines)
