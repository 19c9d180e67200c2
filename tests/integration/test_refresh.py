"""Refresh-token rotation with reuse detection, through the refresh function's handler."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, cast

from shared.clock import to_iso
from shared.errors import AuthenticationFailed
from shared.repository import DynamoDBTokenRepository
from shared.runtime import Runtime
from shared.services import IssuedToken, LifetimePolicy, refresh_token
from tests.conftest import TOKENS_URL, FakeClock, Result, call
from tests.integration.test_api import assert_401, assert_422
from tests.integration.test_concurrency import OneRequestAtATime


def create(admin: IssuedToken, **body: Any) -> dict[str, Any]:
    result = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "r", **body})
    assert result.status == 201
    return dict(result.json())


def refresh(token_id: str, refresh_plaintext: Any, path: str = TOKENS_URL) -> Result:
    return call(
        "refresh_token", "POST", f"{path}/{token_id}/refresh", body={"refresh_token": refresh_plaintext}
    )


def listed(token: str) -> Result:
    return call("list_tokens", "GET", TOKENS_URL, token=token)


def test_rotation_returns_working_secrets_and_kills_the_old(admin: IssuedToken, clock: FakeClock) -> None:
    issued = create(admin, permissions=["app_tokens:list"], scopes=["read"])
    token_id = issued["token"]["token_id"]
    clock.advance(minutes=5)
    result = refresh(token_id, issued["refresh_token_plaintext"])
    assert result.status == 200
    body = result.json()
    assert set(body) == {"token", "plaintext_token", "refresh_token_plaintext"}
    assert body["token"]["token_id"] == token_id
    assert body["token"]["permissions"] == ["app_tokens:list"] and body["token"]["scopes"] == ["read"]
    assert body["token"]["expires_at"] == issued["token"]["expires_at"]  # never extended
    assert body["plaintext_token"] != issued["plaintext_token"]
    assert listed(body["plaintext_token"]).status == 200
    assert_401(listed(issued["plaintext_token"]))
    second = refresh(token_id, body["refresh_token_plaintext"])
    assert second.status == 200
    assert listed(second.json()["plaintext_token"]).status == 200


def test_reusing_a_rotated_refresh_token_revokes_the_token(admin: IssuedToken) -> None:
    issued = create(admin, permissions=["app_tokens:list"])
    token_id = issued["token"]["token_id"]
    rotated = refresh(token_id, issued["refresh_token_plaintext"]).json()
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))  # the replay
    assert_401(listed(rotated["plaintext_token"]))  # the whole token is gone
    assert_401(refresh(token_id, rotated["refresh_token_plaintext"]))
    revoked = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query={"status": "revoked"})
    assert [(t["token_id"], t["revoked_reason"]) for t in revoked.json()["tokens"]] == [
        (token_id, "refresh_token_reuse")
    ]


def test_refresh_needs_no_authorization_and_refuses_everything_else(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    issued = create(admin)
    other = create(admin)
    token_id = issued["token"]["token_id"]
    assert_401(refresh(token_id, other["refresh_token_plaintext"]))  # another token's refresh token
    assert_401(refresh(token_id, issued["plaintext_token"]))  # an access token
    assert_401(refresh(token_id, "aref_garbage"))
    assert_401(refresh(token_id, issued["refresh_token_plaintext"], "/v1/orgs/acme/apps/other/tokens"))
    assert_401(refresh(token_id, issued["refresh_token_plaintext"], "/v1/orgs/globex/apps/billing/tokens"))
    call("revoke_token", "DELETE", f"{TOKENS_URL}/{token_id}", token=admin.plaintext_token)
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))
    short = create(admin, expires_at=to_iso(clock.now + timedelta(minutes=1)))
    clock.advance(minutes=2)
    assert_401(refresh(short["token"]["token_id"], short["refresh_token_plaintext"]))


def test_bad_bodies_are_422_and_never_echo_a_secret(admin: IssuedToken) -> None:
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    secret = issued["refresh_token_plaintext"]
    path = f"{TOKENS_URL}/{token_id}/refresh"
    assert_422(call("refresh_token", "POST", path, body={}), ["body", "refresh_token"])
    assert_422(call("refresh_token", "POST", path, body={"refresh_token": 5}), ["body", "refresh_token"])
    # An unknown key is echoed, redacted; a body with more members than the model has fields is
    # refused before pydantic walks it, with nothing of the body echoed at all.
    for body, echoed in (
        ({"refresh_tokn": secret}, True),
        ({"refresh_token": secret, "extra": secret}, False),
    ):
        result = call("refresh_token", "POST", path, body=body)
        assert result.status == 422
        assert secret not in (result.body or "") and secret.rsplit("_", 1)[1] not in (result.body or "")
        assert ("[redacted]" in (result.body or "")) is echoed
    assert_422(
        call("refresh_token", "POST", f"{TOKENS_URL}/bad.id/refresh", body={"refresh_token": "x"}),
        ["path", "token_id"],
    )


def test_a_race_of_two_refreshes_has_one_winner(runtime: Runtime, admin: IssuedToken, dynamodb: Any) -> None:
    runtime.repository = DynamoDBTokenRepository(
        runtime.settings.table_name, cast(Any, OneRequestAtATime(dynamodb))
    )
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    barrier = threading.Barrier(4)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            refresh_token(
                runtime.repository,
                runtime.hasher,
                runtime.clock,
                LifetimePolicy(),
                "acme",
                "billing",
                token_id,
                issued["refresh_token_plaintext"],
            )
        except AuthenticationFailed as failure:
            return failure.reason
        return "won"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes.count("won") == 1
    assert set(outcomes) - {"won"} <= {"refresh_race_lost", "refresh_reuse"}
