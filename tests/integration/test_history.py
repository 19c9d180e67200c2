"""Issue 15: disabling takes effect on the very next request, and the history records every change
with its actor, in the transaction of the change (``shared.services.managing``, the verify core,
authentication, the authorizer, refresh, the sweep, the cascade)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from functions.publish_events.app import lambda_handler as publish_handler
from shared.domain.edits import TokenChange
from shared.domain.errors import AuthenticationFailed, InvalidInput, NotFound
from shared.domain.history import Actor, FieldChange, HistoryEvent, HistoryType
from shared.domain.lifecycle import DISABLED, ENABLED, UPDATED
from shared.domain.principals import TrustedAuthorizer
from shared.domain.status import TokenStatus
from shared.entry.runtime import Runtime
from shared.http.authorizer import authorize_request
from shared.services.authentication import parse_bearer, verify_access
from shared.services.cascade import revoke_with_descendants
from shared.services.listing import PageRequest, list_tokens
from shared.services.managing import HistoryRequest, get_token, token_history, update_token
from shared.services.sweep import sweep
from shared.services.tokens import IssuedToken, refresh_token, revoke_token
from shared.services.verification import RequestContext, VerifyCode, verify
from shared.storage.repository import TokenKey
from tests.conftest import (
    APP,
    ORG,
    TOKENS_URL,
    CallLog,
    FakeClock,
    LambdaContextStub,
    call,
    issue,
    mint_admin,
)
from tests.integration.test_authorizer import ROUTES
from tests.integration.test_authorizer import request as authorizer_request
from tests.integration.test_lifecycle_events import received, stream_records
from tests.invariants import assert_invariants, table_items


def key_of(token: IssuedToken) -> TokenKey:
    return TokenKey(token.token.org_id, token.token.app_id, token.token.token_id)


def edit(runtime: Runtime, caller: IssuedToken, token: IssuedToken, **values: Any) -> None:
    update_token(runtime, caller.token, key_of(token), TokenChange(values))


def history(
    runtime: Runtime, caller: IssuedToken, token: IssuedToken, limit: int = 100
) -> list[HistoryEvent]:
    return token_history(runtime, caller.token, key_of(token), HistoryRequest(limit)).events


def by(token: IssuedToken) -> Actor:
    return Actor(token_id=token.token.token_id, user_id=token.token.owner_id)


def authorizer_code(runtime: Runtime, presented: str) -> tuple[VerifyCode, str]:
    """The authorizer's decision for a request to the protected API: its code and its outcome."""
    settings = dataclasses.replace(
        runtime.settings, authorizer_org_id=ORG, authorizer_app_id=APP, authorizer_routes=json.dumps(ROUTES)
    )
    decision = authorize_request(runtime, settings, authorizer_request("GET", "/v1/status", presented))
    return decision.code, decision.outcome


def statuses(runtime: Runtime, admin: IssuedToken, status: Any) -> set[str]:
    page = list_tokens(runtime, admin.token, ORG, APP, PageRequest(limit=100, status=status))
    return {token.token_id for token in page.tokens}


def test_a_disabled_token_fails_as_a_revoked_one_on_its_next_request(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    token = issue(runtime, admin, permissions=["app_tokens:list"])
    presented = token.plaintext_token
    assert verify(runtime, presented, RequestContext()).code is VerifyCode.VALID
    assert authorizer_code(runtime, presented) == (VerifyCode.VALID, "authorized")
    assert call("list_tokens", "GET", TOKENS_URL, token=presented).status == 200
    edit(runtime, admin, token, enabled=False)
    # the management API (authentication), the verify core and the authorizer: each at once
    with pytest.raises(AuthenticationFailed) as failed:
        verify_access(runtime, parse_bearer(f"Bearer {presented}"))
    assert failed.value.reason == "disabled"
    listed = call("list_tokens", "GET", TOKENS_URL, token=presented)
    assert listed.status == 401 and listed.headers.get("www-authenticate") == "Bearer"
    assert verify(runtime, presented, RequestContext()).code is VerifyCode.DISABLED
    verified = call(
        "verify_token", "POST", f"{TOKENS_URL}/verify", token=admin.plaintext_token, body={"token": presented}
    )
    assert (verified.status, verified.json()) == (
        200,
        {"valid": False, "code": "DISABLED", "token": None, "rate_limit": None, "credits_remaining": None},
    )
    assert authorizer_code(runtime, presented) == (VerifyCode.DISABLED, "unauthenticated")
    # refused refresh, and not taken for reuse: the token is not revoked, its pair still its own
    with pytest.raises(AuthenticationFailed) as refused:
        refresh_token(runtime, key_of(token), token.refresh_token_plaintext)
    assert refused.value.reason == "disabled"
    view = get_token(runtime, admin.token, key_of(token))
    assert view.token.revoked_at is None and view.details.status is TokenStatus.DISABLED
    assert not view.details.enabled and view.token.expires_at == token.token.expires_at  # keeps its expiry
    clock.advance(minutes=1)
    edit(runtime, admin, token, enabled=True)
    assert verify(runtime, presented, RequestContext()).code is VerifyCode.VALID
    assert (
        refresh_token(runtime, key_of(token), token.refresh_token_plaintext).token.token_id
        == token.token.token_id
    )
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


def test_list_filters_disabled_apart_from_active(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    active, disabled = issue(runtime, admin), issue(runtime, admin)
    short = issue(runtime, admin, expires_at=clock.now + timedelta(hours=1))
    revoked = issue(runtime, admin)
    for token in (disabled, short, revoked):
        edit(runtime, admin, token, enabled=False)
    revoke_token(runtime, admin.token, key_of(revoked), None)
    clock.advance(hours=2)
    ids = {name: token.token.token_id for name, token in (("active", active), ("disabled", disabled))}
    assert statuses(runtime, admin, "disabled") == {ids["disabled"]}
    assert statuses(runtime, admin, "active") == {ids["active"], admin.token.token_id}
    assert statuses(runtime, admin, "expired") == {short.token.token_id}  # expired wins over disabled
    assert statuses(runtime, admin, "revoked") == {revoked.token.token_id}  # revoked wins over both
    listed = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query={"status": "disabled"})
    assert [t["token_id"] for t in listed.json()["tokens"]] == [ids["disabled"]]
    assert set(listed.json()["tokens"][0]) == set(call_shape(admin))  # still the seed's 22 fields


def call_shape(admin: IssuedToken) -> list[str]:
    listed = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query={"limit": "1"})
    fields: list[str] = list(listed.json()["tokens"][0])
    assert len(fields) == 22
    return fields


