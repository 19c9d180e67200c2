"""Canary tokens (issue 16): a decoy answers byte for byte as a token that does not exist, everywhere.

Every comparison is against a token of the same shape (prefix, checksum, length) whose id nobody
minted, so the only difference left is the one an observer must not see.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from devtools.events import authorizer_event, proxy_event
from shared.domain.crypto import SecretKind, new_secret, new_token_id
from shared.entry.runtime import Runtime
from shared.services.tokens import IssuedToken
from tests.conftest import (
    APP,
    ORG,
    TOKENS_URL,
    FakeClock,
    LambdaContextStub,
    Result,
    call,
    handler,
    issue,
    mint_admin,
)
from tests.integration.test_api import assert_401

# Headers that differ between any two responses whatever the token: none today, listed for the day
# one appears (a request id, a date), so the comparison still says what it means.
_PER_RESPONSE_HEADERS = {"date", "x-request-id", "x-amzn-requestid"}


def unknown_like(runtime: Runtime, kind: SecretKind = SecretKind.ACCESS) -> tuple[str, str]:
    """A secret of the same shape as a real one (prefix, checksum, length) and its id, of no token."""
    token_id = new_token_id(runtime.clock())
    return token_id, new_secret(kind, token_id)


def comparable(result: Result) -> tuple[int, dict[str, str], str | None]:
    """The response with the error body's ``timestamp`` (when it was made) blanked, else byte for byte."""
    headers = {k: v for k, v in result.headers.items() if k not in _PER_RESPONSE_HEADERS}
    body = result.body
    if body is not None and '"timestamp": "' in body:
        start = body.index('"timestamp": "') + len('"timestamp": "')
        body = body[:start] + "<moment>" + body[body.index('"', start) :]
    return result.status, headers, body


@pytest.fixture
def canary(runtime: Runtime, admin: IssuedToken) -> IssuedToken:
    return issue(runtime, admin, name="deploy key (prod)", canary=True, scopes=["deploy"])


def test_a_canary_looks_like_any_token(runtime: Runtime, admin: IssuedToken, canary: IssuedToken) -> None:
    real = issue(runtime, admin, name="deploy key (prod)", scopes=["deploy"])
    assert len(canary.plaintext_token) == len(real.plaintext_token)
    assert canary.plaintext_token[:5] == real.plaintext_token[:5] == "atok_"
    assert len(canary.refresh_token_plaintext) == len(real.refresh_token_plaintext)
    # The create answer and the listing are the seed's AppToken: nothing tells.
    created = call(
        "create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "c", "canary": True}
    )
    plain = call("create_token", "POST", TOKENS_URL, token=admin.plaintext_token, body={"name": "c"})
    assert created.status == plain.status == 201
    assert set(created.json()) == set(plain.json())
    assert set(created.json()["token"]) == set(plain.json()["token"])
    assert len(created.json()["token"]) == 22
    listed = call("list_tokens", "GET", TOKENS_URL, token=admin.plaintext_token).json()
    assert {len(token) for token in listed["tokens"]} == {22}
    # Only details, on get (and patch), tell.
    details = call(
        "get_token", "GET", f"{TOKENS_URL}/{canary.token.token_id}", token=admin.plaintext_token
    ).json()["details"]
    assert (details["canary"], details["last_tripped_at"]) == (True, None)
    own = call("whoami", "GET", "/v1/whoami", token=admin.plaintext_token).json()["details"]
    assert (own["canary"], own["last_tripped_at"]) == (False, None)


@pytest.mark.parametrize(
    ("name", "method", "path"),
    [
        ("list_tokens", "GET", TOKENS_URL),
        ("whoami", "GET", "/v1/whoami"),
        ("create_token", "POST", TOKENS_URL),
    ],
)
def test_the_management_api_answers_a_canary_as_an_unknown_token(
    runtime: Runtime, canary: IssuedToken, name: str, method: str, path: str
) -> None:
    _, unknown = unknown_like(runtime)
    body = {"name": "x"} if method == "POST" else None
    decoy = call(name, method, path, token=canary.plaintext_token, body=body, source_ip="203.0.113.9")
    nobody = call(name, method, path, token=unknown, body=body, source_ip="203.0.113.9")
    assert_401(decoy)
    assert comparable(decoy) == comparable(nobody)


