"""The Lambda layer, built by its own Makefile, holds only runtime code, and all of it imports there.

The layer is built as ``sam build`` builds it (``make -f layers/shared/Makefile build-SharedLayer``
from a scratch copy of layers/shared/, with ARTIFACTS_DIR set), for this machine's architecture
and Python, so its bytecode-only dependencies load in this interpreter; Lambda's build differs only
in those two values. pip may fetch the wheels (CI has the network); nothing is written into the
repository. Then a fresh interpreter (``-I -S``: no site-packages, no PYTHON* variables) sees only
the standard library, the function's code directory, the layer, and boto3 with its dependencies as
the Lambda runtime provides them, and imports every module of ``shared`` and every handler.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devtools.template import functions, load_template
from tests.unit.test_lock import LOCK

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "shared"
# What must never reach the layer: the dev tooling, tests, and the dev or runtime-provided packages.
FORBIDDEN = {"devtools", "tests", "benchmarks", "functions", "moto", "yaml", "_yaml", "pytest", "_pytest",
             "app_tokens_sdk", "httpx"}  # fmt: skip
FORBIDDEN_DISTRIBUTIONS = {"moto", "pyyaml", "pytest", "boto3", "botocore", "s3transfer"}
RUNTIME_PROVIDED = "boto3"  # Lambda's Python runtime ships boto3 and its dependencies

# Runs in the fresh interpreter: argv[1] is a JSON object of paths, modules and environments.
PROBE = """
import importlib, importlib.util, json, os, pkgutil, sys
plan = json.loads(sys.argv[1])
sys.path[:0] = [plan["layer"]]
sys.path.append(plan["runtime"])
report = {"imported": [], "failed": {}, "handlers": {}, "present": {}}
def attempt(name):
    try:
        return importlib.import_module(name)
    except BaseException as error:
        report["failed"][name] = f"{type(error).__name__}: {error}"
import shared
for info in pkgutil.walk_packages(shared.__path__, "shared.", onerror=lambda name: None):
    if attempt(info.name) is not None:
        report["imported"].append(info.name)
for code_dir, environment in plan["functions"].items():
    os.environ.update(environment)
    sys.path.insert(0, code_dir)
    sys.modules.pop("app", None)
    module = attempt("app")
    report["handlers"][code_dir] = callable(getattr(module, "lambda_handler", None))
    sys.path.remove(code_dir)
