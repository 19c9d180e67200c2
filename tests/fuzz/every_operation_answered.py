"""Fail a fuzz run in which some operation of the document never answered 2xx.

A fuzzer that only ever meets 401s on an operation has not tested it. ``app-tokens serve``
writes one access line per request (``POST /v1/... -> 201``); every operation of the
OpenAPI document must have at least one with a 2xx status.

    python tests/fuzz/every_operation_answered.py docs/openapi.json <server stderr>
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ACCESS_LINE = re.compile(r"^([A-Z]+) (\S+) -> (\d{3})$")


def unanswered(document: dict[str, object], log: str) -> list[str]:
    """The ``METHOD /path`` of each operation without a 2xx answer in the access log."""
    answered: list[tuple[str, str]] = []
    for line in log.splitlines():
        match = ACCESS_LINE.match(line)
        if match and match.group(3).startswith("2"):
            answered.append((match.group(1), match.group(2)))
    missing = []
    paths = document["paths"]
    assert isinstance(paths, dict)
    for template, operations in paths.items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method in operations:
            if not any(m == method.upper() and pattern.match(path) for m, path in answered):
                missing.append(f"{method.upper()} {template}")
    return missing


def main() -> int:
    """Print the operations that never answered 2xx; exit 1 if there are any."""
    document = json.loads(Path(sys.argv[1]).read_text())
    missing = unanswered(document, Path(sys.argv[2]).read_text(errors="replace"))
    for operation in missing:
        sys.stderr.write(f"fuzz: {operation} never answered 2xx\n")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
