"""Rotation with a grace period (issue 16): new secrets for a token, the old access secret kept a while.

``POST .../tokens/{token_id}/rotate``: the caller (``app_tokens:rotate``) gets a new access and
refresh secret; the old access secret keeps working for ``grace`` beside the new one (strictly
before its end), the old refresh secret dies at once. A token keeps at most ONE previous access
secret: rotating again inside a grace ends the earlier one at once. Verification stays one read
(``shared.services.verification.secret_matches``). The secrets are minted where all minting happens
(``shared.services.tokens``); one conditional transaction per rotation, so of two concurrent
rotations (or a rotation and a refresh) exactly one wins.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shared.domain.canary import rotate_problem
from shared.domain.clock import to_iso
from shared.domain.errors import Conflict, InvalidInput, NotFound
from shared.domain.history import FieldChange
from shared.domain.lifecycle import ROTATED
from shared.domain.principals import Principal
from shared.domain.status import TokenStatus, grace_end, no_longer, token_status
from shared.services.deps import Deps, history_ttl
from shared.services.events import Provenance, actor_of, token_event
from shared.services.tokens import IssuedToken, mint_secrets, require_same_org
from shared.storage.repository import Reroll, TokenKey

# A week: the longest an old secret may outlive its rotation (Stripe allows as long for its keys).
MAX_GRACE_SECONDS = 604_800


def _not_rotatable(key: TokenKey, status: TokenStatus) -> InvalidInput:
    # As PATCH answers a token it can no longer change; a disabled one too (enable it first):
    # rotating must not hand out working-looking secrets of a token that is refused everywhere.
    return no_longer(key.token_id, status, "rotated", "token_not_rotatable")


def _where(key: TokenKey) -> tuple[str, str, str]:
    return key.org_id, key.app_id, key.token_id


def rotate_token(deps: Deps, caller: Principal, key: TokenKey, grace: timedelta) -> IssuedToken:
    """New secrets for the token; its old access secret works for ``grace`` more (0: ends now).

    Another org's or an unknown token is ``NotFound``; a revoked, expired or disabled one is
    ``InvalidInput(field="token_id")``; a rotation, refresh or edit that landed between the read and
    the write is ``Conflict`` (nothing written). The answer is the create shape: token and secrets.
    """
    require_same_org(caller, key.org_id, "token", key.token_id)
    if not timedelta(0) <= grace <= timedelta(seconds=MAX_GRACE_SECONDS):
        # The HTTP model bounds it; a direct caller of the use case is held to the same rule.
        raise ValueError(f"grace must be between 0 and {MAX_GRACE_SECONDS} seconds")
    credential = deps.repository.get_credential(key.token_id)
    # Unknown, or expired and swept (the sweep removes the hashes): only then a second read, to
    # answer a swept token as expired (422) rather than as unknown (404).
    token = credential.token if credential is not None else deps.repository.get_token(*_where(key))
    if token is None or (token.org_id, token.app_id) != (key.org_id, key.app_id):
        raise NotFound("token", key.token_id)
    if token.canary:
        raise rotate_problem(key.token_id)  # whatever its status: a decoy is never rotated
    now = deps.clock()
    now_iso = to_iso(now)
    status = token_status(token, now_iso)
    if credential is None or status is not TokenStatus.ACTIVE:
        raise _not_rotatable(key, status if status is not TokenStatus.ACTIVE else TokenStatus.EXPIRED)
    plaintext, refresh, access_hash, refresh_hash = mint_secrets(key.token_id, deps.hasher)
    ends_at = to_iso(now + grace)
    after = replace(token, rotated_at=now_iso, previous_access_expires_at=ends_at)
    # The history shows the grace it ends (a running one ends at once) and the one it starts.
    change = FieldChange("previous_secret_expires_at", grace_end(token, now_iso), grace_end(after, now_iso))
    provenance = Provenance(actor_of(caller), history_ttl(token.expires_at, now, deps.lifetimes))
    event = token_event(ROTATED, token, now, provenance, previous_secret_expires_at=ends_at)
    reroll = Reroll(
        new_access_hash=access_hash,
        new_refresh_hash=refresh_hash,
        # Without a grace the old access secret is not kept at all, not even as an inert hash.
        previous_access_hash=credential.access_hash if grace else None,
        rotated_at=now_iso,
        previous_access_expires_at=ends_at,
    )
    if not deps.repository.reroll_secrets(credential, reroll, [replace(event, changes=(change,))]):
        # Decided against the credential as read; the client reads again and decides with what won.
        raise Conflict("token", key.token_id)
    return IssuedToken(token=after, plaintext_token=plaintext, refresh_token_plaintext=refresh)
