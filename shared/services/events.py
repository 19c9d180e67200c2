"""The lifecycle events the use cases write, and who caused them, for the history entry beside each.

Every change that reports an event writes its history entry in the same transaction
(``shared.storage.items.history_item``); ``Provenance`` is what that entry needs beyond the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.clock import to_iso
from shared.domain.history import Actor
from shared.domain.principals import Principal
from shared.domain.records import LifecycleEvent, TokenRecord
from shared.storage.repository import TokenKey


@dataclass(frozen=True)
class Provenance:
    """Who caused an event (``None``: the service) and until when its history entry is kept."""

    actor: Actor | None
    retain_until: int


def token_event(
    detail_type: str,
    token: TokenKey | TokenRecord,
    at: datetime,
    provenance: Provenance | None = None,
    **extra: str,
) -> LifecycleEvent:
    """A lifecycle event about ``token``; its metadata is added when it is published.

    ``provenance`` is for the history entry that events of ``HISTORY_TYPES`` write beside them.
    """
    return LifecycleEvent(
        detail_type=detail_type,
        org_id=token.org_id,
        app_id=token.app_id,
        token_id=token.token_id,
        occurred_at=to_iso(at),
        extra=dict(extra),
        actor=provenance.actor if provenance else None,
        retain_until=provenance.retain_until if provenance else None,
    )


def actor_of(caller: Principal) -> Actor:
    """The caller as a history entry names it: its token (none for a JWT user) and its user."""
    return Actor(token_id=caller.token_id, user_id=caller.owner_id)
