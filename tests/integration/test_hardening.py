"""Regression tests for the holes an outside attack found (issue 11, items 1, 2, 5, 6 and 7).

Each test fails on the code before the fix: the review's reproduction, turned into an assertion.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import shared.http.body
from devtools.events import proxy_event
from shared.domain.lifecycle import REFRESH_REUSE, SERVICE_REVOKE_REASONS
from shared.domain.permissions import path_matches
from shared.domain.restrictions import TOKEN_LIST_FIELDS
from shared.entry.runtime import Runtime
from shared.http.error_map import MAX_ERROR_BODY_BYTES, MAX_PROBLEMS, validation_response
from shared.http.models import MAX_TOKEN_LIST_CHARACTERS, TokenCreate, TokenRefresh, TokenVerify
from shared.services.tokens import IssuedToken
from tests.conftest import APP, ORG, TABLE, TOKENS_URL, LambdaContextStub, Result, call, handler, issue
from tests.integration.test_api import assert_403, assert_422, create, listing, revoke
from tests.invariants import count_events

VERIFY_URL = TOKENS_URL + "/verify"
SOME_ID = "0123456789abcdefghjkmnpqrs"
REFRESH_URL = f"{TOKENS_URL}/{SOME_ID}/refresh"


def strict_json(text: str | None) -> Any:
    """The body parsed as RFC 8259 JSON: NaN and Infinity are refused."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"not JSON: {name}")

    assert text is not None
    return json.loads(text, parse_constant=refuse)


def verify(admin: IssuedToken, token: str, **context: Any) -> Result:
    return call(
        "verify_token", "POST", VERIFY_URL, token=admin.plaintext_token, body={"token": token, **context}
    )


# ---- 1. what an unauthenticated caller can make us spend ------------------------------------------


def test_a_body_of_unknown_keys_is_one_problem_not_one_per_key() -> None:
    """The review's body: 400,000 unknown keys on the unauthenticated refresh route (here, within size)."""
    body = {"refresh_token": "x", **{f"k{i}": 0 for i in range(5_000)}}
    assert len(json.dumps(body)) < TokenRefresh.MAX_BODY_BYTES
    result = call("refresh_token", "POST", REFRESH_URL, body=body)
    [problem] = assert_422(result, ["body"])
    assert problem["type"] == "too_long"
    assert problem["ctx"] == {"field_type": "Object", "max_length": 1, "actual_length": 5_001}


def test_a_list_longer_than_its_field_is_one_problem(admin: IssuedToken) -> None:
    result = create(admin.plaintext_token, {"name": "t", "scopes": [0] * 5_000})
    [problem] = assert_422(result, ["body", "scopes"])
    assert problem["ctx"]["actual_length"] == 5_000


def test_a_422_lists_the_first_50_problems(admin: IssuedToken) -> None:
    bad_scopes = [f"-{i}" for i in range(100)]  # each breaks the pattern: 100 problems
    detail = assert_422(
        create(admin.plaintext_token, {"name": "t", "scopes": bad_scopes}),
        *[["body", "scopes", i] for i in range(MAX_PROBLEMS)],
    )
    assert [item["input"] for item in detail] == bad_scopes[:MAX_PROBLEMS]


def test_no_422_outgrows_64_kib_however_big_its_problems() -> None:
    huge = {f"key{i}" * 1_000: ["v" * 5_000] * 100 for i in range(3)}
    problems = [
        {"loc": ["body", "k" * 10_000, i], "msg": "m" * 10_000, "type": "t", "input": huge, "ctx": huge}
        for i in range(MAX_PROBLEMS * 4)
    ]
    response = validation_response(problems)
    assert len(str(response.body).encode()) <= MAX_ERROR_BODY_BYTES
    assert 0 < len(strict_json(response.body)["detail"]) <= MAX_PROBLEMS


