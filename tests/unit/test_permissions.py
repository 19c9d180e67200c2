"""Permission wildcards, the endpoint path grammar and the no-escalation rule."""

from __future__ import annotations

import pytest

from shared.domain.permissions import grants, has_permission, path_matches, pattern_within
from shared.domain.restrictions import restriction_breach


@pytest.mark.parametrize(
    ("held", "wanted", "expected"),
    [
        ("*", "app_tokens:list", True),
        ("*", "*", True),
        ("app_tokens:*", "app_tokens:revoke", True),
        ("app_tokens:*", "app_tokens:*", True),
        ("app_tokens:*", "billing:read", False),
        ("app_tokens:*", "*", False),
        ("app_tokens:list", "app_tokens:list", True),
        ("app_tokens:list", "app_tokens:create", False),
        ("app_tokens:list", "app_tokens:*", False),
        ("app_tokens:list", "*", False),
    ],
)
def test_grants(held: str, wanted: str, expected: bool) -> None:
    assert grants(held, wanted) is expected


def test_empty_permissions_grant_nothing() -> None:
    assert not has_permission([], "app_tokens:list")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/v1/orders", "/v1/orders", True),
        ("/v1/orders", "/v1/orders/7", False),
        ("/v1/orders/{id}", "/v1/orders/7", True),
        ("/v1/orders/{id}", "/v1/orders/", False),
        ("/v1/orders/{id}", "/v1/orders/7/lines", False),
        ("/v1/orders/*", "/v1/orders/7", True),
        ("/v1/orders/*", "/v1/orders/7/lines", True),
        ("/v1/orders/*", "/v1/orders", False),
        ("/v1/orders/*", "/v1/orders/", False),
        ("/v1/{org}/orders/*", "/v1/acme/orders/7", True),
        ("/v1/{org}/orders/*", "/v1/acme/invoices/7", False),
    ],
)
def test_path_grammar(pattern: str, path: str, expected: bool) -> None:
    assert path_matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("inner", "outer", "expected"),
    [
        ("/v1/orders", "/v1/orders", True),
        ("/v1/orders/7", "/v1/orders/{id}", True),
        ("/v1/orders/{id}", "/v1/orders/7", False),
        ("/v1/orders/{id}", "/v1/orders/*", True),
        ("/v1/orders/7/lines", "/v1/orders/*", True),
        ("/v1/orders/7/*", "/v1/orders/*", True),
        ("/v1/orders/*", "/v1/orders/7/*", False),
        ("/v1/orders/*", "/v1/orders/{id}", False),
        ("/v1/orders", "/v1/orders/*", False),
        ("/v1/orders/*", "/v1/orders/*", True),
        ("/v2/orders/7", "/v1/orders/*", False),
    ],
)
def test_pattern_within(inner: str, outer: str, expected: bool) -> None:
    assert pattern_within(inner, outer) is expected


def test_unrestricted_creator_may_set_anything() -> None:
    assert restriction_breach("scopes", [], ["anything"]) is None
    assert restriction_breach("scopes", [], []) is None


def test_restricted_creator_may_only_narrow() -> None:
    assert restriction_breach("workspace_ids", ["ws1", "ws2"], ["ws1"]) is None
    assert restriction_breach("workspace_ids", ["ws1"], ["ws1", "ws2"]) == "workspace_ids:ws2"
    assert restriction_breach("workspace_ids", ["ws1"], []) == "workspace_ids:*"
    assert restriction_breach("endpoint_paths", ["/v1/orders/*"], ["/v1/orders/{id}"]) is None
    assert restriction_breach("endpoint_paths", ["/v1/orders/*"], ["/v1/*"]) == "endpoint_paths:/v1/*"
