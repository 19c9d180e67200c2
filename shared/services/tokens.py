"""The use cases. Plain functions: storage, clock and hasher come in as parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.domain.clock import Clock, to_iso
from shared.domain.crypto import (
    ParsedSecret,
    SecretHasher,
    SecretKind,
    display_prefix,
    new_secret,
    new_token_id,
    parse_secret,
)
from shared.domain.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from shared.domain.lifecycle import CREATED, REFRESH_REUSE, REFRESH_REUSE_REASON, REVOKED, ROTATED
from shared.domain.permissions import (
    RESTRICTION_FIELDS,
    has_permission,
    rate_limit_breach,
    restriction_breach,
)
from shared.domain.principals import Principal
from shared.domain.records import Credential, LifecycleEvent, TokenRecord
from shared.http.request import bearer_credential
from shared.services.verification import RequestContext, VerifyCode, verify
from shared.storage.repository import AppNotRegistered, StatusFilter, TokenKey, TokenMissing, TokenRepository

if TYPE_CHECKING:
    from shared.http.models import TokenCreate


@dataclass(frozen=True)
class LifetimePolicy:
    """How long tokens live when the creator does not say, at most, and in the table after they end."""

    default: timedelta = timedelta(days=90)
    maximum: timedelta = timedelta(days=365)
    retention: timedelta = timedelta(days=30)


def purge_epoch(ended_at: datetime, policy: LifetimePolicy) -> int:
    """The DynamoDB TTL (epoch seconds) of a token that expired or was revoked at ``ended_at``."""
    return int((ended_at + policy.retention).timestamp())


def token_event(
    detail_type: str, token: TokenKey | TokenRecord, at: datetime, **extra: str
) -> LifecycleEvent:
    """A lifecycle event about ``token``; its metadata is added when it is published."""
    return LifecycleEvent(
        detail_type=detail_type,
        org_id=token.org_id,
        app_id=token.app_id,
        token_id=token.token_id,
        occurred_at=to_iso(at),
        extra=dict(extra),
    )


@dataclass(frozen=True)
class IssuedToken:
    """A token just minted, with the plaintext secrets that exist only in this one response."""

    token: TokenRecord
    # Out of the repr, as everywhere a secret is held: a repr can end up in a log or a trace.
    plaintext_token: str = field(repr=False)
    refresh_token_plaintext: str = field(repr=False)


@dataclass(frozen=True)
class TokenListing:
    """One page of tokens and the cursor of the next."""

    tokens: list[TokenRecord]
    next_token: str | None


def parse_bearer(authorization: str | None) -> ParsedSecret:
    """The access token in an ``Authorization: Bearer`` header, checked for shape and checksum only.

    Needs neither the database nor the hashing key, so a missing or malformed
    credential is a 401 even when the key store is unreachable.
    """
    if not authorization:
        raise AuthenticationFailed("missing")
    presented = bearer_credential(authorization)
    parsed = parse_secret(presented) if presented is not None else None
    if parsed is None or parsed.kind is not SecretKind.ACCESS:
        raise AuthenticationFailed("malformed")
    return parsed


def verify_access(
    repository: TokenRepository,
    hasher: SecretHasher,
    clock: Clock,
    presented: ParsedSecret,
    path: str | None = None,
) -> TokenRecord:
    """The live token behind a well-formed access secret, decided by the one verification core.

    One strongly consistent GetItem (and ``last_used_at`` at most once a minute). Rate
    limits guard the APIs a token is for, not the management of tokens, so they are not
    spent here: a management request stays within its two DynamoDB calls. A token whose
    ``endpoint_paths`` do not allow ``path`` is known but refused: 403 naming the path.
    """
    verdict = verify(
        repository, hasher, clock, presented.plaintext, RequestContext(path=path), enforce_rate_limit=False
    )
    if verdict.code is VerifyCode.FORBIDDEN_PATH:
        raise Forbidden(f"endpoint_paths:{path or ''}")
    if not verdict.valid or verdict.token is None:
        raise AuthenticationFailed(verdict.code.value.lower())
    return verdict.token


def authenticate(
    repository: TokenRepository, hasher: SecretHasher, clock: Clock, authorization: str | None
) -> TokenRecord:
    """The token behind an ``Authorization: Bearer`` header, or ``AuthenticationFailed``."""
    return verify_access(repository, hasher, clock, parse_bearer(authorization))


def require_permission(caller: Principal, permission: str) -> None:
    """403 unless the caller holds ``permission``."""
    if not has_permission(caller.permissions, permission):
        raise Forbidden(permission)


def _require_same_org(caller: Principal, org_id: str, resource_type: str, resource_id: str) -> None:
    # Another org's resources are answered exactly as if they did not exist.
    if caller.org_id != org_id:
        raise NotFound(resource_type, resource_id)


def list_tokens(
    repository: TokenRepository,
    hasher: SecretHasher,
    clock: Clock,
    caller: Principal,
    org_id: str,
    app_id: str,
    *,
    limit: int,
    next_token: str | None,
    status: StatusFilter | None,
) -> TokenListing:
    """One page of an app's tokens, newest first, with a signed cursor bound to this org, app and filter."""
    _require_same_org(caller, org_id, "app", app_id)
    after = None
    if next_token is not None:
        payload = hasher.open_cursor(next_token)
        made_for = {"org": org_id, "app": app_id, "status": status or ""}
        if payload is None or any(payload.get(key) != value for key, value in made_for.items()):
            raise InvalidInput(
                ("query", "next_token"), "Invalid pagination cursor", "cursor_invalid", next_token, {}
            )
        after = payload["after"]
    page = repository.list_tokens(
        org_id, app_id, limit=limit, after=after, status=status, now_iso=to_iso(clock())
    )
    if not page.app_found:
        raise NotFound("app", app_id)
    cursor = None
    if page.last_key is not None:
        cursor = hasher.sign_cursor(
            {"org": org_id, "app": app_id, "status": status or "", "after": page.last_key}
        )
    return TokenListing(tokens=page.tokens, next_token=cursor)


