"""What the create and revoke bodies accept and refuse."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.edits import UPDATABLE_FIELDS
from shared.domain.records import TokenRecord
from shared.domain.restrictions import RESTRICTION_FIELDS, RESTRICTIONS, TOKEN_LIST_FIELDS
from shared.http.models import (
    AppTokenPublic,
    RequestBody,
    TokenCreate,
    TokenRefresh,
    TokenRevoke,
    TokenVerification,
    TokenVerify,
)
from shared.http.report_models import CredentialsReport
from shared.http.token_models import TokenRotate, TokenUpdate


def errors_of(body: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        TokenCreate.model_validate(body)
    return [(tuple(e["loc"]), e["type"]) for e in caught.value.errors()]


def test_name_alone_is_enough_and_defaults_fill_the_rest() -> None:
    created = TokenCreate.model_validate({"name": "  deploy bot  "})
    assert created.name == "deploy bot"
    assert created.token_type == "pat"
    assert created.scopes == [] and created.permissions == []
    assert created.expires_at is None and created.rate_limit_rps is None


def test_every_writable_field_is_accepted() -> None:
    body = {
        "name": "ci",
        "description": "line one\nline two",
        "token_type": "pat",
        "scopes": ["orders:read"],
        "permissions": ["orders:*", "*"],
        "workspace_ids": ["ws1"],
        "namespace_ids": ["ns-1"],
        "environment_ids": ["prod"],
        "endpoint_paths": ["/v1/orders/{id}", "/v1/invoices/*", "/"],
        "rate_limit_rps": 10,
        "rate_limit_burst": 20,
        "expires_at": "2026-12-01T00:00:00Z",
    }
    assert TokenCreate.model_validate(body).endpoint_paths == ["/v1/orders/{id}", "/v1/invoices/*", "/"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [(("name",), "missing")]),
        ({"name": ""}, [(("name",), "string_too_short")]),
        ({"name": "   "}, [(("name",), "string_too_short")]),
        ({"name": "x" * 129}, [(("name",), "string_too_long")]),
        ({"name": "nul\x00byte"}, [(("name",), "string_pattern_mismatch")]),
        ({"name": 5}, [(("name",), "string_type")]),
        ({"name": "x", "token_id": "mine"}, [(("token_id",), "extra_forbidden")]),
        ({"name": "x", "org_id": "other"}, [(("org_id",), "extra_forbidden")]),
        ({"name": "x", "description": "d" * 1025}, [(("description",), "string_too_long")]),
        ({"name": "x", "token_type": "root"}, [(("token_type",), "literal_error")]),
        ({"name": "x", "scopes": ["a"] * 2}, [(("scopes",), "list_unique")]),
        ({"name": "x", "scopes": [f"s{i}" for i in range(101)]}, [(("scopes",), "too_long")]),
        ({"name": "x", "scopes": "read"}, [(("scopes",), "list_type")]),
        ({"name": "x", "permissions": ["admin"]}, [(("permissions", 0), "string_pattern_mismatch")]),
        (
            {"name": "x", "endpoint_paths": ["v1/orders"]},
            [(("endpoint_paths", 0), "string_pattern_mismatch")],
        ),
        ({"name": "x", "endpoint_paths": [""]}, [(("endpoint_paths", 0), "string_too_short")]),
        ({"name": "x", "endpoint_paths": ["/v1/*/x"]}, [(("endpoint_paths", 0), "string_pattern_mismatch")]),
        ({"name": "x", "rate_limit_rps": -1}, [(("rate_limit_rps",), "greater_than_equal")]),
        ({"name": "x", "rate_limit_rps": 10**9}, [(("rate_limit_rps",), "less_than_equal")]),
        ({"name": "x", "rate_limit_burst": "5"}, [(("rate_limit_burst",), "int_type")]),
        ({"name": "x", "rate_limit_rps": True}, [(("rate_limit_rps",), "int_type")]),
        ({"name": "x", "rate_limit_rps": 1.5}, [(("rate_limit_rps",), "int_type")]),
        ({"name": "x", "expires_at": "2026-12-01T00:00:00"}, [(("expires_at",), "timezone_aware")]),
        ({"name": "x", "expires_at": "soon"}, [(("expires_at",), "datetime_from_date_parsing")]),
    ],
)
def test_bad_bodies_name_the_field(
    body: dict[str, Any], expected: list[tuple[tuple[str | int, ...], str]]
) -> None:
    assert errors_of(body) == expected


def test_revoke_body_is_optional_and_strict() -> None:
    assert TokenRevoke.model_validate({}).reason is None
    assert TokenRevoke.model_validate({"reason": " leaked "}).reason == "leaked"
    with pytest.raises(ValidationError):
        TokenRevoke.model_validate({"reason": "x", "extra": 1})
    with pytest.raises(ValidationError):
        TokenRevoke.model_validate({"reason": "r" * 513})


# The rule for RequestBody.MAX_BODY_BYTES (docs/decisions.md, "Body size"): the compact JSON of the
# largest valid body, every character of every string and key written as its longest escape (a
# surrogate pair, 12 bytes), every number in 24 bytes, plus a fixed allowance for whitespace.
ESCAPED_CHAR_BYTES = 12
NUMBER_BYTES = 24
WHITESPACE_ALLOWANCE = 64 * 1024


def _largest(schema: dict[str, Any], defs: dict[str, Any]) -> int:  # noqa: PLR0911 - one case a JSON type
    if "$ref" in schema:
        return _largest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return max(_largest(option, defs) for option in schema["anyOf"])
    kind = schema.get("type")
    if "const" in schema:
        return 2 + ESCAPED_CHAR_BYTES * len(str(schema["const"]))
    if "enum" in schema:  # the longest of the values (a credits refill's interval)
        return 2 + ESCAPED_CHAR_BYTES * max(len(str(value)) for value in schema["enum"])
    if kind == "string":
        assert "maxLength" in schema, f"a string without maxLength has no largest size: {schema}"
        return 2 + ESCAPED_CHAR_BYTES * int(schema["maxLength"])
    if kind in ("integer", "number"):
        return NUMBER_BYTES
    if kind == "boolean":
        return len("false")
    if kind == "null":
        return len("null")
    if kind == "array":
        items = int(schema["maxItems"])
        return 2 + items * _largest(schema["items"], defs) + max(items - 1, 0)
    assert kind == "object", schema
    members = [
        2 + ESCAPED_CHAR_BYTES * len(name) + 1 + _largest(value, defs)
        for name, value in schema["properties"].items()
    ]
    return 2 + sum(members) + len(members) - 1


def largest_valid_body(model: type[RequestBody]) -> int:
    """The bound RequestBody.MAX_BODY_BYTES states, derived from the model's JSON schema."""
    schema = model.model_json_schema()
    return _largest(schema, schema.get("$defs", {})) + WHITESPACE_ALLOWANCE


