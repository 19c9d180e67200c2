"""Cold starts and resident memory: fresh interpreters importing each handler and serving a request.

DynamoDB (and SSM, EventBridge) is moto's server over HTTP. Each function is measured against
two floors made in the same run, each making the same AWS calls as the function's first request
(recorded in an untimed first run): the boto3 floor (import boto3, create the clients, make the
calls) and the design floor (the same behind a validating Powertools resolver with one pydantic
route, Logger and Metrics: what SPEC.md's design costs before any code of ours). The authorizer,
the sweep and the publisher are held to the boto3 floor; the HTTP functions to the design floor.
Every round runs every floor and function once, in a rotating order, so that the machine's
noise falls on all of them alike; medians are kept.

Memory: one more child per function serves its cold request, then ``memory_requests`` warm
ones on replayed answers (:mod:`benchmarks.replay`); its VmRSS after each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.scenario import (
    REPO_ROOT,
    authorize_event,
    create_event,
    environment,
    event_file,
    floor_event,
    get_event,
    history_event,
    issue,
    lambda_environment,
    list_event,
    patch_event,
    refresh_event,
    report_leaked_event,
    revoke_event,
    rotate_event,
    seeded_runtime,
    verify_event,
    whoami_event,
)
from devtools.embedded import local_aws
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken

CHILD = Path(__file__).with_name("cold_child.py")
BOTO3_FLOOR, DESIGN_FLOOR = "boto3-floor", "design-floor"
SSM_KEY_PARAMETER = "/app-tokens/bench-token-hash-key"
SSM_VARIANT = "ListTokensFunction, key from SSM"
# Held to the boto3 floor: no HTTP resolver is part of their design.
BOTO3_KIND = ("AuthorizeFunction", "SweepExpiredTokensFunction", "PublishEventsFunction")
# Packages that must never load on a cold start with tracing off.
NEVER_COLD = ("aws_xray_sdk",)


@dataclass(frozen=True)
class Target:
    """One thing to start cold: a handler module with a way to make a request, and its answer."""

    name: str
    module: str
    request: Callable[[], Any]
    status: int | str | None
    ssm_key: bool = False


@dataclass
class ColdRuns:
    """Every run of one target (a function or a floor)."""

    total_ms: list[float] = field(default_factory=list)
    import_ms: list[float] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)


def targets(runtime: Runtime, admin: IssuedToken) -> list[Target]:
    """Every function of the template with a request that succeeds (a fresh token where it must be)."""
    bearer = admin.plaintext_token
    verified = issue(runtime, admin)
    target_id = issue(runtime, admin).token.token_id

    def fresh_id() -> str:
        return issue(runtime, admin).token.token_id

    return [
        Target(
            "AuthorizeFunction",
            "functions.authorize.app",
            lambda: authorize_event(verified.plaintext_token),
            "Allow",
        ),
        Target("ListTokensFunction", "functions.list_tokens.app", lambda: list_event(bearer, 1), 200),
        Target("CreateTokenFunction", "functions.create_token.app", lambda: create_event(bearer), 201),
        Target(
            "RevokeTokenFunction", "functions.revoke_token.app", lambda: revoke_event(bearer, fresh_id()), 204
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
        Target("WhoamiFunction", "functions.whoami.app", lambda: whoami_event(bearer), 200),
        Target("GetTokenFunction", "functions.get_token.app", lambda: get_event(bearer, target_id), 200),
        Target(
            "UpdateTokenFunction", "functions.update_token.app", lambda: patch_event(bearer, target_id), 200
        ),
        Target(
            "TokenHistoryFunction",
            "functions.token_history.app",
            lambda: history_event(bearer, target_id),
            200,
        ),
        Target(
            "RotateTokenFunction", "functions.rotate_token.app", lambda: rotate_event(bearer, fresh_id()), 200
        ),
        Target(
            "ReportLeakedFunction",
            "functions.report_leaked.app",
            lambda: report_leaked_event(issue(runtime, admin).plaintext_token),
            202,
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


def _environment(target: Target | None, *, record: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["BENCH_FLOOR_PARAMETER"] = SSM_KEY_PARAMETER
    if target is not None and target.ssm_key:
        env.pop("TOKEN_HASH_KEY")
        env["TOKEN_HASH_KEY_PARAMETER"] = SSM_KEY_PARAMETER
    if record:
        env["BENCH_RECORD_CALLS"] = "1"
    return env


def run_child(
    command: Sequence[str], stdin: Any, env: dict[str, str], bytecode: Path, *, importtime: bool = False
) -> tuple[dict[str, Any], str]:
    """Start one fresh interpreter running ``command`` (a child script and its mode: ``cold_child.py``
    here, ``memory_child.py`` for :mod:`benchmarks.memory`), which writes its result to the path
    given after it; that JSON and, with ``importtime``, the import profile.

    Every module's bytecode comes from ``bytecode`` (written by the first, untimed run), as the
    built layer ships it: nothing is compiled during a timed start, and nothing is written into
    the repository or the virtualenv. Its stdout (the function's logs) is dropped.
    """
    with tempfile.TemporaryDirectory() as scratch:
        result_path = Path(scratch) / "result.json"
        flags = ["-X", f"pycache_prefix={bytecode}", *(["-X", "importtime"] if importtime else [])]
        completed = subprocess.run(
            [sys.executable, *flags, *command, str(result_path)],
            input=json.dumps(stdin),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            check=False,
        )
        if completed.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text())
    return result, completed.stderr


@dataclass(frozen=True)
class Runner:
    """What a cold run needs: the bytecode directory and, per floor, the calls it makes."""

    bytecode: Path
    floor_calls: dict[str, list[list[str]]]

    def function(self, target: Target, **options: Any) -> tuple[dict[str, Any], str]:
        """One cold start of ``target``; its status checked."""
        result, stderr = run_child(
            (str(CHILD), target.module),
            target.request(),
            _environment(target, record=options.pop("record", False)),
            self.bytecode,
            **options,
        )
        if target.status is not None and result["status"] != target.status:
            raise RuntimeError(f"{target.name} answered {result['status']}, expected {target.status}")
        return result, stderr

    def floor(self, name: str, **options: Any) -> tuple[dict[str, Any], str]:
        """One cold start of the floor ``name`` (``boto3-floor:<calls>`` or ``design-floor:<calls>``)."""
        mode, signature = name.split(":", 1)
        stdin = {"calls": self.floor_calls[signature], "event": floor_event()}
        return run_child((str(CHILD), mode), stdin, _environment(None), self.bytecode, **options)


def import_profile(stderr: str) -> dict[str, float]:
    """``-X importtime`` output summed by top-level package: milliseconds of each one's own imports."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        totals[name.split(".")[0]] += int(own) / 1000
    return dict(totals)


def _signature(calls: list[list[str]]) -> str:
    """The calls as one short text: ``1 GetItem, 1 TransactWriteItems`` (in their order of first use)."""
    counts: dict[str, int] = {}
    for _, operation in calls:
        counts[operation] = counts.get(operation, 0) + 1
    return ", ".join(f"{count} {operation}" for operation, count in counts.items()) or "no call"


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def measure(
    rounds: int, *, profile: bool, memory_requests: int = 0, untimed: Callable[[], object] | None = None
) -> dict[str, Any]:
    """Cold-start medians of every function and floor over ``rounds`` rounds; ratios; memory.

    ``untimed`` is called once the timed starts are done and before the memory children: what it
    starts may run beside them, as memory does not depend on the machine's speed.
    """
    with environment(lambda_environment()), local_aws(), tempfile.TemporaryDirectory() as scratch:
        runtime, admin = seeded_runtime()
        _put_key_in_ssm(runtime)
        all_targets = targets(runtime, admin)
        # Two untimed runs each: bytecode written, files in the page cache, then the calls recorded.
        # Not those of the first: it also notes the caller's last_used_at (once a minute per
        # token), which the timed runs, all within a minute or so of it, mostly do not.
        calls_of: dict[str, list[list[str]]] = {}
        runner = Runner(Path(scratch), {})
        for target in all_targets:
            runner.function(target)
            calls_of[target.name] = runner.function(target, record=True)[0]["calls"]
        signatures = {name: _signature(calls) for name, calls in calls_of.items()}
        runner.floor_calls.update({signatures[name]: calls for name, calls in calls_of.items()})
        floors = sorted(
            {f"{kind}:{sig}" for sig in runner.floor_calls for kind in (BOTO3_FLOOR, DESIGN_FLOOR)}
        )
        for floor in floors:
            runner.floor(floor)
        runs: dict[str, ColdRuns] = defaultdict(ColdRuns)
        jobs: list[tuple[str, Callable[[], tuple[dict[str, Any], str]]]] = [
            *((t.name, lambda t=t: runner.function(t)) for t in all_targets),
            *((f, lambda f=f: runner.floor(f)) for f in floors),
        ]
        for round_number in range(rounds):
            shift = round_number * 3 % len(jobs)
            for name, job in jobs[shift:] + jobs[:shift]:
                result, _ = job()
                runs[name].total_ms.append(result["total_ms"])
                runs[name].import_ms.append(result["import_ms"])
                runs[name].modules.update(result["modules"])
        profiles: dict[str, dict[str, float]] = {}
        if profile:
            for target in all_targets:
                profiles[target.name] = import_profile(runner.function(target, importtime=True)[1])
        if untimed is not None:
            untimed()
        memory = _memory(runner, all_targets, memory_requests) if memory_requests else {}
    return _summary(rounds, runs, signatures, profiles, memory)


def _memory(runner: Runner, all_targets: list[Target], requests: int) -> dict[str, Any]:
    """Resident memory after the cold request and after ``requests`` warm ones, per function.

    Two children at a time (the machine's two cores): memory does not depend on the speed.
    """

    def one(target: Target) -> tuple[str, dict[str, Any]]:
        stdin = {"cold": target.request(), "warm": target.request(), "requests": requests}
        command = (str(CHILD), f"memory:{target.module}")
        result, _ = run_child(command, stdin, _environment(target), runner.bytecode)
        return target.name, result

    measured = [t for t in all_targets if not t.ssm_key]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, measured))