def _check_no_escalation(caller: Principal, request: TokenCreate) -> None:
    for permission in request.permissions:
        if not has_permission(caller.permissions, permission):
            raise Forbidden(permission)
    for restriction in RESTRICTION_FIELDS:
        breach = restriction_breach(restriction, getattr(caller, restriction), getattr(request, restriction))
        if breach is not None:
            raise Forbidden(breach)
    breach = rate_limit_breach(
        (caller.rate_limit_rps, caller.rate_limit_burst), (request.rate_limit_rps, request.rate_limit_burst)
    )
    if breach is not None:
        raise Forbidden(breach)


def _expiry(
    requested: datetime | None, now: datetime, creator_expiry: str | None, policy: LifetimePolicy
) -> str:
    def invalid(msg: str, error_type: str, ctx: dict[str, str]) -> InvalidInput:
        value = to_iso(requested) if requested is not None else None
        return InvalidInput(("body", "expires_at"), msg, error_type, value, ctx)

    latest = to_iso(now + policy.maximum)
    if requested is None:
        expires_at = to_iso(now + policy.default)
        return min(expires_at, creator_expiry) if creator_expiry else expires_at
    expires_at = to_iso(requested)
    if expires_at <= to_iso(now):
        raise invalid("Input should be in the future", "datetime_future", {})
    if expires_at > latest:
        raise invalid(
            f"Input should be at most {policy.maximum.days} days ahead", "datetime_too_late", {"le": latest}
        )
    if creator_expiry is not None and expires_at > creator_expiry:
        raise invalid(
            "Input should not be later than the creating token's own expiry",
            "datetime_after_creator",
            {"le": creator_expiry},
        )
    return expires_at


