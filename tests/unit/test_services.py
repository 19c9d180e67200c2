"""The use cases against a moto-backed repository and a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.domain.clock import to_iso
from shared.domain.crypto import SecretKind, new_secret
from shared.domain.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from shared.domain.records import TokenRecord
from shared.entry.runtime import Runtime
from shared.http.api import Operation, input_locations
from shared.http.error_map import located
from shared.http.operations.create_token import CREATE_TOKEN
from shared.http.operations.list_tokens import LIST_TOKENS
from shared.services.authentication import parse_bearer, verify_access
from shared.services.listing import PageRequest, TokenListing, list_tokens
from shared.services.tokens import (
    IssuedToken,
    create_token,
    revoke_token,
)
from shared.services.verification import record_use
from shared.storage.repository import TokenKey
from tests.conftest import APP, ORG, FakeClock, mint_admin, spec_of
from tests.tokens import mistype_last_character


def auth(runtime: Runtime, header: str | None) -> TokenRecord:
    return verify_access(runtime, parse_bearer(header))


def http_loc(error: InvalidInput, operation: Operation) -> list[str | int]:
    """Where the operation's 422 puts a use case's invalid input."""
    loc: list[str | int] = located(error, input_locations(operation.router)).errors[0]["loc"]
    return loc


def create(runtime: Runtime, caller: TokenRecord, org: str = ORG, app: str = APP, **body: Any) -> IssuedToken:
    body.setdefault("name", "t")
    return create_token(runtime, caller, org, app, spec_of(body))


def page_of(
    runtime: Runtime,
    caller: TokenRecord,
    org: str = ORG,
    app: str = APP,
    *,
    limit: int = 100,
    next_token: str | None = None,
    status: Any = None,
) -> TokenListing:
    return list_tokens(
        runtime, caller, org, app, PageRequest(limit=limit, next_token=next_token, status=status)
    )


def reason_of(call: Any) -> str:
    with pytest.raises(AuthenticationFailed) as caught:
        call()
    return caught.value.reason


class TestAuthenticate:
    def test_a_valid_bearer_token_is_its_record(self, runtime: Runtime, admin: IssuedToken) -> None:
        assert auth(runtime, f"Bearer {admin.plaintext_token}").token_id == admin.token.token_id
        assert auth(runtime, f"bearer   {admin.plaintext_token} ").token_id == admin.token.token_id

    def test_every_failure_is_told_apart_in_logs_only(
        self, runtime: Runtime, admin: IssuedToken, clock: FakeClock
    ) -> None:
        token_id = admin.token.token_id
        assert reason_of(lambda: auth(runtime, None)) == "missing"
        assert reason_of(lambda: auth(runtime, admin.plaintext_token)) == "malformed"
        assert reason_of(lambda: auth(runtime, "Basic abc")) == "malformed"
        assert reason_of(lambda: auth(runtime, f"Bearer {admin.refresh_token_plaintext}")) == "malformed"
        forged = new_secret(SecretKind.ACCESS, token_id)
        assert reason_of(lambda: auth(runtime, f"Bearer {forged}")) == "not_found"
        other = new_secret(SecretKind.ACCESS, "0" * 26)
        assert reason_of(lambda: auth(runtime, f"Bearer {other}")) == "not_found"
        clock.advance(days=366)
        assert reason_of(lambda: auth(runtime, f"Bearer {admin.plaintext_token}")) == "expired"

    def test_revocation_applies_to_the_next_request(self, runtime: Runtime, admin: IssuedToken) -> None:
        child = create(runtime, admin.token, permissions=["app_tokens:list"])
        assert auth(runtime, f"Bearer {child.plaintext_token}").token_id == child.token.token_id
        revoke_token(runtime, admin.token, TokenKey(ORG, APP, child.token.token_id), None)
        assert reason_of(lambda: auth(runtime, f"Bearer {child.plaintext_token}")) == "revoked"

    def test_expiry_is_exact(self, runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
        child = create(runtime, admin.token, expires_at=to_iso(clock.now + timedelta(minutes=1)))
        clock.advance(seconds=59)
        auth(runtime, f"Bearer {child.plaintext_token}")
        clock.advance(seconds=1)
        assert reason_of(lambda: auth(runtime, f"Bearer {child.plaintext_token}")) == "expired"


def test_last_used_is_written_at_most_once_a_minute(
    runtime: Runtime, admin: IssuedToken, clock: FakeClock
) -> None:
    def use() -> str | None:
        auth(runtime, f"Bearer {admin.plaintext_token}")  # authentication notes the use
        stored = runtime.repository.get_token(ORG, APP, admin.token.token_id)
        assert stored is not None
        return stored.last_used_at

    first = to_iso(clock.now)
    assert use() == first
    clock.advance(seconds=30)
    assert use() == first
    clock.advance(seconds=31)
    assert use() == to_iso(clock.now)
    assert record_use(runtime, auth(runtime, f"Bearer {admin.plaintext_token}")) is False


class TestCreate:
    def test_defaults(self, runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
        issued = create(runtime, admin.token, name="deploy")
        token = issued.token
        assert token.owner_id == token.created_by_user_id == "admin"
        assert token.owner_type == "user" and token.token_type == "pat"
        assert token.issued_at == to_iso(clock.now)
        assert token.expires_at == to_iso(clock.now + timedelta(days=90))
        assert issued.plaintext_token.startswith(token.prefix + "_")
        assert issued.refresh_token_plaintext.startswith("aref_")

    def test_default_lifetime_is_capped_at_the_creators_expiry(
        self, runtime: Runtime, clock: FakeClock
    ) -> None:
        short_lived = mint_admin(runtime, ORG, APP, ["*"], days=10)
        assert create(runtime, short_lived.token).token.expires_at == short_lived.token.expires_at

    @pytest.mark.parametrize(
        ("offset", "error_type"),
        [
            (timedelta(0), "datetime_future"),
            (timedelta(seconds=-1), "datetime_future"),
            (timedelta(days=365, seconds=1), "datetime_too_late"),
        ],
    )
    def test_expiry_bounds(
        self, runtime: Runtime, admin: IssuedToken, clock: FakeClock, offset: timedelta, error_type: str
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            create(runtime, admin.token, expires_at=to_iso(clock.now + offset))
        assert caught.value.field == "expires_at"
        assert http_loc(caught.value, CREATE_TOKEN) == ["body", "expires_at"]
        assert caught.value.error_type == error_type

    def test_a_one_minute_token_is_fine(self, runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
        expiry = clock.now + timedelta(minutes=1)
        assert create(runtime, admin.token, expires_at=to_iso(expiry)).token.expires_at == to_iso(expiry)

    def test_cannot_outlive_the_creator(self, runtime: Runtime, clock: FakeClock) -> None:
        creator = mint_admin(runtime, ORG, APP, ["*"], days=10)
        with pytest.raises(InvalidInput) as caught:
            create(runtime, creator.token, expires_at=to_iso(clock.now + timedelta(days=11)))
        assert http_loc(caught.value, CREATE_TOKEN) == ["body", "expires_at"]
        assert caught.value.ctx == {"le": creator.token.expires_at}

    @pytest.mark.parametrize(
        ("creator_fields", "request_fields", "missing"),
        [
            (
                {"permissions": ["app_tokens:create"]},
                {"permissions": ["app_tokens:revoke"]},
                "app_tokens:revoke",
            ),
            ({"permissions": ["app_tokens:*"]}, {"permissions": ["*"]}, "*"),
            ({"permissions": ["app_tokens:create"]}, {"permissions": ["app_tokens:*"]}, "app_tokens:*"),
            ({"permissions": ["*"], "scopes": ["read"]}, {"scopes": ["write"]}, "scopes:write"),
            ({"permissions": ["*"], "scopes": ["read"]}, {}, "scopes:*"),
            (
                {"permissions": ["*"], "workspace_ids": ["ws1"]},
                {"workspace_ids": ["ws2"]},
                "workspace_ids:ws2",
            ),
            ({"permissions": ["*"], "namespace_ids": ["n1"]}, {"namespace_ids": []}, "namespace_ids:*"),
            (
                {"permissions": ["*"], "environment_ids": ["dev"]},
                {"environment_ids": ["prod"]},
                "environment_ids:prod",
            ),
            (
                {"permissions": ["*"], "endpoint_paths": ["/v1/a/*"]},
                {"endpoint_paths": ["/v1/*"]},
                "endpoint_paths:/v1/*",
            ),
        ],
    )
    def test_no_escalation(
        self,
        runtime: Runtime,
        admin: IssuedToken,
        creator_fields: dict[str, Any],
        request_fields: dict[str, Any],
        missing: str,
    ) -> None:
        creator = create(runtime, admin.token, **creator_fields)
        with pytest.raises(Forbidden) as caught:
            create(runtime, creator.token, **request_fields)
        assert caught.value.required_permission == missing

    def test_narrowing_is_allowed(self, runtime: Runtime, admin: IssuedToken) -> None:
        creator = create(
            runtime,
            admin.token,
            permissions=["app_tokens:*", "orders:read"],
            scopes=["read", "write"],
            endpoint_paths=["/v1/orders/*"],
        )
        child = create(
            runtime,
            creator.token,
            permissions=["app_tokens:list", "orders:read"],
            scopes=["read"],
            endpoint_paths=["/v1/orders/{id}"],
        )
        assert child.token.scopes == ["read"]

    def test_other_org_and_unregistered_app_are_not_found(self, runtime: Runtime, admin: IssuedToken) -> None:
        with pytest.raises(NotFound) as other_org:
            create(runtime, admin.token, org="globex")
        with pytest.raises(NotFound) as unregistered:
            create(runtime, admin.token, app="unregistered")
        assert (other_org.value.resource_type, unregistered.value.resource_type) == ("app", "app")


class TestList:
    def test_pages_newest_first_through_every_token(
        self, runtime: Runtime, admin: IssuedToken, clock: FakeClock
    ) -> None:
        made = []
        for index in range(7):
            clock.advance(seconds=1)
            made.append(create(runtime, admin.token, name=f"t{index}").token.token_id)
        expected = [*reversed(made), admin.token.token_id]
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = page_of(runtime, admin.token, limit=3, next_token=cursor)
            seen += [token.token_id for token in page.tokens]
            cursor = page.next_token
            if cursor is None:
                break
        assert seen == expected

    def test_status_filter(self, runtime: Runtime, admin: IssuedToken, clock: FakeClock) -> None:
        short = create(
            runtime, admin.token, name="short", expires_at=to_iso(clock.now + timedelta(minutes=5))
        )
        gone = create(runtime, admin.token, name="gone")
        kept = create(runtime, admin.token, name="kept")
        revoke_token(runtime, admin.token, TokenKey(ORG, APP, gone.token.token_id), "test")
        clock.advance(minutes=10)

        def names(status: Any) -> set[str]:
            page = page_of(runtime, admin.token, status=status)
            return {token.name for token in page.tokens}

        assert names("revoked") == {"gone"}
        assert names("expired") == {"short"}
        assert names("active") == {"kept", admin.token.name}
        assert names(None) == {"short", "gone", "kept", admin.token.name}
        assert short.token.token_id and kept.token.token_id

    def test_cursor_cannot_move_to_another_app_or_be_forged(
        self, runtime: Runtime, admin: IssuedToken
    ) -> None:
        create(runtime, admin.token)
        page = page_of(runtime, admin.token, limit=1)
        assert page.next_token is not None
        runtime.repository.register_app(ORG, "other", to_iso(runtime.clock()))
        tampered = mistype_last_character(page.next_token)
        for app, cursor in (("other", page.next_token), (APP, tampered), (APP, "garbage")):
            with pytest.raises(InvalidInput) as caught:
                page_of(runtime, admin.token, app=app, limit=1, next_token=cursor)
            assert http_loc(caught.value, LIST_TOKENS) == ["query", "next_token"]

    def test_unregistered_app_and_other_org_are_not_found(self, runtime: Runtime, admin: IssuedToken) -> None:
        for org, app in ((ORG, "unregistered"), ("globex", APP)):
            with pytest.raises(NotFound) as caught:
                page_of(runtime, admin.token, org=org, app=app, limit=10)
            assert (caught.value.resource_type, caught.value.resource_id) == ("app", app)

    def test_registered_app_without_tokens_is_an_empty_list(
        self, runtime: Runtime, admin: IssuedToken
    ) -> None:
        runtime.repository.register_app(ORG, "empty", to_iso(runtime.clock()))
        page = page_of(runtime, admin.token, app="empty", limit=10)
        assert page.tokens == [] and page.next_token is None


class TestRevoke:
    def test_second_revocation_keeps_the_first_time_and_reason(
        self, runtime: Runtime, admin: IssuedToken, clock: FakeClock
    ) -> None:
        child = create(runtime, admin.token)
        first_time = to_iso(clock.now)
        assert revoke_token(runtime, admin.token, TokenKey(ORG, APP, child.token.token_id), "leak")
        clock.advance(minutes=1)
        assert not revoke_token(runtime, admin.token, TokenKey(ORG, APP, child.token.token_id), "again")
        page = page_of(runtime, admin.token, limit=10, status="revoked")
        assert [(t.revoked_at, t.revoked_reason) for t in page.tokens] == [(first_time, "leak")]
        credential = runtime.repository.get_credential(child.token.token_id)
        assert credential is not None
        assert (credential.token.revoked_at, credential.token.revoked_reason) == (first_time, "leak")

    def test_unknown_token_other_app_and_other_org_are_not_found(
        self, runtime: Runtime, admin: IssuedToken
    ) -> None:
        child = create(runtime, admin.token)
        runtime.repository.register_app(ORG, "other", to_iso(runtime.clock()))
        for org, app, token_id in (
            (ORG, APP, "0" * 26),
            (ORG, "other", child.token.token_id),
            ("globex", APP, child.token.token_id),
        ):
            with pytest.raises(NotFound) as caught:
                revoke_token(runtime, admin.token, TokenKey(org, app, token_id), None)
            assert (caught.value.resource_type, caught.value.resource_id) == ("token", token_id)
        assert auth(runtime, f"Bearer {child.plaintext_token}").revoked_at is None