def _summary(
    rounds: int,
    runs: dict[str, ColdRuns],
    signatures: dict[str, str],
    profiles: dict[str, dict[str, float]],
    memory: dict[str, Any],
) -> dict[str, Any]:
    functions = {}
    for name, signature in signatures.items():
        total = statistics.median(runs[name].total_ms)
        boto3_floor = statistics.median(runs[f"{BOTO3_FLOOR}:{signature}"].total_ms)
        design_floor = statistics.median(runs[f"{DESIGN_FLOOR}:{signature}"].total_ms)
        kind = BOTO3_FLOOR if name in BOTO3_KIND else DESIGN_FLOOR
        functions[name] = {
            "median_ms": round(total, 1),
            "import_ms": _median(runs[name].import_ms),
            "first_request_ms": round(total - statistics.median(runs[name].import_ms), 1),
            "calls": signature,
            "boto3_floor_ms": round(boto3_floor, 1),
            "design_floor_ms": round(design_floor, 1),
            "floor": kind,
            "ratio_to_floor": round(total / (boto3_floor if kind == BOTO3_FLOOR else design_floor), 2),
            "never_cold_loaded": sorted(p for p in NEVER_COLD if p in runs[name].modules),
            **({"memory": memory[name]} if name in memory else {}),
        }
    return {
        "rounds": rounds,
        "floors": {name: _median(r.total_ms) for name, r in sorted(runs.items()) if "floor:" in name},
        "functions": functions,
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
