"""The one verification core: is this token good for this request, and if not, why.

The management API's authentication (``shared.services.authentication``), the verify
endpoint and the Lambda authorizer (``shared.http.authorizer``) all decide with
:func:`verify`, so the rules cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.clock import to_iso
from shared.domain.credits import live_remaining, spend_for
from shared.domain.crypto import SecretKind, parse_secret
from shared.domain.networks import source_allowed
from shared.domain.permissions import bucket_size, has_permission
from shared.domain.records import Bucket, Credential, TokenRecord
from shared.domain.restrictions import REQUEST_FIELDS, RESTRICTIONS, Match
from shared.domain.status import TokenStatus, grace_end, token_status
from shared.services.canary import CanaryUse, trip
from shared.services.deps import VerifyDeps
from shared.storage.repository import BucketWrite, TokenRepository, UsageSpend

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
    # Issue 16: fewer credits left than the request costs (429-like: it passes at the next refill).
    USAGE_EXHAUSTED = "USAGE_EXHAUSTED"
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
    ``spend_rate_limit`` is off for the management API's own authentication: it spends neither
    the rate limit nor credits. ``cost``: the credits a valid request spends (issue 16; 0 checks
    without spending). ``origin`` is where the request comes from.
    """

    method: str | None = None
    permission: str | None = None
    asked: Mapping[str, Any] = field(default_factory=dict)
    spend_rate_limit: bool = True
    origin: Origin = field(default_factory=Origin)
    cost: int = 1

    @classmethod
    def of(
        cls,
        *,
        method: str | None = None,
        permission: str | None = None,
        spend_rate_limit: bool = True,
        origin: Origin | None = None,
        cost: int = 1,
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
            cost=cost,
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
    # Issue 16: the token's credits after this request (None: unlimited, or not decided that far).
    credits_remaining: int | None = None

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


@dataclass(frozen=True)
class Usage:
    """What spending a request found: the code (``VALID``, ``RATE_LIMITED``, ``USAGE_EXHAUSTED``),
    the bucket after it, and the credits left after it."""

    code: VerifyCode
    rate_limit: RateLimitState | None
    credits_remaining: int | None


def _bucket_write(token: TokenRecord, bucket: Bucket | None, now: datetime) -> BucketWrite | RateLimitState:
    """The bucket this request leaves, or the refusal's state when it holds less than one request."""
    rate = float(token.rate_limit_rps or 0)
    capacity = bucket_capacity(token)
    now_ms = int(now.timestamp() * 1000)
    level = float(capacity)
    if bucket is not None:
        level = min(float(capacity), bucket.level + (now_ms - bucket.at_ms) / 1000 * rate)
    if level < 1:
        return RateLimitState(capacity, 0, to_iso(now + timedelta(seconds=(1 - level) / rate)))
    return BucketWrite(level - 1, now_ms, bucket.version if bucket is not None else None)


def _bucket_after(token: TokenRecord, write: BucketWrite, now: datetime) -> RateLimitState:
    capacity = bucket_capacity(token)
    full_again = now + timedelta(seconds=(capacity - write.level) / float(token.rate_limit_rps or 1))
    return RateLimitState(capacity, math.floor(write.level), to_iso(full_again))


def take_usage(repository: TokenRepository, credential: Credential, now: datetime, cost: int) -> Usage:
    """Spend one request from the token's bucket and ``cost`` of its credits, in one conditional
    UpdateItem (issue 16), or neither.

    The bucket refills at ``rate_limit_rps`` per second up to the burst and is written under a
    version condition; the credits are subtracted under ``remaining >= cost`` (or, the first use of
    a new refill period, set to the amount less ``cost`` under the period read). A refusal carries
    the item as the winner left it, and the request decides again on that. The bucket is checked
    first: a rate-limited request spends no credits, an exhausted one no bucket.
    """
    token = credential.token
    bucket, remaining, period = credential.bucket, token.credits_remaining, token.credits_period
    for _ in range(3):
        current = token
        if (remaining, period) != (token.credits_remaining, token.credits_period):
            current = replace(token, credits_remaining=remaining, credits_period=period)
        live = live_remaining(current, now)
        bucket_write = None
        if token.rate_limit_rps:
            decided = _bucket_write(token, bucket, now)
            if isinstance(decided, RateLimitState):
                return Usage(VerifyCode.RATE_LIMITED, decided, live)
            bucket_write = decided
        credit_write = None
        if live is not None and cost > 0:
            credit_write = spend_for(current, cost, now)
            if credit_write is None:
                # Refused for credits: the bucket is left as it was, and shown so.
                shown = None
                if bucket_write is not None:
                    unspent = replace(bucket_write, level=bucket_write.level + 1)
                    shown = _bucket_after(token, unspent, now)
                return Usage(VerifyCode.USAGE_EXHAUSTED, shown, live)
        after = None if bucket_write is None else _bucket_after(token, bucket_write, now)
        left = live - cost if credit_write is not None and live is not None else live
        if bucket_write is None and credit_write is None:
            return Usage(VerifyCode.VALID, after, left)
        found = repository.spend_usage(UsageSpend(token.token_id, bucket_write, credit_write))
        if found is None:
            return Usage(VerifyCode.VALID, after, left)
        # Another container spent first: decide again on the state it left.
        bucket, remaining, period = found.bucket, found.credits_remaining, found.credits_period
    # Still contended after three tries: refuse rather than risk spending what is not there.
    if token.rate_limit_rps:
        return Usage(VerifyCode.RATE_LIMITED, RateLimitState(bucket_capacity(token), 0, to_iso(now)), None)
    return Usage(VerifyCode.USAGE_EXHAUSTED, None, None)


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


def canary_use(context: RequestContext) -> CanaryUse:
    """Where a request that presented a canary came from, as the trip's event tells it."""
    origin, path = context.origin, context.asked.get("path")
    return CanaryUse(
        source_ip=origin.source_ip,
        user_agent=origin.user_agent,
        method=context.method,
        path=path if isinstance(path, str) else None,
    )


def _identify(
    deps: VerifyDeps, presented: str, context: RequestContext, scope: tuple[str | None, str | None]
) -> Credential | VerifyCode:
    """The credential behind a presented token, or why there is none to speak of."""
    parsed = parse_secret(presented.strip())
    if parsed is None or parsed.kind is not SecretKind.ACCESS:
        return VerifyCode.MALFORMED
    credential = deps.repository.get_credential(parsed.token_id)
    if credential is None or not secret_matches(deps, parsed.plaintext, credential):
        return VerifyCode.NOT_FOUND
    token = credential.token
    if token.canary:
        # Issue 16: right after the secret matched, before org, app and status, so that a canary of
        # another org, a revoked or an expired one (until the sweep drops its hashes) answers exactly
        # as a token that does not exist, and still trips.
        trip(deps, token, canary_use(context))
        return VerifyCode.NOT_FOUND
    org_id, app_id = scope
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
    permission), its rate limit and credits; the first refusal is the verdict. A token of another
    org or app is ``NOT_FOUND``, as if it did not exist, and so is a canary (issue 16), whose use
    costs at most one conditional transaction (its trip).
    """
    found = _identify(deps, presented, context, (org_id, app_id))
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
    usage = Usage(VerifyCode.VALID, None, live_remaining(token, now))
    if context.spend_rate_limit:
        usage = take_usage(deps.repository, found, now, context.cost)
        if usage.code is not VerifyCode.VALID:
            return Verdict(usage.code, token, usage.rate_limit, usage.credits_remaining)
    record_use(deps, token)
    return Verdict(VerifyCode.VALID, token, usage.rate_limit, usage.credits_remaining)
