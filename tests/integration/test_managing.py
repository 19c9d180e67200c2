"""Issue 15, the use cases behind whoami, get and patch: narrowing rules, the editor's grants, one
conditional write, no lost update. Called as the routes call them (``shared.services.managing``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.domain.edits import TokenChange
from shared.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.domain.principals import VouchedCaller
from shared.domain.records import TokenRecord
from shared.domain.status import TokenStatus
from shared.entry.runtime import Runtime
from shared.services.managing import TokenView, get_token, update_token, whoami
from shared.services.tokens import IssuedToken, revoke_token
from shared.storage.repository import TokenEdit, TokenKey, TokenMissing
from tests.conftest import APP, ORG, CallLog, FakeClock, issue, mint_admin
from tests.invariants import assert_invariants, table_items


def key_of(token: IssuedToken | TokenRecord) -> TokenKey:
    record = token.token if isinstance(token, IssuedToken) else token
    return TokenKey(record.org_id, record.app_id, record.token_id)


def edit(runtime: Runtime, caller: IssuedToken, token: IssuedToken, **values: Any) -> TokenView:
    """PATCH as the route hands it over: the body's fields in the domain's types."""
    return update_token(runtime, caller.token, key_of(token), TokenChange(values))


def refusal(runtime: Runtime, caller: IssuedToken, token: IssuedToken, **values: Any) -> str:
    """The ``<field>:<value>`` of the 403 the edit is refused with."""
    with pytest.raises(Forbidden) as refused:
        edit(runtime, caller, token, **values)
    return refused.value.required_permission


def test_whoami_is_the_caller_itself_and_needs_no_read(
    admin: IssuedToken, runtime: Runtime, calls: CallLog
) -> None:
    view = whoami(runtime, admin.token)
    assert view.token == admin.token
    assert view.details.status is TokenStatus.ACTIVE and view.details.enabled
    assert view.details.created_by_token_id is None  # a bootstrap token
    assert calls.operations == []
    vouched = VouchedCaller(org_id=ORG, owner_id="alice", permissions=("*",))
    with pytest.raises(NotFound) as missing:
        whoami(runtime, vouched)
    assert (missing.value.resource_type, missing.value.resource_id) == ("token", "whoami")


def test_get_is_one_strongly_consistent_read(admin: IssuedToken, runtime: Runtime, calls: CallLog) -> None:
    token = issue(runtime, admin, name="one")
    calls.clear()
    view = get_token(runtime, admin.token, key_of(token))
    assert calls.operations == ["GetItem"] and calls.parameters[0]["ConsistentRead"] is True
    assert view.token == token.token
    assert view.details.created_by_token_id == admin.token.token_id
    assert (view.details.rotated_at, view.details.updated_at) == (None, None)


def test_get_and_patch_of_another_org_app_or_no_token_are_the_revoke_404(
    admin: IssuedToken, runtime: Runtime
) -> None:
    token = issue(runtime, admin)
    other_org = mint_admin(runtime, "globex", APP, ["*"])
    elsewhere = mint_admin(runtime, ORG, "other-app", ["*"])
    keys = [
        (other_org, key_of(token)),  # another org's caller: its org is not the token's
        (admin, TokenKey(ORG, "other-app", token.token.token_id)),  # the token is not in that app
        (admin, TokenKey(ORG, APP, "0" * 26)),  # no such token
        (admin, TokenKey("globex", APP, other_org.token.token_id)),
    ]
    for caller, key in keys:
        with pytest.raises(NotFound) as missing:
            get_token(runtime, caller.token, key)
        assert (missing.value.resource_type, missing.value.resource_id) == ("token", key.token_id)
        with pytest.raises(NotFound) as missing:
            update_token(runtime, caller.token, key, TokenChange({"name": "x"}))
        assert (missing.value.resource_type, missing.value.resource_id) == ("token", key.token_id)
    assert elsewhere.token.app_id == "other-app"


def test_name_and_description_edit_is_one_read_and_one_transaction(
    admin: IssuedToken, runtime: Runtime, calls: CallLog, clock: FakeClock
) -> None:
    token = issue(runtime, admin, name="before", description="old")
    clock.advance(minutes=5)
    calls.clear()
    view = edit(runtime, admin, token, name="after", description=None)
    assert calls.operations == ["GetItem", "TransactWriteItems"]
    # metadata, credential, the Updated event's outbox item, its history entry
    assert len(calls.parameters[1]["TransactItems"]) == 4
    assert (view.token.name, view.token.description) == ("after", None)
    assert view.details.updated_at == "2026-11-01T12:05:00.000000Z"
    stored = runtime.repository.get_credential(token.token.token_id)
    assert stored is not None and stored.token == view.token  # the credential's copy moved in step
    assert get_token(runtime, admin.token, key_of(token)).token == view.token
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


def test_a_change_that_changes_nothing_writes_nothing(
    admin: IssuedToken, runtime: Runtime, calls: CallLog
) -> None:
    token = issue(runtime, admin, name="same", scopes=["read"])
    calls.clear()
    view = edit(runtime, admin, token, name="same", scopes=("read",), enabled=True)
    assert calls.operations == ["GetItem"]
    assert view.token == token.token and view.details.updated_at is None


def test_permissions_only_narrow_with_wildcards_counting(admin: IssuedToken, runtime: Runtime) -> None:
    everything = issue(runtime, admin, permissions=["*"])
    assert edit(runtime, admin, everything, permissions=("app_tokens:*",)).token.permissions == [
        "app_tokens:*"
    ]
    assert refusal(runtime, admin, everything, permissions=("*",)) == "*"  # app_tokens:* does not cover *
    assert edit(
        runtime, admin, everything, permissions=("app_tokens:list", "app_tokens:revoke")
    ).token.permissions == [
        "app_tokens:list",
        "app_tokens:revoke",
    ]
    assert refusal(runtime, admin, everything, permissions=("app_tokens:*",)) == "app_tokens:*"
    assert refusal(runtime, admin, everything, permissions=("billing:read",)) == "billing:read"
    assert (
        edit(runtime, admin, everything, permissions=()).token.permissions == []
    )  # grants nothing: narrower


def test_restriction_lists_stay_within_the_tokens_own(admin: IssuedToken, runtime: Runtime) -> None:
    token = issue(runtime, admin, scopes=["read", "write"], endpoint_paths=["/v1/orders/*"])
    assert edit(runtime, admin, token, scopes=("read",)).token.scopes == ["read"]
    assert refusal(runtime, admin, token, scopes=("read", "write")) == "scopes:write"
    assert refusal(runtime, admin, token, scopes=()) == "scopes:*"  # restricted never becomes unrestricted
    # an unrestricted list may become restricted
    assert edit(runtime, admin, token, workspace_ids=("w1",)).token.workspace_ids == ["w1"]
    assert refusal(runtime, admin, token, workspace_ids=("w1", "w2")) == "workspace_ids:w2"
    assert edit(runtime, admin, token, endpoint_paths=("/v1/orders/{id}",)).token.endpoint_paths == [
        "/v1/orders/{id}"
    ]
    assert refusal(runtime, admin, token, endpoint_paths=("/v1/orders/*",)) == "endpoint_paths:/v1/orders/*"
    assert edit(runtime, admin, token, environment_ids=("prod",)).token.environment_ids == ["prod"]


def test_rate_limits_only_lower_or_newly_set(admin: IssuedToken, runtime: Runtime) -> None:
    token = issue(runtime, admin)
    limited = edit(runtime, admin, token, rate_limit_rps=10, rate_limit_burst=20).token
    assert (limited.rate_limit_rps, limited.rate_limit_burst) == (10, 20)
    assert refusal(runtime, admin, token, rate_limit_rps=11) == "rate_limit_rps:11"
    assert refusal(runtime, admin, token, rate_limit_burst=21) == "rate_limit_burst:21"
    assert refusal(runtime, admin, token, rate_limit_rps=None) == "rate_limit_rps:*"  # removing one widens
    lower = edit(runtime, admin, token, rate_limit_rps=5).token
    assert (lower.rate_limit_rps, lower.rate_limit_burst) == (5, 20)
    # without a burst the bucket is one second's worth: 5, below 20
    assert edit(runtime, admin, token, rate_limit_burst=None).token.rate_limit_burst is None
    unlimited = issue(runtime, admin)
    with pytest.raises(InvalidInput) as invalid:
        edit(runtime, admin, unlimited, rate_limit_burst=3)
    assert (invalid.value.field, invalid.value.error_type) == ("rate_limit_burst", "burst_without_rate")


def test_expiry_only_earlier_and_still_in_the_future(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    token = issue(runtime, admin, expires_at=clock.now + timedelta(days=30))
    earlier = clock.now + timedelta(days=7)
    assert edit(runtime, admin, token, expires_at=earlier).token.expires_at == "2026-11-08T12:00:00.000000Z"
    assert refusal(runtime, admin, token, expires_at=earlier + timedelta(seconds=1)) == "expires_at:later"
    for past in (clock.now, clock.now - timedelta(days=1)):
        with pytest.raises(InvalidInput) as invalid:
            edit(runtime, admin, token, expires_at=past)
        assert (invalid.value.field, invalid.value.error_type) == ("expires_at", "datetime_future")
    stored = get_token(runtime, admin.token, key_of(token)).token
    assert stored.expires_at == "2026-11-08T12:00:00.000000Z"


def test_the_editors_own_grants_bind_as_on_create(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    wide = issue(runtime, admin, permissions=["*"])
    editor = issue(runtime, admin, permissions=["app_tokens:*"], scopes=["read"], rate_limit_rps=5)
    # a name-only edit of a token wider than the editor is refused too: naming what it lacks
    assert refusal(runtime, editor, wide, name="renamed") == "*"
    narrow = issue(runtime, admin, permissions=["app_tokens:list"], scopes=["read"], rate_limit_rps=5)
    assert edit(runtime, editor, narrow, name="renamed").token.name == "renamed"
    unscoped = issue(runtime, admin, permissions=["app_tokens:list"], rate_limit_rps=5)
    assert refusal(runtime, editor, unscoped, name="x") == "scopes:*"
    # ...unless the edit narrows it into what the editor could have created
    assert edit(runtime, editor, unscoped, scopes=("read",)).token.scopes == ["read"]
    unlimited = issue(runtime, admin, permissions=["app_tokens:list"], scopes=["read"])
    assert refusal(runtime, editor, unlimited, enabled=False) == "rate_limit_rps:*"
    short_editor = issue(runtime, admin, permissions=["*"], expires_at=clock.now + timedelta(days=2))
    long_lived = issue(runtime, admin, expires_at=clock.now + timedelta(days=30))
    with pytest.raises(InvalidInput) as invalid:
        edit(runtime, short_editor, long_lived, expires_at=clock.now + timedelta(days=3))
    assert invalid.value.error_type == "datetime_after_creator"
    assert (
        edit(runtime, short_editor, long_lived, name="kept").token.expires_at == long_lived.token.expires_at
    )


def test_revoked_and_expired_tokens_are_not_editable(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    revoked = issue(runtime, admin)
    revoke_token(runtime, admin.token, key_of(revoked), None)
    short = issue(runtime, admin, expires_at=clock.now + timedelta(minutes=1))
    clock.advance(minutes=2)
    for token, status in ((revoked, "revoked"), (short, "expired")):
        with pytest.raises(InvalidInput) as invalid:
            edit(runtime, admin, token, name="x")
        assert (invalid.value.field, invalid.value.error_type) == ("token_id", "token_not_editable")
        assert invalid.value.ctx == {"status": status}


def test_two_concurrent_edits_never_lose_one(admin: IssuedToken, runtime: Runtime) -> None:
    """The second edit runs entirely between the first's read and its write (injected, deterministic)."""
    token = issue(runtime, admin, name="start", scopes=["a", "b", "c"])
    repository = runtime.repository
    reads = 0
    real_get = repository.get_token

    def get_then_let_the_other_edit_land(org_id: str, app_id: str, token_id: str) -> TokenRecord | None:
        nonlocal reads
        reads += 1
        read = real_get(org_id, app_id, token_id)
        if reads == 1:
            edit(runtime, admin, token, scopes=("a",))  # lands first, on its own read (reads == 2)
        return read

    runtime.repository.get_token = get_then_let_the_other_edit_land  # type: ignore[method-assign]
    try:
        with pytest.raises(Conflict) as conflict:
            edit(runtime, admin, token, name="renamed")
    finally:
        del runtime.repository.get_token
    assert (conflict.value.resource_type, conflict.value.resource_id) == ("token", token.token.token_id)
    stored = get_token(runtime, admin.token, key_of(token)).token
    assert (stored.name, stored.scopes, stored.revision) == ("start", ["a"], 1)  # the winner, whole
    # the loser, asked again, sees the winner and lands on top of it
    again = edit(runtime, admin, token, name="renamed").token
    assert (again.name, again.scopes, again.revision) == ("renamed", ["a"], 2)
    assert_invariants(table_items(runtime.repository.client))  # type: ignore[attr-defined]


def test_the_write_is_conditioned_on_the_revision_read(admin: IssuedToken, runtime: Runtime) -> None:
    token = issue(runtime, admin).token
    repository = runtime.repository
    first = TokenEdit(token, _renamed(token, "one", 1))
    assert repository.update_token(first)
    assert not repository.update_token(TokenEdit(token, _renamed(token, "two", 1)))  # read before the first
    assert repository.get_token(ORG, APP, token.token_id) == first.after
    gone = _renamed(token, "x", 1)
    missing = TokenEdit(
        _renamed(gone, "x", None, token_id="0" * 26), _renamed(gone, "y", 1, token_id="0" * 26)
    )
    with pytest.raises(TokenMissing):
        repository.update_token(missing)
    revoke_token(runtime, admin.token, key_of(token), None)
    assert not repository.update_token(TokenEdit(first.after, _renamed(token, "three", 2)))  # revoked since


def _renamed(token: TokenRecord, name: str, revision: int | None, **other: Any) -> TokenRecord:
    from dataclasses import replace

    return replace(token, name=name, revision=revision, updated_at=datetime(2026, 11, 1).isoformat(), **other)