def mint_token(
    repository: TokenRepository,
    hasher: SecretHasher,
    *,
    org_id: str,
    app_id: str,
    user_id: str,
    issued_at: datetime,
    expires_at: str,
    request: TokenCreate,
    created_by_token_id: str | None = None,
    link_purge_at: int | None = None,
) -> IssuedToken:
    """Generate the secrets, store their hashes with the record, and hand the plaintexts back once.

    A token created by a token records it, and is linked from it until ``link_purge_at``.
    """
    token_id = new_token_id(issued_at)
    plaintext = new_secret(SecretKind.ACCESS, token_id)
    refresh = new_secret(SecretKind.REFRESH, token_id)
    token = TokenRecord(
        token_id=token_id,
        org_id=org_id,
        app_id=app_id,
        name=request.name,
        description=request.description,
        token_type=request.token_type,
        prefix=display_prefix(SecretKind.ACCESS, token_id),
        owner_id=user_id,
        created_by_user_id=user_id,
        issued_at=to_iso(issued_at),
        expires_at=expires_at,
        scopes=list(request.scopes),
        permissions=list(request.permissions),
        workspace_ids=list(request.workspace_ids),
        namespace_ids=list(request.namespace_ids),
        environment_ids=list(request.environment_ids),
        endpoint_paths=list(request.endpoint_paths),
        rate_limit_rps=request.rate_limit_rps,
        rate_limit_burst=request.rate_limit_burst,
        created_by_token_id=created_by_token_id,
    )
    credential = Credential(
        token=token, access_hash=hasher.hash(plaintext), refresh_hash=hasher.hash(refresh)
    )
    try:
        repository.create_token(credential, [token_event(CREATED, token, issued_at)], link_purge_at)
    except AppNotRegistered:
        raise NotFound("app", app_id) from None
    return IssuedToken(token=token, plaintext_token=plaintext, refresh_token_plaintext=refresh)


def create_token(
    repository: TokenRepository,
    hasher: SecretHasher,
    clock: Clock,
    policy: LifetimePolicy,
    caller: Principal,
    org_id: str,
    app_id: str,
    request: TokenCreate,
) -> IssuedToken:
    """Create a token for the caller's user, never wider nor longer-lived than the caller."""
    _require_same_org(caller, org_id, "app", app_id)
    _check_no_escalation(caller, request)
    now = clock()
    expires_at = _expiry(request.expires_at, now, caller.expires_at, policy)
    # The link to the creator lasts as long as the child can be in the table (see cascade.py).
    link_purge_at = purge_epoch(datetime.fromisoformat(expires_at), policy) if caller.token_id else None
    return mint_token(
        repository,
        hasher,
        org_id=org_id,
        app_id=app_id,
        user_id=caller.owner_id,
        issued_at=now,
        expires_at=expires_at,
        request=request,
        created_by_token_id=caller.token_id,
        link_purge_at=link_purge_at,
    )


def revoke_token(
    repository: TokenRepository,
    clock: Clock,
    policy: LifetimePolicy,
    caller: Principal,
    org_id: str,
    app_id: str,
    token_id: str,
    reason: str | None,
    *,
    now: datetime | None = None,
    marks: Mapping[str, str] | None = None,
) -> bool:
    """Revoke a token at once; revoking it again keeps the first time and reason (``False``).

    ``marks`` are extra facts for its ``App Token Revoked`` event (a cascade's marker).
    """
    _require_same_org(caller, org_id, "token", token_id)
    key = TokenKey(org_id=org_id, app_id=app_id, token_id=token_id)
    try:
        return _revoke(repository, now or clock(), policy, key, reason, marks)
    except TokenMissing:
        raise NotFound("token", token_id) from None


def _revoke(
    repository: TokenRepository,
    now: datetime,
    policy: LifetimePolicy,
    key: TokenKey,
    reason: str | None,
    marks: Mapping[str, str] | None = None,
) -> bool:
    extra = {**(marks or {}), **({"revoked_reason": reason} if reason else {})}
    events = [token_event(REVOKED, key, now, **extra)]
    if reason == REFRESH_REUSE_REASON:
        events.append(token_event(REFRESH_REUSE, key, now))
    return repository.revoke_token(key, to_iso(now), reason, purge_epoch(now, policy), events)


