"""Settings from the environment: defaults, the authorizer knobs, and values that must fail loudly."""

from __future__ import annotations

import pytest

from shared.principals import ClaimNames, TrustedAuthorizer
from shared.settings import Settings


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
