"""Who is calling: a token read from the table, or a caller an authorizer in front of us vouched for.

The management handlers authenticate a bearer token themselves, unless the
settings name an authorizer to trust (``TRUSTED_AUTHORIZER``) and the request
carries that authorizer's context. API Gateway writes ``requestContext.authorizer``
itself; a client cannot set it. Our own authorizer's context is written and
read here, so that the two sides cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from shared.domain.restrictions import RESTRICTION_FIELDS, TOKEN_LIST_FIELDS, restriction

if TYPE_CHECKING:
    from shared.domain.records import TokenRecord

# Marks a context as written by our authorizer, so no other authorizer's context is mistaken for it.
ISSUER = "app-tokens"
# API Gateway passes only strings, numbers and booleans in a context: lists travel space-separated
# (no permission, scope, resource id or path pattern may contain a space).
LIST_FIELDS = TOKEN_LIST_FIELDS
# Numbers travel as text, "" for none: a limited token must stay limited in what it creates.
LIMIT_FIELDS = ("rate_limit_rps", "rate_limit_burst")


class TrustedAuthorizer(StrEnum):
    """Whose word the management handlers take instead of reading the bearer token again."""

    NONE = "none"
    APP_TOKENS = "app-tokens"
    CLAIMS = "claims"


class Principal(Protocol):
    """What the use cases need to know of a caller: its org, its user, what it may do, and until when."""

    @property
    def token_id(self) -> str | None: ...
    @property
    def org_id(self) -> str: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def expires_at(self) -> str | None: ...
    @property
    def permissions(self) -> Sequence[str]: ...
    @property
    def rate_limit_rps(self) -> int | None: ...
    @property
    def rate_limit_burst(self) -> int | None: ...
    @property
    def ip_allowlist(self) -> Sequence[str]:
        """The networks the caller may act from (issue 16); empty: any address."""
        ...

    def restricted_to(self, list_field: str) -> Sequence[str]:
        """The caller's list of one restriction (``shared.domain.restrictions``); empty: unrestricted."""
        ...


@dataclass(frozen=True)
class VouchedCaller:
    """A caller authenticated upstream: by our authorizer (a token) or a JWT authorizer (a user)."""

    org_id: str
    owner_id: str
    token_id: str | None = None
    expires_at: str | None = None
    permissions: tuple[str, ...] = ()
    # Each restriction's list by its list field; one not there is unrestricted.
    restrictions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rate_limit_rps: int | None = None
    rate_limit_burst: int | None = None
    # Issue 16: the calling token's allowlist, so that what it creates stays inside it.
    ip_allowlist: tuple[str, ...] = ()

    def restricted_to(self, list_field: str) -> tuple[str, ...]:
        """See :class:`Principal`."""
        return self.restrictions.get(restriction(list_field).list_field, ())


@dataclass(frozen=True)
class ClaimNames:
    """Which JWT claims carry the user, the org and the permissions (settings ``CLAIM_*``)."""

    user_id: str = "sub"
    org_id: str = "custom:org_id"
    permissions: str = "custom:permissions"


def authorizer_context(token: TokenRecord) -> dict[str, str]:
    """What our authorizer hands to the API behind it about a valid token (no secret, no hash)."""
    context = {
        "issuer": ISSUER,
        "token_id": token.token_id,
        "org_id": token.org_id,
        "app_id": token.app_id,
        "owner_id": token.owner_id,
        "expires_at": token.expires_at or "",
    }
    for name in LIST_FIELDS:
        context[name] = " ".join(getattr(token, name))
    for name in LIMIT_FIELDS:
        value = getattr(token, name)
        context[name] = "" if value is None else str(value)
    # Issue 16: networks hold no space either; "" for none.
    context["ip_allowlist"] = " ".join(token.ip_allowlist)
    return context


def _limit(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) < 10 else None


def _words(value: Any) -> tuple[str, ...]:
    return tuple(str(value or "").split())


def from_authorizer_context(context: Mapping[str, Any]) -> VouchedCaller | None:
    """The caller our authorizer vouched for; ``None`` when the context is not one of ours."""
    if context.get("issuer") != ISSUER or not context.get("org_id") or not context.get("owner_id"):
        return None
    return VouchedCaller(
        org_id=str(context["org_id"]),
        owner_id=str(context["owner_id"]),
        token_id=str(context.get("token_id") or "") or None,
        expires_at=str(context.get("expires_at") or "") or None,
        permissions=_words(context.get("permissions")),
        restrictions={name: _words(context.get(name)) for name in RESTRICTION_FIELDS},
        rate_limit_rps=_limit(context.get("rate_limit_rps")),
        rate_limit_burst=_limit(context.get("rate_limit_burst")),
        ip_allowlist=_words(context.get("ip_allowlist")),
    )


def _claim_list(value: Any) -> tuple[str, ...]:
    """A list claim as a JWT authorizer passes it: a JSON array, or words split by spaces or commas."""
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            # API Gateway renders a Cognito list claim as "[a b]": not JSON, just bracketed words.
            text = text.strip("[]")
        else:
            return tuple(str(item) for item in parsed) if isinstance(parsed, list) else ()
    return tuple(text.replace(",", " ").split())


def from_claims(claims: Mapping[str, Any], names: ClaimNames) -> VouchedCaller | None:
    """A user authenticated by a JWT or Cognito authorizer; ``None`` without a user and an org.

    A user is unrestricted and not bounded by its session's expiry: tokens it creates get
    the usual lifetimes.
    """
    user_id, org_id = claims.get(names.user_id), claims.get(names.org_id)
    if not isinstance(user_id, str) or not user_id or not isinstance(org_id, str) or not org_id:
        return None
    return VouchedCaller(
        org_id=org_id, owner_id=user_id, permissions=_claim_list(claims.get(names.permissions))
    )


def vouched_caller(
    trusted: TrustedAuthorizer, names: ClaimNames, request_context: Mapping[str, Any] | None
) -> VouchedCaller | None:
    """The caller the trusted authorizer vouched for in this request, if it did.

    ``None`` means the handler authenticates the bearer token itself, which is always safe.
    """
    if trusted is TrustedAuthorizer.NONE or not request_context:
        return None
    authorizer = request_context.get("authorizer")
    if not isinstance(authorizer, Mapping):
        return None
    if trusted is TrustedAuthorizer.APP_TOKENS:
        return from_authorizer_context(authorizer)
    # A Cognito authorizer puts the claims at authorizer.claims; an HTTP API JWT one at authorizer.jwt.claims.
    jwt = authorizer.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else authorizer.get("claims")
    return from_claims(claims, names) if isinstance(claims, Mapping) else None
