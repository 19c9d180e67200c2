"""The token use cases: create (mint), revoke, refresh and bootstrap (list: ``shared.services.listing``).

Plain functions: their collaborators come in as one ``Deps`` (``shared.services.deps``),
their inputs as domain values; they raise domain errors (``shared.domain.errors``) and
never see HTTP. Every secret is minted here (``new_secret``), and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain.canary import create_problem
from shared.domain.clock import to_iso
from shared.domain.credits import UNLIMITED_CREDITS, record_fields
from shared.domain.crypto import (
    SecretHasher,
    SecretKind,
    display_prefix,
    new_secret,
    new_token_id,
    parse_secret,
)
from shared.domain.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from shared.domain.history import Actor
from shared.domain.lifecycle import CREATED, REFRESH_REUSE, REFRESH_REUSE_REASON, REVOKED, ROTATED
from shared.domain.networks import allowlist_breach
from shared.domain.permissions import has_permission, rate_limit_breach
from shared.domain.principals import Principal
from shared.domain.records import Credential, TokenRecord, TokenSpec
from shared.domain.restrictions import RESTRICTIONS
from shared.services.canary import CanaryUse, trip
from shared.services.credits import credit_funding
from shared.services.deps import Deps, LifetimePolicy, history_ttl, purge_epoch
from shared.services.events import Provenance, actor_of, token_event
from shared.storage.repository import (
    AppNotRegistered,
    CreditDraw,
    CreditsShort,
    Rotation,
    TokenKey,
    TokenMissing,
)


@dataclass(frozen=True)
class IssuedToken:
    """A token just minted, with the plaintext secrets that exist only in this one response."""

    token: TokenRecord
    # Out of the repr, as everywhere a secret is held: a repr can end up in a log or a trace.
    plaintext_token: str = field(repr=False)
    refresh_token_plaintext: str = field(repr=False)


def require_same_org(caller: Principal, org_id: str, resource_type: str, resource_id: str) -> None:
    """``NotFound`` unless the caller is of ``org_id``: another org's resources do not exist for it."""
    if caller.org_id != org_id:
        raise NotFound(resource_type, resource_id)


def check_no_escalation(caller: Principal, spec: TokenSpec) -> None:
    """``Forbidden`` naming the first permission, restriction or rate limit of ``spec`` the caller lacks."""
    for permission in spec.permissions:
        if not has_permission(caller.permissions, permission):
            raise Forbidden(permission)
    for restriction in RESTRICTIONS:
        name = restriction.list_field
        breach = restriction.breach(caller.restricted_to(name), spec.restricted_to(name))
        if breach is not None:
            raise Forbidden(breach)
    breach = rate_limit_breach(
        (caller.rate_limit_rps, caller.rate_limit_burst), (spec.rate_limit_rps, spec.rate_limit_burst)
    )
    if breach is not None:
        raise Forbidden(breach)
    # Issue 16: every network of the new token inside one of the creator's (none: ip_allowlist:*).
    breach = allowlist_breach(caller.ip_allowlist, spec.ip_allowlist)
    if breach is not None:
        raise Forbidden(breach)


def _expiry(
    requested: datetime | None, now: datetime, creator_expiry: str | None, policy: LifetimePolicy
) -> str:
    def invalid(msg: str, error_type: str, ctx: dict[str, str]) -> InvalidInput:
        value = to_iso(requested) if requested is not None else None
        return InvalidInput(field="expires_at", msg=msg, error_type=error_type, value=value, ctx=ctx)

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


@dataclass(frozen=True)
class Minting:
    """A token about to be minted: where, for whom, from when to when, as what, and by which token.

    A token created by a token records it (``created_by_token_id``), and is linked from it
    until ``link_purge_at``.
    """

    org_id: str
    app_id: str
    user_id: str
    issued_at: datetime
    expires_at: str
    spec: TokenSpec
    created_by_token_id: str | None = None
    link_purge_at: int | None = None
    # Who the history names as the creator; None for the service (bootstrap).
    actor: Actor | None = None
    # Issue 16: the credits taken from the creator for the child's, in the create's transaction.
    funding: CreditDraw | None = None


def _new_secrets(token_id: str, hasher: SecretHasher) -> tuple[str, str, str, str]:
    """A fresh access and refresh secret of ``token_id`` and their hashes: the one place secrets are made."""
    access, refresh = new_secret(SecretKind.ACCESS, token_id), new_secret(SecretKind.REFRESH, token_id)
    return access, refresh, hasher.hash(access), hasher.hash(refresh)


def mint_secrets(token_id: str, hasher: SecretHasher) -> tuple[str, str, str, str]:
    """:func:`_new_secrets` for the other use cases that mint (rotation, ``shared.services.rotation``)."""
    return _new_secrets(token_id, hasher)


