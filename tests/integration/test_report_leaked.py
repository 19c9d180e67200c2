"""Leaked-credential reports (issue 16): anyone may revoke a live secret, and learns nothing by it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.domain.clock import to_iso
from shared.domain.crypto import SecretKind, new_secret
from shared.domain.history import HistoryType
from shared.domain.lifecycle import REPORTED_LEAKED, REVOKED
from shared.domain.records import LifecycleEvent
from shared.entry.runtime import Runtime
from shared.services.rotation import rotate_token
from shared.services.tokens import IssuedToken, refresh_token
from shared.storage.items import event_from_outbox_item
from shared.storage.repository import TokenKey
from tests.conftest import APP, ORG, TOKENS_URL, CallLog, FakeClock, Result, call, issue
from tests.integration.test_api import assert_401, assert_422
from tests.invariants import table_items

REPORT_URL = "/v1/credentials/revoke"


def report(credentials: Any, **kwargs: Any) -> Result:
    return call("report_leaked", "POST", REPORT_URL, body={"credentials": credentials}, **kwargs)


def listed(token: str) -> Result:
    return call("list_tokens", "GET", TOKENS_URL, token=token)


def stored_token(runtime: Runtime, token_id: str) -> Any:
    credential = runtime.repository.get_credential(token_id)
    assert credential is not None
    return credential.token


def outbox_events(runtime: Runtime, token_id: str) -> list[LifecycleEvent]:
    items = table_items(runtime.repository.client)  # type: ignore[attr-defined]
    events = [event_from_outbox_item(item) for item in items]
    return [e for e in events if e is not None and e.token_id == token_id]


def outbox_types(runtime: Runtime, token_id: str) -> list[str]:
    return sorted(e.detail_type for e in outbox_events(runtime, token_id))


NOBODY = "0123456789abcdefghjkmnpqrs"  # a well-formed token id that no test mints


def unknown_secret(kind: SecretKind = SecretKind.ACCESS, token_id: str = NOBODY) -> str:
    """Well-formed (right shape, right checksum) but of no token in the table."""
    return new_secret(kind, token_id)


def test_a_reported_access_token_is_revoked_on_the_next_request(runtime: Runtime, admin: IssuedToken) -> None:
    leaked = issue(runtime, admin, permissions=["app_tokens:list"])
    assert listed(leaked.plaintext_token).status == 200
    result = report([leaked.plaintext_token])
    assert (result.status, result.json()) == (202, {"received": 1})
    assert_401(listed(leaked.plaintext_token))
    token = stored_token(runtime, leaked.token.token_id)
    assert token.revoked_reason == "reported_leaked" and token.revoked_at is not None
    assert listed(admin.plaintext_token).status == 200  # nothing else touched


def test_a_reported_refresh_token_revokes_its_token(runtime: Runtime, admin: IssuedToken) -> None:
    leaked = issue(runtime, admin, permissions=["app_tokens:list"])
    assert report([leaked.refresh_token_plaintext]).status == 202
    assert_401(listed(leaked.plaintext_token))
    assert stored_token(runtime, leaked.token.token_id).revoked_reason == "reported_leaked"


def test_the_answer_is_the_same_whatever_the_credentials_were(runtime: Runtime, admin: IssuedToken) -> None:
    """Live, unknown, malformed, already revoked: one answer, so a report is no oracle."""
    live = issue(runtime, admin)
    revoked = issue(runtime, admin)
    report([revoked.plaintext_token])
    answers = [
        report([credential])
        for credential in (live.plaintext_token, unknown_secret(), "atok_nope", revoked.plaintext_token)
    ]
    assert {(a.status, a.body) for a in answers} == {(202, '{"received":1}')}
    assert {tuple(sorted(a.headers.items())) for a in answers} == {tuple(sorted(answers[0].headers.items()))}


def test_the_report_writes_the_leak_event_beside_the_revoked_one(
    runtime: Runtime, admin: IssuedToken
) -> None:
    leaked = issue(runtime, admin)
    report([leaked.plaintext_token])
    assert outbox_types(runtime, leaked.token.token_id) == sorted(
        ["App Token Created", REPORTED_LEAKED, REVOKED]
    )
    by_type = {e.detail_type: e for e in outbox_events(runtime, leaked.token.token_id)}
    assert by_type[REPORTED_LEAKED].extra == {"credential_kind": "access"}
    assert by_type[REVOKED].extra == {"revoked_reason": "reported_leaked"}
    assert by_type[REPORTED_LEAKED].occurred_at == by_type[REVOKED].occurred_at


def test_the_history_shows_the_report_then_the_revocation_by_the_service(
    admin: IssuedToken, runtime: Runtime, clock: FakeClock
) -> None:
    leaked = issue(runtime, admin)
    clock.advance(seconds=1)
    report([leaked.plaintext_token])
    url = f"{TOKENS_URL}/{leaked.token.token_id}/history"
    body = call("token_history", "GET", url, token=admin.plaintext_token).json()
    assert [(e["type"], e["actor"]) for e in body["events"]] == [
        (HistoryType.REVOKED.value, None),
        (HistoryType.REPORTED_LEAKED.value, None),
        (HistoryType.CREATED.value, {"token_id": admin.token.token_id, "user_id": "admin"}),
    ]


def test_malformed_credentials_cost_no_database_call(runtime: Runtime, calls: CallLog) -> None:
    good = unknown_secret()
    bad_checksum = good[:-1] + ("A" if good[-1] != "A" else "B")
    near_misses = [bad_checksum, "x" * 250, good.replace("atok", "xtok"), good + "0", good[:-1]]
    result = report([near_misses[i % 5] + ("" if i < 5 else f"-{i}") for i in range(100)])
    assert (result.status, result.json()) == (202, {"received": 100})
    assert calls.counts() == {}


def test_an_unknown_well_formed_credential_costs_one_consistent_get_item(
    runtime: Runtime, calls: CallLog
) -> None:
    result = report([unknown_secret(), unknown_secret(SecretKind.REFRESH, "1123456789abcdefghjkmnpqrs")])
    assert result.status == 202
    assert calls.counts() == {"GetItem": 2}
    assert all(p["ConsistentRead"] is True for p in calls.parameters)


def test_a_live_one_costs_a_get_item_and_the_revoke_transaction(
    runtime: Runtime, admin: IssuedToken, calls: CallLog
) -> None:
    leaked = issue(runtime, admin)
    calls.clear()
    assert report([leaked.plaintext_token]).status == 202
    assert calls.operations == ["GetItem", "TransactWriteItems"]


def test_duplicates_count_once_for_the_work_and_all_for_received(
    runtime: Runtime, admin: IssuedToken, calls: CallLog
) -> None:
    leaked = issue(runtime, admin)
    calls.clear()
    body = [leaked.plaintext_token] * 3 + [leaked.refresh_token_plaintext] + [unknown_secret()] * 2
    result = report(body)
    assert result.json() == {"received": 6}
    # One read per token id (its access and refresh secrets together), one transaction.
    assert calls.counts() == {"GetItem": 2, "TransactWriteItems": 1}
    leak = [e for e in outbox_events(runtime, leaked.token.token_id) if e.detail_type == REPORTED_LEAKED]
    assert [e.extra["credential_kind"] for e in leak] == ["access,refresh"]


def test_a_wrong_secret_for_a_real_token_id_revokes_nothing(
    runtime: Runtime, admin: IssuedToken, calls: CallLog
) -> None:
    """The id is in the token's visible prefix: knowing it must not be enough to revoke."""
    target = issue(runtime, admin)
    forged = new_secret(SecretKind.ACCESS, target.token.token_id)
    calls.clear()
    assert report([forged]).status == 202
    assert calls.operations == ["GetItem"]
    assert stored_token(runtime, target.token.token_id).revoked_at is None
    assert listed(target.plaintext_token).status != 401


