"""The import rules of shared/ and functions/, read from the source with ast (docs/architecture.md).

- Layers: ``shared.domain`` < ``storage`` < ``services`` < ``http`` < ``entry`` < ``functions``; a
  module imports only its own layer or lower ones.
- Nothing shipped (shared/, functions/) imports the dev tooling, the tests or the benchmarks, nor a
  third-party package the Lambda layer does not hold (boto3 and botocore come from the runtime;
  type stubs only under ``TYPE_CHECKING``).
- Only the composition root (``shared.entry``) imports the DynamoDB adapter.
- boto3 and botocore stay out of the domain and the use cases.
- No dynamic imports, so this graph is the whole graph.

Every import counts: module-level, inside functions, and under ``TYPE_CHECKING`` (a type-only import
still couples the layers). There is no allowlist: every rule holds everywhere.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "storage", "services", "http", "entry")
# functions/ sits on top of every layer of shared.
ORDER = (*LAYERS, "functions")
# app_tokens_sdk (issue 17): the typed client, for scripts and other services; it never ships either.
DEV_PACKAGES = frozenset({"devtools", "tests", "benchmarks", "app_tokens_sdk"})
ADAPTER_MODULE = "shared.storage.dynamodb"
ADAPTER_CLASS = "DynamoDBTokenRepository"
# The Lambda runtime provides these; the layer must not (layers/shared/Makefile).
# snapshot_restore_py: SnapStart's runtime hooks (shared/entry/snapstart.py), in Lambda's Python runtimes.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "snapshot_restore_py"})
AWS_SDK = frozenset({"boto3", "botocore"})
NO_AWS_SDK_LAYERS = frozenset({"domain", "services"})


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen from the module that runs it."""

    importer: str
    imported: str  # the module (``from a.b import c`` gives ``a.b.c`` when that is a module)
    names: tuple[str, ...]  # the names a ``from`` import takes
    type_checking: bool
    line: int


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def shipped_modules(root: Path) -> dict[str, Path]:
    """Every module of shared/ and functions/ under ``root``, by dotted name."""
    paths = [*sorted((root / "shared").rglob("*.py")), *sorted((root / "functions").rglob("*.py"))]
    return {_module_name(path, root): path for path in paths}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _walk(node: ast.AST, type_checking: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield statement, True
                yield from _walk(statement, True)
            for statement in child.orelse:
                yield statement, type_checking
                yield from _walk(statement, type_checking)
            continue
        yield child, type_checking
        yield from _walk(child, type_checking)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every import in a module, at any depth, relative ones made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node, type_checking in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), type_checking, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, is_package, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in modules else source
                yield Import(module, target, (alias.name,), type_checking, node.lineno)


def _layer(module: str) -> str | None:
    """The layer a module of ours belongs to (``"functions"`` on top); ``None`` for the root package."""
    parts = module.split(".")
    if parts[0] == "functions":
        return "functions"
    if parts[0] != "shared" or len(parts) == 1:
        return None
    return parts[1]