def mint_token(deps: Deps, minting: Minting) -> IssuedToken:
    """Generate the secrets, store their hashes with the record, and hand the plaintexts back once."""
    spec, issued_at = minting.spec, minting.issued_at
    token_id = new_token_id(issued_at)
    plaintext, refresh, access_hash, refresh_hash = _new_secrets(token_id, deps.hasher)
    restricted: dict[str, Any] = {r.list_field: list(spec.restricted_to(r.list_field)) for r in RESTRICTIONS}
    token = TokenRecord(
        token_id=token_id,
        org_id=minting.org_id,
        app_id=minting.app_id,
        name=spec.name,
        description=spec.description,
        token_type=spec.token_type,
        prefix=display_prefix(SecretKind.ACCESS, token_id),
        owner_id=minting.user_id,
        created_by_user_id=minting.user_id,
        issued_at=to_iso(issued_at),
        expires_at=minting.expires_at,
        permissions=list(spec.permissions),
        **restricted,
        rate_limit_rps=spec.rate_limit_rps,
        rate_limit_burst=spec.rate_limit_burst,
        created_by_token_id=minting.created_by_token_id,
        **record_fields(spec.credits, issued_at),
        canary=spec.canary,
        ip_allowlist=tuple(spec.ip_allowlist),
    )
    credential = Credential(token=token, access_hash=access_hash, refresh_hash=refresh_hash)
    try:
        provenance = Provenance(minting.actor, history_ttl(token.expires_at, issued_at, deps.lifetimes))
        deps.repository.create_token(
            credential,
            [token_event(CREATED, token, issued_at, provenance)],
            minting.link_purge_at,
            minting.funding,
        )
    except AppNotRegistered:
        raise NotFound("app", minting.app_id) from None
    except CreditsShort:
        # The creator spent (or was limited) since authentication read it: it no longer holds them.
        draw = minting.funding.spend if minting.funding is not None else None
        raise Forbidden(UNLIMITED_CREDITS if draw is None else f"credits:{draw.cost}") from None
    return IssuedToken(token=token, plaintext_token=plaintext, refresh_token_plaintext=refresh)


def create_token(deps: Deps, caller: Principal, org_id: str, app_id: str, spec: TokenSpec) -> IssuedToken:
    """Create a token for the caller's user, never wider nor longer-lived than the caller."""
    require_same_org(caller, org_id, "app", app_id)
    # A canary with a permission is not a thing at all, whoever asks: a 422 before any 403.
    problem = create_problem(spec.permissions) if spec.canary else None
    if problem is not None:
        raise problem
    check_no_escalation(caller, spec)
    policy = deps.lifetimes
    now = deps.clock()
    funding = credit_funding(caller, spec, now)
    expires_at = _expiry(spec.expires_at, now, caller.expires_at, policy)
    # The link to the creator lasts as long as the child can be in the table (see cascade.py).
    link_purge_at = purge_epoch(datetime.fromisoformat(expires_at), policy) if caller.token_id else None
    minting = Minting(
        org_id=org_id,
        app_id=app_id,
        user_id=caller.owner_id,
        issued_at=now,
        expires_at=expires_at,
        spec=spec,
        created_by_token_id=caller.token_id,
        link_purge_at=link_purge_at,
        actor=actor_of(caller),
        funding=funding,
    )
    return mint_token(deps, minting)


@dataclass(frozen=True)
class Revocation:
    """Why and when a token is revoked, and extra facts for its ``App Token Revoked`` event."""

    reason: str | None
    at: datetime
    marks: Mapping[str, str] = field(default_factory=dict)
    # Who revoked it, for the history; None for the service (reuse detection, a cascade's descendants).
    actor: Actor | None = None


def revoke_token(deps: Deps, caller: Principal, key: TokenKey, reason: str | None) -> bool:
    """Revoke a token at once; revoking it again keeps the first time and reason (``False``)."""
    return revoke_as(deps, caller, key, Revocation(reason=reason, at=deps.clock(), actor=actor_of(caller)))


def revoke_as(deps: Deps, caller: Principal, key: TokenKey, revocation: Revocation) -> bool:
    """:func:`revoke_token` at a given moment, with marks on its event (a cascade's root)."""
    require_same_org(caller, key.org_id, "token", key.token_id)
    try:
        return _revoke(deps, key, revocation)
    except TokenMissing:
        raise NotFound("token", key.token_id) from None


def _revoke(deps: Deps, key: TokenKey, revocation: Revocation) -> bool:
    now, reason = revocation.at, revocation.reason
    extra = {**revocation.marks, **({"revoked_reason": reason} if reason else {})}
    purge_at = purge_epoch(now, deps.lifetimes)
    # The entries of an ended token last as long as its record: revocation's own purge time.
    provenance = Provenance(revocation.actor, purge_at)
    events = [token_event(REVOKED, key, now, provenance, **extra)]
    if reason == REFRESH_REUSE_REASON:
        # First in the transaction: the detection is why the token is revoked, so its history
        # entry sorts before the revocation's (entries of one moment keep their transaction order).
        events.insert(0, token_event(REFRESH_REUSE, key, now, provenance))
    return deps.repository.revoke_token(key, to_iso(now), reason, purge_at, events)