def test_an_old_refresh_token_revokes_nothing(runtime: Runtime, admin: IssuedToken, calls: CallLog) -> None:
    """Only current secrets: one rotated away opens nothing (see shared/services/reporting.py)."""
    target = issue(runtime, admin, permissions=["app_tokens:list"])
    key = TokenKey(ORG, APP, target.token.token_id)
    rotated = refresh_token(runtime, key, target.refresh_token_plaintext)
    calls.clear()
    report([target.refresh_token_plaintext, target.plaintext_token])
    assert calls.operations == ["GetItem"]
    assert listed(rotated.plaintext_token).status == 200


def test_a_disabled_token_is_revoked_and_an_expired_one_left(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, calls: CallLog
) -> None:
    disabled = issue(runtime, admin)
    url = f"{TOKENS_URL}/{disabled.token.token_id}"
    assert (
        call("update_token", "PATCH", url, token=admin.plaintext_token, body={"enabled": False}).status == 200
    )
    expiring = issue(runtime, admin, expires_at=to_iso(clock() + timedelta(hours=1)))
    report([disabled.plaintext_token])
    assert stored_token(runtime, disabled.token.token_id).revoked_reason == "reported_leaked"
    clock.advance(hours=1)  # its expiry, to the second: no longer live
    calls.clear()
    report([expiring.plaintext_token])
    assert calls.operations == ["GetItem"]
    assert stored_token(runtime, expiring.token.token_id).revoked_at is None