@pytest.mark.parametrize(
    ("name", "method", "path", "model"),
    [
        ("refresh_token", "POST", REFRESH_URL, TokenRefresh),
        ("create_token", "POST", TOKENS_URL, TokenCreate),
        ("verify_token", "POST", VERIFY_URL, TokenVerify),
    ],
)
def test_a_body_longer_than_the_largest_valid_one_is_413_unread(
    admin: IssuedToken, monkeypatch: pytest.MonkeyPatch, name: str, method: str, path: str, model: Any
) -> None:
    def never(_: str) -> Any:
        raise AssertionError("an oversized body was parsed")

    monkeypatch.setattr(shared.http.body, "_parse_json", never)
    raw = '{"k": "' + "x" * model.MAX_BODY_BYTES + '"}'
    token = None if name == "refresh_token" else admin.plaintext_token
    result = call(name, method, path, token=token, raw_body=raw)
    assert result.status == 413
    body = strict_json(result.body)
    assert (body["error"], body["status_code"]) == ("REQUEST_ENTITY_TOO_LARGE", 413)
    assert body["details"] == {"max_bytes": model.MAX_BODY_BYTES, "content_length": len(raw)}


def test_a_route_without_a_body_refuses_one(admin: IssuedToken) -> None:
    result = listing(admin.plaintext_token, raw_body="{}")
    assert result.status == 413 and result.json()["details"]["max_bytes"] == 0


def test_the_largest_token_answers_within_64_kib(admin: IssuedToken) -> None:
    """Every list at its longest together, free text in the longest escapes: still under 64 KiB."""
    per_list = MAX_TOKEN_LIST_CHARACTERS // 6 // 100  # six lists of 100 items share the budget
    body: dict[str, Any] = {
        "name": "\U0001f600" * 128,
        "description": "\U0001f600" * 1024,
        **{
            field: [f"{field[0]}{i:03d}{'x' * (per_list - 4)}" for i in range(100)]
            for field in ("scopes", "workspace_ids", "namespace_ids", "environment_ids")
        },
        "permissions": [f"p{i:03d}:{'x' * (per_list - 6)}" for i in range(100)],
        "endpoint_paths": [f"/p{i:03d}{'x' * (per_list - 5)}" for i in range(100)],
    }
    scopes: list[str] = body["scopes"]
    for i in range(len(scopes)):  # lengthen scopes (up to 128 characters) until exactly at the budget
        short = MAX_TOKEN_LIST_CHARACTERS - sum(
            len(item) for name in TOKEN_LIST_FIELDS for item in body[name]
        )
        scopes[i] += "x" * min(short, 128 - len(scopes[i]))
    assert sum(len(item) for name in TOKEN_LIST_FIELDS for item in body[name]) == MAX_TOKEN_LIST_CHARACTERS
    result = create(admin.plaintext_token, body)
    assert result.status == 201, result.body
    assert len((result.body or "").encode()) <= 64 * 1024
    over = {**body, "workspace_ids": [*body["workspace_ids"][:-1], body["workspace_ids"][-1] + "x"]}
    [problem] = assert_422(create(admin.plaintext_token, over), ["body"])  # one character over
    assert problem["ctx"] == {
        "max_length": MAX_TOKEN_LIST_CHARACTERS,
        "actual": MAX_TOKEN_LIST_CHARACTERS + 1,
    }


# ---- 2. dot segments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "/v1/orders/../admin",
        "/v1/./orders",
        "/v1/orders/..",
        "/v1//orders",
        "/v1/orders/",
        "/v1/%2e%2e/admin",
        "/v1/orders?x=1",
        "/v1/orders#top",
    ],
)
def test_endpoint_paths_with_dot_or_empty_segments_escapes_queries_or_fragments_are_422(
    admin: IssuedToken, pattern: str
) -> None:
    assert_422(
        create(admin.plaintext_token, {"name": "t", "endpoint_paths": [pattern]}),
        ["body", "endpoint_paths", 0],
    )


