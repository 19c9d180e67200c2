"""Cold starts: fresh interpreters importing each handler and serving its first request.

DynamoDB (and SSM, EventBridge) is moto's server over HTTP. Every round runs the floor (a fresh
interpreter that only imports boto3 and creates the DynamoDB client) and every function once,
in a rotating order, so that the machine's noise falls on all of them alike; medians are kept.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scenario import (
    REPO_ROOT,
    create_event,
    environment,
    event_file,
    issue,
    lambda_environment,
    list_event,
    refresh_event,
    revoke_event,
    seeded_runtime,
    verify_event,
)
from devtools.embedded import local_aws
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken

CHILD = Path(__file__).with_name("cold_child.py")
FLOOR = "floor (boto3 + DynamoDB client)"
SSM_KEY_PARAMETER = "/app-tokens/bench-token-hash-key"
SSM_VARIANT = "ListTokensFunction, key from SSM"
# Packages that must never load on a cold start with tracing off.
NEVER_COLD = ("aws_xray_sdk",)


@dataclass(frozen=True)
class Target:
    """One thing to start cold: a handler module with a way to make its first request."""

    name: str
    module: str
    request: Callable[[], Any] | None
    status: int | None
    ssm_key: bool = False


@dataclass
class ColdRuns:
    """Every run of one target."""

    total_ms: list[float] = field(default_factory=list)
    import_ms: list[float] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)


def targets(runtime: Runtime, admin: IssuedToken) -> list[Target]:
    """The floor, then every function of the template with a request that succeeds."""
    bearer = admin.plaintext_token
    verified = issue(runtime, admin)
    return [
        Target(FLOOR, "floor", None, None),
        Target("ListTokensFunction", "functions.list_tokens.app", lambda: list_event(bearer, 1), 200),
        Target("CreateTokenFunction", "functions.create_token.app", lambda: create_event(bearer), 201),
        Target(
            "RevokeTokenFunction",
            "functions.revoke_token.app",
            lambda: revoke_event(bearer, issue(runtime, admin).token.token_id),
            204,
        ),
        Target(
            "RefreshTokenFunction",
            "functions.refresh_token.app",
            lambda: refresh_event(issue(runtime, admin)),
            200,
        ),
        Target(
            "VerifyTokenFunction",
            "functions.verify_token.app",
            lambda: verify_event(bearer, verified.plaintext_token),
            200,
        ),
        Target(
            "SweepExpiredTokensFunction",
            "functions.sweep_expired_tokens.app",
            lambda: event_file("sweep_expired_tokens"),
            None,
        ),
        Target(
            "PublishEventsFunction",
            "functions.publish_events.app",
            lambda: event_file("publish_events"),
            None,
        ),
        Target(SSM_VARIANT, "functions.list_tokens.app", lambda: list_event(bearer, 1), 200, ssm_key=True),
    ]


def _run_child(target: Target, bytecode: Path, *, importtime: bool = False) -> tuple[dict[str, Any], str]:
    """Start one fresh interpreter; its result and, with ``importtime``, its import profile.

    Every module's bytecode comes from ``bytecode`` (written by the first, untimed run), as the
    built layer ships it: nothing is compiled during a timed start, and nothing is written into
    the repository or the virtualenv.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if target.ssm_key:
        env.pop("TOKEN_HASH_KEY")
        env["TOKEN_HASH_KEY_PARAMETER"] = SSM_KEY_PARAMETER
    event = target.request() if target.request is not None else None
    with tempfile.TemporaryDirectory() as scratch:
        result_path = Path(scratch) / "result.json"
        flags = ["-X", f"pycache_prefix={bytecode}", *(["-X", "importtime"] if importtime else [])]
        completed = subprocess.run(
            [sys.executable, *flags, str(CHILD), target.module, str(result_path)],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            check=False,
        )
        if completed.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"{target.name} failed to start: {completed.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text())
    if target.status is not None and result["status"] != target.status:
        raise RuntimeError(f"{target.name} answered {result['status']}, expected {target.status}")
    return result, completed.stderr


def import_profile(stderr: str) -> dict[str, float]:
    """``-X importtime`` output summed by top-level package: milliseconds of each one's own imports."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        totals[name.split(".")[0]] += int(own) / 1000
    return dict(totals)


def measure(rounds: int, *, profile: bool) -> dict[str, Any]:
    """Cold-start medians of every target over ``rounds`` rounds, as ratios to the floor's median."""
    with environment(lambda_environment()), local_aws(), tempfile.TemporaryDirectory() as scratch:
        bytecode = Path(scratch)
        runtime, admin = seeded_runtime()
        _put_key_in_ssm(runtime)
        all_targets = targets(runtime, admin)
        for target in all_targets:
            _run_child(target, bytecode)  # one untimed run each: bytecode written, files in the page cache
        runs: dict[str, ColdRuns] = {target.name: ColdRuns() for target in all_targets}
        for round_number in range(rounds):
            shift = round_number % len(all_targets)
            for target in all_targets[shift:] + all_targets[:shift]:
                result, _ = _run_child(target, bytecode)
                runs[target.name].total_ms.append(result["total_ms"])
                runs[target.name].import_ms.append(result["import_ms"])
                runs[target.name].modules.update(result["modules"])
        profiles = {
            target.name: import_profile(_run_child(target, bytecode, importtime=True)[1])
            for target in (all_targets if profile else [])
        }
    floor = statistics.median(runs[FLOOR].total_ms)
    return {
        "rounds": rounds,
        "floor_ms": round(floor, 1),
        "functions": {
            name: {
                "median_ms": round(statistics.median(r.total_ms), 1),
                "import_ms": round(statistics.median(r.import_ms), 1),
                "first_request_ms": round(statistics.median(r.total_ms) - statistics.median(r.import_ms), 1),
                "ratio_to_floor": round(statistics.median(r.total_ms) / floor, 2),
                "never_cold_loaded": sorted(p for p in NEVER_COLD if p in r.modules),
            }
            for name, r in runs.items()
            if name != FLOOR
        },
        "import_profile_ms": {
            name: {pkg: round(ms, 1) for pkg, ms in sorted(prof.items(), key=lambda kv: -kv[1]) if ms >= 1}
            for name, prof in profiles.items()
        },
    }


def _put_key_in_ssm(runtime: Runtime) -> None:
    """The hashing key as a SecureString in (moto's) SSM, as the deployed functions read it."""
    import boto3

    key = runtime.settings.token_hash_key
    assert key is not None
    boto3.client("ssm").put_parameter(Name=SSM_KEY_PARAMETER, Value=key, Type="SecureString", Overwrite=True)
