"""Canary tokens (issue 16): every use trips an alarm, bounded to one a minute per source address;
and a canary can never be given permissions, edited, rotated or reported into anything real."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from shared.domain.canary import MAX_TRIP_FIELD_CHARS
from shared.domain.clock import to_iso
from shared.domain.lifecycle import CANARY_TRIPPED
from shared.domain.records import LifecycleEvent
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from shared.services.verification import Origin, RequestContext, VerifyCode, verify
from shared.storage.dynamodb import DynamoDBTokenRepository
from tests.conftest import TABLE, TOKENS_URL, FakeClock, Result, call, issue
from tests.integration.test_api import assert_422
from tests.integration.test_report_leaked import outbox_events, report


@pytest.fixture
def canary(runtime: Runtime, admin: IssuedToken) -> IssuedToken:
    return issue(runtime, admin, name="aws key in the wiki", canary=True)


def use(
    runtime: Runtime, canary: IssuedToken, source_ip: str | None = "192.0.2.1", **context: Any
) -> VerifyCode:
    origin = Origin(source_ip=source_ip, user_agent=context.pop("user_agent", None))
    return verify(runtime, canary.plaintext_token, RequestContext.of(origin=origin, **context)).code


def trips(runtime: Runtime, canary: IssuedToken) -> list[LifecycleEvent]:
    events = outbox_events(runtime, canary.token.token_id)
    return sorted((e for e in events if e.detail_type == CANARY_TRIPPED), key=lambda e: e.occurred_at)


def details(admin: IssuedToken, canary: IssuedToken) -> dict[str, Any]:
    url = f"{TOKENS_URL}/{canary.token.token_id}"
    got: dict[str, Any] = call("get_token", "GET", url, token=admin.plaintext_token).json()["details"]
    return got


def test_a_flood_from_one_source_is_one_event_a_minute(
    runtime: Runtime, canary: IssuedToken, clock: FakeClock
) -> None:
    # 200 uses in one minute, 0.3 s apart (each use is two moto calls, ~50 ms: 1,000 would cost the
    # suite a minute for the same proof; the bound is a condition, not a count).
    for _ in range(200):
        assert use(runtime, canary) is VerifyCode.NOT_FOUND
        clock.advance(seconds=0.3)
    assert len(trips(runtime, canary)) == 1
    assert use(runtime, canary) is VerifyCode.NOT_FOUND  # a minute after the first: it trips again
    use(runtime, canary)
    assert len(trips(runtime, canary)) == 2


def test_each_source_address_trips_once_a_minute(
    runtime: Runtime, canary: IssuedToken, clock: FakeClock
) -> None:
    sources = ["192.0.2.1", "2001:db8::1", "198.51.100.20"]
    for round_ in range(100):
        use(runtime, canary, sources[round_ % 3])
        clock.advance(seconds=0.5)
    assert sorted(e.extra["source_ip"] for e in trips(runtime, canary)) == sorted(sources)


def test_the_minute_is_to_the_moment(runtime: Runtime, canary: IssuedToken, clock: FakeClock) -> None:
    use(runtime, canary)
    clock.advance(seconds=59.999)
    use(runtime, canary)
    assert len(trips(runtime, canary)) == 1
    clock.advance(seconds=0.001)  # exactly a minute after the first
    use(runtime, canary)
    assert len(trips(runtime, canary)) == 2


def test_the_event_tells_where_the_use_came_from_never_the_token(
    runtime: Runtime, admin: IssuedToken, canary: IssuedToken, clock: FakeClock
) -> None:
    clock.advance(seconds=1)  # after its creation, so the history's order is the moments'
    at = to_iso(clock())
    use(runtime, canary, "203.0.113.7", user_agent="curl/8.5 " + "x" * 500, method="GET", path="/v1/s3")
    clock.advance(seconds=1)
    use(runtime, canary, None)  # a verify call that did not say where its request came from
    first, second = trips(runtime, canary)
    assert first.extra == {
        "source_ip": "203.0.113.7",
        "user_agent": ("curl/8.5 " + "x" * 500)[: MAX_TRIP_FIELD_CHARS["user_agent"]],
        "method": "GET",
        "path": "/v1/s3",
    }
    assert second.extra == dict.fromkeys(MAX_TRIP_FIELD_CHARS, "unknown")
    assert first.occurred_at == at
    assert canary.plaintext_token not in str(first) and canary.token.token_id == first.token_id
    # details and the history record it; the history names no actor (the user is who it is about).
    assert details(admin, canary)["last_tripped_at"] == second.occurred_at  # the latest
    url = f"{TOKENS_URL}/{canary.token.token_id}/history"
    history = call("token_history", "GET", url, token=admin.plaintext_token).json()["events"]
    assert [(e["type"], e["actor"]) for e in history] == [
        ("canary_tripped", None),
        ("canary_tripped", None),
        ("created", {"token_id": admin.token.token_id, "user_id": "admin"}),
    ]


def test_the_management_api_trip_carries_its_own_method_path_and_address(
    runtime: Runtime, canary: IssuedToken
) -> None:
    result = call(
        "list_tokens",
        "GET",
        TOKENS_URL,
        token=canary.plaintext_token,
        headers={"User-Agent": "aws-cli/2"},
        source_ip="198.51.100.4",
    )
    assert result.status == 401
    [event] = trips(runtime, canary)
    assert event.extra == {
        "source_ip": "198.51.100.4",
        "user_agent": "aws-cli/2",
        "method": "GET",
        "path": TOKENS_URL,
    }


def test_concurrent_uses_from_one_source_write_one_event(
    runtime: Runtime, canary: IssuedToken, race_client: Any
) -> None:
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, race_client))
    barrier = threading.Barrier(8)

    def attempt(_: int) -> VerifyCode:
        barrier.wait()
        return use(runtime, canary)

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(attempt, range(8))) == {VerifyCode.NOT_FOUND}
    assert len(trips(runtime, canary)) == 1


def test_a_failing_trip_write_does_not_change_the_answer(
    runtime: Runtime, canary: IssuedToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = runtime.repository.client  # type: ignore[attr-defined]

    def unavailable(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")

    monkeypatch.setattr(client, "transact_write_items", unavailable)
    assert use(runtime, canary) is VerifyCode.NOT_FOUND
    monkeypatch.undo()
    assert trips(runtime, canary) == []


# ---- what a canary may be and become ----------------------------------------------------------


def create(admin: IssuedToken, **body: Any) -> Result:
    return call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "c", **body})


def test_a_canary_cannot_be_given_permissions(admin: IssuedToken) -> None:
    [error] = assert_422(create(admin, canary=True, permissions=["app_tokens:list"]), ["body", "permissions"])
    assert error["type"] == "canary_permissions"
    # Restrictions and rate limits are decoration: they make it look like the tokens around it.
    decorated = create(admin, canary=True, scopes=["deploy"], rate_limit_rps=5, endpoint_paths=["/v1/*"])
    assert decorated.status == 201, decorated.body
    assert_422(create(admin, canary="yes"), ["body", "canary"])  # true or false, nothing like them


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"permissions": ["app_tokens:list"]}, "permissions"),
        ({"enabled": False}, "enabled"),
        ({"scopes": []}, "scopes"),
        ({"name": "n", "rate_limit_rps": 1}, "rate_limit_rps"),
    ],
)
def test_a_canary_is_never_edited_into_anything_but_its_name_and_expiry(
    admin: IssuedToken, canary: IssuedToken, change: dict[str, Any], field: str
) -> None:
    url = f"{TOKENS_URL}/{canary.token.token_id}"
    [error] = assert_422(
        call("update_token", "PATCH", url, token=admin.plaintext_token, body=change), ["body", field]
    )
    assert error["type"] == "canary_not_editable"
    renamed = call(
        "update_token",
        "PATCH",
        url,
        token=admin.plaintext_token,
        body={
            "name": "prod db password",
            "description": "in vault/old",
            "expires_at": "2027-01-01T00:00:00Z",
        },
    )
    assert renamed.status == 200, renamed.body
    assert renamed.json()["details"]["canary"] is True


def test_a_canary_is_never_rotated(admin: IssuedToken, canary: IssuedToken) -> None:
    url = f"{TOKENS_URL}/{canary.token.token_id}/rotate"
    [error] = assert_422(
        call("rotate_token", "POST", url, token=admin.plaintext_token, body={}), ["path", "token_id"]
    )
    assert error["type"] == "token_is_canary"


def test_a_canary_may_be_revoked_and_then_still_trips(
    runtime: Runtime, admin: IssuedToken, canary: IssuedToken
) -> None:
    url = f"{TOKENS_URL}/{canary.token.token_id}"
    assert call("revoke_token", "DELETE", url, token=admin.plaintext_token).status == 204
    assert use(runtime, canary) is VerifyCode.NOT_FOUND
    assert len(trips(runtime, canary)) == 1


def test_a_reported_canary_trips_and_stays_planted(
    runtime: Runtime, admin: IssuedToken, canary: IssuedToken
) -> None:
    reported = report([canary.plaintext_token, canary.refresh_token_plaintext], source_ip="140.82.112.3")
    assert (reported.status, reported.json()) == (202, {"received": 2})
    [event] = trips(runtime, canary)
    assert (event.extra["source_ip"], event.extra["path"]) == ("140.82.112.3", "/v1/credentials/revoke")
    assert details(admin, canary)["status"] == "active"  # not revoked: a canary found in public is the alarm
