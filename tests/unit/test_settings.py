"""Settings from the environment: defaults, the authorizer knobs, and values that must fail loudly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

from shared.domain.principals import ClaimNames, TrustedAuthorizer
from shared.domain.settings import Settings
from shared.entry.runtime import Runtime


def test_defaults_trust_no_authorizer() -> None:
    settings = Settings.from_env({})
    assert settings.trusted_authorizer is TrustedAuthorizer.NONE
    assert settings.claim_names == ClaimNames("sub", "custom:org_id", "custom:permissions")
    assert (settings.authorizer_org_id, settings.authorizer_app_id, settings.authorizer_routes) == (None,) * 3


def test_the_authorizer_knobs_are_read() -> None:
    settings = Settings.from_env(
        {
            "TRUSTED_AUTHORIZER": "claims",
            "CLAIM_USER_ID": "email",
            "CLAIM_ORG_ID": "tenant",
            "CLAIM_PERMISSIONS": "cognito:groups",
            "AUTHORIZER_ORG_ID": "acme",
            "AUTHORIZER_APP_ID": "",  # empty is unset, which the authorizer refuses (not "any")
            "AUTHORIZER_ROUTES": "{}",
        }
    )
    assert settings.trusted_authorizer is TrustedAuthorizer.CLAIMS
    assert settings.claim_names == ClaimNames("email", "tenant", "cognito:groups")
    assert (settings.authorizer_org_id, settings.authorizer_app_id, settings.authorizer_routes) == (
        "acme",
        None,
        "{}",
    )


@pytest.mark.parametrize(
    "environ",
    [{"TRUSTED_AUTHORIZER": "everyone"}, {"RETENTION_DAYS": "0"}, {"DEFAULT_TOKEN_LIFETIME_DAYS": "-1"}],
)
def test_nonsense_fails_at_start_rather_than_trusting_or_guessing(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Settings.from_env(environ)


def test_the_refresh_grace_defaults_to_30_seconds_and_reaches_the_runtime() -> None:
    settings = Settings.from_env({})
    assert settings.refresh_token_grace_seconds == 30
    runtime = Runtime(settings=settings, repository=cast(Any, None))
    assert runtime.refresh_grace == timedelta(seconds=30)


@pytest.mark.parametrize("raw, seconds", [("0", 0), ("1", 1), ("60", 60), ("", 30)])
def test_the_refresh_grace_may_be_0_to_60_seconds(raw: str, seconds: int) -> None:
    assert Settings.from_env({"REFRESH_TOKEN_GRACE_SECONDS": raw}).refresh_token_grace_seconds == seconds


@pytest.mark.parametrize("raw", ["-1", "61", "3600", "30s", "1.5", "thirty"])
def test_a_refresh_grace_out_of_bounds_fails_at_start(raw: str) -> None:
    with pytest.raises(ValueError, match="REFRESH_TOKEN_GRACE_SECONDS must be a whole number of seconds"):
        Settings.from_env({"REFRESH_TOKEN_GRACE_SECONDS": raw})