def test_an_already_revoked_token_keeps_its_first_revocation(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, calls: CallLog
) -> None:
    target = issue(runtime, admin)
    url = f"{TOKENS_URL}/{target.token.token_id}"
    call("revoke_token", "DELETE", url, token=admin.plaintext_token, body={"reason": "rotated out"})
    clock.advance(minutes=1)
    calls.clear()
    assert report([target.plaintext_token]).status == 202
    assert calls.operations == ["GetItem"]
    assert stored_token(runtime, target.token.token_id).revoked_reason == "rotated out"
    assert REPORTED_LEAKED not in outbox_types(runtime, target.token.token_id)


def test_no_authorization_header_is_read(runtime: Runtime, admin: IssuedToken, calls: CallLog) -> None:
    result = report([unknown_secret()], headers={"Authorization": "Bearer not-even-a-token"})
    assert result.status == 202
    assert calls.operations == ["GetItem"]  # the bearer was never looked up


@pytest.mark.parametrize(
    "body",
    [
        {"credentials": []},
        {"credentials": ["a"] * 101},
        {"credentials": ["a" * 257]},
        {"credentials": [""]},
        {"credentials": [1]},
        {"credentials": "atok_x"},
        {},
        {"credentials": ["a"], "more": 1},
    ],
    ids=["empty", "101", "too-long", "empty-string", "not-a-string", "not-a-list", "missing", "extra"],
)
def test_bad_bodies_are_422_and_cost_nothing(runtime: Runtime, calls: CallLog, body: Any) -> None:
    result = call("report_leaked", "POST", REPORT_URL, body=body)
    assert_422(result, *[item["loc"] for item in result.json()["detail"]])
    assert calls.counts() == {}


def test_a_user_cannot_claim_the_reason(admin: IssuedToken, runtime: Runtime) -> None:
    target = issue(runtime, admin)
    url = f"{TOKENS_URL}/{target.token.token_id}"
    result = call(
        "revoke_token", "DELETE", url, token=admin.plaintext_token, body={"reason": "reported_leaked"}
    )
    assert_422(result, ["body", "reason"])


@pytest.mark.parametrize(("grace_minutes", "inside"), [(60, True), (1, False)])
def test_an_access_secret_a_rotation_replaced_is_as_leaked_while_its_grace_runs(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, grace_minutes: int, inside: bool
) -> None:
    # Until its grace ends it opens every door, so reporting it must end the token; after, it
    # opens nothing and the token's new secret stays good.
    leaked = issue(runtime, admin, permissions=["app_tokens:list"])
    key = TokenKey(ORG, APP, leaked.token.token_id)
    rotated = rotate_token(runtime, admin.token, key, timedelta(minutes=grace_minutes))
    clock.advance(minutes=1)
    assert listed(leaked.plaintext_token).status == (200 if inside else 401)
    assert report([leaked.plaintext_token]).status == 202
    assert listed(rotated.plaintext_token).status == (401 if inside else 200)
    expected = "reported_leaked" if inside else None
    assert stored_token(runtime, leaked.token.token_id).revoked_reason == expected