@pytest.mark.parametrize(
    "model",
    [TokenCreate, TokenRevoke, TokenRefresh, TokenVerify, TokenUpdate, CredentialsReport, TokenRotate],
)
def test_body_bound_is_the_largest_valid_body(model: type[RequestBody]) -> None:
    assert largest_valid_body(model) == model.MAX_BODY_BYTES


def test_the_token_lists_are_the_grants_and_the_domains_restrictions() -> None:
    """One tuple of restrictions (shared.domain.restrictions): the seed's explicit AppToken, the stored
    record and the create body hold exactly its lists and the grants, in the seed's order."""
    public = [name for name, info in AppTokenPublic.model_fields.items() if info.annotation == list[str]]
    assert public == [
        "scopes",
        "permissions",
        "workspace_ids",
        "namespace_ids",
        "environment_ids",
        "endpoint_paths",
    ]
    assert sorted(public) == sorted(TOKEN_LIST_FIELDS)
    assert [name for name in public if name != "permissions"] == list(RESTRICTION_FIELDS)
    assert [f.name for f in dataclasses.fields(TokenRecord) if f.type == "list[str]"] == public
    assert [name for name in TokenCreate.model_fields if name in TOKEN_LIST_FIELDS] == public


def test_the_verify_body_asks_for_every_restriction_in_the_order_verification_checks() -> None:
    assert list(TokenVerify.model_fields) == [
        "token", "method", "path", "scopes", "permission", "workspace_id", "namespace_id", "environment_id",
        "cost", "source_ip", "user_agent",
    ]  # fmt: skip
    assert {r.request_field for r in RESTRICTIONS} <= set(TokenVerify.model_fields)


