"""Configuration read from the environment, once per process, never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from shared.domain.principals import ClaimNames, TrustedAuthorizer

DEFAULT_TABLE_NAME = "app-tokens"  # devtools reads it too
# Long enough for a client to retry a lost answer, short enough that a stolen refresh token
# replayed later is still caught as reuse.
MAX_REFRESH_TOKEN_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; the README's configuration table lists the same names.

    Each default is written once, here: ``from_env`` and ``LifetimePolicy`` read it from this class.
    """

    table_name: str = DEFAULT_TABLE_NAME
    # Local and test use: the HMAC key itself. In AWS the key lives in SSM or Secrets Manager.
    token_hash_key: str | None = None
    token_hash_key_parameter: str | None = None
    token_hash_key_secret_id: str | None = None
    default_token_lifetime_days: int = 90
    max_token_lifetime_days: int = 365
    retention_days: int = 30
    expiry_warning_days: int = 7
    # How long after a rotation the refresh token it replaced may be presented again as a retry.
    refresh_token_grace_seconds: int = 30
    event_bus_name: str = "default"
    # Management handlers: whose authentication to trust instead of reading the bearer token again.
    trusted_authorizer: TrustedAuthorizer = TrustedAuthorizer.NONE
    claim_names: ClaimNames = field(default_factory=ClaimNames)
    # The Lambda authorizer: which org and app its tokens must belong to (an id, or "*" for any;
    # unset refuses every request, see shared/http/authorizer.py), and what each route requires (JSON,
    # see docs/authorizer.md).
    authorizer_org_id: str | None = None
    authorizer_app_id: str | None = None
    authorizer_routes: str | None = None
    # The web console's origin (issue 17): the one browser origin the API's CORS headers allow.
    console_origin: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build the settings from environment variables (``os.environ`` by default).

        A variable that is unset or empty leaves the field's default above.
        """
        env = os.environ if environ is None else environ
        default, claims = cls(), ClaimNames()
        return cls(
            table_name=env.get("TABLE_NAME") or default.table_name,
            token_hash_key=env.get("TOKEN_HASH_KEY") or None,
            token_hash_key_parameter=env.get("TOKEN_HASH_KEY_PARAMETER") or None,
            token_hash_key_secret_id=env.get("TOKEN_HASH_KEY_SECRET_ID") or None,
            default_token_lifetime_days=_positive_int(
                env, "DEFAULT_TOKEN_LIFETIME_DAYS", default.default_token_lifetime_days
            ),
            max_token_lifetime_days=_positive_int(
                env, "MAX_TOKEN_LIFETIME_DAYS", default.max_token_lifetime_days
            ),
            retention_days=_positive_int(env, "RETENTION_DAYS", default.retention_days),
            expiry_warning_days=_positive_int(env, "EXPIRY_WARNING_DAYS", default.expiry_warning_days),
            refresh_token_grace_seconds=_seconds_between(
                env,
                "REFRESH_TOKEN_GRACE_SECONDS",
                default.refresh_token_grace_seconds,
                MAX_REFRESH_TOKEN_GRACE_SECONDS,
            ),
            event_bus_name=env.get("EVENT_BUS_NAME") or default.event_bus_name,
            trusted_authorizer=TrustedAuthorizer(env.get("TRUSTED_AUTHORIZER") or default.trusted_authorizer),
            claim_names=ClaimNames(
                user_id=env.get("CLAIM_USER_ID") or claims.user_id,
                org_id=env.get("CLAIM_ORG_ID") or claims.org_id,
                permissions=env.get("CLAIM_PERMISSIONS") or claims.permissions,
            ),
            authorizer_org_id=env.get("AUTHORIZER_ORG_ID") or None,
            authorizer_app_id=env.get("AUTHORIZER_APP_ID") or None,
            authorizer_routes=env.get("AUTHORIZER_ROUTES") or None,
            console_origin=env.get("CONSOLE_ORIGIN") or None,
        )


def _positive_int(env: os._Environ[str] | dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive whole number of days")
    return value


def _seconds_between(env: os._Environ[str] | dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    message = f"{name} must be a whole number of seconds from 0 to {maximum}"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(message) from None
    if not 0 <= value <= maximum:
        raise ValueError(message)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; ``shared.entry.runtime.set_runtime`` clears the cache (tests, server)."""
    return Settings.from_env()