def refresh_token(
    repository: TokenRepository,
    hasher: SecretHasher,
    clock: Clock,
    policy: LifetimePolicy,
    org_id: str,
    app_id: str,
    token_id: str,
    presented: str,
    *,
    grace: timedelta,
) -> IssuedToken:
    """Rotate both secrets of a token with its refresh token (RFC 9700 style).

    The old access and refresh secrets stop working at once; id, permissions,
    restrictions and expiry stay. A refresh token that was already rotated away
    revokes the token (``refresh_token_reuse``), except the immediately previous
    one within ``grace`` of its rotation: that is a retry (a lost answer, or the
    loser of a race that read after the winner), so it rotates again and the pair
    handed out in between dies. Every rotation is conditioned on the exact refresh
    hash it replaces, so of concurrent rotations exactly one wins; the others are
    a plain 401 (a race alone is not proof of theft).
    """
    parsed = parse_secret(presented)
    if parsed is None or parsed.kind is not SecretKind.REFRESH or parsed.token_id != token_id:
        raise AuthenticationFailed("malformed")
    credential = repository.get_credential(token_id)
    if credential is None or (credential.token.org_id, credential.token.app_id) != (org_id, app_id):
        raise AuthenticationFailed("unknown")
    token = credential.token
    now = clock()
    if hasher.matches(presented, credential.refresh_hash):
        previous = [*credential.previous_refresh_hashes, credential.refresh_hash]
        rotated_at = to_iso(now)
    elif (retried_at := _grace_retry_start(hasher, credential, presented, now, grace)) is not None:
        # The retried hash stays the immediately previous one and its window does not move, so
        # retries cannot stretch the grace; the in-between hash joins the older ones, where
        # presenting it is reuse (the legitimate holder of a pair an attacker displaced).
        *older, retried = credential.previous_refresh_hashes
        previous = [*older, credential.refresh_hash, retried]
        rotated_at = retried_at
    else:
        if any(hasher.matches(presented, old) for old in credential.previous_refresh_hashes):
            if token.revoked_at is None:
                _revoke(repository, now, policy, TokenKey(org_id, app_id, token_id), REFRESH_REUSE_REASON)
            raise AuthenticationFailed("refresh_reuse")
        raise AuthenticationFailed("unknown")
    if token.revoked_at is not None:
        raise AuthenticationFailed("revoked")
    if token.is_expired(to_iso(now)):
        raise AuthenticationFailed("expired")
    plaintext = new_secret(SecretKind.ACCESS, token_id)
    refresh = new_secret(SecretKind.REFRESH, token_id)
    events = [token_event(ROTATED, token, now)]
    if not repository.rotate_secrets(
        credential, hasher.hash(plaintext), hasher.hash(refresh), previous, rotated_at, events
    ):
        raise AuthenticationFailed("refresh_race_lost")
    return IssuedToken(token=token, plaintext_token=plaintext, refresh_token_plaintext=refresh)


def _grace_retry_start(
    hasher: SecretHasher, credential: Credential, presented: str, now: datetime, grace: timedelta
) -> str | None:
    """When the refresh token ``presented`` was rotated away, if it is a retry within ``grace``.

    A retry is the immediately previous refresh token, strictly within ``grace`` of
    its rotation: a grace of zero admits nothing, which is the behaviour without one.
    ``None`` for anything else.
    """
    if not credential.previous_refresh_hashes or credential.rotated_at is None:
        return None
    if now >= datetime.fromisoformat(credential.rotated_at) + grace:
        return None
    if not hasher.matches(presented, credential.previous_refresh_hashes[-1]):
        return None
    return credential.rotated_at


def bootstrap_admin(
    repository: TokenRepository,
    hasher: SecretHasher,
    clock: Clock,
    *,
    org_id: str,
    app_id: str,
    user_id: str,
    permissions: list[str],
    lifetime: timedelta,
) -> IssuedToken:
    """Register the app if needed and mint a first token that no other token created."""
    from shared.http.models import TokenCreate  # pydantic stays off the import path of the sweep

    now = clock()
    repository.register_app(org_id, app_id, to_iso(now))
    request = TokenCreate(name=f"bootstrap token for {user_id}", permissions=permissions)
    return mint_token(
        repository,
        hasher,
        org_id=org_id,
        app_id=app_id,
        user_id=user_id,
        issued_at=now,
        expires_at=to_iso(now + lifetime),
        request=request,
    )
