"""The domain's records: what the service knows about a token, independent of storage and API."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.domain.credits import Credits, credits_from
from shared.domain.history import Actor, FieldChange
from shared.domain.restrictions import RESTRICTION_FIELDS, restriction

# A token's state, as a listing may filter on it (``shared.domain.status.TokenStatus``'s values).
StatusFilter = Literal["active", "disabled", "expired", "revoked"]
# Stored facts that are not fields of the seed's AppToken: the API shows every other field.
# Issue 15's facts (rotated_at, disabled_at, updated_at) are shown only in ``details``; the
# revision is the edit counter an update is conditioned on (never shown).
PRIVATE_FIELDS = (
    "app_id",
    "created_by_token_id",
    "rotated_at",
    "disabled_at",
    "updated_at",
    "revision",
    # Issue 16 (rotation with a grace period): shown as ``details.previous_secret_expires_at``.
    "previous_access_expires_at",
    # Issue 16 (usage credits): shown as ``details.credits``.
    "credits_remaining",
    "credits_refill_amount",
    "credits_refill_interval",
    "credits_period",
    # Issue 16 (canary tokens): shown as ``details.canary`` and ``details.last_tripped_at`` only, so
    # that nothing in the seed's AppToken (list, create) tells a canary from a real token.
    "canary",
    "last_tripped_at",
    # Issue 16 (IP allowlists): shown as ``details.ip_allowlist``.
    "ip_allowlist",
)


@dataclass(frozen=True)
class TokenRecord:
    """One token's metadata. Never holds a secret or a hash."""

    token_id: str
    org_id: str
    app_id: str
    name: str
    prefix: str
    owner_id: str
    created_by_user_id: str
    issued_at: str
    expires_at: str | None
    token_type: str = "pat"
    owner_type: str = "user"
    description: str | None = None
    scopes: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    workspace_ids: list[str] = field(default_factory=list)
    namespace_ids: list[str] = field(default_factory=list)
    environment_ids: list[str] = field(default_factory=list)
    endpoint_paths: list[str] = field(default_factory=list)
    rate_limit_rps: int | None = None
    rate_limit_burst: int | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None
    revoked_reason: str | None = None
    # The token whose caller created this one; None for a bootstrap token and for a user vouched
    # for by a JWT authorizer. A stored fact, not a field of the seed's AppToken object.
    created_by_token_id: str | None = None
    # Issue 15, stored facts beyond the seed's AppToken. ``rotated_at``: the last rotation (a grace
    # retry keeps the window's start); ``disabled_at``: set while the token is disabled;
    # ``updated_at``: the last edit; ``revision``: how many edits landed (None before the first),
    # the version an edit is conditioned on, so that two concurrent edits cannot both land.
    rotated_at: str | None = None
    disabled_at: str | None = None
    updated_at: str | None = None
    revision: int | None = None
    # Issue 16: until when (strictly before) the access secret that the last rotation replaced
    # still authenticates; None when no rotation left a grace. Past that moment it is inert.
    previous_access_expires_at: str | None = None
    # Issue 16, usage credits (``shared.domain.credits``): what is left (None: unlimited), the refill
    # (amount and "daily"/"monthly", both or neither) and the start of the period the figure belongs
    # to (with a refill only). The live figure is the credential item's, which every spend writes;
    # the metadata item's copy is the figure as the last create or edit left it.
    credits_remaining: int | None = None
    credits_refill_amount: int | None = None
    credits_refill_interval: str | None = None
    credits_period: str | None = None
    # Issue 16: a decoy that never authenticates (``shared.domain.canary``); every use trips an alarm,
    # the last one (at most once a minute per source address) noted here.
    canary: bool = False
    last_tripped_at: str | None = None
    # Issue 16: the networks the token may be used from (``shared.domain.networks``), canonical;
    # empty: any address. A tuple, not a list: it is no list of the seed's AppToken.
    ip_allowlist: tuple[str, ...] = ()

    def public_fields(self) -> dict[str, Any]:
        """The seed's fields of the token (``app_id`` and the lineage are not among them), by name."""
        # A shallow copy: asdict() deep-copies every list, which costs more than the validation.
        fields = dict(vars(self))
        for name in PRIVATE_FIELDS:
            del fields[name]
        return fields

    def restricted_to(self, list_field: str) -> Sequence[str]:
        """The token's list of the restriction ``list_field`` (empty: unrestricted)."""
        values: list[str] = getattr(self, restriction(list_field).list_field)
        return values

    def is_expired(self, now_iso: str) -> bool:
        """Whether the token has reached its expiry (timestamps compare as text)."""
        return self.expires_at is not None and self.expires_at <= now_iso

    @property
    def enabled(self) -> bool:
        """Whether the token is enabled (a disabled token fails as a revoked one, until enabled)."""
        return self.disabled_at is None


