"""Refresh-token rotation with reuse detection, through the refresh function's handler."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import pytest

from shared.domain.clock import to_iso
from shared.domain.errors import AuthenticationFailed
from shared.domain.lifecycle import REFRESH_REUSE, ROTATED
from shared.domain.records import Credential
from shared.entry.runtime import Runtime
from shared.services.deps import Collaborators
from shared.services.tokens import IssuedToken, refresh_token
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.repository import TokenKey
from tests.conftest import TOKENS_URL, FakeClock, Result, call
from tests.integration.test_api import assert_401, assert_422
from tests.invariants import assert_invariants, count_events, table_items


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


def test_reusing_a_rotated_refresh_token_revokes_the_token(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    issued = create(admin, permissions=["app_tokens:list"])
    token_id = issued["token"]["token_id"]
    rotated = refresh(token_id, issued["refresh_token_plaintext"]).json()
    clock.advance(seconds=runtime.settings.refresh_token_grace_seconds)  # the grace is over
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


@pytest.mark.also_on_dynamodb_local
def test_without_a_grace_a_race_of_refreshes_has_one_winner(
    runtime: Runtime, admin: IssuedToken, race_client: Any
) -> None:
    """Grace 0 is the behaviour before the grace: a loser that read after the winner is reuse."""
    runtime.repository = DynamoDBTokenRepository(runtime.settings.table_name, cast(Any, race_client))
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    barrier = threading.Barrier(4)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            without_grace = Collaborators(
                runtime.repository, runtime.hasher, runtime.clock, refresh_grace=timedelta(0)
            )
            refresh_token(
                without_grace, TokenKey("acme", "billing", token_id), issued["refresh_token_plaintext"]
            )
        except AuthenticationFailed as failure:
            return failure.reason
        return "won"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert outcomes.count("won") == 1
    assert set(outcomes) - {"won"} <= {"refresh_race_lost", "refresh_reuse"}


# ---- the grace: a retry of the last refresh is not reuse ---------------------------------------


def revoked_reason(admin: IssuedToken, token_id: str) -> str | None:
    """The token's ``revoked_reason`` as the list shows it (``None`` while it is live)."""
    tokens = listed(admin.plaintext_token).json()["tokens"]
    found: str | None = next(t for t in tokens if t["token_id"] == token_id)["revoked_reason"]
    return found


