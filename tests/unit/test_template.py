"""template.yaml agrees with the code: routes with the routers, the table with the repository."""

from __future__ import annotations

import json
import re
from importlib import import_module
from typing import Any

import pytest

from shared import repository
from shared.api import Operation
from shared.local.template import functions, load_template, routes
from shared.routes import OPERATIONS
from shared.sweep import ALL_SHARDS, shards_of


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _router_routes(operation: Operation) -> set[tuple[str, str]]:
    found = set()
    for path, methods, *_ in operation.router._routes:
        for method in methods:
            found.add((method.upper(), re.sub(r"<(\w+)>", r"{\1}", path)))
    return found


def test_routes_match_the_routers(template: dict[str, Any]) -> None:
    in_code = set().union(*(_router_routes(operation) for operation in OPERATIONS))
    # The routes behind the token authorizer are the example API's, not ours.
    management = {(route.method, route.path) for route in routes(template) if route.authorizer is None}
    assert management == in_code


def test_each_api_function_serves_exactly_its_operation(template: dict[str, Any]) -> None:
    for spec in functions(template).values():
        if not spec.routes or spec.routes[0].authorizer is not None:
            continue
        module = import_module(spec.module)
        [operation] = [value for value in vars(module).values() if isinstance(value, Operation)]
        assert {(route.method, route.path) for route in spec.routes} == _router_routes(operation)


def test_table_matches_the_repository(template: dict[str, Any]) -> None:
    table = template["Resources"]["AppTokensTable"]["Properties"]
    assert table["KeySchema"] == repository.KEY_SCHEMA
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(repository.ATTRIBUTE_DEFINITIONS, key=str)
    assert table["GlobalSecondaryIndexes"] == repository.GLOBAL_SECONDARY_INDEXES
    assert table["TimeToLiveSpecification"] == {"AttributeName": repository.TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert template["Resources"]["AppTokensTable"]["DeletionPolicy"] == "Retain"


def test_no_function_may_scan_or_delete(template: dict[str, Any]) -> None:
    text = str(template["Resources"])
    for action in ("dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:DeleteTable", "dynamodb:*"):
        assert action not in text


def test_the_sweep_schedules_cover_every_index_shard_once(template: dict[str, Any]) -> None:
    events = template["Resources"]["SweepExpiredTokensFunction"]["Properties"]["Events"]
    groups = [shards_of(json.loads(event["Properties"]["Input"])) for event in events.values()]
    assert len(groups) > 1, "one schedule sweeps the shards one after another"
    assert sorted(shard for group in groups for shard in group) == list(ALL_SHARDS)


def _table_actions(template: dict[str, Any], function: str) -> set[str]:
    statements = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    [table] = [statement for statement in statements if statement["Sid"] == "TokenTable"]
    actions = table["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_the_cascade_may_query_links_and_nothing_more(template: dict[str, Any]) -> None:
    """Revoke reads a token's links (Query); the publisher finishes a cascade: Query, revoke, outbox."""
    revoke = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    assert _table_actions(template, "RevokeTokenFunction") == revoke
    publisher = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"}
    assert _table_actions(template, "PublishEventsFunction") == publisher
