"""DynamoDB round trips are part of the contract; count them by hooking botocore."""

from __future__ import annotations

from collections import Counter

from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from shared.services.verification import Origin, RequestContext, VerifyCode, verify
from tests.conftest import TOKENS_URL, CallLog, FakeClock, call, issue
from tests.tokens import mistype_last_character


def test_authentication_is_one_consistent_get_item(
    admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
    calls.clear()
    clock.advance(seconds=10)  # last_used_at was written less than a minute ago: no write now
    call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
    assert calls.operations == ["GetItem", "Query"]
    assert calls.parameters[0]["ConsistentRead"] is True


def test_a_list_page_is_one_query_reading_at_most_the_page(
    admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    for _ in range(30):
        call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "t"})
    calls.clear()
    result = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token, query={"limit": "10"})
    assert result.status == 200
    assert calls.counts() == Counter({"GetItem": 1, "Query": 1})
    assert calls.items_read == 1 + 10


def test_create_is_one_transaction(admin: IssuedToken, calls: CallLog, clock: FakeClock) -> None:
    call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
    calls.clear()
    result = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "t"})
    assert result.status == 201
    assert calls.operations == ["GetItem", "TransactWriteItems"]
    items = calls.parameters[1]["TransactItems"]
    # the app's registration, the token, its credential, the link from its creator (the admin's
    # token), the "created" event's outbox item and its history entry (issue 15)
    assert [next(iter(item)) for item in items] == ["ConditionCheck", "Put", "Put", "Put", "Put", "Put"]
    assert items[-1]["Put"]["Item"]["SK"]["S"].startswith("HISTORY#")


def test_revoke_is_one_write(admin: IssuedToken, calls: CallLog) -> None:
    token_id = call(
        "create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "t"}
    ).json()["token"]["token_id"]
    calls.clear()
    assert (
        call("revoke_token", "DELETE", f"{TOKENS_URL}/{token_id}", token=admin.plaintext_token).status == 204
    )
    assert calls.operations == ["GetItem", "TransactWriteItems"]


def test_a_refresh_and_its_retry_within_the_grace_are_one_read_and_one_transaction_each(
    admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    created = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "t"}).json()
    path = f"{TOKENS_URL}/{created['token']['token_id']}/refresh"
    body = {"refresh_token": created["refresh_token_plaintext"]}
    for _ in ("the refresh", "its retry"):
        calls.clear()
        assert call("refresh_token", "POST", path, body=body).status == 200
        assert calls.operations == ["GetItem", "TransactWriteItems"]
        assert calls.parameters[0]["ConsistentRead"] is True
        clock.advance(seconds=1)


def test_last_used_adds_at_most_one_write_a_minute(
    admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    for _ in range(3):
        call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
    assert calls.counts()["TransactWriteItems"] == 1
    clock.advance(minutes=1, seconds=1)
    call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
    assert calls.counts()["TransactWriteItems"] == 2


def test_malformed_tokens_cost_no_call(admin: IssuedToken, calls: CallLog) -> None:
    mistyped = mistype_last_character(admin.plaintext_token)
    for token in (None, "garbage", mistyped, admin.refresh_token_plaintext):
        assert call("list_tokens", "GET", TOKENS_URL, token=token).status == 401
    assert calls.operations == []


def test_the_product_never_scans() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [*(root / "shared").rglob("*.py"), *(root / "functions").rglob("*.py")]
    assert sources
    assert not [p for p in sources if ".scan(" in p.read_text() or '"Scan"' in p.read_text()]


# Issue 15: whoami, get, update and history.


def _created(admin: IssuedToken) -> str:
    body = {"name": "t", "scopes": ["a", "b"]}
    token_id: str = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body=body).json()[
        "token"
    ]["token_id"]
    return token_id


def _warm(admin: IssuedToken, calls: CallLog) -> None:
    """One request first, so that the admin's last_used_at was written less than a minute ago."""
    call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token)
    calls.clear()