def _field_schema(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A body field's schema without its default, title or null option: its type and limits."""
    field = {k: v for k, v in schema["properties"][name].items() if k not in ("default", "title")}
    options = [option for option in field.pop("anyOf", []) if option != {"type": "null"}]
    return {**options[0], **field} if options else field


def test_the_update_body_holds_exactly_the_updatable_fields_with_the_create_types() -> None:
    assert set(TokenUpdate.model_fields) == set(UPDATABLE_FIELDS)
    created, updated = TokenCreate.model_json_schema(), TokenUpdate.model_json_schema()
    for name in set(UPDATABLE_FIELDS) - {"enabled"}:  # a new token is always enabled
        assert _field_schema(updated, name) == _field_schema(created, name), name
    nullable = [name for name, field in updated["properties"].items() if "anyOf" in field]
    assert nullable == ["description", "credits"]  # credits: null removes the limit (issue 16)


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({}, [], "update_empty"),
        ({"name": None}, ["name"], "string_type"),
        ({"enabled": None}, ["enabled"], "bool_type"),
        ({"enabled": "false"}, ["enabled"], "bool_type"),
        ({"scopes": None}, ["scopes"], "list_type"),
        ({"expires_at": None}, ["expires_at"], "datetime_type"),
        ({"rate_limit_rps": None}, ["rate_limit_rps"], "int_type"),
        ({"owner_id": "x"}, ["owner_id"], "extra_forbidden"),
        ({"token_type": "pat"}, ["token_type"], "extra_forbidden"),
        ({"name": ""}, ["name"], "string_too_short"),
    ],
)
def test_bad_update_bodies_are_refused(body: dict[str, Any], loc: list[str], error_type: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TokenUpdate.model_validate(body)
    [error] = raised.value.errors()
    assert (list(error["loc"]), error["type"]) == (loc, error_type)


def test_an_update_changes_only_what_the_body_set() -> None:
    change = TokenUpdate.model_validate(
        {"description": None, "scopes": ["a", "b"], "enabled": False}
    ).change()
    assert change.values == {"description": None, "scopes": ("a", "b"), "enabled": False}


def test_the_verdict_model_holds_every_code_verification_gives() -> None:
    from typing import get_args

    from shared.services.verification import VerifyCode

    # A code the model lacks would turn that verdict into a 500 (the response fails its model).
    assert list(get_args(TokenVerification.model_fields["code"].annotation)) == [
        code.value for code in VerifyCode
    ]


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 (an address, not a bind)
        ("255.255.255.255", "255.255.255.255"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:c000:201"),
    ],
)
def test_a_source_address_is_kept_in_its_canonical_spelling(given: str, canonical: str) -> None:
    body = TokenVerify.model_validate({"token": "x", "source_ip": given})
    assert body.source_ip == canonical


@pytest.mark.parametrize(
    "given",
    [
        *("192.0.2.256", "01.2.3.4", "1.2.3", "1:2:3:4:5:6:7:8:9", "1::2::3"),
        *("fe80::1%eth0", "192.0.2.1/32", " ::1", ""),
    ],
)
def test_a_malformed_source_address_is_refused_by_the_pattern_and_by_the_service(given: str) -> None:
    pattern = TokenVerify.model_json_schema()["properties"]["source_ip"]["anyOf"][0]["pattern"]
    assert re.fullmatch(pattern, given) is None
    with pytest.raises(ValidationError):
        TokenVerify.model_validate({"token": "x", "source_ip": given})
