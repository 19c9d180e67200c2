"""What ``template.yaml`` says about the functions: handlers, routes and environment, for local runs.

The local server and ``app-tokens invoke`` read the routes and handlers from the
template itself, so that they cannot disagree with the deployed API.

Environment values are resolved the way a local run needs them: plain values as
they are; ``!Ref`` to a parameter gives its local value (:data:`LOCAL_PARAMETERS`: the
parameters a deployment must choose, such as the org and app the authorizer guards, are
the demo org's here) or else its ``Default``; ``!Ref`` to a DynamoDB
table gives the local table name (``TABLE_NAME`` or ``app-tokens``); ``!If``
follows its condition evaluated on the parameters' defaults. Anything else
(``!GetAtt``, ``!Sub`` of an ARN...) only CloudFormation can resolve, so the
variable is left out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devtools.embedded import DEMO_APP, DEMO_ORG
from shared.domain.settings import DEFAULT_TABLE_NAME

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
# Locally the key is TOKEN_HASH_KEY itself, never an SSM parameter or a secret.
NOT_APPLIED_LOCALLY = frozenset({"TOKEN_HASH_KEY_PARAMETER", "TOKEN_HASH_KEY_SECRET_ID"})
SCHEDULE_EVENT_TYPES = frozenset({"Schedule", "ScheduleV2"})
# Parameters with no default, which a deployment must set: locally the example API guards the
# demo org and app that `serve` and `invoke` create. The user's own environment still wins.
LOCAL_PARAMETERS = {"ProtectedOrgId": DEMO_ORG, "ProtectedAppId": DEMO_APP}


class TemplateError(Exception):
    """The template is missing or does not say what a local run needs."""


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
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # !GetAtt A.B is the short form of Fn::GetAtt: [A, B]
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _short_tag)


@dataclass(frozen=True)
class Route:
    """One API event of a function: method (``ANY`` for all) and path template (``/v1/orgs/{org_id}/...``).

    ``authorizer`` is the logical id of the Lambda authorizer function that guards it, if any.
    """

    method: str
    path: str
    function: str
    authorizer: str | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regex that matches a request path, capturing the path parameters.

        ``{name}`` is one segment; API Gateway's greedy ``{name+}`` is one or more (the
        parameter is then ``name``, as API Gateway names it).
        """
        parts = re.split(r"(\{[^}/]+\})", self.path)
        regex = "".join(_segment_regex(part) for part in parts)
        return re.compile(f"^{regex}$")

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when the request is this route's, else ``None``."""
        found = self.pattern.match(path)
        if found is None or self.method not in ("ANY", method.upper()):
            return None
        return found.groupdict()


def _segment_regex(part: str) -> str:
    if not part.startswith("{"):
        return re.escape(part)
    name = part[1:-1]
    if name.endswith("+"):
        return f"(?P<{name[:-1]}>.+)"
    return f"(?P<{name}>[^/]+)"


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule of a function (``Schedule`` or ``ScheduleV2`` event)."""

    name: str
    expression: str | None


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the template: where its handler is and the environment it runs with."""

    logical_id: str
    module: str
    attribute: str
    environment: dict[str, str] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    event_types: tuple[str, ...] = ()