def test_whoami_is_authentication_alone(admin: IssuedToken, calls: CallLog) -> None:
    _warm(admin, calls)
    assert call("whoami", "GET", "/v1/whoami", token=admin.plaintext_token).status == 200
    assert calls.operations == ["GetItem"]


def test_get_is_one_consistent_read_after_authentication(admin: IssuedToken, calls: CallLog) -> None:
    token_id = _created(admin)
    _warm(admin, calls)
    assert call("get_token", "GET", f"{TOKENS_URL}/{token_id}", token=admin.plaintext_token).status == 200
    assert calls.operations == ["GetItem", "GetItem"]
    assert calls.parameters[1]["ConsistentRead"] is True


def test_update_is_one_read_and_one_transaction(admin: IssuedToken, calls: CallLog) -> None:
    token_id = _created(admin)
    _warm(admin, calls)
    body = {"name": "renamed", "scopes": ["a"], "enabled": False}
    result = call("update_token", "PATCH", f"{TOKENS_URL}/{token_id}", token=admin.plaintext_token, body=body)
    assert result.status == 200, result.body
    assert calls.operations == ["GetItem", "GetItem", "TransactWriteItems"]


def test_a_history_page_is_one_query(admin: IssuedToken, calls: CallLog) -> None:
    token_id = _created(admin)
    _warm(admin, calls)
    path = f"{TOKENS_URL}/{token_id}/history"
    assert call("token_history", "GET", path, token=admin.plaintext_token).status == 200
    assert calls.operations == ["GetItem", "Query"]


# Issue 16: rotation with a grace period.


def test_rotate_is_one_read_and_one_transaction(admin: IssuedToken, calls: CallLog) -> None:
    token_id = _created(admin)
    _warm(admin, calls)
    path, body = f"{TOKENS_URL}/{token_id}/rotate", {"expire_current_in_seconds": 60}
    assert call("rotate_token", "POST", path, token=admin.plaintext_token, body=body).status == 200
    assert calls.operations == ["GetItem", "GetItem", "TransactWriteItems"]
    assert calls.parameters[1]["ConsistentRead"] is True


def test_the_previous_secret_costs_no_extra_read(admin: IssuedToken, calls: CallLog) -> None:
    """Verifying with the secret a rotation replaced, within its grace, is still one GetItem."""
    created = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "t"}).json()
    token_id = created["token"]["token_id"]
    path = f"{TOKENS_URL}/{token_id}/rotate"
    body = {"expire_current_in_seconds": 60}
    assert call("rotate_token", "POST", path, token=admin.plaintext_token, body=body).status == 200
    _warm(admin, calls)
    verify = call(
        "verify_token",
        "POST",
        TOKENS_URL + "/verify",
        token=admin.plaintext_token,
        body={"token": created["plaintext_token"]},
    )
    assert verify.json()["code"] == "VALID"
    # Authentication, then the verified token's credential; its first use is noted (one write).
    assert calls.operations == ["GetItem", "GetItem", "TransactWriteItems"]


def test_a_canary_use_is_one_get_item_and_at_most_one_transaction(
    runtime: Runtime, admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    """Issue 16: the trip is one conditional TransactWriteItems; a use within the minute from the same
    address fails its condition and costs nothing more, so the management API stays at two calls."""
    canary = issue(runtime, admin, canary=True)
    for _ in range(3):
        calls.clear()
        assert call("whoami", "GET", "/v1/whoami", token=canary.plaintext_token).status == 401
        assert calls.operations == ["GetItem", "TransactWriteItems"]
        assert calls.parameters[0]["ConsistentRead"] is True
        clock.advance(seconds=10)
    calls.clear()
    context = RequestContext.of(origin=Origin(source_ip="192.0.2.1"))
    assert verify(runtime, canary.plaintext_token, context).code is VerifyCode.NOT_FOUND
    assert calls.counts() == Counter({"GetItem": 1, "TransactWriteItems": 1})
