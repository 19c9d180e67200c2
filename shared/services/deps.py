"""What the use cases are handed: one dependency object instead of a row of collaborators.

``Deps`` is a Protocol, so that the composition root's ``shared.entry.runtime.Runtime``
is one as it stands (its hasher reads the key only when a use case first needs it),
and a test or a benchmark can hand over a plain :class:`Collaborators`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.clock import Clock, utc_now
from shared.domain.crypto import SecretHasher
from shared.domain.settings import Settings
from shared.storage.repository import TokenRepository


@dataclass(frozen=True)
class LifetimePolicy:
    """How long tokens live when the creator does not say, at most, and in the table after they end.

    The defaults are the settings' defaults (``shared.domain.settings.Settings``).
    """

    default: timedelta = timedelta(days=Settings.default_token_lifetime_days)
    maximum: timedelta = timedelta(days=Settings.max_token_lifetime_days)
    retention: timedelta = timedelta(days=Settings.retention_days)

    @classmethod
    def from_settings(cls, settings: Settings) -> LifetimePolicy:
        """The lifetimes the settings configure."""
        return cls(
            default=timedelta(days=settings.default_token_lifetime_days),
            maximum=timedelta(days=settings.max_token_lifetime_days),
            retention=timedelta(days=settings.retention_days),
        )


def purge_epoch(ended_at: datetime, policy: LifetimePolicy) -> int:
    """The DynamoDB TTL (epoch seconds) of a token that expired or was revoked at ``ended_at``."""
    return int((ended_at + policy.retention).timestamp())


def history_ttl(expires_at: str | None, now: datetime, policy: LifetimePolicy) -> int:
    """The TTL of a history entry written now about a live token: its expiry plus the retention.

    That is as long as the record could stay in the table (an ended token's entries use the
    record's own ``purge_at``). A token without an expiry (none is minted so) counts the longest
    lifetime from now.
    """
    end = datetime.fromisoformat(expires_at) if expires_at else now + policy.maximum
    return purge_epoch(end, policy)


class VerifyDeps(Protocol):
    """What deciding on a presented token needs: the verification core and the authorizer's hot path."""

    @property
    def repository(self) -> TokenRepository: ...
    @property
    def hasher(self) -> SecretHasher: ...
    @property
    def clock(self) -> Clock: ...
    # Issue 16: a canary's trip writes a history entry, kept as long as the token's record may be.
    @property
    def lifetimes(self) -> LifetimePolicy: ...


class Deps(VerifyDeps, Protocol):
    """Everything a use case may need besides its own arguments."""

    @property
    def lifetimes(self) -> LifetimePolicy: ...
    @property
    def refresh_grace(self) -> timedelta: ...
    @property
    def warning_window(self) -> timedelta: ...


@dataclass(frozen=True)
class Collaborators:
    """A plain :class:`Deps` (tests, benchmarks): the settings' defaults unless given."""

    repository: TokenRepository
    hasher: SecretHasher
    clock: Clock = utc_now
    lifetimes: LifetimePolicy = field(default_factory=LifetimePolicy)
    refresh_grace: timedelta = timedelta(seconds=Settings.refresh_token_grace_seconds)
    warning_window: timedelta = timedelta(days=Settings.expiry_warning_days)