def test_segments_that_merely_contain_dots_are_literal_segments(admin: IssuedToken) -> None:
    paths = ["/v1/.well-known/jwks", "/v1/...", "/v1/a..b", "/v1/.x", "/"]
    assert create(admin.plaintext_token, {"name": "t", "endpoint_paths": paths}).status == 201


ESCAPING_PATHS = [
    "/v1/orders/../admin",
    "/v1/orders/%2e%2e/admin",
    "/v1/orders/%2E./admin",
    "/v1/orders/..%2Fadmin",
    "/v1/orders/7%2f..%2fadmin",
    "/v1/orders/7%5C..%5Cadmin",
    "/v1/orders/7\\..\\admin",
    "/v1/orders/./7",
    "/v1/orders//7",
    "/v1/orders/7/",
]


@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_a_request_path_that_is_not_normal_matches_no_pattern(
    runtime: Runtime, admin: IssuedToken, path: str
) -> None:
    orders = issue(runtime, admin, endpoint_paths=["/v1/orders/*"])
    assert not path_matches("/v1/orders/*", path)
    assert verify(admin, orders.plaintext_token, path=path).json()["code"] == "FORBIDDEN_PATH"
    assert verify(admin, orders.plaintext_token, path="/v1/orders/7/lines").json()["code"] == "VALID"


@pytest.mark.parametrize("path", ["/v1/orders/7?x=/../admin", "/v1/orders/7#/../../admin"])
def test_verify_path_with_a_query_or_fragment_is_422(runtime: Runtime, admin: IssuedToken, path: str) -> None:
    orders = issue(runtime, admin, endpoint_paths=["/v1/orders/*"])
    assert_422(verify(admin, orders.plaintext_token, path=path), ["body", "path"])
    # As the authorizer sees it (no model in front): no pattern matches it.
    assert not path_matches("/v1/orders/*", path)


# ---- 5. inputs that gave a 500 -----------------------------------------------------------------------


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_an_expiry_with_no_utc_spelling_is_422(admin: IssuedToken, expires_at: str) -> None:
    [problem] = assert_422(
        create(admin.plaintext_token, {"name": "e", "expires_at": expires_at}), ["body", "expires_at"]
    )
    assert problem["type"] == "datetime_out_of_range"


HUGE_INTEGER = "9" * 4_301

HUGE_INTEGER_BODIES = [
    ("create_token", "POST", TOKENS_URL, True, '{"name": "t", "rate_limit_rps": %s}'),
    ("revoke_token", "DELETE", f"{TOKENS_URL}/{SOME_ID}", True, '{"reason": %s}'),
    ("refresh_token", "POST", REFRESH_URL, False, '{"refresh_token": %s}'),
    ("verify_token", "POST", VERIFY_URL, True, '{"token": "x", "unknown": [%s]}'),
]


@pytest.mark.parametrize(("name", "method", "path", "bearer", "template"), HUGE_INTEGER_BODIES)
@pytest.mark.parametrize(
    "number", [HUGE_INTEGER, "-" + HUGE_INTEGER, "NaN", "Infinity", "-Infinity", "1e309"]
)
def test_numbers_python_cannot_hold_are_422_in_strict_json(
    admin: IssuedToken, name: str, method: str, path: str, bearer: bool, template: str, number: str
) -> None:
    token = admin.plaintext_token if bearer else None
    result = call(name, method, path, token=token, raw_body=template % number)
    assert result.status == 422, result.body
    assert [item["loc"] for item in strict_json(result.body)["detail"]] == [["body"]]


def test_non_finite_numbers_in_an_echo_stay_strict_json() -> None:
    response = validation_response(
        [{"loc": ["body", "x"], "msg": "m", "type": "t", "input": float("nan"), "ctx": {"le": float("inf")}}]
    )
    [item] = strict_json(response.body)["detail"]
    assert (item["input"], item["ctx"]) == ("nan", {"le": "inf"})


# ---- 6. echoes that leak ------------------------------------------------------------------------------