report["present"] = {name: importlib.util.find_spec(name) is not None for name in plan["absent"]}
report["files"] = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())})
print(json.dumps(report))
"""


def _runtime_dir(target: Path) -> Path:
    """boto3 and its dependencies, linked from this environment as Lambda's runtime provides them."""
    target.mkdir()
    pending, seen = [RUNTIME_PROVIDED], set()
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        distribution = metadata.distribution(name)
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if not requirement.marker or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
        site = Path(str(distribution.locate_file("")))
        for top in {file.parts[0] for file in distribution.files or [] if file.parts[0] not in ("..", "bin")}:
            if (site / top).exists() and not (target / top).exists():
                (target / top).symlink_to(site / top)
    return target


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer's python/ directory, built by the layer Makefile from a scratch copy of its folder."""
    scratch = tmp_path_factory.mktemp("layer-source")
    shutil.copytree(LAYER_SOURCE, scratch, dirs_exist_ok=True)
    artifacts = tmp_path_factory.mktemp("layer-artifacts")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    make = shutil.which("make")
    assert make, "the layer is built with make"
    subprocess.run(
        [
            make,
            "--no-print-directory",
            "-f",
            str(LAYER_SOURCE / "Makefile"),
            "build-SharedLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
            f"BYTECODE_PYTHON={sys.executable}",
            f"LAMBDA_PYTHON={python}",
            f"LAMBDA_ARCH={platform.machine()}",
        ],
        cwd=scratch,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return artifacts / "python"


@pytest.fixture(scope="module")
def probe(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a fresh interpreter with only the layer (and the runtime's boto3) could import."""
    runtime = _runtime_dir(tmp_path_factory.mktemp("lambda-runtime") / "runtime")
    template = load_template()
    plan = {
        "layer": str(layer),
        "runtime": str(runtime),
        "functions": {
            str(ROOT / "functions" / spec.module.split(".")[1]): spec.environment
            for spec in functions(template).values()
        },
        "absent": sorted(FORBIDDEN - {"functions"}),
    }
    home = tmp_path_factory.mktemp("home")
    environment = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, json.dumps(plan)],
        env=environment,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    report["plan"] = plan
    return report


def _shared_modules() -> set[str]:
    found = set()
    for path in (ROOT / "shared").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found - {"shared"}


def _closure(site: Path) -> dict[str, str]:
    """The layer's requirements and their dependencies, by the layer's own metadata: name -> version."""
    shipped = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])}
    requirements = LAYER_SOURCE.joinpath("requirements.txt").read_text().splitlines()
    pending = [line for line in requirements if line.strip() and not line.startswith("#")]
    needed: dict[str, str] = {}
    while pending:
        requirement = Requirement(pending.pop())
        name = canonicalize_name(requirement.name)
        if name in needed or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        assert name in shipped, f"{name} is needed by the layer's requirements but not in the layer"
        needed[name] = shipped[name].version
        pending.extend(shipped[name].requires or [])
    assert set(shipped) == set(needed), f"in the layer but not required: {set(shipped) - set(needed)}"
    return needed


def test_the_layer_holds_only_shared_and_its_pinned_runtime_dependencies(layer: Path) -> None:
    entries = {path.name for path in layer.iterdir()}
    assert not {entry.split(".")[0] for entry in entries} & FORBIDDEN, entries
    distributions = _closure(layer)
    assert not distributions.keys() & FORBIDDEN_DISTRIBUTIONS, distributions
    for name, version in distributions.items():
        assert LOCK.get(name) == version, f"the layer ships {name}=={version}, the lock pins {LOCK.get(name)}"
    # Every other top-level entry is a module of one of those distributions (or `shared`).
    owners = metadata.packages_distributions()
    for entry in entries - {"shared"}:
        if entry.endswith(".dist-info"):
            continue
        module = entry.removesuffix(".pyc").removesuffix(".py").split(".")[0]
        assert {canonicalize_name(name) for name in owners.get(module, [])} & distributions.keys(), entry
    shipped = {path.relative_to(layer).as_posix() for path in (layer / "shared").rglob("*.py")}
    in_repo = {path.relative_to(ROOT).as_posix() for path in (ROOT / "shared").rglob("*.py")}
    assert shipped == in_repo


def test_every_shipped_module_imports_with_only_the_layer(probe: dict[str, Any]) -> None:
    assert probe["failed"] == {}
    assert set(probe["imported"]) == _shared_modules()
    # The probe really lacked the dev packages, so an import of one would have failed above.
    assert probe["present"] == dict.fromkeys(probe["plan"]["absent"], False)


def test_every_handler_imports_with_only_the_layer(probe: dict[str, Any]) -> None:
    handlers = probe["handlers"]
    assert set(handlers) == {str(path.parent) for path in (ROOT / "functions").glob("*/app.py")}
    assert all(handlers.values()), handlers


def test_nothing_was_loaded_from_outside_the_layer_the_runtime_and_the_stdlib(
    probe: dict[str, Any],
) -> None:
    plan = probe["plan"]
    stdlib = {sysconfig.get_paths()[kind] for kind in ("stdlib", "platstdlib")}
    allowed = (plan["layer"], plan["runtime"], *plan["functions"], *stdlib)
    outside = [
        file
        for file in probe["files"]
        if file and (not file.startswith(allowed) or ("site-packages" in file and plan["layer"] not in file))
    ]
    assert outside == []
