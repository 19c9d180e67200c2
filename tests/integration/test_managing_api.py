"""Every status of whoami, get and update (PATCH), through each function's ``lambda_handler``.

The seed's AppToken keeps exactly its 22 fields here too; what is new is in ``details``, and
list and create show no ``details`` at all. Disable and history: test_disable_and_history_api.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from shared.entry.runtime import Runtime
from shared.http.token_models import TokenUpdate
from shared.services.tokens import IssuedToken
from tests.conftest import (
    APP,
    ORG,
    FakeClock,
    Result,
    call,
    mint_admin,
)
from tests.integration.test_api import (
    APP_TOKEN_FIELDS,
    assert_401,
    assert_403,
    assert_404,
    assert_422,
    assert_error,
    create,
    listing,
    revoke,
    unauthenticated_variants,
)

__all__ = ["unauthenticated_variants"]  # a fixture, used by name

DETAILS_FIELDS = {
    "status",
    "enabled",
    "created_by_token_id",
    "rotated_at",
    "updated_at",
    "previous_secret_expires_at",  # issue 16
    "credits",  # issue 16: null when unlimited
    "canary",  # issue 16 (canary tokens)
    "last_tripped_at",
    "ip_allowlist",  # issue 16
}
UNKNOWN = "0" * 26


def token_url(token_id: str, org: str = ORG, app: str = APP) -> str:
    return f"/v1/orgs/{org}/apps/{app}/tokens/{token_id}"


def whoami(token: str | None, **kwargs: Any) -> Result:
    return call("whoami", "GET", "/v1/whoami", token=token, **kwargs)


def get(token: str | None, token_id: str, **kwargs: Any) -> Result:
    return call("get_token", "GET", token_url(token_id), token=token, **kwargs)


def patch(token: str | None, token_id: str, body: Any = None, **kwargs: Any) -> Result:
    return call("update_token", "PATCH", token_url(token_id), token=token, body=body, **kwargs)


def history(token: str | None, token_id: str, **kwargs: Any) -> Result:
    return call("token_history", "GET", token_url(token_id) + "/history", token=token, **kwargs)


def child(admin: IssuedToken, **fields: Any) -> dict[str, Any]:
    """A token made by the admin through the API: its 201 body."""
    result = create(admin.plaintext_token, {"name": "child", **fields})
    assert result.status == 201, result.body
    body: dict[str, Any] = result.json()
    return body


def assert_token_read(result: Result, token_id: str) -> dict[str, Any]:
    assert result.status == 200, result.body
    body: dict[str, Any] = result.json()
    assert set(body) == {"token", "details"}
    assert set(body["token"]) == APP_TOKEN_FIELDS  # the seed's 22 fields, no more
    assert set(body["details"]) == DETAILS_FIELDS
    assert body["token"]["token_id"] == token_id
    return body


# ---- Who Am I ---------------------------------------------------------------------------------


def test_whoami_200_for_any_valid_token_with_no_permission(admin: IssuedToken) -> None:
    powerless = child(admin, permissions=[])
    result = whoami(powerless["plaintext_token"])
    assert result.status == 200, result.body
    body = result.json()
    assert set(body) == {"token", "org_id", "app_id", "details"}
    assert set(body["token"]) == APP_TOKEN_FIELDS
    assert (body["org_id"], body["app_id"]) == (ORG, APP)
    assert body["token"]["token_id"] == powerless["token"]["token_id"]
    assert body["details"] == {
        "status": "active",
        "enabled": True,
        "created_by_token_id": admin.token.token_id,
        "rotated_at": None,
        "updated_at": None,
        "previous_secret_expires_at": None,
        "credits": None,
        "canary": False,
        "last_tripped_at": None,
        "ip_allowlist": [],
    }


def test_whoami_401(unauthenticated_variants: dict[str, str | None]) -> None:
    for token in unauthenticated_variants.values():
        assert_401(whoami(token))


def test_whoami_413_for_a_body(admin: IssuedToken) -> None:
    result = whoami(admin.plaintext_token, body={"x": 1})
    assert_error(
        result,
        413,
        "REQUEST_ENTITY_TOO_LARGE",
        "The request body is too large",
        {"max_bytes": 0, "content_length": len(json.dumps({"x": 1}))},
    )


# ---- Get App Token ------------------------------------------------------------------------------


def test_get_200_has_the_seeds_token_and_the_details(admin: IssuedToken) -> None:
    made = child(admin, permissions=["app_tokens:list"], scopes=["deploy"])
    token_id = made["token"]["token_id"]
    body = assert_token_read(get(admin.plaintext_token, token_id), token_id)
    assert body["token"] == made["token"]
    assert body["details"]["status"] == "active" and body["details"]["enabled"] is True
    assert body["details"]["created_by_token_id"] == admin.token.token_id


def test_list_and_create_keep_the_seeds_shape(admin: IssuedToken) -> None:
    made = child(admin)
    assert set(made) == {"token", "plaintext_token", "refresh_token_plaintext"}
    assert set(made["token"]) == APP_TOKEN_FIELDS
    patch(admin.plaintext_token, made["token"]["token_id"], {"enabled": False})
    page = listing(admin.plaintext_token).json()
    assert set(page) == {"tokens", "next_token"}
    assert all(set(token) == APP_TOKEN_FIELDS for token in page["tokens"])


def test_get_401(unauthenticated_variants: dict[str, str | None], admin: IssuedToken) -> None:
    for token in unauthenticated_variants.values():
        assert_401(get(token, admin.token.token_id))


def test_get_403_names_app_tokens_list(admin: IssuedToken) -> None:
    creator = child(admin, permissions=["app_tokens:create", "app_tokens:update"])
    assert_403(get(creator["plaintext_token"], admin.token.token_id), "app_tokens:list")


def test_get_404_for_unknown_and_another_orgs_token(runtime: Runtime, admin: IssuedToken) -> None:
    other = mint_admin(runtime, "globex", "ledger", ["*"])
    assert_404(get(admin.plaintext_token, UNKNOWN), "token", UNKNOWN)
    path = token_url(other.token.token_id, "globex", "ledger")
    assert_404(call("get_token", "GET", path, token=admin.plaintext_token), "token", other.token.token_id)


def test_get_413_and_422(admin: IssuedToken) -> None:
    assert get(admin.plaintext_token, admin.token.token_id, body={"x": 1}).status == 413
    assert_422(get(admin.plaintext_token, "bad.id"), ["path", "token_id"])


# ---- Update App Token ---------------------------------------------------------------------------


def test_patch_200_renames_and_narrows_and_get_shows_it(admin: IssuedToken, clock: FakeClock) -> None:
    made = child(admin, permissions=["app_tokens:list", "app_tokens:create"], scopes=["deploy", "read"])
    token_id = made["token"]["token_id"]
    clock.advance(minutes=5)
    body = {
        "name": "ci-deploy",
        "description": "narrowed",
        "scopes": ["read"],
        "permissions": ["app_tokens:list"],
    }
    result = assert_token_read(patch(admin.plaintext_token, token_id, body), token_id)
    token = result["token"]
    assert (token["name"], token["description"], token["scopes"], token["permissions"]) == (
        "ci-deploy",
        "narrowed",
        ["read"],
        ["app_tokens:list"],
    )
    assert result["details"]["updated_at"] == "2026-11-01T12:05:00.000000Z"
    assert assert_token_read(get(admin.plaintext_token, token_id), token_id) == result
    cleared = patch(admin.plaintext_token, token_id, {"description": None}).json()
    assert cleared["token"]["description"] is None


def test_patch_401(unauthenticated_variants: dict[str, str | None], admin: IssuedToken) -> None:
    for token in unauthenticated_variants.values():
        assert_401(patch(token, admin.token.token_id, {"name": "x"}))


def test_patch_403_names_app_tokens_update_and_what_a_widening_lacks(admin: IssuedToken) -> None:
    lister = child(admin, permissions=["app_tokens:list"], scopes=["deploy"])
    token_id = lister["token"]["token_id"]
    assert_403(patch(lister["plaintext_token"], token_id, {"name": "x"}), "app_tokens:update")
    assert_403(patch(admin.plaintext_token, token_id, {"scopes": ["deploy", "write"]}), "scopes:write")
    assert get(admin.plaintext_token, token_id).json()["token"]["scopes"] == ["deploy"]


def test_patch_404(runtime: Runtime, admin: IssuedToken) -> None:
    other = mint_admin(runtime, "globex", "ledger", ["*"])
    assert_404(patch(admin.plaintext_token, UNKNOWN, {"name": "x"}), "token", UNKNOWN)
    path = token_url(other.token.token_id, "globex", "ledger")
    result = call("update_token", "PATCH", path, token=admin.plaintext_token, body={"name": "x"})
    assert_404(result, "token", other.token.token_id)
    assert other.token.name != "x" and runtime.repository.get_token("globex", "ledger", other.token.token_id)


def test_patch_409_when_a_concurrent_edit_won(
    runtime: Runtime, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_id = child(admin)["token"]["token_id"]
    # The conditional write lost to another edit between this one's read and its write.
    monkeypatch.setattr(runtime.repository, "update_token", lambda edit: False)
    assert_error(
        patch(admin.plaintext_token, token_id, {"name": "late"}),
        409,
        "CONFLICT",
        "The token was changed by another request; read it again and retry",
        {"resource_type": "token", "resource_id": token_id},
    )


def test_patch_413_for_a_body_longer_than_the_largest_valid_one(admin: IssuedToken) -> None:
    raw = json.dumps({"name": "x" * TokenUpdate.MAX_BODY_BYTES})
    result = patch(admin.plaintext_token, admin.token.token_id, raw_body=raw)
    assert result.status == 413
    assert result.json()["details"]["max_bytes"] == TokenUpdate.MAX_BODY_BYTES


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({}, [["body"]]),
        ({"colour": "red"}, [["body", "colour"]]),
        ({"name": None}, [["body", "name"]]),
        ({"enabled": None}, [["body", "enabled"]]),
        ({"scopes": None}, [["body", "scopes"]]),
        ({"enabled": "false"}, [["body", "enabled"]]),
        ({"owner_id": "someone"}, [["body", "owner_id"]]),
    ],
)
def test_patch_422_for_bad_bodies(admin: IssuedToken, body: Any, locs: list[list[str]]) -> None:
    token_id = child(admin)["token"]["token_id"]
    assert_422(patch(admin.plaintext_token, token_id, body), *locs)
    assert get(admin.plaintext_token, token_id).json()["details"]["updated_at"] is None


def test_patch_422_without_a_body(admin: IssuedToken) -> None:
    assert_422(patch(admin.plaintext_token, child(admin)["token"]["token_id"]), ["body"])


def test_patch_422_for_a_revoked_or_expired_token_at_the_token_id(
    admin: IssuedToken, clock: FakeClock
) -> None:
    revoked = child(admin)["token"]["token_id"]
    revoke(admin.plaintext_token, revoked)
    [problem] = assert_422(patch(admin.plaintext_token, revoked, {"name": "x"}), ["path", "token_id"])
    assert problem["input"] == revoked
    expiring = child(admin, expires_at=(clock.now + timedelta(minutes=1)).isoformat())["token"]["token_id"]
    clock.advance(minutes=2)
    assert_422(patch(admin.plaintext_token, expiring, {"name": "x"}), ["path", "token_id"])