def test_every_copy_of_a_secret_in_an_echo_is_redacted(admin: IssuedToken) -> None:
    secret = admin.plaintext_token
    result = verify(admin, secret * 7)
    assert result.status == 422
    assert secret not in (result.body or "") and secret[-20:] not in (result.body or "")
    assert strict_json(result.body)["detail"][0]["input"] == "[redacted]" * 7


def test_a_secret_as_a_key_is_redacted_in_the_location(admin: IssuedToken) -> None:
    result = create(admin.plaintext_token, {"name": "t", admin.plaintext_token: 1})
    assert_422(result, ["body", "[redacted]"])
    assert admin.plaintext_token not in (result.body or "")


def test_a_secret_in_an_unknown_path_is_redacted(admin: IssuedToken) -> None:
    path = f"{TOKENS_URL}/{admin.plaintext_token}/x"
    event = proxy_event("GET", path, headers={"Authorization": f"Bearer {admin.plaintext_token}"})
    result = handler("list_tokens")(event, LambdaContextStub())
    assert result["statusCode"] == 404
    assert admin.plaintext_token not in result["body"]
    assert json.loads(result["body"])["details"]["resource_id"] == f"{TOKENS_URL}/[redacted]/x"


# ---- 7. semantics that were looser than they looked ----------------------------------------------------


@pytest.mark.parametrize("reason", [*sorted(SERVICE_REVOKE_REASONS), " Refresh_Token_Reuse "])
@pytest.mark.parametrize("where", ["query", "body"])
def test_reasons_the_service_writes_are_refused_from_users(
    runtime: Runtime, dynamodb: Any, admin: IssuedToken, reason: str, where: str
) -> None:
    victim = issue(runtime, admin)
    token_id = victim.token.token_id
    if where == "query":
        result = revoke(admin.plaintext_token, token_id, query={"reason": reason})
    else:
        result = revoke(admin.plaintext_token, token_id, body={"reason": reason})
    [problem] = assert_422(result, [where, "reason"])
    assert problem["type"] == "reason_reserved"
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert count_events(items, REFRESH_REUSE, token_id) == 0
    assert runtime.repository.get_token(ORG, APP, token_id).revoked_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("limits", "locs"),
    [
        ({"rate_limit_burst": 5}, [["body", "rate_limit_burst"]]),
        ({"rate_limit_rps": 0}, [["body", "rate_limit_rps"]]),
        (
            {"rate_limit_rps": 0, "rate_limit_burst": 5},
            [["body", "rate_limit_rps"], ["body", "rate_limit_burst"]],
        ),
        ({"rate_limit_rps": 5, "rate_limit_burst": 0}, [["body", "rate_limit_burst"]]),
    ],
)
def test_a_limit_that_could_not_be_enforced_is_422(
    admin: IssuedToken, limits: dict[str, int], locs: list[list[str]]
) -> None:
    assert_422(create(admin.plaintext_token, {"name": "t", **limits}), *locs)


def test_a_burst_below_the_rate_is_the_bucket_enforced(runtime: Runtime, admin: IssuedToken) -> None:
    small = issue(runtime, admin, rate_limit_rps=10, rate_limit_burst=2)
    assert (small.token.rate_limit_rps, small.token.rate_limit_burst) == (10, 2)
    codes = [verify(admin, small.plaintext_token).json()["code"] for _ in range(3)]
    assert codes == ["VALID", "VALID", "RATE_LIMITED"]  # the clock stands still: the bucket of 2, not 10


@pytest.mark.parametrize(
    ("child", "missing"),
    [
        ({}, "rate_limit_rps:*"),
        ({"rate_limit_rps": 11}, "rate_limit_rps:11"),
        ({"rate_limit_rps": 10, "rate_limit_burst": 21}, "rate_limit_burst:21"),
        ({"rate_limit_rps": 5, "rate_limit_burst": 21}, "rate_limit_burst:21"),
    ],
)
def test_a_rate_limited_creator_cannot_mint_a_looser_limit(
    runtime: Runtime, admin: IssuedToken, child: dict[str, int], missing: str
) -> None:
    creator = issue(runtime, admin, permissions=["*"], rate_limit_rps=10, rate_limit_burst=20)
    assert_403(create(creator.plaintext_token, {"name": "child", **child}), missing)
    within = {"name": "child", "rate_limit_rps": 10, "rate_limit_burst": 20}
    assert create(creator.plaintext_token, within).status == 201


