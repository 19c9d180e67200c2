"""The verification core and the verify endpoint: every code, the rate limit, and the call budget."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

from shared.domain.observability import logger
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken, revoke_token
from shared.services.verification import RequestContext, VerifyCode, verify
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.repository import TokenKey
from tests.conftest import (
    APP,
    ORG,
    TABLE,
    TOKENS_URL,
    CallLog,
    FakeClock,
    Result,
    call,
    issue,
    mint_admin,
)
from tests.integration.test_api import assert_403, assert_404, assert_422
from tests.integration.test_concurrency import admitted_across_threads
from tests.tokens import mistype_last_character

VERIFY = TOKENS_URL + "/verify"


def make(runtime: Runtime, admin: IssuedToken, **fields: Any) -> IssuedToken:
    return issue(runtime, admin, **{"name": "guarded", **fields})


def check(admin: IssuedToken, token: str, **asked: Any) -> Result:
    return call("verify_token", "POST", VERIFY, token=admin.plaintext_token, body={"token": token, **asked})


def code_of(admin: IssuedToken, token: str, **asked: Any) -> str:
    result = check(admin, token, **asked)
    assert result.status == 200, result.body
    body = result.json()
    assert set(body) == {"valid", "code", "token", "rate_limit", "credits_remaining"}
    assert body["valid"] is (body["code"] == "VALID")
    if not body["valid"]:
        assert body["token"] is None  # no metadata beyond the code
    return str(body["code"])


def test_every_code_through_the_endpoint(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    plain = make(runtime, admin)
    restricted = make(
        runtime,
        admin,
        endpoint_paths=["/v1/orders/*", "/v1/users/{id}"],
        scopes=["read"],
        permissions=["orders:read"],
        workspace_ids=["ws1"],
    )
    short = make(runtime, admin, expires_at=clock.now + timedelta(minutes=1))
    gone = make(runtime, admin)
    revoke_token(runtime, admin.token, TokenKey(ORG, APP, gone.token.token_id), None)
    limited = make(runtime, admin, rate_limit_rps=1, rate_limit_burst=1)
    other_app = mint_admin(runtime, ORG, "other", ["*"])
    other_org = mint_admin(runtime, "globex", "ledger", ["*"])

    ok = check(admin, plain.plaintext_token).json()
    assert (ok["valid"], ok["code"], ok["token"]["token_id"], ok["rate_limit"]) == (
        True,
        "VALID",
        plain.token.token_id,
        None,
    )
    assert code_of(admin, "not-a-token") == "MALFORMED"
    assert code_of(admin, plain.refresh_token_plaintext) == "MALFORMED"
    assert code_of(admin, mistype_last_character(plain.plaintext_token)) == "MALFORMED"
    assert code_of(admin, other_app.plaintext_token) == "NOT_FOUND"
    assert code_of(admin, other_org.plaintext_token) == "NOT_FOUND"
    assert code_of(admin, gone.plaintext_token) == "REVOKED"
    assert (
        code_of(
            admin,
            restricted.plaintext_token,
            path="/v1/orders/7/lines",
            scopes=["read"],
            permission="orders:read",
            workspace_id="ws1",
        )
        == "VALID"
    )
    assert code_of(admin, restricted.plaintext_token, path="/v1/users/42") == "VALID"
    assert code_of(admin, restricted.plaintext_token, path="/v1/orders") == "FORBIDDEN_PATH"
    assert code_of(admin, restricted.plaintext_token, path="/v1/users/42/keys") == "FORBIDDEN_PATH"
    assert code_of(admin, restricted.plaintext_token) == "FORBIDDEN_PATH"  # a path-bound token needs a path
    assert (
        code_of(admin, restricted.plaintext_token, path="/v1/orders/1", scopes=["write"])
        == "INSUFFICIENT_SCOPE"
    )
    assert (
        code_of(admin, restricted.plaintext_token, path="/v1/orders/1", permission="orders:delete")
        == "INSUFFICIENT_SCOPE"
    )
    assert (
        code_of(admin, restricted.plaintext_token, path="/v1/orders/1", workspace_id="ws2")
        == "FORBIDDEN_RESOURCE"
    )
    assert code_of(admin, limited.plaintext_token) == "VALID"
    limited_out = check(admin, limited.plaintext_token).json()
    assert (limited_out["code"], limited_out["token"], limited_out["rate_limit"]["remaining"]) == (
        "RATE_LIMITED",
        None,
        0,
    )
    clock.advance(minutes=2)
    assert code_of(admin, short.plaintext_token) == "EXPIRED"
    assert code_of(admin, limited.plaintext_token) == "VALID"  # refilled


def test_revocation_denies_the_very_next_call(runtime: Runtime, admin: IssuedToken) -> None:
    token = make(runtime, admin)
    assert code_of(admin, token.plaintext_token) == "VALID"
    call("revoke_token", "DELETE", f"{TOKENS_URL}/{token.token.token_id}", token=admin.plaintext_token)
    assert code_of(admin, token.plaintext_token) == "REVOKED"


def test_a_burst_exhausted_then_refilled(runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
    token = make(runtime, admin, rate_limit_rps=2, rate_limit_burst=5)

    def attempt() -> Any:
        return verify(runtime, token.plaintext_token, RequestContext())

    first = [attempt() for _ in range(6)]
    assert [v.code for v in first] == [VerifyCode.VALID] * 5 + [VerifyCode.RATE_LIMITED]
    assert [v.rate_limit.remaining for v in first[:5]] == [4, 3, 2, 1, 0]
    clock.advance(seconds=1)  # two more at 2 per second
    assert [attempt().code for _ in range(3)] == [VerifyCode.VALID, VerifyCode.VALID, VerifyCode.RATE_LIMITED]
    clock.advance(seconds=60)  # never more than the burst
    assert [attempt().code for _ in range(6)].count(VerifyCode.VALID) == 5


@pytest.mark.also_on_dynamodb_local
def test_concurrent_requests_never_exceed_the_bucket(
    runtime: Runtime, admin: IssuedToken, race_client: Any
) -> None:
    token = make(runtime, admin, rate_limit_rps=1, rate_limit_burst=10)
    runtime.repository = DynamoDBTokenRepository(TABLE, cast(Any, race_client))

    def attempt() -> bool:
        return verify(runtime, token.plaintext_token, RequestContext()).valid

    allowed = admitted_across_threads(attempt, threads=8, each=5)
    assert 1 <= allowed <= 10  # the clock stands still: never more than the burst, across all threads


def test_calls_per_verification(
    runtime: Runtime, admin: IssuedToken, calls: CallLog, clock: FakeClock
) -> None:
    plain = make(runtime, admin)
    limited = make(runtime, admin, rate_limit_rps=100)
    for token in (plain, limited):
        verify(runtime, token.plaintext_token, RequestContext())
    calls.clear()
    clock.advance(seconds=5)  # last_used_at is fresh: no write for it now
    verify(runtime, plain.plaintext_token, RequestContext())
    assert calls.operations == ["GetItem"]
    calls.clear()
    verify(runtime, limited.plaintext_token, RequestContext())
    assert calls.operations == ["GetItem", "UpdateItem"]
    calls.clear()
    verify(runtime, "atok_garbage", RequestContext())
    assert calls.operations == []


def test_who_may_verify(runtime: Runtime, admin: IssuedToken) -> None:
    lister = make(runtime, admin, permissions=["app_tokens:list"])
    result = call("verify_token", "POST", VERIFY, token=lister.plaintext_token, body={"token": "x"})
    assert_403(result, "app_tokens:verify")
    stranger = mint_admin(runtime, "globex", "ledger", ["*"])
    result = call("verify_token", "POST", VERIFY, token=stranger.plaintext_token, body={"token": "x"})
    assert_404(result, "app", APP)
    assert_422(check(admin, "x", path="no-slash"), ["body", "path"])
    assert_422(call("verify_token", "POST", VERIFY, token=admin.plaintext_token, body={}), ["body", "token"])


def test_a_valid_verdict_is_logged_at_debug_a_refusal_at_info(
    runtime: Runtime, admin: IssuedToken, caplog: pytest.LogCaptureFixture
) -> None:
    """Verify is a hot path like the authorizer: its VALID line only when DEBUG is on (docs/decisions.md)."""
    token = make(runtime, admin)
    caplog.clear()
    assert code_of(admin, token.plaintext_token) == "VALID"
    assert code_of(admin, mistype_last_character(token.plaintext_token)) == "MALFORMED"
    logged = [
        (record.levelname, getattr(record, "code", None))
        for record in caplog.records
        if record.getMessage() == "token verified"
    ]
    assert logged == [("INFO", "MALFORMED")]
    caplog.clear()
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        assert code_of(admin, token.plaintext_token) == "VALID"
    finally:
        logger.setLevel(level)
    assert [
        (r.levelname, getattr(r, "code", None)) for r in caplog.records if r.getMessage() == "token verified"
    ] == [("DEBUG", "VALID")]