def refresh_token(deps: Deps, key: TokenKey, presented: str, use: CanaryUse | None = None) -> IssuedToken:
    """Rotate both secrets of a token with its refresh token (RFC 9700 style).

    The old access and refresh secrets stop working at once; id, permissions,
    restrictions and expiry stay. A refresh token that was already rotated away
    revokes the token (``refresh_token_reuse``), except the immediately previous
    one within the grace (``deps.refresh_grace``) of its rotation: that is a retry (a lost answer, or the
    loser of a race that read after the winner), so it rotates again and the pair
    handed out in between dies. Every rotation is conditioned on the exact refresh
    hash it replaces, so of concurrent rotations exactly one wins; the others are
    a plain 401 (a race alone is not proof of theft).

    A canary's refresh token is answered as an unknown one (issue 16), and trips it (``use``: where
    the request came from), before the org and app are compared, as verification does.
    """
    org_id, app_id, token_id = key.org_id, key.app_id, key.token_id
    hasher, grace = deps.hasher, deps.refresh_grace
    parsed = parse_secret(presented)
    if parsed is None or parsed.kind is not SecretKind.REFRESH or parsed.token_id != token_id:
        raise AuthenticationFailed("malformed")
    credential = deps.repository.get_credential(token_id)
    if credential is not None and credential.token.canary:
        _refuse_canary(deps, credential, presented, use or CanaryUse())
    if credential is None or (credential.token.org_id, credential.token.app_id) != (org_id, app_id):
        raise AuthenticationFailed("unknown")
    token = credential.token
    now = deps.clock()
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
                _revoke(deps, TokenKey(org_id, app_id, token_id), Revocation(REFRESH_REUSE_REASON, now))
            raise AuthenticationFailed("refresh_reuse")
        raise AuthenticationFailed("unknown")
    if token.revoked_at is not None:
        raise AuthenticationFailed("revoked")
    if token.is_expired(to_iso(now)):
        raise AuthenticationFailed("expired")
    if token.disabled_at is not None:
        # Refused as a revoked token is, and not reuse: the pair is still the token's own.
        raise AuthenticationFailed("disabled")
    plaintext, refresh, access_hash, refresh_hash = _new_secrets(token_id, hasher)
    # The holder of the token's refresh secret acted: the history names the token itself.
    provenance = Provenance(
        Actor(token_id=token_id, user_id=token.owner_id), history_ttl(token.expires_at, now, deps.lifetimes)
    )
    events = [token_event(ROTATED, token, now, provenance)]
    rotation = Rotation(access_hash, refresh_hash, previous, rotated_at)
    if not deps.repository.rotate_secrets(credential, rotation, events):
        raise AuthenticationFailed("refresh_race_lost")
    return IssuedToken(token=token, plaintext_token=plaintext, refresh_token_plaintext=refresh)


def _refuse_canary(deps: Deps, credential: Credential, presented: str, use: CanaryUse) -> None:
    """A canary's refresh: answered as an unknown refresh token, and tripped when it is its own."""
    if deps.hasher.matches(presented, credential.refresh_hash):
        trip(deps, credential.token, use)
    raise AuthenticationFailed("unknown")


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
    if credential.token.previous_access_expires_at is not None:
        # The last rotation was the management API's (issue 16; a refresh removes the mark): the
        # refresh token it replaced is not a retry, and this window is not a refresh's.
        return None
    if now >= datetime.fromisoformat(credential.rotated_at) + grace:
        return None
    if not hasher.matches(presented, credential.previous_refresh_hashes[-1]):
        return None
    return credential.rotated_at


@dataclass(frozen=True)
class Bootstrap:
    """A first token of an app, which no other token created: whose it is, what it may do, how long."""

    org_id: str
    app_id: str
    user_id: str = "admin"
    permissions: Sequence[str] = ("*",)
    lifetime: timedelta | None = None  # None: the longest a token may live


def bootstrap_admin(deps: Deps, request: Bootstrap) -> IssuedToken:
    """Register the app if needed and mint a first token that no other token created."""
    now = deps.clock()
    deps.repository.register_app(request.org_id, request.app_id, to_iso(now))
    lifetime = request.lifetime if request.lifetime is not None else deps.lifetimes.maximum
    spec = TokenSpec(name=f"bootstrap token for {request.user_id}", permissions=tuple(request.permissions))
    minting = Minting(
        org_id=request.org_id,
        app_id=request.app_id,
        user_id=request.user_id,
        issued_at=now,
        expires_at=to_iso(now + lifetime),
        spec=spec,
    )
    return mint_token(deps, minting)