def test_a_creator_limited_by_its_rate_alone_bounds_the_child_burst(
    runtime: Runtime, admin: IssuedToken
) -> None:
    creator = issue(runtime, admin, permissions=["*"], rate_limit_rps=10)  # a bucket of 10
    assert_403(
        create(creator.plaintext_token, {"name": "c", "rate_limit_rps": 5, "rate_limit_burst": 11}),
        "rate_limit_burst:11",
    )
    assert (
        create(creator.plaintext_token, {"name": "c", "rate_limit_rps": 5, "rate_limit_burst": 10}).status
        == 201
    )


def test_the_management_api_honours_endpoint_paths(runtime: Runtime, admin: IssuedToken) -> None:
    allowed = issue(runtime, admin, permissions=["*"], endpoint_paths=[TOKENS_URL])
    elsewhere = issue(runtime, admin, permissions=["*"], endpoint_paths=["/v1/orders/*"])
    assert listing(allowed.plaintext_token).status == 200
    assert_403(listing(elsewhere.plaintext_token), f"endpoint_paths:{TOKENS_URL}")
    assert_403(revoke(allowed.plaintext_token, SOME_ID), f"endpoint_paths:{TOKENS_URL}/{SOME_ID}")


def test_a_cursor_only_works_with_the_filter_that_made_it(runtime: Runtime, admin: IssuedToken) -> None:
    for _ in range(3):
        issue(runtime, admin)
    page = listing(admin.plaintext_token, query={"limit": "1", "status": "active"}).json()
    cursor = page["next_token"]
    assert cursor is not None
    same = listing(admin.plaintext_token, query={"limit": "1", "status": "active", "next_token": cursor})
    assert same.status == 200
    for other in ({"status": "revoked"}, {}):
        result = listing(admin.plaintext_token, query={"limit": "1", "next_token": cursor, **other})
        assert_422(result, ["query", "next_token"])


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\t"])
def test_a_path_id_with_trailing_whitespace_is_422_and_acts_on_nothing(
    runtime: Runtime, admin: IssuedToken, suffix: str
) -> None:
    victim = issue(runtime, admin)
    token_id = victim.token.token_id
    parameters = {"org_id": ORG, "app_id": APP, "token_id": token_id + suffix}
    event = proxy_event(
        "DELETE",
        f"{TOKENS_URL}/{token_id}{suffix}",
        resource="/v1/orgs/{org_id}/apps/{app_id}/tokens/{token_id}",
        path_parameters=parameters,
        headers={"Authorization": f"Bearer {admin.plaintext_token}"},
    )
    result = handler("revoke_token")(event, LambdaContextStub())
    assert result["statusCode"] == 422
    assert json.loads(result["body"])["detail"][0]["loc"] == ["path", "token_id"]
    assert runtime.repository.get_token(ORG, APP, token_id).revoked_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("APPLICATION/JSON", True),
        ("application/json; charset=utf-8", True),
        ('Application/Json;Charset="UTF-8"', True),
        ("application/jsonp", False),
        ("application/json-patch+json", False),
        ("application/json; charset=latin-1", False),
        ("application/json; boundary=x", False),
        ("text/plain", False),
    ],
)
def test_bodies_are_json_only_as_application_json_in_utf8(
    admin: IssuedToken, content_type: str, accepted: bool
) -> None:
    result = create(admin.plaintext_token, headers={"Content-Type": content_type})
    if accepted:
        assert result.status == 201, result.body
    else:
        assert_422(result, ["header", "content-type"])
