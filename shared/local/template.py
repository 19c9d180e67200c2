"""What ``template.yaml`` says about the functions: handlers, routes and environment, for local runs.

The local server and ``app-tokens invoke`` read the routes and handlers from the
template itself, so that they cannot disagree with the deployed API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
# Locally the key is TOKEN_HASH_KEY itself, never an SSM parameter.
NOT_APPLIED_LOCALLY = frozenset({"TOKEN_HASH_KEY_PARAMETER", "TOKEN_HASH_KEY_SECRET_ID"})


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that reads CloudFormation's short tags (``!Ref``, ``!Sub``...) as plain dicts."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _short_tag)


@dataclass(frozen=True)
class Route:
    """One API event of a function: method and path template (``/v1/orgs/{org_id}/...``)."""

    method: str
    path: str
    function: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regex that matches a request path, capturing the path parameters (one segment each)."""
        parts = re.split(r"(\{[^}/]+\})", self.path)
        regex = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
        )
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the template: where its handler is and the environment it runs with."""

    logical_id: str
    module: str
    attribute: str
    environment: dict[str, str] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    event_types: tuple[str, ...] = ()


def load_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The template as plain data."""
    with path.open() as stream:
        loaded: dict[str, Any] = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - a safe loader
    return loaded


def _resolve(value: Any, parameters: dict[str, Any]) -> str | None:
    """A plain string for a variable, or ``None`` when only CloudFormation could resolve it."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        default = parameters[value["Ref"]].get("Default")
        return None if default is None else str(default)
    return None


def _environment(template: dict[str, Any], properties: dict[str, Any]) -> dict[str, str]:
    parameters = template.get("Parameters", {})
    merged = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    resolved = {name: _resolve(value, parameters) for name, value in merged.items()}
    return {
        name: value
        for name, value in resolved.items()
        if value is not None and name not in NOT_APPLIED_LOCALLY
    }


def functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    """Every ``AWS::Serverless::Function`` of the template, by logical id."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties", {})
        code_uri = str(properties["CodeUri"]).strip("/").replace("/", ".")
        module_name, _, attribute = str(properties["Handler"]).rpartition(".")
        events = properties.get("Events", {}).values()
        routes = tuple(
            Route(
                method=str(e["Properties"]["Method"]).upper(),
                path=str(e["Properties"]["Path"]),
                function=logical_id,
            )
            for e in events
            if e.get("Type") == "Api"
        )
        found[logical_id] = FunctionSpec(
            logical_id=logical_id,
            module=f"{code_uri}.{module_name}",
            attribute=attribute,
            environment=_environment(template, properties),
            routes=routes,
            event_types=tuple(str(e.get("Type")) for e in events),
        )
    return found


def routes(template: dict[str, Any]) -> list[Route]:
    """Every API route of the template."""
    return [route for spec in functions(template).values() for route in spec.routes]
