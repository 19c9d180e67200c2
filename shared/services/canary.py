"""Canary tokens (issue 16): a use of a decoy trips an alarm, at most once a minute per source address.

The verification core (``shared.services.verification``) calls :func:`trip` right after a presented
secret matched a canary's, before any org, app or status check, and then answers exactly as it
answers an unknown token; so do the refresh route (``shared.services.tokens.refresh_token``) and the
leaked-credential report (``shared.services.reporting``). What may be made a canary, and what a canary
may become, is the domain's (``shared.domain.canary``).

A trip is one conditional ``TransactWriteItems`` (the source's marker, ``last_tripped_at`` on both
items, the ``App Token Canary Tripped`` outbox event and its history entry); a flood from one address
within the minute fails its condition and writes nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.canary import MAX_TRIP_FIELD_CHARS, capped
from shared.domain.clock import to_iso
from shared.domain.lifecycle import CANARY_TRIPPED
from shared.domain.observability import count, logger
from shared.domain.records import TokenRecord
from shared.services.deps import VerifyDeps, history_ttl, purge_epoch
from shared.services.events import Provenance, token_event
from shared.storage.repository import CanaryTrip

# At most one event a minute per token and source address: a flood costs bounded writes.
TRIP_RESOLUTION = timedelta(minutes=1)
# The marker outlives its minute (the condition reads its time, not its presence): TTL only tidies up.
MARKER_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class CanaryUse:
    """Where a use of a canary came from, as its entry point saw it; every part optional.

    ``method`` and ``path`` are the request's (the management API's own, the verify body's, the
    authorizer's guarded route, the refresh or report route's).
    """

    source_ip: str | None = None
    user_agent: str | None = None
    method: str | None = None
    path: str | None = None


def _history_retention(deps: VerifyDeps, token: TokenRecord, now: datetime) -> int:
    """A trip's history entry lasts as long as the record may: a revoked canary's ends with its purge."""
    if token.revoked_at is not None:
        return purge_epoch(datetime.fromisoformat(token.revoked_at), deps.lifetimes)
    return history_ttl(token.expires_at, now, deps.lifetimes)


def trip(deps: VerifyDeps, token: TokenRecord, use: CanaryUse) -> bool:
    """Note a use of the canary ``token``: ``True`` when this use wrote the event (the first from its
    source address this minute), ``False`` when it was already noted or the write failed.

    Never raises and never changes what the caller is answered. The event carries the time, source
    address, user agent, method and path (each capped, ``unknown`` when not said), never the secret;
    the history names no actor (whoever used it is who the alarm is about).
    """
    now = deps.clock()
    facts = {name: capped(getattr(use, name), name) for name in MAX_TRIP_FIELD_CHARS}
    provenance = Provenance(None, _history_retention(deps, token, now))
    event = token_event(CANARY_TRIPPED, token, now, provenance, **facts)
    noted = deps.repository.trip_canary(
        CanaryTrip(
            token=token,
            source=facts["source_ip"],
            tripped_at=to_iso(now),
            not_since=to_iso(now - TRIP_RESOLUTION),
            marker_purge_at=int((now + MARKER_LIFETIME).timestamp()),
            events=[event],
        )
    )
    if noted:
        logger.warning(
            "canary token tripped",
            extra={"token_id": token.token_id, "org_id": token.org_id, "source_ip": facts["source_ip"]},
        )
        count("CanaryTripped")
    return noted
