"""The domain's records: what the service knows about a token, independent of storage and API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.http.models import AppTokenPublic


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

    def to_public(self) -> AppTokenPublic:
        """The API's view: exactly the seed's fields (``app_id`` and the lineage are not among them)."""
        # Imported here: pydantic is a large import that the sweep never needs.
        from shared.http.models import AppTokenPublic

        # A shallow copy: asdict() deep-copies every list, which costs more than the validation.
        fields = dict(vars(self))
        del fields["app_id"], fields["created_by_token_id"]
        return AppTokenPublic.model_validate(fields)

    def is_expired(self, now_iso: str) -> bool:
        """Whether the token has reached its expiry (timestamps compare as text)."""
        return self.expires_at is not None and self.expires_at <= now_iso


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


@dataclass(frozen=True)
class TokenPage:
    """One page of a listing, straight from one Query."""

    tokens: list[TokenRecord]
    app_found: bool
    last_key: str | None


@dataclass(frozen=True)
class LifecycleEvent:
    """Something that happened to a token, to be published once. Never holds a secret."""

    detail_type: str
    org_id: str
    app_id: str
    token_id: str
    occurred_at: str
    extra: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: secrets.token_hex(16))

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
