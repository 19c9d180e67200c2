"""Usage credits (issue 16): spent by verify and the authorizer alike, exact under concurrency,
refilled lazily at UTC boundaries, never handed out beyond what the giver holds."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier
from typing import Any, cast

import pytest

from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from shared.services.verification import RequestContext, verify
from shared.storage.dynamodb import DynamoDBTokenRepository
from tests.conftest import TABLE, TOKENS_URL, CallLog, FakeClock, call, issue
from tests.integration.test_api import assert_403
from tests.integration.test_authorizer import authorize, protected_api, request

VERIFY = TOKENS_URL + "/verify"


def credits(remaining: int, amount: int | None = None, interval: str = "daily") -> dict[str, Any]:
    refill = None if amount is None else {"amount": amount, "interval": interval}
    return {"remaining": remaining, "refill": refill}


def check(admin: IssuedToken, token: str, **asked: Any) -> dict[str, Any]:
    result = call("verify_token", "POST", VERIFY, token=admin.plaintext_token, body={"token": token, **asked})
    assert result.status == 200, result.body
    return cast(dict[str, Any], result.json())


def details(admin: IssuedToken, token_id: str) -> Any:
    result = call("get_token", "GET", f"{TOKENS_URL}/{token_id}", token=admin.plaintext_token)
    assert result.status == 200, result.body
    return result.json()["details"]["credits"]


def test_each_verification_spends_its_cost_until_exhausted(runtime: Runtime, admin: IssuedToken) -> None:
    token = issue(runtime, admin, credits=credits(3))
    answers = [check(admin, token.plaintext_token) for _ in range(2)]
    assert [(a["code"], a["credits_remaining"]) for a in answers] == [("VALID", 2), ("VALID", 1)]
    assert check(admin, token.plaintext_token, cost=2) == {
        "valid": False,
        "code": "USAGE_EXHAUSTED",
        "token": None,
        "rate_limit": None,
        "credits_remaining": 1,
    }
    assert check(admin, token.plaintext_token, cost=0)["code"] == "VALID"  # checks without spending
    assert check(admin, token.plaintext_token)["credits_remaining"] == 0
    assert check(admin, token.plaintext_token)["code"] == "USAGE_EXHAUSTED"
    assert details(admin, token.token.token_id) == {"remaining": 0, "refill": None, "next_refill_at": None}
    # An unlimited token says so: null, and nothing spent.
    plain = issue(runtime, admin)
    assert check(admin, plain.plaintext_token)["credits_remaining"] is None


def test_the_management_api_spends_no_credits(runtime: Runtime, admin: IssuedToken) -> None:
    token = issue(runtime, admin, credits=credits(1), permissions=["app_tokens:read"])
    for _ in range(3):
        assert call("whoami", "GET", "/v1/whoami", token=token.plaintext_token).status == 200
    assert call("whoami", "GET", "/v1/whoami", token=token.plaintext_token).json()["details"]["credits"] == {
        "remaining": 1,
        "refill": None,
        "next_refill_at": None,
    }


def test_a_daily_refill_sets_the_amount_at_midnight_utc(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC)
    token = issue(runtime, admin, credits=credits(1, amount=5))
    assert check(admin, token.plaintext_token)["credits_remaining"] == 0
    assert check(admin, token.plaintext_token)["code"] == "USAGE_EXHAUSTED"
    assert details(admin, token.token.token_id)["next_refill_at"] == "2026-11-02T00:00:00.000000Z"
    clock.advance(seconds=1)  # 00:00:00 UTC: the new period
    assert details(admin, token.token.token_id)["remaining"] == 5  # the live figure, before any use
    assert check(admin, token.plaintext_token, cost=2)["credits_remaining"] == 3  # set to 5, then spent
    clock.advance(hours=23, minutes=59, seconds=59)  # still the same day: no second refill
    assert check(admin, token.plaintext_token, cost=3)["credits_remaining"] == 0
    assert check(admin, token.plaintext_token)["code"] == "USAGE_EXHAUSTED"
    clock.advance(seconds=1)
    assert check(admin, token.plaintext_token)["credits_remaining"] == 4


def test_a_monthly_refill_waits_for_the_first(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    clock.now = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
    token = issue(runtime, admin, credits=credits(0, amount=10, interval="monthly"))
    assert check(admin, token.plaintext_token)["code"] == "USAGE_EXHAUSTED"
    assert details(admin, token.token.token_id)["next_refill_at"] == "2027-01-01T00:00:00.000000Z"
    clock.now = datetime(2027, 1, 1, tzinfo=UTC)
    assert check(admin, token.plaintext_token)["credits_remaining"] == 9


def _left(runtime: Runtime, token: IssuedToken) -> int:
    credential = runtime.repository.get_credential(token.token.token_id)
    assert credential is not None and credential.token.credits_remaining is not None
    return credential.token.credits_remaining


def _verify_in_threads(runtime: Runtime, plaintext: str, threads: int) -> Counter[str]:
    barrier = Barrier(threads)

    def attempt(_: int) -> str:
        barrier.wait()
        return verify(runtime, plaintext, RequestContext()).code.value

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(attempt, range(threads)))


@pytest.mark.also_on_dynamodb_local
def test_forty_concurrent_verifications_spend_exactly_the_credits(
    runtime: Runtime, admin: IssuedToken, race_client: Any
) -> None:
    token = issue(runtime, admin, credits=credits(25))
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, race_client))
    assert _verify_in_threads(runtime, token.plaintext_token, 40) == Counter(VALID=25, USAGE_EXHAUSTED=15)
    assert _left(runtime, token) == 0


@pytest.mark.also_on_dynamodb_local
def test_with_a_rate_limit_too_the_successes_are_exactly_the_credits_spent(
    runtime: Runtime, admin: IssuedToken, race_client: Any
) -> None:
    token = issue(runtime, admin, credits=credits(25), rate_limit_rps=1000, rate_limit_burst=1000)
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, race_client))
    codes = _verify_in_threads(runtime, token.plaintext_token, 40)
    left = _left(runtime, token)
    # The bucket's version condition may make a contended attempt give up (RATE_LIMITED), but
    # every success spent exactly one credit, and none spent one that was not there.
    assert set(codes) <= {"VALID", "USAGE_EXHAUSTED", "RATE_LIMITED"}
    assert codes["VALID"] == 25 - left
    assert 0 <= left <= 25 and codes["VALID"] >= 1
    assert sum(codes.values()) == 40


def test_rate_limit_and_credits_are_one_update_item(
    runtime: Runtime, admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    token = issue(runtime, admin, credits=credits(5, amount=5), rate_limit_rps=10)
    check(admin, token.plaintext_token)
    calls.clear()
    clock.advance(seconds=5)  # last_used_at is fresh: no write for it
    assert check(admin, token.plaintext_token)["credits_remaining"] == 3
    assert calls.operations == ["GetItem", "GetItem", "UpdateItem"]  # the admin's, the token's, one write
    expression = calls.parameters[2]["UpdateExpression"]
    assert "bucket_version" in expression and "credits_remaining" in expression


@pytest.mark.usefixtures(protected_api.__name__)
def test_the_authorizer_spends_and_denies_at_zero(runtime: Runtime, admin: IssuedToken) -> None:
    token = issue(runtime, admin, credits=credits(1))
    allowed = authorize(request("GET", "/v1/x", token.plaintext_token))
    assert (allowed[0], allowed[1]["credits_remaining"]) == ("Allow", "0")
    denied = authorize(request("GET", "/v1/x", token.plaintext_token))
    assert (denied[0], denied[1]["code"], denied[1]["credits_remaining"]) == ("Deny", "USAGE_EXHAUSTED", "0")
    # The verify endpoint agrees: the one core decided both.
    assert check(admin, token.plaintext_token)["code"] == "USAGE_EXHAUSTED"


def _create(creator: IssuedToken, **body: Any) -> Any:
    return call("create_token", "POST", TOKENS_URL, token=creator.plaintext_token, body={"name": "c", **body})


def test_a_limited_creator_gives_out_of_its_own_and_never_more(runtime: Runtime, admin: IssuedToken) -> None:
    parent = issue(runtime, admin, credits=credits(10), permissions=["app_tokens:*"])
    assert_403(_create(parent), "credits:*")
    assert_403(_create(parent, credits=credits(1, amount=1)), "credits:refill")
    assert_403(_create(parent, credits=credits(11)), "credits:11")
    child = _create(parent, credits=credits(4))
    assert child.status == 201, child.body
    assert details(admin, parent.token.token_id)["remaining"] == 6
    assert details(admin, child.json()["token"]["token_id"])["remaining"] == 4
    assert_403(_create(parent, credits=credits(7)), "credits:7")
    assert _create(parent, credits=credits(6)).status == 201
    assert details(admin, parent.token.token_id)["remaining"] == 0


def test_a_creators_payment_is_in_the_create_transaction(
    runtime: Runtime, admin: IssuedToken, calls: CallLog
) -> None:
    parent = issue(runtime, admin, credits=credits(10), permissions=["app_tokens:*"])
    calls.clear()
    assert _create(parent, credits=credits(4)).status == 201
    assert "UpdateItem" not in calls.operations  # no write of its own: the create's transaction pays
    [create] = [
        p["TransactItems"]
        for op, p in zip(calls.operations, calls.parameters, strict=True)
        if op == "TransactWriteItems" and any("Put" in item for item in p["TransactItems"])
    ]
    updates = [item["Update"] for item in create if "Update" in item]
    assert [u["Key"]["PK"]["S"] for u in updates] == [f"TOKEN#{parent.token.token_id}"]
    assert "credits_remaining >= :cost" in updates[0]["ConditionExpression"]


def _patch(editor: IssuedToken, token_id: str, **body: Any) -> Any:
    return call("update_token", "PATCH", f"{TOKENS_URL}/{token_id}", token=editor.plaintext_token, body=body)


def test_patch_tops_up_only_out_of_the_editors_credits(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    editor = issue(runtime, admin, credits=credits(5), permissions=["app_tokens:*"])
    target = issue(runtime, admin, credits=credits(2, amount=2))
    target_id = target.token.token_id
    assert_403(_patch(editor, target_id, credits=None), "credits:*")
    assert_403(_patch(editor, target_id, credits=credits(8, amount=2)), "credits:6")
    assert_403(_patch(editor, target_id, credits=credits(3, amount=9)), "credits:refill")
    topped = _patch(editor, target_id, credits=credits(6, amount=2))  # +4, the refill kept
    assert topped.status == 200, topped.body
    assert topped.json()["details"]["credits"]["remaining"] == 6
    assert details(admin, editor.token.token_id)["remaining"] == 1
    clock.advance(seconds=1)  # history entries of one moment have no order between edits
    lowered = _patch(editor, target_id, credits=credits(1))  # lowering is free, the refill may go
    assert lowered.json()["details"]["credits"] == {"remaining": 1, "refill": None, "next_refill_at": None}
    assert details(admin, editor.token.token_id)["remaining"] == 1
    # An unlimited editor may remove the limit; the history shows each change, old and new.
    clock.advance(seconds=1)
    assert _patch(admin, target_id, credits=None).json()["details"]["credits"] is None
    history = call("token_history", "GET", f"{TOKENS_URL}/{target_id}/history", token=admin.plaintext_token)
    changes = [c for e in history.json()["events"] for c in e["changes"] if c["field"] == "credits"]
    assert changes[0] == {"field": "credits", "old": {"remaining": 1, "refill": None}, "new": None}
    assert changes[-1]["old"] == {"remaining": 2, "refill": {"amount": 2, "interval": "daily"}}


def test_a_token_cannot_raise_its_own_credits(runtime: Runtime, admin: IssuedToken) -> None:
    token = issue(runtime, admin, credits=credits(5), permissions=["app_tokens:*"])
    assert_403(_patch(token, token.token.token_id, credits=credits(6)), "credits:1")
    assert _patch(token, token.token.token_id, credits=credits(2)).status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"credits": {"remaining": -1}},
        {"credits": {"remaining": 1_000_000_001}},
        {"credits": {"remaining": 1, "refill": {"amount": 0, "interval": "daily"}}},
        {"credits": {"remaining": 1, "refill": {"amount": 1, "interval": "weekly"}}},
        {"credits": {"remaining": "1"}},
        {"credits": {"remaining": 1, "extra": 1}},
    ],
)
def test_bad_credits_are_422(admin: IssuedToken, body: dict[str, Any]) -> None:
    assert _create(admin, **body).status == 422


@pytest.mark.parametrize("cost", [-1, 1001, "1", 1.5])
def test_a_bad_cost_is_422(admin: IssuedToken, cost: Any) -> None:
    body = {"token": admin.plaintext_token, "cost": cost}
    assert call("verify_token", "POST", VERIFY, token=admin.plaintext_token, body=body).status == 422