def _dynamic_imports(module: str, path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in {"import_module", "__import__"}:
                yield f"dynamic import: {module} line {node.lineno}"


def layer_distributions() -> frozenset[str]:
    """Top-level import names of the layer's requirements and their dependencies (this environment's)."""
    requirements = [
        Requirement(line)
        for line in (ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    seen: set[str] = set()
    while requirements:
        requirement = requirements.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        requirements.extend(Requirement(text) for text in metadata.requires(name) or [])
    roots = {
        root
        for root, distributions in metadata.packages_distributions().items()
        if any(canonicalize_name(distribution) in seen for distribution in distributions)
    }
    return frozenset(roots)


def _third_party_violation(found: Import, allowed: frozenset[str]) -> str | None:
    root = found.imported.split(".")[0]
    if root in {"shared", "functions"} or root in DEV_PACKAGES or root in sys.stdlib_module_names:
        return None
    if root in allowed or root in RUNTIME_PROVIDED:
        return None
    if found.type_checking and root.startswith("mypy_boto3_"):
        return None  # type stubs: never imported at run time
    return f"not in the layer: {found.importer} -> {root}"


def _broken_rules(found: Import, allowed_third_party: frozenset[str]) -> Iterator[str]:
    own, other = _layer(found.importer), _layer(found.imported)
    target_root = found.imported.split(".")[0]
    pair = f"{found.importer} -> {found.imported}"
    if own in ORDER and other in ORDER and ORDER.index(other) > ORDER.index(own):
        yield f"layer: {pair}"
    if target_root in DEV_PACKAGES:
        yield f"dev tooling: {pair}"
    is_adapter = found.imported == ADAPTER_MODULE or ADAPTER_CLASS in found.names
    if is_adapter and found.importer != ADAPTER_MODULE and own != "entry":
        yield f"adapter: {pair}"
    if target_root in AWS_SDK and own in NO_AWS_SDK_LAYERS and not found.type_checking:
        yield f"aws sdk: {pair}"
    third_party = _third_party_violation(found, allowed_third_party)
    if third_party:
        yield third_party


def violations(root: Path, allowed_third_party: frozenset[str]) -> set[str]:
    """Every broken rule under ``root``, one line each, as the failure message spells them."""
    modules = shipped_modules(root)
    found: set[str] = set()
    for module, path in modules.items():
        if _layer(module) not in (None, *ORDER):
            found.add(f"no layer: {module}")
        found.update(_dynamic_imports(module, path))
        for imported in imports_of(module, path, modules):
            found.update(_broken_rules(imported, allowed_third_party))
    return found


@pytest.fixture(scope="module")
def allowed() -> frozenset[str]:
    return layer_distributions()


def test_the_layers_import_only_downwards(allowed: frozenset[str]) -> None:
    found = sorted(violations(ROOT, allowed))
    assert not found, "\n".join(["import rules broken (see this module's docstring):", *found])


def test_the_graph_sees_every_shipped_module() -> None:
    # The kinds of import (in functions, under TYPE_CHECKING, relative) are the planted tests' below.
    modules = shipped_modules(ROOT)
    assert "shared.entry.runtime" in modules and "functions.create_token.app" in modules
    assert len(modules) == len([*ROOT.glob("shared/**/*.py"), *ROOT.glob("functions/**/*.py")])
    assert any(
        found.type_checking for module, path in modules.items() for found in imports_of(module, path, modules)
    )
    assert {"pydantic", "pydantic_core", "aws_lambda_powertools"} <= layer_distributions()


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"shared/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if parent.parts and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "shared/domain/a.py": "def f():\n    from shared.http import models\n",
                "shared/http/models.py": "",
            },
            "layer: shared.domain.a -> shared.http.models",
        ),
        (
            {
                "shared/storage/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from shared.services.x import Y\n",
                "shared/services/x.py": "",
            },
            "layer: shared.storage.a -> shared.services.x",
        ),
        (
            {"shared/http/a.py": "from ..entry import runtime\n", "shared/entry/runtime.py": ""},
            "layer: shared.http.a -> shared.entry.runtime",
        ),
        (
            {"functions/f/app.py": "import devtools.server\n"},
            "dev tooling: functions.f.app -> devtools.server",
        ),
        (
            {"shared/services/a.py": "from shared.storage.dynamodb import Adapter\n"},
            "adapter: shared.services.a -> shared.storage.dynamodb",
        ),
        (
            {"shared/http/a.py": "from shared.storage.repository import DynamoDBTokenRepository\n"},
            "adapter: shared.http.a -> shared.storage.repository",
        ),
        (
            {"shared/services/a.py": "def f():\n    import botocore.exceptions\n"},
            "aws sdk: shared.services.a -> botocore.exceptions",
        ),
        ({"shared/http/a.py": "import yaml\n"}, "not in the layer: shared.http.a -> yaml"),
        ({"shared/http/a.py": "import importlib\nimportlib.import_module('yaml')\n"}, "dynamic import"),
        ({"shared/misc.py": ""}, "no layer: shared.misc"),
    ],
)
def test_a_planted_violation_is_found(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = violations(_plant(tmp_path, files), frozenset({"pydantic"}))
    assert any(line.startswith(expected) for line in found), found


def test_what_the_rules_allow_is_not_flagged(tmp_path: Path) -> None:
    files = {
        "shared/entry/runtime.py": "from shared.storage.dynamodb import Adapter\nimport boto3\n",
        "shared/http/a.py": "from shared.domain import b\nfrom shared.services import c\nimport pydantic\n",
        "shared/domain/b.py": "import typing\nif typing.TYPE_CHECKING:\n    import mypy_boto3_events\n",
        "shared/services/c.py": "from . import d\n",
        "shared/services/d.py": "import json\n",
        "functions/f/app.py": "from shared.entry.runtime import get_runtime\n",
    }
    assert violations(_plant(tmp_path, files), frozenset({"pydantic"})) == set()


# ---- The client (issue 17) ---------------------------------------------------------------------

CLIENT_PACKAGE = "app_tokens_sdk"
# The client speaks the public API only: its models, never the services, storage or the entry.
CLIENT_MAY_IMPORT = frozenset({"shared.http.models", "shared.http.token_models"})
CLIENT_THIRD_PARTY = frozenset({"httpx", "pydantic"})


def client_violations(root: Path) -> set[str]:
    """Every import of the client package that goes beyond the API's models, httpx and pydantic."""
    paths = sorted((root / CLIENT_PACKAGE).rglob("*.py"))
    modules = {_module_name(path, root): path for path in paths}
    found: set[str] = set()
    for module, path in modules.items():
        for imported in imports_of(module, path, modules):
            top = imported.imported.split(".")[0]
            if top == CLIENT_PACKAGE or top in sys.stdlib_module_names or top in CLIENT_THIRD_PARTY:
                continue
            if imported.imported not in CLIENT_MAY_IMPORT:
                found.add(f"client: {module} -> {imported.imported}")
    return found


def test_the_client_imports_only_the_api_models() -> None:
    assert (ROOT / CLIENT_PACKAGE / "client.py").exists()
    found = sorted(client_violations(ROOT))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "from shared.services.tokens import create_token\n",
            "client: app_tokens_sdk.a -> shared.services.tokens",
        ),
        ("import devtools.cli\n", "client: app_tokens_sdk.a -> devtools.cli"),
        ("import yaml\n", "client: app_tokens_sdk.a -> yaml"),
    ],
)
def test_a_client_import_beyond_the_models_is_found(tmp_path: Path, text: str, expected: str) -> None:
    _plant(
        tmp_path, {"app_tokens_sdk/a.py": f"import httpx\nfrom shared.http.models import ErrorBody\n{text}"}
    )
    assert client_violations(tmp_path) == {expected}


def test_shipped_code_never_imports_the_client(tmp_path: Path) -> None:
    found = violations(_plant(tmp_path, {"shared/http/a.py": "import app_tokens_sdk\n"}), frozenset())
    assert "dev tooling: shared.http.a -> app_tokens_sdk" in found
