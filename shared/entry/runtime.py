"""The collaborators of a running function, built lazily from settings and replaceable in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.domain.clock import Clock, utc_now
from shared.domain.crypto import SecretHasher
from shared.domain.settings import Settings, get_settings
from shared.services.deps import LifetimePolicy
from shared.storage.aws import new_events_client
from shared.storage.dynamodb import DynamoDBTokenRepository
from shared.storage.repository import TokenRepository

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

KEY_CACHE_SECONDS = 300


class KeyUnavailable(Exception):
    """The token hashing key is not configured or cannot be read."""


def load_hash_key(settings: Settings) -> bytes:
    """The HMAC key: from ``TOKEN_HASH_KEY`` locally, else SSM or Secrets Manager (cached 5 minutes)."""
    if settings.token_hash_key:
        return settings.token_hash_key.encode()
    try:
        if settings.token_hash_key_parameter:
            from aws_lambda_powertools.utilities import parameters

            value = parameters.get_parameter(
                settings.token_hash_key_parameter, decrypt=True, max_age=KEY_CACHE_SECONDS
            )
        elif settings.token_hash_key_secret_id:
            from aws_lambda_powertools.utilities import parameters

            value = parameters.get_secret(settings.token_hash_key_secret_id, max_age=KEY_CACHE_SECONDS)
        else:
            raise KeyUnavailable(
                "no token hashing key configured: set TOKEN_HASH_KEY or TOKEN_HASH_KEY_PARAMETER"
            )
    except KeyUnavailable:
        raise
    except Exception as error:
        # The log line must say why: where the key was read from and what failed underneath
        # (Powertools wraps botocore's error, e.g. EndpointConnectionError, in GetParameterError).
        source = (
            f"SSM parameter {settings.token_hash_key_parameter}"
            if settings.token_hash_key_parameter
            else f"secret {settings.token_hash_key_secret_id}"
        )
        causes = [type(error).__name__]
        underneath = error.__cause__ or error.__context__
        if underneath is not None:
            causes.append(type(underneath).__name__)
        raise KeyUnavailable(
            f"the token hashing key could not be read from {source}: {' <- '.join(causes)}"
        ) from error
    if isinstance(value, bytes):
        return value
    return str(value).encode()


@dataclass
class Runtime:
    """What handlers hand to the use cases: settings, repository, clock and the key's hasher.

    It is the use cases' ``shared.services.deps.Deps`` (and the publisher's ``PublisherDeps``)
    as it stands: the composition root builds it once per container.
    """

    settings: Settings
    repository: TokenRepository
    clock: Clock = utc_now
    _hasher: SecretHasher | None = field(default=None, repr=False)
    _key: bytes | None = field(default=None, repr=False)
    _events: EventBridgeClient | None = field(default=None, repr=False)

    @property
    def events(self) -> EventBridgeClient:
        """The EventBridge client, created on first use (only the publisher needs it)."""
        if self._events is None:
            self._events = new_events_client()
        return self._events

    @property
    def hasher(self) -> SecretHasher:
        """The hasher for the current key; a rotated key is picked up when the cache expires."""
        key = load_hash_key(self.settings)
        if self._hasher is None or key != self._key:
            self._hasher, self._key = SecretHasher(key), key
        return self._hasher

    @property
    def warning_window(self) -> timedelta:
        """How long before expiry owners are warned."""
        return timedelta(days=self.settings.expiry_warning_days)

    @property
    def refresh_grace(self) -> timedelta:
        """How long the refresh token a rotation replaced may still be retried (0 = never)."""
        return timedelta(seconds=self.settings.refresh_token_grace_seconds)

    @property
    def lifetimes(self) -> LifetimePolicy:
        """Token lifetimes from the settings."""
        return LifetimePolicy.from_settings(self.settings)


_current: Runtime | None = None


def get_runtime() -> Runtime:
    """The process-wide runtime, created on first use from the environment."""
    global _current  # noqa: PLW0603 - one runtime per Lambda container, by design
    if _current is None:
        settings = get_settings()
        _current = Runtime(settings=settings, repository=DynamoDBTokenRepository(settings.table_name))
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    """Replace the runtime (tests, the local server); ``None`` makes the next call rebuild it."""
    global _current  # noqa: PLW0603
    _current = runtime
    get_settings.cache_clear()