def test_verify_answers_a_canary_as_an_unknown_token(
    runtime: Runtime, admin: IssuedToken, canary: IssuedToken
) -> None:
    _, unknown = unknown_like(runtime)

    def verify(token: str) -> Result:
        body = {"token": token, "method": "GET", "path": "/v1/deploys", "source_ip": "198.51.100.7"}
        return call("verify_token", "POST", f"{TOKENS_URL}/verify", token=admin.plaintext_token, body=body)

    decoy, nobody = verify(canary.plaintext_token), verify(unknown)
    assert decoy.status == 200 and decoy.json() == {
        "valid": False,
        "code": "NOT_FOUND",
        "token": None,
        "rate_limit": None,
        "credits_remaining": None,
    }
    assert comparable(decoy) == comparable(nobody)


def test_the_authorizer_answers_a_canary_as_an_unknown_token(runtime: Runtime, canary: IssuedToken) -> None:
    runtime.settings = dataclasses.replace(
        runtime.settings, authorizer_org_id=ORG, authorizer_app_id=APP, authorizer_routes='{"*": {}}'
    )
    _, unknown = unknown_like(runtime)

    def authorize(token: str) -> str:
        proxy = proxy_event("GET", "/v1/deploys", headers={"Authorization": f"Bearer {token}"})
        try:
            return json.dumps(handler("authorize")(authorizer_event(proxy), LambdaContextStub()))
        except Exception as error:  # API Gateway's 401
            return f"{type(error).__name__}: {error}"

    assert authorize(canary.plaintext_token) == authorize(unknown) == "Exception: Unauthorized"


def test_refresh_answers_a_canary_refresh_token_as_an_unknown_one(
    runtime: Runtime, canary: IssuedToken
) -> None:
    unknown_id, unknown = unknown_like(runtime, SecretKind.REFRESH)

    def refresh(token_id: str, secret: str) -> Result:
        return call(
            "refresh_token", "POST", f"{TOKENS_URL}/{token_id}/refresh", body={"refresh_token": secret}
        )

    decoy = refresh(canary.token.token_id, canary.refresh_token_plaintext)
    nobody = refresh(unknown_id, unknown)
    assert_401(decoy)
    assert comparable(decoy) == comparable(nobody)
    # And it stays a decoy: its refresh token was not rotated away, it still trips (and fails).
    assert_401(refresh(canary.token.token_id, canary.refresh_token_plaintext))


@pytest.mark.parametrize("state", ["revoked", "expired", "another org's"])
def test_a_canary_in_any_state_still_answers_as_unknown(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock, state: str
) -> None:
    if state == "another org's":
        other = mint_admin(runtime, "globex", "shop", ["*"])
        canary = issue(runtime, admin, canary=True)
        # Presented to org acme's verify endpoint and to globex's: both unknown, as any foreign token.
        caller = other
    else:
        canary = issue(runtime, admin, canary=True, expires_at="2026-11-02T12:00:00Z")
        caller = mint_admin(runtime, ORG, APP, ["*"], days=30)
        if state == "revoked":
            call(
                "revoke_token", "DELETE", f"{TOKENS_URL}/{canary.token.token_id}", token=admin.plaintext_token
            )
        else:
            clock.advance(days=2)
    url = TOKENS_URL if state != "another org's" else "/v1/orgs/globex/apps/shop/tokens"
    _, unknown = unknown_like(runtime)

    def verify(token: str) -> Result:
        return call(
            "verify_token", "POST", f"{url}/verify", token=caller.plaintext_token, body={"token": token}
        )

    assert comparable(verify(canary.plaintext_token)) == comparable(verify(unknown))
    assert verify(canary.plaintext_token).json()["code"] == "NOT_FOUND"
    # It tripped all the same (revoked and expired ones too, while their record holds the hash).
    got = call("get_token", "GET", f"{TOKENS_URL}/{canary.token.token_id}", token=admin.plaintext_token)
    assert got.json()["details"]["last_tripped_at"] is not None
