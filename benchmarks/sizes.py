"""Built size of each function: ``sam build`` (through ``scripts/sam-tools.sh``), then the bytes on disk."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from benchmarks.scenario import REPO_ROOT

BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"
LAYER = "SharedLayer"
FORBIDDEN = ("boto3", "botocore", "s3transfer")


def _size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def _has_forbidden(path: Path) -> list[str]:
    return sorted({entry.name for entry in path.rglob("*") if entry.is_dir() and entry.name in FORBIDDEN})


def measure(build: bool = True) -> dict[str, Any]:
    """Unzipped bytes of each function alone and with the shared layer it loads (what Lambda unpacks)."""
    if build:
        subprocess.run(
            [str(REPO_ROOT / "scripts" / "sam-tools.sh"), "build"], check=True, capture_output=True
        )
    layer = _size(BUILD_DIR / LAYER)
    functions = {
        artifact.name: {
            "function_bytes": _size(artifact),
            "with_layer_bytes": _size(artifact) + layer,
            "boto3_or_botocore": _has_forbidden(artifact) + _has_forbidden(BUILD_DIR / LAYER),
        }
        for artifact in sorted(BUILD_DIR.iterdir())
        if artifact.is_dir() and artifact.name != LAYER
    }
    return {"layer_bytes": layer, "functions": functions}
