"""The one verification core: is this token good for this request, and if not, why.

The management API's authentication (``shared.services.authentication``), the verify
endpoint and the Lambda authorizer (``shared.http.authorizer``) all decide with
:func:`verify`, so the rules cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.clock import to_iso
from shared.domain.crypto import SecretKind, parse_secret
from shared.domain.networks import source_allowed
from shared.domain.permissions import bucket_size, has_permission
from shared.domain.records import Credential, TokenRecord
from shared.domain.restrictions import REQUEST_FIELDS, RESTRICTIONS, Match
from shared.domain.status import TokenStatus, grace_end, token_status
from shared.services.deps import VerifyDeps
from shared.storage.repository import TokenRepository

LAST_USED_RESOLUTION = timedelta(minutes=1)


class VerifyCode(StrEnum):
    """Why a token is, or is not, good for a request."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    # Issue 15: disabled by an edit, until enabled again; fails exactly as a revoked token does.
    DISABLED = "DISABLED"
    FORBIDDEN_PATH = "FORBIDDEN_PATH"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    FORBIDDEN_RESOURCE = "FORBIDDEN_RESOURCE"
    RATE_LIMITED = "RATE_LIMITED"
    # Issue 16: the request comes from outside the token's ip_allowlist (or from nowhere known).
    FORBIDDEN_IP = "FORBIDDEN_IP"


@dataclass(frozen=True)
class Origin:
    """Where a request comes from, as its entry point saw it (issue 16: IP allowlists, canary trips).

    ``source_ip`` is API Gateway's ``requestContext.identity.sourceIp`` for the management API
    and the authorizer, and the verify body's ``source_ip``; ``None`` when nobody said.
    """

    source_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class RequestContext:
    """What the caller wants to do with the token; every part optional.

    ``asked`` holds what the request names for each restriction, by its request field
    (``shared.domain.restrictions``: the path, the scopes it needs, the ids it acts on).
    ``spend_rate_limit`` is off for the management API's own authentication; ``origin`` is
    where the request comes from.
    """

    method: str | None = None
    permission: str | None = None
    asked: Mapping[str, Any] = field(default_factory=dict)
    spend_rate_limit: bool = True
    origin: Origin = field(default_factory=Origin)

    @classmethod
    def of(
        cls,
        *,
        method: str | None = None,
        permission: str | None = None,
        spend_rate_limit: bool = True,
        origin: Origin | None = None,
        **asked: Any,
    ) -> RequestContext:
        """A context from keywords: each restriction's value under its request field (``path=...``)."""
        unknown = sorted(set(asked) - set(REQUEST_FIELDS))
        if unknown:
            raise TypeError(f"not a restriction's request field: {', '.join(unknown)}")
        return cls(
            method=method,
            permission=permission,
            asked=asked,
            spend_rate_limit=spend_rate_limit,
            origin=origin or Origin(),
        )


@dataclass(frozen=True)
class RateLimitState:
    """The token's bucket after this request: its size, what is left, and when it is full again."""

    limit: int
    remaining: int
    reset: str


@dataclass(frozen=True)
class Verdict:
    """The decision; ``token`` only when the token is ours, live and in the asked org and app."""

    code: VerifyCode
    token: TokenRecord | None = None
    rate_limit: RateLimitState | None = None

    @property
    def valid(self) -> bool:
        """Whether the request may go ahead."""
        return self.code is VerifyCode.VALID


# A token that is not live is refused for its status, before anything about the request.
_NOT_LIVE = {
    TokenStatus.REVOKED: VerifyCode.REVOKED,
    TokenStatus.EXPIRED: VerifyCode.EXPIRED,
    TokenStatus.DISABLED: VerifyCode.DISABLED,
}

# What a request refused by a restriction is told, by how the restriction matches.
_REFUSALS = {
    Match.PATH: VerifyCode.FORBIDDEN_PATH,
    Match.ALL_OF: VerifyCode.INSUFFICIENT_SCOPE,
    Match.MEMBER: VerifyCode.FORBIDDEN_RESOURCE,
}


def _refused(token: TokenRecord, context: RequestContext, matches: tuple[Match, ...]) -> VerifyCode | None:
    for match in matches:
        for restriction in RESTRICTIONS:
            if restriction.match is not match:
                continue
            asked = context.asked.get(restriction.request_field)
            if not restriction.allows(token.restricted_to(restriction.list_field), asked):
                return _REFUSALS[match]
    return None


def _restriction_code(token: TokenRecord, context: RequestContext) -> VerifyCode | None:
    # In Match's order: where the request goes and what it claims, the permission it needs,
    # then what it acts on; the first refusal is the verdict.
    refused = _refused(token, context, (Match.PATH, Match.ALL_OF))
    if refused is not None:
        return refused
    if context.permission is not None and not has_permission(token.permissions, context.permission):
        return VerifyCode.INSUFFICIENT_SCOPE
    return _refused(token, context, (Match.MEMBER,))