def load_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The template as plain data; a missing or unreadable file is a :class:`TemplateError`."""
    try:
        with path.open() as stream:
            loaded = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - a safe loader
    except OSError as error:
        raise TemplateError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise TemplateError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise TemplateError(f"{path} is not a CloudFormation template")
    return loaded


class _Resolver:
    """Resolves intrinsic functions that have a meaning for a local run; ``None`` for the rest."""

    def __init__(self, template: dict[str, Any]) -> None:
        self._parameters: dict[str, Any] = template.get("Parameters") or {}
        self._resources: dict[str, Any] = template.get("Resources") or {}
        self._conditions: dict[str, Any] = template.get("Conditions") or {}

    def value(self, node: Any) -> str | None:
        if isinstance(node, bool):
            return "true" if node else "false"
        if isinstance(node, str | int | float):
            return str(node)
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return self._ref(str(argument))
            if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
                chosen = self.condition(argument[0])
                return None if chosen is None else self.value(argument[1 if chosen else 2])
        return None

    def _ref(self, name: str) -> str | None:
        if name in LOCAL_PARAMETERS:
            return LOCAL_PARAMETERS[name]
        if name in self._parameters:
            default = self._parameters[name].get("Default")
            return None if default is None else self.value(default)
        if self._resources.get(name, {}).get("Type") == "AWS::DynamoDB::Table":
            # The deployed name is CloudFormation's; locally it is the table the user points at.
            return os.environ.get("TABLE_NAME") or DEFAULT_TABLE_NAME
        return None

    def condition(self, node: Any) -> bool | None:
        """A condition's truth on the parameters' defaults; ``None`` when it cannot be known."""
        if isinstance(node, str):
            return self.condition(self._conditions[node]) if node in self._conditions else None
        if not isinstance(node, dict) or len(node) != 1:
            return None
        [(function, arguments)] = node.items()
        if function == "Condition":
            return self.condition(arguments)
        if not isinstance(arguments, list) or not arguments:
            return None
        if function == "Fn::Equals":
            values = [self.value(argument) for argument in arguments]
            return None if None in values or len(values) != 2 else values[0] == values[1]
        return self._logic(function, [self.condition(argument) for argument in arguments])

    @staticmethod
    def _logic(function: str, parts: list[bool | None]) -> bool | None:
        if None in parts:
            return None
        operators = {
            "Fn::Not": lambda: not parts[0],
            "Fn::And": lambda: all(parts),
            "Fn::Or": lambda: any(parts),
        }
        operator = operators.get(function)
        return None if operator is None else operator()


def _environment(resolver: _Resolver, template: dict[str, Any], properties: dict[str, Any]) -> dict[str, str]:
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    merged = {
        **((globals_.get("Environment") or {}).get("Variables") or {}),
        **((properties.get("Environment") or {}).get("Variables") or {}),
    }
    resolved = {
        name: resolver.value(value) for name, value in merged.items() if name not in NOT_APPLIED_LOCALLY
    }
    return {name: value for name, value in resolved.items() if value is not None}


def _module(logical_id: str, properties: dict[str, Any], globals_: dict[str, Any]) -> tuple[str, str]:
    """The handler's module and attribute: ``functions/list_tokens/`` + ``app.lambda_handler``."""
    code_uri = properties.get("CodeUri", globals_.get("CodeUri"))
    handler = properties.get("Handler", globals_.get("Handler"))
    if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
        raise TemplateError(
            f"{logical_id}: a local run needs a CodeUri folder and a module.attribute Handler"
        )
    package = ".".join(part for part in Path(code_uri).parts if part not in (".", ""))
    module_name, _, attribute = handler.rpartition(".")
    return (f"{package}.{module_name}" if package else module_name), attribute


def _schedule_expression(resolver: _Resolver, properties: dict[str, Any]) -> str | None:
    # A ScheduleV2 event names it ScheduleExpression, a (v1) Schedule event Schedule.
    return resolver.value(properties.get("ScheduleExpression", properties.get("Schedule")))


def _authorizer_function(template: dict[str, Any], event: dict[str, Any]) -> str | None:
    """The Lambda authorizer function guarding an API event: the event's own, else its API's default."""
    api_ref = event.get("RestApiId")
    api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
    api = ((template.get("Resources") or {}).get(api_id) or {}).get("Properties") or {}
    auth = api.get("Auth") or {}
    name = (event.get("Auth") or {}).get("Authorizer") or auth.get("DefaultAuthorizer")
    if not name or name in ("NONE", "AWS_IAM"):
        return None
    function_arn = ((auth.get("Authorizers") or {}).get(name) or {}).get("FunctionArn")
    if not isinstance(function_arn, dict) or not isinstance(function_arn.get("Fn::GetAtt"), list):
        raise TemplateError(f"authorizer {name!r}: a local run needs FunctionArn: !GetAtt <Function>.Arn")
    return str(function_arn["Fn::GetAtt"][0])


def _function(
    resolver: _Resolver, template: dict[str, Any], logical_id: str, properties: dict[str, Any]
) -> FunctionSpec:
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    module, attribute = _module(logical_id, properties, globals_)
    events: dict[str, Any] = properties.get("Events") or {}
    routes = tuple(
        Route(
            method=str(e["Properties"]["Method"]).upper(),
            path=str(e["Properties"]["Path"]),
            function=logical_id,
            authorizer=_authorizer_function(template, e["Properties"]),
        )
        for e in events.values()
        if e.get("Type") == "Api"
    )
    schedules = tuple(
        Schedule(name=name, expression=_schedule_expression(resolver, e.get("Properties") or {}))
        for name, e in events.items()
        if e.get("Type") in SCHEDULE_EVENT_TYPES
    )
    return FunctionSpec(
        logical_id=logical_id,
        module=module,
        attribute=attribute,
        environment=_environment(resolver, template, properties),
        routes=routes,
        schedules=schedules,
        event_types=tuple(str(e.get("Type")) for e in events.values()),
    )


def functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    """Every ``AWS::Serverless::Function`` of the template, by logical id (with or without API events)."""
    resolver = _Resolver(template)
    return {
        logical_id: _function(resolver, template, logical_id, resource.get("Properties") or {})
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
