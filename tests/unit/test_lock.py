"""requirements.lock pins the whole environment, within pyproject.toml's ranges, and the layer with it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, version = line.partition("==")
        assert separator and version and " " not in line, f"{path.name}: not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = version
    return pins


LOCK = _pins(ROOT / "requirements.lock")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    declared = [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]]
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in LOCK, f"{name} is declared but not in requirements.lock (run `make lock`)"
        assert requirement.specifier.contains(LOCK[name], prereleases=True), (name, LOCK[name])


def test_the_layer_ships_the_locked_versions() -> None:
    layer = _pins(ROOT / "layers" / "shared" / "requirements.txt")
    assert layer
    for name, version in layer.items():
        assert LOCK.get(name) == version, f"layer pins {name}=={version}, the lock {LOCK.get(name)}"