def bucket_capacity(token: TokenRecord) -> int:
    """How many requests a full bucket allows at once (the burst, or one second's worth).

    Exactly what the token shows: a burst below the rate is a smaller bucket, not raised.
    """
    return bucket_size(token.rate_limit_rps, token.rate_limit_burst) or 1


def take_from_bucket(
    repository: TokenRepository, credential: Credential, now: datetime
) -> tuple[bool, RateLimitState]:
    """Spend one request from the token's bucket, if it holds one.

    A token bucket refilled at ``rate_limit_rps`` per second up to the burst, kept on
    the credential item and written under a version condition, so that containers
    racing on one bucket can never spend more than it holds.
    """
    token = credential.token
    rate = float(token.rate_limit_rps or 0)
    capacity = bucket_capacity(token)
    now_ms = int(now.timestamp() * 1000)
    bucket = credential.bucket
    for _ in range(3):
        level = float(capacity)
        if bucket is not None:
            level = min(float(capacity), bucket.level + (now_ms - bucket.at_ms) / 1000 * rate)
        if level < 1:
            return False, RateLimitState(capacity, 0, to_iso(now + timedelta(seconds=(1 - level) / rate)))
        left = level - 1
        bucket = repository.spend_from_bucket(
            token.token_id, left, now_ms, bucket.version if bucket is not None else None
        )
        if bucket is None:
            full_again = now + timedelta(seconds=(capacity - left) / rate)
            return True, RateLimitState(capacity, math.floor(left), to_iso(full_again))
        # Another container spent first: decide again on the state it left.
    # Still contended after three tries: refuse rather than risk spending what is not there.
    return False, RateLimitState(capacity, 0, to_iso(now))


def record_use(deps: VerifyDeps, token: TokenRecord) -> bool:
    """Note that ``token`` was used, at most once a minute (one conditional write, best effort).

    A storage failure does not fail the request: the repository logs it and answers ``False``.
    """
    now = deps.clock()
    not_since = to_iso(now - LAST_USED_RESOLUTION)
    if token.last_used_at is not None and token.last_used_at >= not_since:
        return False
    return deps.repository.record_use(token, to_iso(now), not_since)


def secret_matches(deps: VerifyDeps, plaintext: str, credential: Credential) -> bool:
    """Whether ``plaintext`` is the token's access secret, or the one its last rotation replaced
    while that one's grace runs (strictly before its end, on the injected clock: at the end it fails).

    Still the one read: the previous hash and its end are on the credential item (issue 16).
    """
    if deps.hasher.matches(plaintext, credential.access_hash):
        return True
    previous = credential.previous_access_hash
    if previous is None or grace_end(credential.token, to_iso(deps.clock())) is None:
        return False
    return deps.hasher.matches(plaintext, previous)


def _identify(
    deps: VerifyDeps, presented: str, org_id: str | None, app_id: str | None
) -> Credential | VerifyCode:
    """The credential behind a presented token, or why there is none to speak of."""
    parsed = parse_secret(presented.strip())
    if parsed is None or parsed.kind is not SecretKind.ACCESS:
        return VerifyCode.MALFORMED
    credential = deps.repository.get_credential(parsed.token_id)
    if credential is None or not secret_matches(deps, parsed.plaintext, credential):
        return VerifyCode.NOT_FOUND
    token = credential.token
    if (org_id is not None and token.org_id != org_id) or (app_id is not None and token.app_id != app_id):
        return VerifyCode.NOT_FOUND  # another org's or app's token is answered as if it did not exist
    return credential


def verify(
    deps: VerifyDeps,
    presented: str,
    context: RequestContext,
    *,
    org_id: str | None = None,
    app_id: str | None = None,
) -> Verdict:
    """Decide whether ``presented`` may make the request ``context`` describes.

    One strongly consistent read; one conditional write more for a token with a
    rate limit. The order: the token's status, its IP allowlist, its restrictions (and the
    permission), its rate limit; the first refusal is the verdict. A token of another org or
    app is ``NOT_FOUND``, as if it did not exist.
    """
    found = _identify(deps, presented, org_id, app_id)
    if isinstance(found, VerifyCode):
        return Verdict(found)
    token = found.token
    now = deps.clock()
    # Revoked, else expired, else disabled: the one precedence of a token's status.
    ended = _NOT_LIVE.get(token_status(token, to_iso(now)))
    if ended is not None:
        return Verdict(ended)
    # Where the request comes from, before what it asks for (issue 16): a request from outside
    # the allowlist learns nothing about the token's restrictions. Fails closed without a source.
    if not source_allowed(token.ip_allowlist, context.origin.source_ip):
        return Verdict(VerifyCode.FORBIDDEN_IP, token)
    refused = _restriction_code(token, context)
    if refused is not None:
        return Verdict(refused, token)
    state = None
    if token.rate_limit_rps and context.spend_rate_limit:
        allowed, state = take_from_bucket(deps.repository, found, now)
        if not allowed:
            return Verdict(VerifyCode.RATE_LIMITED, token, state)
    record_use(deps, token)
    return Verdict(VerifyCode.VALID, token, state)
