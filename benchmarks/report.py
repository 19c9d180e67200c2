"""The results as a Markdown table (what the README shows) and as JSON (``benchmarks/results.json``)."""

from __future__ import annotations

from typing import Any

MB = 1_000_000


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in calls.items())


def render(results: dict[str, Any]) -> str:
    """Every figure of a run, as Markdown tables."""
    lines = [f"Benchmark run {results['date']} ({results['mode']} mode, {results['machine']})", ""]
    cold = results.get("cold_start")
    if cold:
        lines += [
            f"Cold start, median of {cold['rounds']} alternating runs; floor (import boto3, create the "
            f"DynamoDB client) {cold['floor_ms']} ms:",
            "",
            _row("function", "import + first request (ms)", "import (ms)", "first request (ms)", "x floor"),
            _row("---", "---:", "---:", "---:", "---:"),
        ]
        lines += [
            _row(name, f["median_ms"], f["import_ms"], f["first_request_ms"], f["ratio_to_floor"])
            for name, f in cold["functions"].items()
        ]
        lines.append("")
    warm = results.get("warm")
    if warm:
        lines += [
            "Warm overhead (time in `lambda_handler` minus time in botocore) and DynamoDB work per request:",
            "",
            _row("operation", "requests", "p50 (ms)", "p99 (ms)", "DynamoDB calls", "items read"),
            _row("---", "---:", "---:", "---:", "---", "---:"),
        ]
        lines += [
            _row(name, w["requests"], w["p50_ms"], w["p99_ms"], _calls(w["calls"]), w["items_read"])
            for name, w in warm.items()
        ]
        lines.append("")
    sweep = results.get("sweep")
    if sweep:
        lines += [
            "Expiry sweep (one run after the expired tokens appear):",
            "",
            _row("live tokens", "expired", "retired", "items read", "DynamoDB calls"),
            _row("---:", "---:", "---:", "---:", "---"),
        ]
        lines += [
            _row(s["live"], s["expired"], s["swept"], s["items_read"], _calls(s["calls"]))
            for s in sweep["steps"]
        ]
        r = sweep["retirements"]
        lines += [_row(0, r["expired"], r["swept"], r["items_read"], _calls(r["calls"])), ""]
    sizes = results.get("sizes")
    if sizes:
        lines += [
            f"Built size, unzipped (`sam build`); the shared layer is {sizes['layer_bytes'] / MB:.2f} MB:",
            "",
            _row("function", "function (bytes)", "with its layer (MB)", "boto3 / botocore inside"),
            _row("---", "---:", "---:", "---"),
        ]
        lines += [
            _row(
                name,
                s["function_bytes"],
                f"{s['with_layer_bytes'] / MB:.2f}",
                ", ".join(s["boto3_or_botocore"]) or "none",
            )
            for name, s in sizes["functions"].items()
        ]
        lines.append("")
    if results.get("mismatches"):
        lines += ["Counts that differ from the contract:", "", *(f"- {m}" for m in results["mismatches"]), ""]
    return "\n".join(lines)
