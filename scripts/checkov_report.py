"""Read checkov's JSON report on stdin: write each failed check and the figures; exit 1 on a finding."""

from __future__ import annotations

import json
import sys


def main() -> int:
    """Write the findings and the summary line; 0 only when nothing failed and everything parsed."""
    report = json.load(sys.stdin)
    for check in report["results"]["failed_checks"]:
        where = f"template.yaml:{check['file_line_range'][0]}"
        sys.stdout.write(f"FAILED {check['check_id']} {check['resource']} ({where}): {check['check_name']}\n")
    summary = report["summary"]
    sys.stdout.write(
        f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped with a reason"
        f" ({summary['resource_count']} resources, checkov {summary['checkov_version']})\n"
    )
    return 1 if summary["failed"] or summary["parsing_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
