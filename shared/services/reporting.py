"""Leaked-credential reports (issue 16): anyone who found a secret of ours can have it revoked.

``POST /v1/credentials/revoke`` carries no authentication, so what it may make us spend is
bounded by the body: a malformed secret (shape or checksum, ``parse_secret``) costs no read at
all; a well-formed one costs one strongly consistent ``GetItem`` of its token's credential item,
and only a presented secret that is the token's current access or refresh secret, on a token
that is still live, costs the revoke transaction. The caller learns none of it (the route always
answers the same), so a report is no oracle for which tokens exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.clock import to_iso
from shared.domain.crypto import ParsedSecret, SecretKind, parse_secret
from shared.domain.lifecycle import REPORTED_LEAKED, REPORTED_LEAKED_REASON, REVOKED
from shared.domain.records import Credential
from shared.services.canary import CanaryUse, trip
from shared.services.deps import Deps, purge_epoch
from shared.services.events import Provenance, token_event
from shared.services.verification import secret_matches
from shared.storage.repository import TokenKey, TokenMissing

# The ``credential_kind`` of an App Token Reported Leaked event: the kinds that matched, by name.
_KIND_NAMES = {SecretKind.ACCESS: "access", SecretKind.REFRESH: "refresh"}


@dataclass(frozen=True)
class LeakReport:
    """What a report did, for the route's log and metrics (never for the caller)."""

    well_formed: int  # distinct token ids among the well-formed credentials: one GetItem each
    revoked: tuple[str, ...]  # the token ids revoked now


def well_formed_by_token(presented: Iterable[str]) -> dict[str, list[ParsedSecret]]:
    """The well-formed secrets among ``presented``, once each, grouped by their token id.

    Grouping by token means one read per token however many of its secrets were reported
    (an access and a refresh token found together, the same string pasted twice).
    """
    grouped: dict[str, list[ParsedSecret]] = {}
    for text in dict.fromkeys(presented):  # duplicates once, in the body's order
        parsed = parse_secret(text)
        if parsed is not None:
            grouped.setdefault(parsed.token_id, []).append(parsed)
    return grouped


def _matching_kinds(deps: Deps, credential: Credential, secrets: list[ParsedSecret]) -> list[str]:
    """The kinds of the token's *current* secrets among ``secrets``.

    Only the current ones (and the access secret a rotation replaced, while its grace runs, since
    it still works): a refresh token already rotated away opens nothing (presenting it to
    the refresh route is reuse, which revokes the token anyway), and revoking on it would let
    anyone holding an old, dead secret end a token that no longer depends on it.
    """

    def opens(secret: ParsedSecret) -> bool:
        if secret.kind is SecretKind.ACCESS:
            # What verification accepts: the access secret, or the one a rotation replaced while
            # its grace runs (it still opens every door until then, so it is as leaked).
            return secret_matches(deps, secret.plaintext, credential)
        return deps.hasher.matches(secret.plaintext, credential.refresh_hash)

    kinds = {secret.kind for secret in secrets if opens(secret)}
    return [_KIND_NAMES[kind] for kind in SecretKind if kind in kinds]


def revoke_reported(deps: Deps, presented: Iterable[str], use: CanaryUse | None = None) -> LeakReport:
    """Revoke every live token of which ``presented`` holds a current secret (``reported_leaked``).

    A disabled token is revoked too: disabling is undone by an edit, and a leaked secret must
    never work again. An expired or already revoked token is left as it is (it works nowhere).
    Each revocation is the one revoke transaction with its two events (App Token Reported Leaked,
    then App Token Revoked) and their history entries, the service as their actor.

    A canary's secret is not revoked (issue 16): a canary found in public is exactly the alarm it is
    for, so the report trips it (``use``: the reporter's address and user agent, a scanner's for a
    secret-scanning webhook), as a use would, whatever its status, and it stays planted.
    """
    grouped = well_formed_by_token(presented)
    revoked: list[str] = []
    for token_id, secrets in grouped.items():
        credential = deps.repository.get_credential(token_id)
        if credential is None:
            continue
        kinds = _matching_kinds(deps, credential, secrets)
        token = credential.token
        if token.canary:
            if kinds:
                trip(deps, token, use or CanaryUse())
            continue
        now = deps.clock()
        if not kinds or token.revoked_at is not None or token.is_expired(to_iso(now)):
            continue
        key = TokenKey(org_id=token.org_id, app_id=token.app_id, token_id=token_id)
        purge_at = purge_epoch(now, deps.lifetimes)
        provenance = Provenance(None, purge_at)
        events = [
            # First: the report is why the token is revoked, so its history entry sorts first.
            token_event(REPORTED_LEAKED, key, now, provenance, credential_kind=",".join(kinds)),
            token_event(REVOKED, key, now, provenance, revoked_reason=REPORTED_LEAKED_REASON),
        ]
        try:
            if deps.repository.revoke_token(key, to_iso(now), REPORTED_LEAKED_REASON, purge_at, events):
                revoked.append(token_id)
        except TokenMissing:
            continue  # purged between the read and the write: nothing left to revoke
    return LeakReport(well_formed=len(grouped), revoked=tuple(revoked))
