"""Disabling and enabling through the API, and a token's history, through the functions' handlers.

A disable takes effect on the very next request, through list, whoami, verify, refresh and the
authorizer; the history records every change with its actor, newest first, paged like list.
"""

from __future__ import annotations

import dataclasses

from devtools.events import authorizer_event, proxy_event
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from tests.conftest import APP, ORG, TOKENS_URL, FakeClock, LambdaContextStub, call, handler, mint_admin
from tests.integration.test_api import (
    assert_401,
    assert_403,
    assert_404,
    assert_422,
    listing,
    unauthenticated_variants,
)
from tests.integration.test_managing_api import (
    UNKNOWN,
    assert_token_read,
    child,
    history,
    patch,
    token_url,
    whoami,
)

__all__ = ["unauthenticated_variants"]  # a fixture, used by name


# ---- Disable, through the API ------------------------------------------------------------------


def _verify_code(admin: IssuedToken, token: str) -> str:
    result = call(
        "verify_token", "POST", TOKENS_URL + "/verify", token=admin.plaintext_token, body={"token": token}
    )
    assert result.status == 200, result.body
    code: str = result.json()["code"]
    return code


def _authorizer_admits(runtime: Runtime, token: str) -> bool:
    """Whether the REQUEST authorizer guarding org acme, app billing lets ``token`` through."""
    runtime.settings = dataclasses.replace(
        runtime.settings, authorizer_org_id=ORG, authorizer_app_id=APP, authorizer_routes='{"*": {}}'
    )
    proxy = proxy_event(
        "GET", "/v1/hello", headers={"Authorization": f"Bearer {token}", "Host": "api.example.com"}
    )
    try:
        policy = handler("authorize")(authorizer_event(proxy), LambdaContextStub())
    except Exception as error:  # API Gateway's 401, by its convention
        assert str(error) == "Unauthorized"
        return False
    effect: str = policy["policyDocument"]["Statement"][0]["Effect"]
    return effect == "Allow"


def test_disable_takes_effect_on_the_next_request_and_enable_restores(
    runtime: Runtime, admin: IssuedToken
) -> None:
    made = child(admin, permissions=["app_tokens:list"])
    token_id, secret = made["token"]["token_id"], made["plaintext_token"]
    assert listing(secret).status == 200 and _authorizer_admits(runtime, secret)
    disabled = assert_token_read(patch(admin.plaintext_token, token_id, {"enabled": False}), token_id)
    assert disabled["details"] | {"updated_at": None} == {
        "status": "disabled",
        "enabled": False,
        "created_by_token_id": admin.token.token_id,
        "rotated_at": None,
        "updated_at": None,
        "previous_secret_expires_at": None,
        "credits": None,
        "canary": False,
        "last_tripped_at": None,
        "ip_allowlist": [],
    }
    assert (
        disabled["token"]["revoked_at"] is None
        and disabled["token"]["expires_at"] == made["token"]["expires_at"]
    )
    assert_401(listing(secret))
    assert_401(whoami(secret))
    assert _verify_code(admin, secret) == "DISABLED"
    assert not _authorizer_admits(runtime, secret)
    refreshed = call(
        "refresh_token",
        "POST",
        token_url(token_id) + "/refresh",
        body={"refresh_token": made["refresh_token_plaintext"]},
    )
    assert_401(refreshed)
    listed = listing(admin.plaintext_token, query={"status": "disabled"}).json()["tokens"]
    assert [token["token_id"] for token in listed] == [token_id]

    enabled = assert_token_read(patch(admin.plaintext_token, token_id, {"enabled": True}), token_id)
    assert (enabled["details"]["status"], enabled["details"]["enabled"]) == ("active", True)
    assert listing(secret).status == 200
    assert _verify_code(admin, secret) == "VALID"
    assert _authorizer_admits(runtime, secret)


# ---- Get App Token History ---------------------------------------------------------------------


