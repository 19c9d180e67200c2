"""Rotation with a grace period (issue 16): POST .../tokens/{token_id}/rotate, through its handler.

The grace is checked to the second on the injected clock, through the three doors that share the
verification core: the management API, the verify endpoint and the Lambda authorizer.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

import pytest

from shared.domain.clock import to_iso
from shared.domain.errors import Conflict
from shared.domain.lifecycle import ROTATED
from shared.entry.runtime import Runtime
from shared.services.rotation import rotate_token
from shared.services.tokens import IssuedToken
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.repository import TokenKey
from tests.conftest import APP, ORG, TOKENS_URL, FakeClock, Result, call, mint_admin
from tests.integration.test_api import assert_401, assert_403, assert_404, assert_422
from tests.integration.test_authorizer import ROUTES, outcome
from tests.invariants import assert_invariants, count_events, table_items

GRACE = 60


def create(admin: IssuedToken, **body: Any) -> dict[str, Any]:
    result = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "r", **body})
    assert result.status == 201
    return dict(result.json())


def rotate(admin: IssuedToken, token_id: str, body: Any = None, path: str = TOKENS_URL) -> Result:
    return call("rotate_token", "POST", f"{path}/{token_id}/rotate", token=admin.plaintext_token, body=body)


def listed(token: str) -> Result:
    return call("list_tokens", "GET", TOKENS_URL, token=token)


def verified(admin: IssuedToken, token: str) -> str:
    result = call(
        "verify_token", "POST", TOKENS_URL + "/verify", token=admin.plaintext_token, body={"token": token}
    )
    assert result.status == 200
    return str(result.json()["code"])


def details(admin: IssuedToken, token_id: str) -> dict[str, Any]:
    result = call("get_token", "GET", f"{TOKENS_URL}/{token_id}", token=admin.plaintext_token)
    assert result.status == 200
    return dict(result.json()["details"])


def refresh(token_id: str, refresh_plaintext: str) -> Result:
    return call(
        "refresh_token", "POST", f"{TOKENS_URL}/{token_id}/refresh", body={"refresh_token": refresh_plaintext}
    )


def test_rotation_answers_the_create_shape_and_ends_the_old_secrets_at_once(
    admin: IssuedToken, clock: FakeClock
) -> None:
    issued = create(admin, permissions=["app_tokens:list"], scopes=["read"])
    token_id = issued["token"]["token_id"]
    clock.advance(minutes=5)
    result = rotate(admin, token_id)  # no body: no grace
    assert result.status == 200, result.body
    body = result.json()
    assert set(body) == {"token", "plaintext_token", "refresh_token_plaintext"}
    assert body["token"] == issued["token"]  # the seed's 22 fields, unchanged: id, grants, expiry
    assert body["plaintext_token"] != issued["plaintext_token"]
    assert body["refresh_token_plaintext"] != issued["refresh_token_plaintext"]
    assert listed(body["plaintext_token"]).status == 200
    assert_401(listed(issued["plaintext_token"]))
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))
    assert details(admin, token_id)["previous_secret_expires_at"] is None
    assert details(admin, token_id)["rotated_at"] == to_iso(clock.now)
    # The old refresh token is unknown, not reuse: the token lives on with its new secrets.
    assert refresh(token_id, body["refresh_token_plaintext"]).status == 200


def test_the_grace_ends_to_the_second_in_the_api_verify_and_the_authorizer(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    runtime.settings = dataclasses.replace(
        runtime.settings, authorizer_org_id=ORG, authorizer_app_id=APP, authorizer_routes=json.dumps(ROUTES)
    )
    issued = create(admin, permissions=["app_tokens:list"])
    old, token_id = issued["plaintext_token"], issued["token"]["token_id"]
    result = rotate(admin, token_id, {"expire_current_in_seconds": GRACE})
    assert result.status == 200
    new = result.json()["plaintext_token"]
    ends = to_iso(clock.now + timedelta(seconds=GRACE))
    assert details(admin, token_id)["previous_secret_expires_at"] == ends
    # The old refresh token dies at once, grace or not.
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))
    clock.advance(seconds=GRACE - 1)
    for secret in (old, new):
        assert listed(secret).status == 200
        assert verified(admin, secret) == "VALID"
        assert outcome("GET", "/v1/status", secret) == "Allow"
    clock.advance(seconds=1)  # exactly the end: the very next request fails
    assert_401(listed(old))
    assert verified(admin, old) == "NOT_FOUND"
    assert outcome("GET", "/v1/status", old) == "Unauthorized"  # as an unknown token is
    assert details(admin, token_id)["previous_secret_expires_at"] is None
    assert listed(new).status == 200 and verified(admin, new) == "VALID"
    assert outcome("GET", "/v1/status", new) == "Allow"


def test_rotating_again_inside_a_grace_ends_the_earlier_secret_at_once(
    admin: IssuedToken, clock: FakeClock
) -> None:
    issued = create(admin, permissions=["app_tokens:list"])
    first, token_id = issued["plaintext_token"], issued["token"]["token_id"]
    second = rotate(admin, token_id, {"expire_current_in_seconds": 3600}).json()["plaintext_token"]
    clock.advance(seconds=10)
    third = rotate(admin, token_id, {"expire_current_in_seconds": 3600}).json()["plaintext_token"]
    assert_401(listed(first))  # one previous secret at most: the earlier grace ended now
    assert listed(second).status == 200 and listed(third).status == 200
    assert details(admin, token_id)["previous_secret_expires_at"] == to_iso(clock.now + timedelta(hours=1))
    rotate(admin, token_id, {"expire_current_in_seconds": 0})  # no grace ends the running one too
    assert_401(listed(second))
    assert_401(listed(third))
    assert details(admin, token_id)["previous_secret_expires_at"] is None


def test_a_refresh_ends_the_grace_and_is_no_retry_of_the_rotation(
    runtime: Runtime, repository: DynamoDBTokenRepository, admin: IssuedToken, clock: FakeClock
) -> None:
    issued = create(admin, permissions=["app_tokens:list"])
    token_id = issued["token"]["token_id"]
    refreshed = refresh(token_id, issued["refresh_token_plaintext"]).json()  # a refresh's retry window opens
    rotated = rotate(admin, token_id, {"expire_current_in_seconds": 3600}).json()
    assert listed(refreshed["plaintext_token"]).status == 200  # in its grace
    # The refresh token before the rotation is neither a retry (no new pair) nor reuse (no revocation).
    assert_401(refresh(token_id, refreshed["refresh_token_plaintext"]))
    assert listed(rotated["plaintext_token"]).status == 200
    again = refresh(token_id, rotated["refresh_token_plaintext"])
    assert again.status == 200
    assert_401(listed(refreshed["plaintext_token"]))  # the refresh dropped the previous secret
    assert_401(listed(rotated["plaintext_token"]))
    assert details(admin, token_id)["previous_secret_expires_at"] is None
    assert listed(again.json()["plaintext_token"]).status == 200
    assert_invariants(table_items(repository.client))


def test_the_rotation_is_in_the_history_and_an_event_with_the_grace_end(
    runtime: Runtime, repository: DynamoDBTokenRepository, admin: IssuedToken, clock: FakeClock
) -> None:
    token_id = create(admin)["token"]["token_id"]
    clock.advance(minutes=1)
    assert rotate(admin, token_id, {"expire_current_in_seconds": GRACE}).status == 200
    ends = to_iso(clock.now + timedelta(seconds=GRACE))
    history = call("token_history", "GET", f"{TOKENS_URL}/{token_id}/history", token=admin.plaintext_token)
    newest = history.json()["events"][0]
    assert newest["type"] == "rotated" and newest["occurred_at"] == to_iso(clock.now)
    assert newest["actor"] == {"token_id": admin.token.token_id, "user_id": admin.token.owner_id}
    assert newest["changes"] == [{"field": "previous_secret_expires_at", "old": None, "new": ends}]
    items = table_items(repository.client)
    assert count_events(items, ROTATED, token_id) == 1
    [event] = [i for i in items if i.get("detail_type", {}).get("S") == ROTATED]
    assert json.loads(event["extra"]["S"]) == {"previous_secret_expires_at": ends}
    assert_invariants(items)


def test_revoked_expired_and_disabled_tokens_are_a_422_and_strangers_a_404(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    revoked, disabled, expiring, swept = (create(admin)["token"]["token_id"] for _ in range(4))
    call("revoke_token", "DELETE", f"{TOKENS_URL}/{revoked}", token=admin.plaintext_token)
    body = {"enabled": False}
    call("update_token", "PATCH", f"{TOKENS_URL}/{disabled}", token=admin.plaintext_token, body=body)
    for token_id, status in ((revoked, "revoked"), (disabled, "disabled")):
        [problem] = assert_422(rotate(admin, token_id), ["path", "token_id"])
        assert problem["ctx"] == {"status": status} and problem["input"] == token_id
    clock.advance(days=400)  # past every token's expiry but a fresh admin's
    fresh = mint_admin(runtime, ORG, APP, ["*"], days=800)
    runtime.repository.mark_expired(TokenKey(ORG, APP, swept), purge_at=0)  # swept: its hashes are gone
    for token_id in (expiring, swept):
        [problem] = assert_422(rotate(fresh, token_id), ["path", "token_id"])
        assert problem["ctx"] == {"status": "expired"}
    assert_404(rotate(fresh, "tok_unknown"), "token", "tok_unknown")
    stranger = mint_admin(runtime, "other-org", APP, ["*"], days=800)
    assert_404(rotate(stranger, expiring, path=f"/v1/orgs/{ORG}/apps/{APP}/tokens"), "token", expiring)
    other_app = f"/v1/orgs/{ORG}/apps/other-app/tokens"
    assert_404(rotate(fresh, revoked, path=other_app), "token", revoked)


def test_rotation_needs_its_permission_and_a_grace_in_range(admin: IssuedToken) -> None:
    issued = create(admin, permissions=["app_tokens:list", "app_tokens:create"])
    token_id = issued["token"]["token_id"]
    lister = IssuedToken(issued["token"], issued["plaintext_token"], issued["refresh_token_plaintext"])
    assert_403(rotate(cast(Any, lister), token_id), "app_tokens:rotate")
    for bad in (-1, 604_801, "60", 1.5, True, None):
        assert_422(
            rotate(admin, token_id, {"expire_current_in_seconds": bad}), ["body", "expire_current_in_seconds"]
        )
    assert_422(rotate(admin, token_id, {"grace": 5}), ["body", "grace"])
    assert rotate(admin, token_id, {"expire_current_in_seconds": 604_800}).status == 200
    assert rotate(admin, token_id, {"expire_current_in_seconds": 60.0}).status == 200
    assert rotate(admin, token_id, {}).status == 200


def test_a_rotation_that_lost_the_race_is_a_409_and_writes_nothing(
    runtime: Runtime, repository: DynamoDBTokenRepository, admin: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_id = create(admin)["token"]["token_id"]
    stale = repository.get_credential(token_id)
    assert rotate(admin, token_id).status == 200  # the winner lands between the loser's read and write
    before = table_items(repository.client)
    monkeypatch.setattr(repository, "get_credential", lambda _: stale)
    with pytest.raises(Conflict):
        rotate_token(runtime, admin.token, TokenKey(ORG, APP, token_id), timedelta(seconds=GRACE))
    assert table_items(repository.client) == before


def test_concurrent_rotations_never_both_win_one_read(
    runtime: Runtime, admin: IssuedToken, race_client: Any
) -> None:
    repository = DynamoDBTokenRepository(runtime.settings.table_name, cast(Any, race_client))
    runtime.repository = repository
    issued = create(admin, permissions=["app_tokens:list"])
    token_id, original = issued["token"]["token_id"], issued["plaintext_token"]
    barrier = threading.Barrier(4)

    def attempt(_: int) -> Result:
        barrier.wait()
        return rotate(admin, token_id, {"expire_current_in_seconds": GRACE})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    won = [r.json()["plaintext_token"] for r in results if r.status == 200]
    # A thread that read after a winner landed rotates again, legitimately; two that read the same
    # credential cannot both land. Either way: one event per win, and exactly two secrets work
    # (the current one and ONE previous), never the secrets of two winners of one read.
    assert won and {r.status for r in results} <= {200, 409}
    assert count_events(table_items(repository.client), ROTATED, token_id) == len(won)
    working = [s for s in [original, *won] if listed(s).status == 200]
    assert len(working) == 2, (len(won), len(working))