@dataclass(frozen=True)
class TokenSpec:
    """What a creator asks a new token to be: the create body's fields, as the use cases take them.

    ``restrictions`` holds each restriction's list by its list field (see
    ``shared.domain.restrictions``); a restriction not there is unrestricted.
    """

    name: str
    description: str | None = None
    token_type: str = "pat"
    permissions: tuple[str, ...] = ()
    restrictions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rate_limit_rps: int | None = None
    rate_limit_burst: int | None = None
    expires_at: datetime | None = None
    # Issue 16: the credits the new token holds; None: unlimited.
    credits: Credits | None = None
    # Issue 16: a canary (decoy) token; ``shared.domain.canary`` says what one may hold.
    canary: bool = False
    # Issue 16: canonical networks (``shared.domain.networks``); empty: any address.
    ip_allowlist: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> TokenSpec:
        """A spec from flat fields, as a create body holds them (each restriction's list under its name)."""
        flat = dict(values)
        if isinstance(flat.get("credits"), Mapping):
            flat["credits"] = credits_from(flat["credits"])
        restrictions = {name: tuple(flat.pop(name, ())) for name in RESTRICTION_FIELDS}
        permissions = tuple(flat.pop("permissions", ()))
        ip_allowlist = tuple(flat.pop("ip_allowlist", ()))
        return cls(permissions=permissions, restrictions=restrictions, ip_allowlist=ip_allowlist, **flat)

    def restricted_to(self, list_field: str) -> tuple[str, ...]:
        """The list asked for the restriction ``list_field`` (empty: unrestricted)."""
        return self.restrictions.get(restriction(list_field).list_field, ())


@dataclass(frozen=True)
class Bucket:
    """A token's rate-limit bucket as stored: its level, when it was written, and its version."""

    level: float
    at_ms: int
    version: int


@dataclass(frozen=True)
class Credential:
    """What authentication reads in one request: the token and the hashes of its secrets."""

    token: TokenRecord
    access_hash: str = field(repr=False)
    refresh_hash: str = field(repr=False)
    # The last entry is the immediately previous refresh hash; ``rotated_at`` is when it was
    # rotated away (the start of its grace window), ``None`` before the first rotation.
    previous_refresh_hashes: list[str] = field(default_factory=list, repr=False)
    bucket: Bucket | None = None
    rotated_at: str | None = None
    # Issue 16: the hash of the access secret a rotation with a grace replaced (at most one); it
    # authenticates strictly before ``token.previous_access_expires_at``.
    previous_access_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenPage:
    """One page of a listing, straight from one Query."""

    tokens: list[TokenRecord]
    app_found: bool
    last_key: str | None


@dataclass(frozen=True)
class LifecycleEvent:
    """Something that happened to a token, to be published once. Never holds a secret.

    The token's history entry is derived from it (``shared.domain.lifecycle.HISTORY_TYPES``):
    ``actor`` (``None``: the service itself), ``changes`` (an update's fields with their old
    and new values) and ``retain_until`` (the entry's TTL, epoch seconds) are for that entry
    only; the outbox item keeps ``extra`` alone (an update's ``changed_fields``: names, never
    values).
    """

    detail_type: str
    org_id: str
    app_id: str
    token_id: str
    occurred_at: str
    extra: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: secrets.token_hex(16))
    actor: Actor | None = None
    changes: tuple[FieldChange, ...] = ()
    retain_until: int | None = None

    @property
    def occurred_epoch(self) -> int:
        """``occurred_at`` in seconds since the epoch (for TTLs)."""
        return int(datetime.fromisoformat(self.occurred_at).timestamp())


@dataclass(frozen=True)
class ChildLink:
    """A token as seen from the token that created it: enough to revoke it in a cascade.

    ``cascaded_at`` is set when a cascade revoked the child, so that a later walk knows the
    child's own descendants are already taken care of (by that cascade) without a write.
    """

    parent_token_id: str
    org_id: str
    app_id: str
    token_id: str
    cascaded_at: str | None = None


@dataclass(frozen=True)
class LinkPage:
    """One page of a token's children, in creation order, and where the next page starts."""

    links: list[ChildLink]
    next_after: str | None