def rotated_then_retried(clock: FakeClock, admin: IssuedToken) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A token refreshed once, then refreshed again with the same refresh token 5 seconds later.

    The first answer is the one a client lost; the second is what its retry got.
    """
    issued = create(admin, permissions=["app_tokens:list"])
    token_id = issued["token"]["token_id"]
    lost = refresh(token_id, issued["refresh_token_plaintext"])
    assert lost.status == 200
    clock.advance(seconds=5)
    retried = refresh(token_id, issued["refresh_token_plaintext"])
    assert retried.status == 200
    return token_id, lost.json(), retried.json()


def test_a_retry_within_the_grace_returns_a_fresh_pair_and_the_token_stays_live(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    token_id, lost, retried = rotated_then_retried(clock, admin)
    assert retried["token"]["token_id"] == token_id
    assert retried["plaintext_token"] != lost["plaintext_token"]
    assert retried["refresh_token_plaintext"] != lost["refresh_token_plaintext"]
    assert revoked_reason(admin, token_id) is None
    assert listed(retried["plaintext_token"]).status == 200  # the fresh pair works
    again = refresh(token_id, retried["refresh_token_plaintext"])
    assert again.status == 200
    assert listed(again.json()["plaintext_token"]).status == 200
    assert revoked_reason(admin, token_id) is None
    items = table_items(runtime.repository.client)  # type: ignore[attr-defined]
    assert count_events(items, ROTATED, token_id) == 3  # each rotation its event, the retry's too
    assert count_events(items, REFRESH_REUSE, token_id) == 0
    assert_invariants(items)


def test_the_pair_handed_out_before_a_retry_stops_working(admin: IssuedToken, clock: FakeClock) -> None:
    """Its access token is refused, and presenting its refresh token is reuse.

    Whoever holds that pair was displaced by the retry: the client itself (which lost the
    answer and never sees the pair) or a thief racing it, so its return is reported as reuse.
    """
    token_id, lost, retried = rotated_then_retried(clock, admin)
    assert_401(listed(lost["plaintext_token"]))
    assert_401(refresh(token_id, lost["refresh_token_plaintext"]))
    assert revoked_reason(admin, token_id) == "refresh_token_reuse"
    assert_401(listed(retried["plaintext_token"]))


def test_a_retry_after_the_grace_is_reuse(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    rotated = refresh(token_id, issued["refresh_token_plaintext"]).json()
    clock.advance(seconds=runtime.settings.refresh_token_grace_seconds)  # the grace is strictly within
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))
    assert revoked_reason(admin, token_id) == "refresh_token_reuse"
    assert_401(listed(rotated["plaintext_token"]))


def test_retries_do_not_stretch_the_grace(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    """The window runs from the rotation of the retried token, not from the last retry."""
    grace = runtime.settings.refresh_token_grace_seconds
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    assert refresh(token_id, issued["refresh_token_plaintext"]).status == 200
    clock.advance(seconds=grace - 1)
    assert refresh(token_id, issued["refresh_token_plaintext"]).status == 200
    clock.advance(seconds=1)
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))
    assert revoked_reason(admin, token_id) == "refresh_token_reuse"


def test_a_refresh_token_two_rotations_back_is_reuse_even_within_the_grace(
    admin: IssuedToken, clock: FakeClock
) -> None:
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    first = refresh(token_id, issued["refresh_token_plaintext"]).json()
    second = refresh(token_id, first["refresh_token_plaintext"]).json()
    clock.advance(seconds=1)
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))
    assert revoked_reason(admin, token_id) == "refresh_token_reuse"
    assert_401(listed(second["plaintext_token"]))


def test_with_a_grace_of_zero_a_retry_is_reuse_as_before(runtime: Runtime, admin: IssuedToken) -> None:
    runtime.settings = replace(runtime.settings, refresh_token_grace_seconds=0)
    issued = create(admin)
    token_id = issued["token"]["token_id"]
    rotated = refresh(token_id, issued["refresh_token_plaintext"]).json()
    assert_401(refresh(token_id, issued["refresh_token_plaintext"]))  # at the same instant, even
    assert revoked_reason(admin, token_id) == "refresh_token_reuse"
    assert_401(listed(rotated["plaintext_token"]))


class ReadBefore:
    """A repository that answers ``get_credential`` with a read made earlier (a slow reader)."""

    def __init__(self, repository: DynamoDBTokenRepository, credential: Credential) -> None:
        self._repository = repository
        self._credential = credential

    def get_credential(self, token_id: str) -> Credential:
        return self._credential

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)


@pytest.mark.also_on_dynamodb_local
def test_of_two_retries_that_read_the_same_state_one_wins_and_the_token_stays_live(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    """Both retries read the same credential; the second's write is conditioned on a hash now gone."""
    issued = create(admin, permissions=["app_tokens:list"])
    token_id = issued["token"]["token_id"]
    assert refresh(token_id, issued["refresh_token_plaintext"]).status == 200
    repository = cast(DynamoDBTokenRepository, runtime.repository)
    before_either = repository.get_credential(token_id)
    assert before_either is not None

    def retry(repo: Any) -> IssuedToken:
        deps = Collaborators(repo, runtime.hasher, runtime.clock, refresh_grace=runtime.refresh_grace)
        return refresh_token(deps, TokenKey("acme", "billing", token_id), issued["refresh_token_plaintext"])

    winner = retry(repository)
    try:
        retry(ReadBefore(repository, before_either))
    except AuthenticationFailed as failure:
        assert failure.reason == "refresh_race_lost"
    else:
        raise AssertionError("two retries of one refresh token both got a working pair")
    assert revoked_reason(admin, token_id) is None
    assert listed(winner.plaintext_token).status == 200
    assert_invariants(table_items(repository.client))
