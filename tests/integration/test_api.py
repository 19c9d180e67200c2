"""Every status code of every endpoint, through each function's ``lambda_handler``."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared.domain.crypto import SecretKind, new_secret
from shared.entry.runtime import Runtime
from shared.http.models import ErrorBody, ValidationErrorBody
from shared.services.tokens import IssuedToken
from tests.conftest import APP, ORG, TOKENS_URL, FakeClock, Result, call, mint_admin

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
APP_TOKEN_FIELDS = {
    "token_id", "token_type", "owner_type", "owner_id", "org_id", "name", "description", "prefix", "scopes",
    "permissions", "workspace_ids", "namespace_ids", "environment_ids", "endpoint_paths", "rate_limit_rps",
    "rate_limit_burst", "created_by_user_id", "issued_at", "expires_at", "last_used_at", "revoked_at",
    "revoked_reason",
}  # fmt: skip


def assert_error(result: Result, status: int, error: str, message: str, details: dict[str, Any]) -> None:
    assert result.status == status
    assert result.headers["content-type"] == "application/json"
    body = result.json()
    assert set(body) == {"error", "message", "details", "timestamp", "status_code"}
    ErrorBody.model_validate(body)
    assert (body["error"], body["message"], body["details"], body["status_code"]) == (
        error,
        message,
        details,
        status,
    )
    assert TIMESTAMP.match(body["timestamp"])


def assert_401(result: Result) -> None:
    assert_error(result, 401, "AUTHENTICATION_FAILED", "Authentication required", {})
    assert result.headers["www-authenticate"] == "Bearer"


def assert_403(result: Result, permission: str) -> None:
    assert_error(
        result,
        403,
        "FORBIDDEN",
        "You don't have permission to perform this action",
        {"required_permission": permission},
    )


def assert_404(result: Result, resource_type: str, resource_id: str) -> None:
    assert_error(
        result,
        404,
        "RESOURCE_NOT_FOUND",
        "The requested resource was not found",
        {"resource_type": resource_type, "resource_id": resource_id},
    )


def assert_500(result: Result) -> None:
    assert_error(result, 500, "INTERNAL_SERVER_ERROR", "An unexpected error occurred", {})


def assert_422(result: Result, *locs: list[Any]) -> list[dict[str, Any]]:
    assert result.status == 422, result.body
    detail = result.json()["detail"]
    assert set(result.json()) == {"detail"}
    ValidationErrorBody.model_validate(result.json())  # the documented schema describes what we send
    for item in detail:
        assert set(item) == {"loc", "msg", "type", "input", "ctx"}
        assert isinstance(item["msg"], str) and item["msg"]
        assert isinstance(item["ctx"], dict)
    assert [item["loc"] for item in detail] == list(locs)
    return list(detail)


def create(token: str, body: Any = None, **kwargs: Any) -> Result:
    return call(
        "create_token",
        "POST",
        TOKENS_URL,
        token=token,
        body=body if body is not None else {"name": "t"},
        **kwargs,
    )


def revoke(token: str | None, token_id: str, **kwargs: Any) -> Result:
    return call("revoke_token", "DELETE", f"{TOKENS_URL}/{token_id}", token=token, **kwargs)


def listing(token: str | None, path: str = TOKENS_URL, **kwargs: Any) -> Result:
    return call("list_tokens", "GET", path, token=token, **kwargs)


@pytest.fixture
def unauthenticated_variants(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> dict[str, str | None]:
    """A credential for each cause of 401, all but the expired one usable now."""
    revoked = create(admin.plaintext_token).json()
    revoke(admin.plaintext_token, revoked["token"]["token_id"])
    return {
        "missing": None,
        "malformed": "not-a-token",
        "refresh token": admin.refresh_token_plaintext,
        "unknown": new_secret(SecretKind.ACCESS, admin.token.token_id),
        "revoked": revoked["plaintext_token"],
    }


# ---- List App Tokens ---------------------------------------------------------------------------


def test_list_200_has_every_field_and_no_secret(admin: IssuedToken, clock: FakeClock) -> None:
    clock.advance(seconds=1)
    created = create(admin.plaintext_token).json()
    result = listing(admin.plaintext_token)
    assert result.status == 200
    body = result.json()
    assert set(body) == {"tokens", "next_token"}
    assert [token["token_id"] for token in body["tokens"]] == [
        created["token"]["token_id"],
        admin.token.token_id,
    ]
    assert all(set(token) == APP_TOKEN_FIELDS for token in body["tokens"])
    assert created["plaintext_token"] not in result.body  # type: ignore[operator]
    assert "hash" not in result.body  # type: ignore[operator]


def test_list_paginates_with_limit(admin: IssuedToken) -> None:
    for _ in range(3):
        create(admin.plaintext_token)
    first = listing(admin.plaintext_token, query={"limit": "2"}).json()
    second = listing(admin.plaintext_token, query={"limit": "2", "next_token": first["next_token"]}).json()
    ids = [t["token_id"] for t in first["tokens"] + second["tokens"]]
    assert len(ids) == len(set(ids)) == 4


def test_list_401_for_every_cause_is_the_same(unauthenticated_variants: dict[str, str | None]) -> None:
    bodies = set()
    for token in unauthenticated_variants.values():
        result = listing(token)
        assert_401(result)
        body = result.json()
        del body["timestamp"]
        bodies.add(json.dumps(body))
    assert len(bodies) == 1


def test_list_401_for_expired(runtime: Runtime, clock: FakeClock) -> None:
    short = mint_admin(runtime, ORG, APP, ["*"], days=1)
    clock.advance(days=1)
    assert_401(listing(short.plaintext_token))


def test_list_403_names_the_permission(runtime: Runtime, admin: IssuedToken) -> None:
    creator = create(admin.plaintext_token, {"name": "c", "permissions": ["app_tokens:create"]}).json()
    assert_403(listing(creator["plaintext_token"]), "app_tokens:list")


def test_list_404_for_unregistered_app_and_other_org(runtime: Runtime, admin: IssuedToken) -> None:
    mint_admin(runtime, "globex", "ledger", ["*"])
    assert_404(listing(admin.plaintext_token, f"/v1/orgs/{ORG}/apps/nope/tokens"), "app", "nope")
    assert_404(listing(admin.plaintext_token, "/v1/orgs/globex/apps/ledger/tokens"), "app", "ledger")


@pytest.mark.parametrize(
    ("path", "query", "locs"),
    [
        ("/v1/orgs/bad!org/apps/x/tokens", {}, [["path", "org_id"]]),
        (f"/v1/orgs/{ORG}/apps/-x/tokens", {}, [["path", "app_id"]]),
        (TOKENS_URL, {"limit": "0"}, [["query", "limit"]]),
        (TOKENS_URL, {"limit": "101"}, [["query", "limit"]]),
        (TOKENS_URL, {"limit": "ten"}, [["query", "limit"]]),
        (TOKENS_URL, {"status": "deleted"}, [["query", "status"]]),
        (TOKENS_URL, {"next_token": "forged.cursor"}, [["query", "next_token"]]),
        (TOKENS_URL, {"next_token": "x" * 1025}, [["query", "next_token"]]),
    ],
)
def test_list_422(admin: IssuedToken, path: str, query: dict[str, str], locs: list[list[str]]) -> None:
    assert_422(listing(admin.plaintext_token, path, query=query), *locs)


def test_list_422_comes_after_authentication() -> None:
    assert_401(listing(None, "/v1/orgs/bad!org/apps/x/tokens", query={"limit": "0"}))


def test_list_500_leaks_nothing(
    runtime: Runtime, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any, **__: Any) -> None:
        # A request DynamoDB refuses for good (our bug): a 500. Throttling is a 503 (test_faults.py).
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "secret internals"}}, "Query")

    monkeypatch.setattr(runtime.repository, "list_tokens", explode)
    result = listing(admin.plaintext_token)
    assert_500(result)
    assert "internals" not in (result.body or "") and "Traceback" not in (result.body or "")


def test_list_response_model_failure_is_our_500_not_a_422(runtime: Runtime, admin: IssuedToken) -> None:
    """A record our own response model refuses (here, corrupt data) is a 500 that echoes nothing."""
    from shared.storage.items import token_key

    item = {
        **token_key(ORG, APP, "zzzzzzzzzzzzzzzzzzzzzzzzzz"),
        "token_id": {"S": "corrupt"},
        "token_type": {"S": "not-a-type"},
        "name": {"S": "leaky-value"},
    }
    runtime.repository.client.put_item(TableName=runtime.settings.table_name, Item=item)  # type: ignore[attr-defined]
    result = listing(admin.plaintext_token)
    assert_500(result)
    assert "leaky-value" not in (result.body or "") and "not-a-type" not in (result.body or "")


# ---- Create App Token --------------------------------------------------------------------------


def test_create_201(admin: IssuedToken, clock: FakeClock) -> None:
    result = create(admin.plaintext_token, {"name": "deploy", "scopes": ["read"], "rate_limit_rps": 5})
    assert result.status == 201
    body = result.json()
    assert set(body) == {"token", "plaintext_token", "refresh_token_plaintext"}
    token = body["token"]
    assert set(token) == APP_TOKEN_FIELDS
    assert (token["name"], token["scopes"], token["rate_limit_rps"], token["rate_limit_burst"]) == (
        "deploy",
        ["read"],
        5,
        None,
    )
    assert (token["owner_id"], token["created_by_user_id"], token["org_id"]) == ("admin", "admin", ORG)
    assert body["plaintext_token"].startswith(token["prefix"])
    assert listing(body["plaintext_token"]).status == 403  # it works, and has no permissions


def test_create_401_even_with_a_bad_body(unauthenticated_variants: dict[str, str | None]) -> None:
    for token in unauthenticated_variants.values():
        assert_401(call("create_token", "POST", TOKENS_URL, token=token, raw_body="{not json"))
        assert_401(call("create_token", "POST", TOKENS_URL, token=token, body={"name": ""}))


def test_create_403(admin: IssuedToken) -> None:
    lister = create(admin.plaintext_token, {"name": "l", "permissions": ["app_tokens:list"]}).json()
    assert_403(create(lister["plaintext_token"]), "app_tokens:create")
    creator = create(
        admin.plaintext_token, {"name": "c", "permissions": ["app_tokens:create"], "workspace_ids": ["ws1"]}
    ).json()
    assert_403(
        create(
            creator["plaintext_token"],
            {"name": "x", "permissions": ["app_tokens:revoke"], "workspace_ids": ["ws1"]},
        ),
        "app_tokens:revoke",
    )
    assert_403(create(creator["plaintext_token"], {"name": "x"}), "workspace_ids:*")


def test_create_404(runtime: Runtime, admin: IssuedToken) -> None:
    mint_admin(runtime, "globex", "ledger", ["*"])
    assert_404(
        call(
            "create_token",
            "POST",
            f"/v1/orgs/{ORG}/apps/nope/tokens",
            token=admin.plaintext_token,
            body={"name": "x"},
        ),
        "app",
        "nope",
    )
    assert_404(
        call(
            "create_token",
            "POST",
            "/v1/orgs/globex/apps/ledger/tokens",
            token=admin.plaintext_token,
            body={"name": "x"},
        ),
        "app",
        "ledger",
    )


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({}, [["body", "name"]]),
        ({"name": "x" * 129}, [["body", "name"]]),
        ({"name": "x", "unknown": 1}, [["body", "unknown"]]),
        ({"name": "x", "token_id": "mine"}, [["body", "token_id"]]),
        ({"name": 7}, [["body", "name"]]),
        ({"name": "x", "scopes": ["a", "a"]}, [["body", "scopes"]]),
        ({"name": "x", "endpoint_paths": ["orders"]}, [["body", "endpoint_paths", 0]]),
        ({"name": "x", "rate_limit_burst": -5}, [["body", "rate_limit_burst"]]),
        ({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, [["body", "expires_at"]]),
        ({"name": "x", "expires_at": "2099-01-01T00:00:00Z"}, [["body", "expires_at"]]),
        ([1, 2], [["body"]]),
    ],
)
def test_create_422(admin: IssuedToken, body: Any, locs: list[list[str | int]]) -> None:
    assert_422(create(admin.plaintext_token, body), *locs)


def test_create_422_for_bodies_that_are_not_json(admin: IssuedToken) -> None:
    token = admin.plaintext_token
    assert_422(call("create_token", "POST", TOKENS_URL, token=token, raw_body="{not json"), ["body", 1])
    assert_422(call("create_token", "POST", TOKENS_URL, token=token, raw_body=b"\xff\xfe{}"), ["body"])
    assert_422(call("create_token", "POST", TOKENS_URL, token=token, raw_body=""), ["body"])
    for content_type in ("text/plain", "multipart/form-data", "application/x-www-form-urlencoded"):
        result = call(
            "create_token",
            "POST",
            TOKENS_URL,
            token=token,
            raw_body="name=x",
            headers={"Content-Type": content_type},
        )
        assert_422(result, ["header", "content-type"])


def test_create_422_names_expires_at_beyond_the_creator(runtime: Runtime, clock: FakeClock) -> None:
    short = mint_admin(runtime, ORG, APP, ["*"], days=2)
    detail = assert_422(
        create(short.plaintext_token, {"name": "x", "expires_at": "2026-11-05T00:00:00Z"}),
        ["body", "expires_at"],
    )
    assert detail[0]["type"] == "datetime_after_creator"


def test_create_500_leaks_nothing(
    runtime: Runtime, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom with internals")

    monkeypatch.setattr(runtime.repository, "create_token", explode)
    result = create(admin.plaintext_token)
    assert_500(result)
    assert "boom" not in (result.body or "")


# ---- Revoke App Token --------------------------------------------------------------------------


def test_revoke_204_then_401_then_idempotent(admin: IssuedToken) -> None:
    child = create(admin.plaintext_token, {"name": "c", "permissions": ["app_tokens:list"]}).json()
    token_id = child["token"]["token_id"]
    assert listing(child["plaintext_token"]).status == 200
    first = revoke(admin.plaintext_token, token_id, body={"reason": "leaked in CI log"})
    assert (first.status, first.body) == (204, None)
    assert "content-type" not in first.headers
    assert_401(listing(child["plaintext_token"]))
    again = revoke(admin.plaintext_token, token_id, query={"reason": "second"})
    assert again.status == 204
    revoked = next(t for t in listing(admin.plaintext_token).json()["tokens"] if t["token_id"] == token_id)
    assert revoked["revoked_reason"] == "leaked in CI log" and revoked["revoked_at"] is not None


def test_revoke_reason_from_the_query(admin: IssuedToken) -> None:
    token_id = create(admin.plaintext_token).json()["token"]["token_id"]
    assert revoke(admin.plaintext_token, token_id, query={"reason": "rotated"}).status == 204
    revoked = listing(admin.plaintext_token, query={"status": "revoked"}).json()["tokens"]
    assert [(t["token_id"], t["revoked_reason"]) for t in revoked] == [(token_id, "rotated")]


def test_revoke_401(unauthenticated_variants: dict[str, str | None], admin: IssuedToken) -> None:
    for token in unauthenticated_variants.values():
        assert_401(revoke(token, admin.token.token_id))


def test_revoke_403(admin: IssuedToken) -> None:
    lister = create(admin.plaintext_token, {"name": "l", "permissions": ["app_tokens:list"]}).json()
    assert_403(revoke(lister["plaintext_token"], admin.token.token_id), "app_tokens:revoke")


def test_revoke_404(runtime: Runtime, admin: IssuedToken) -> None:
    other = mint_admin(runtime, "globex", "ledger", ["*"])
    assert_404(revoke(admin.plaintext_token, "0" * 26), "token", "0" * 26)
    path = f"/v1/orgs/globex/apps/ledger/tokens/{other.token.token_id}"
    assert_404(
        call("revoke_token", "DELETE", path, token=admin.plaintext_token), "token", other.token.token_id
    )
    assert listing(other.plaintext_token, "/v1/orgs/globex/apps/ledger/tokens").status == 200


@pytest.mark.parametrize(
    ("token_id", "kwargs", "locs"),
    [
        ("bad.id", {}, [["path", "token_id"]]),
        ("x" * 65, {}, [["path", "token_id"]]),
        ("0" * 26, {"body": {"reason": "a"}, "query": {"reason": "b"}}, [["query", "reason"]]),
        ("0" * 26, {"body": {"why": "a"}}, [["body", "why"]]),
        ("0" * 26, {"body": {"reason": "r" * 513}}, [["body", "reason"]]),
        ("0" * 26, {"query": {"reason": "r" * 513}}, [["query", "reason"]]),
    ],
)
def test_revoke_422(admin: IssuedToken, token_id: str, kwargs: dict[str, Any], locs: list[list[str]]) -> None:
    assert_422(revoke(admin.plaintext_token, token_id, **kwargs), *locs)


def test_revoke_500_leaks_nothing(
    runtime: Runtime, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any, **__: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "x"}},  # a role missing a grant
            "TransactWriteItems",
        )

    monkeypatch.setattr(runtime.repository, "revoke_token", explode)
    assert_500(revoke(admin.plaintext_token, admin.token.token_id))


def test_unknown_route_is_a_404_in_our_shape(admin: IssuedToken) -> None:
    assert_404(call("list_tokens", "GET", "/v1/nothing", token=admin.plaintext_token), "route", "/v1/nothing")


def test_missing_hash_key_is_a_clean_500(runtime: Runtime, admin: IssuedToken) -> None:
    from dataclasses import replace

    runtime.settings = replace(runtime.settings, token_hash_key=None)
    assert_500(listing(admin.plaintext_token))


def test_missing_or_malformed_credentials_are_401_even_without_the_key(runtime: Runtime) -> None:
    """The header is checked before the key is loaded: a key-store outage cannot turn a 401 into a 500."""
    from dataclasses import replace

    runtime.settings = replace(runtime.settings, token_hash_key=None, token_hash_key_parameter="/unreachable")
    assert_401(listing(None))
    assert_401(listing("atok_not-even-close"))