def test_the_sweep_expires_a_disabled_token_at_its_expiry(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    token = issue(runtime, admin, expires_at=clock.now + timedelta(hours=1))
    edit(runtime, admin, token, enabled=False)
    clock.advance(hours=2)
    assert sweep(runtime, time_left=lambda: 60.0).expired == 1
    assert get_token(runtime, admin.token, key_of(token)).details.status is TokenStatus.EXPIRED
    latest = history(runtime, admin, token)[0]
    assert (latest.type, latest.actor) == (HistoryType.EXPIRED, None)


def test_history_records_every_change_with_its_actor(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    token = issue(runtime, admin, name="first", scopes=["a", "b"])
    steps: list[Callable[[], object]] = [
        lambda: edit(runtime, admin, token, name="second", scopes=("a",)),
        lambda: edit(runtime, admin, token, enabled=False),
        lambda: edit(runtime, admin, token, enabled=True),
        lambda: refresh_token(runtime, key_of(token), token.refresh_token_plaintext),
        lambda: revoke_token(runtime, admin.token, key_of(token), "done"),
    ]
    for step in steps:
        clock.advance(seconds=1)
        step()
    events = history(runtime, admin, token)
    assert [(e.type, e.actor) for e in events] == [
        (HistoryType.REVOKED, by(admin)),
        (HistoryType.ROTATED, by(token)),  # the holder of its refresh token: the token itself
        (HistoryType.ENABLED, by(admin)),
        (HistoryType.DISABLED, by(admin)),
        (HistoryType.UPDATED, by(admin)),
        (HistoryType.CREATED, by(admin)),
    ]
    assert [e.occurred_at[17:19] for e in events] == ["05", "04", "03", "02", "01", "00"]
    assert events[4].changes == (
        FieldChange("name", "first", "second"),
        FieldChange("scopes", ["a", "b"], ["a"]),
    )
    assert events[3].changes == (FieldChange("enabled", True, False),)
    assert events[2].changes == (FieldChange("enabled", False, True),)
    assert all(not e.changes for e in (events[0], events[1], events[5]))
    # the bootstrap token was created by the service itself
    assert [(e.type, e.actor) for e in history(runtime, admin, admin)] == [(HistoryType.CREATED, None)]
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


def test_disabling_with_other_fields_is_an_update_and_a_disable(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    token = issue(runtime, admin, name="x")
    clock.advance(seconds=1)  # entries of one moment are ordered only within their transaction
    edit(runtime, admin, token, name="y", enabled=False)
    newest, second, _ = history(runtime, admin, token)
    assert (newest.type, newest.changes) == (HistoryType.DISABLED, (FieldChange("enabled", True, False),))
    assert (second.type, second.changes) == (HistoryType.UPDATED, (FieldChange("name", "x", "y"),))


def test_cascade_reuse_and_a_jwt_user_are_recorded_as_who_did_them(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock, calls: CallLog
) -> None:
    parent = issue(runtime, admin, permissions=["*"])
    children = [issue(runtime, parent) for _ in range(3)]
    clock.advance(seconds=1)
    calls.clear()
    assert revoke_with_descendants(runtime, admin.token, key_of(parent), None).revoked == 4
    sizes = [len(p["TransactItems"]) for p in calls.parameters if "TransactItems" in p]
    # the root: two items, its event and entry; each descendant also its link: far below DynamoDB's 100
    assert sizes == [4, 5, 5, 5]
    assert history(runtime, admin, parent)[0].actor == by(admin)
    for child in children:
        latest, created = history(runtime, admin, child)
        assert (latest.type, latest.actor) == (HistoryType.REVOKED, None)  # the service, for the cascade
        assert created.actor == by(parent)
    reused = issue(runtime, admin)
    refresh_token(runtime, key_of(reused), reused.refresh_token_plaintext)
    clock.advance(seconds=runtime.settings.refresh_token_grace_seconds + 1)
    with pytest.raises(AuthenticationFailed):
        refresh_token(runtime, key_of(reused), reused.refresh_token_plaintext)
    assert [(e.type, e.actor) for e in history(runtime, admin, reused)[:2]] == [
        (HistoryType.REVOKED, None),
        (HistoryType.REFRESH_REUSE_DETECTED, None),
    ]
    runtime.settings = dataclasses.replace(runtime.settings, trusted_authorizer=TrustedAuthorizer.CLAIMS)
    claims = {"sub": "alice", "custom:org_id": ORG, "custom:permissions": "app_tokens:*"}
    answer = call("create_token", "POST", TOKENS_URL, body={"name": "alice's"}, authorizer={"claims": claims})
    by_alice = answer.json()["token"]["token_id"]
    [entry] = token_history(runtime, admin.token, TokenKey(ORG, APP, by_alice), HistoryRequest(10)).events
    assert entry.actor == Actor(token_id=None, user_id="alice")


def test_history_pages_newest_first_with_a_cursor_bound_to_the_token(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock, calls: CallLog
) -> None:
    token, other = issue(runtime, admin), issue(runtime, admin)
    for name in ("b", "c", "d", "e"):
        clock.advance(seconds=1)
        edit(runtime, admin, token, name=name)
    calls.clear()
    first = token_history(runtime, admin.token, key_of(token), HistoryRequest(2))
    assert calls.operations == ["Query"]
    request = calls.parameters[0]
    assert (request["ScanIndexForward"], request["Limit"], request["ConsistentRead"]) == (False, 2, True)
    pages, cursor = [first.events], first.next_token
    while cursor is not None:
        page = token_history(runtime, admin.token, key_of(token), HistoryRequest(2, cursor))
        pages.append(page.events)
        cursor = page.next_token
    names = [[c.new for e in page for c in e.changes] or ["created"] for page in pages]
    assert names == [["e", "d"], ["c", "b"], ["created"]]
    assert first.next_token is not None
    for bad in (first.next_token, "garbage", list_cursor(runtime, admin)):
        target = key_of(other) if bad == first.next_token else key_of(token)
        with pytest.raises(InvalidInput) as invalid:
            token_history(runtime, admin.token, target, HistoryRequest(2, bad))
        assert (invalid.value.field, invalid.value.error_type) == ("next_token", "cursor_invalid")


def list_cursor(runtime: Runtime, admin: IssuedToken) -> str:
    page = list_tokens(runtime, admin.token, ORG, APP, PageRequest(limit=1))
    assert page.next_token is not None
    return page.next_token


def test_history_of_another_org_app_or_no_token_is_a_404(admin: IssuedToken, runtime: Runtime) -> None:
    token = issue(runtime, admin)
    other_org = mint_admin(runtime, "globex", APP, ["*"])
    cases = [
        (other_org, key_of(token)),
        (admin, TokenKey(ORG, "elsewhere", token.token.token_id)),  # its entries name app billing
        (admin, TokenKey(ORG, APP, "0" * 26)),
    ]
    for caller, key in cases:
        with pytest.raises(NotFound) as missing:
            token_history(runtime, caller.token, key, HistoryRequest(10))
        assert (missing.value.resource_type, missing.value.resource_id) == ("token", key.token_id)


def test_edit_events_name_the_changed_fields_never_their_values(
    admin: IssuedToken, runtime: Runtime, dynamodb: Any, bus_queue: str
) -> None:
    token = issue(runtime, admin, name="secret-ish name", description="d")
    edit(runtime, admin, token, name="new name", description=None)
    edit(runtime, admin, token, enabled=False)
    edit(runtime, admin, token, enabled=True)
    result = publish_handler({"Records": stream_records(dynamodb, set())}, LambdaContextStub())
    assert result == {"batchItemFailures": []}
    events = [e for e in received(bus_queue) if e["detail"]["token_id"] == token.token.token_id]
    edits = {
        e["detail-type"]: e["detail"] for e in events if e["detail-type"] in (UPDATED, DISABLED, ENABLED)
    }
    assert edits[UPDATED]["changed_fields"] == ["name", "description"]
    assert edits[DISABLED]["changed_fields"] == edits[ENABLED]["changed_fields"] == ["enabled"]
    assert "secret-ish name" not in json.dumps(edits)  # the old value is only in the history
    assert all(len(detail["token"]) == 22 for detail in edits.values())  # the seed's AppToken, exactly