def test_history_200_records_every_change_with_its_actor_newest_first(
    admin: IssuedToken, clock: FakeClock
) -> None:
    editor = child(admin, permissions=["app_tokens:update", "app_tokens:list"], scopes=["deploy", "read"])
    made = child(admin, scopes=["deploy", "read"])
    token_id = made["token"]["token_id"]
    clock.advance(seconds=1)
    assert patch(editor["plaintext_token"], token_id, {"name": "renamed", "scopes": ["read"]}).status == 200
    clock.advance(seconds=1)
    assert patch(admin.plaintext_token, token_id, {"enabled": False}).status == 200
    clock.advance(seconds=1)
    assert patch(admin.plaintext_token, token_id, {"enabled": True}).status == 200
    result = history(editor["plaintext_token"], token_id)
    assert result.status == 200, result.body
    body = result.json()
    assert set(body) == {"events", "next_token"} and body["next_token"] is None
    events = body["events"]
    assert [event["type"] for event in events] == ["enabled", "disabled", "updated", "created"]
    assert all(set(event) == {"type", "occurred_at", "actor", "changes"} for event in events)
    admin_actor = {"token_id": admin.token.token_id, "user_id": "admin"}
    assert [event["actor"] for event in events] == [
        admin_actor,
        admin_actor,
        {"token_id": editor["token"]["token_id"], "user_id": "admin"},
        admin_actor,
    ]
    assert events[0]["changes"] == [{"field": "enabled", "old": False, "new": True}]
    assert events[1]["changes"] == [{"field": "enabled", "old": True, "new": False}]
    assert sorted(events[2]["changes"], key=lambda change: change["field"]) == [
        {"field": "name", "old": "child", "new": "renamed"},
        {"field": "scopes", "old": ["deploy", "read"], "new": ["read"]},
    ]
    assert events[3]["changes"] == []  # an event that changed no field: always the key, empty
    assert [event["occurred_at"] for event in events] == sorted(
        (event["occurred_at"] for event in events), reverse=True
    )


def test_history_pages_like_list(admin: IssuedToken, clock: FakeClock) -> None:
    token_id = child(admin)["token"]["token_id"]
    for name in ("a", "b", "c"):
        clock.advance(seconds=1)
        patch(admin.plaintext_token, token_id, {"name": name})
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        query = {"limit": "1"} | ({"next_token": cursor} if cursor else {})
        page = history(admin.plaintext_token, token_id, query=query).json()
        assert len(page["events"]) == 1
        seen.append(page["events"][0]["type"])
        cursor = page["next_token"]
    assert seen == ["updated", "updated", "updated", "created"]
    assert (
        cursor is None
        or history(admin.plaintext_token, token_id, query={"next_token": cursor}).json()["events"] == []
    )


def test_history_401(unauthenticated_variants: dict[str, str | None], admin: IssuedToken) -> None:
    for token in unauthenticated_variants.values():
        assert_401(history(token, admin.token.token_id))


def test_history_403_names_app_tokens_list(admin: IssuedToken) -> None:
    updater = child(admin, permissions=["app_tokens:update"])
    assert_403(history(updater["plaintext_token"], admin.token.token_id), "app_tokens:list")


def test_history_404(runtime: Runtime, admin: IssuedToken) -> None:
    other = mint_admin(runtime, "globex", "ledger", ["*"])
    assert_404(history(admin.plaintext_token, UNKNOWN), "token", UNKNOWN)
    path = token_url(other.token.token_id, "globex", "ledger") + "/history"
    assert_404(call("token_history", "GET", path, token=admin.plaintext_token), "token", other.token.token_id)


def test_history_422(admin: IssuedToken) -> None:
    token_id = child(admin)["token"]["token_id"]
    assert_422(history(admin.plaintext_token, token_id, query={"limit": "0"}), ["query", "limit"])
    assert_422(history(admin.plaintext_token, token_id, query={"limit": "101"}), ["query", "limit"])
    assert_422(
        history(admin.plaintext_token, token_id, query={"next_token": "made-up"}), ["query", "next_token"]
    )
    # A real cursor of another token's history, or of a list page, is not this history's.
    other = child(admin)["token"]["token_id"]
    patch(admin.plaintext_token, other, {"name": "x"})
    foreign = history(admin.plaintext_token, other, query={"limit": "1"}).json()["next_token"]
    assert foreign is not None
    assert_422(
        history(admin.plaintext_token, token_id, query={"next_token": foreign}), ["query", "next_token"]
    )
    assert_422(history(admin.plaintext_token, "bad.id"), ["path", "token_id"])
