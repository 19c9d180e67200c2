"""Cascading revocation: a token and every token it created, transitively, across the org's apps.

Each token created by a token is linked from its creator's partition
(``TOKEN#<parent>`` / ``CHILD#<child>``), so the children of a token are one
Query and a cascade reads what it revokes, never the app's other tokens. The
walk is breadth-first; each descendant is revoked by its own transaction (its
two items, its link marked ``cascaded_at``, its ``App Token Revoked`` event with
the reason ``parent_revoked`` and the marker ``cascade: "true"``).

A request looks at no more than ``CASCADE_BOUND`` links before it answers. The
rest follows through the publisher: on the marked revoked event of a token it
revokes that token's live children (whose own marked events carry the walk one
level further), and where no marked event covers what is left (the children of
a token that was revoked before, without a cascade) the walk leaves a
``CASCADE_PENDING`` outbox item naming where to go on. Each step is idempotent:
a link already marked is skipped without a write, a token already revoked keeps
its first revocation (but its children are still followed).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.domain.clock import to_iso
from shared.domain.lifecycle import CASCADE_MARKER, CASCADE_PENDING, PARENT_REVOKED_REASON, REVOKED
from shared.domain.principals import Principal
from shared.domain.records import LifecycleEvent
from shared.services.deps import Deps, purge_epoch
from shared.services.events import Provenance, actor_of, token_event
from shared.services.tokens import Revocation, revoke_as
from shared.storage.repository import RevokeOutcome, TokenKey, TokenRepository

# Links a request looks at before its 204 (and the publisher per record): a bound on the work
# and the latency of one call, whatever the size of the tree.
CASCADE_BOUND = 100
_MARKED = {CASCADE_MARKER: "true"}


@dataclass(frozen=True)
class Frontier:
    """A token whose children are still to be looked at, from the child after ``after`` on."""

    token_id: str
    after: str | None = None


@dataclass
class CascadeReport:
    """What one walk did, and what it left to the publisher."""

    revoked: int = 0
    examined: int = 0
    pending: list[Frontier] = field(default_factory=list)


def revoke_with_descendants(
    deps: Deps, caller: Principal, key: TokenKey, reason: str | None, bound: int | None = None
) -> CascadeReport:
    """Revoke a token (as revoke does) and then its descendants, up to ``bound`` of them now.

    A token that was already revoked keeps its first revocation; its descendants are revoked
    all the same, since a child may be live under a revoked parent.
    """
    now = deps.clock()
    revocation = Revocation(reason=reason, at=now, marks=_MARKED, actor=actor_of(caller))
    revoked_now = revoke_as(deps, caller, key, revocation)
    # The root's marked event makes the publisher walk its children once more: whatever was
    # created while this request ran is revoked too.
    walk = _Walk(deps, now, key.org_id, _bound(bound), expand_revoked=True)
    if revoked_now:
        walk.covered.add(key.token_id)
    report = walk.run([Frontier(key.token_id)])
    if revoked_now:
        report.revoked += 1
    _leave_pending(deps.repository, now, key, report.pending, event_id=None)
    return report


def continue_cascade(deps: Deps, event: LifecycleEvent, bound: int | None = None) -> CascadeReport | None:
    """The publisher's part for one outbox event: ``None`` unless it is a cascade's.

    A marked revoked event revokes the token's live children; their own marked events take
    it further, so one record does at most ``bound`` links. A redelivered record does it
    again at no cost but its reads: marked links are skipped, and its continuation has an
    id derived from the record's, so it is written once.
    """
    if event.detail_type == CASCADE_PENDING:
        start = [Frontier(token_id, after) for token_id, after in event.extra["frontier"]]
    elif event.detail_type == REVOKED and event.extra.get(CASCADE_MARKER) == "true":
        start = [Frontier(event.token_id)]
    else:
        return None
    now = deps.clock()
    report = _Walk(deps, now, event.org_id, _bound(bound), expand_revoked=False).run(start)
    key = TokenKey(org_id=event.org_id, app_id=event.app_id, token_id=event.token_id)
    _leave_pending(deps.repository, now, key, report.pending, event_id=_next_event_id(event.event_id))
    return report


def _bound(bound: int | None) -> int:
    # Read when called, not when defined, so that a test can lower it for a small tree.
    return CASCADE_BOUND if bound is None else bound


@dataclass
class _Walk:
    """Breadth-first over ``org_id``'s links, revoking each live descendant, until ``bound`` links are read.

    ``covered`` are the tokens whose marked revoked event will have the publisher walk their
    children; with ``expand_revoked`` off, a token revoked here is left to its own event.
    """

    deps: Deps
    now: datetime
    org_id: str
    bound: int
    expand_revoked: bool
    covered: set[str] = field(default_factory=set)

    def run(self, start: Sequence[Frontier]) -> CascadeReport:
        """Walk from ``start``; what is left over is the report's ``pending``."""
        repository, now, bound = self.deps.repository, self.now, self.bound
        report = CascadeReport()
        queue = deque(start)
        seen = {node.token_id for node in start}
        revoked_at, purge_at = to_iso(now), purge_epoch(now, self.deps.lifetimes)
        while queue and report.examined < bound:
            node = queue.popleft()
            page = repository.child_links(node.token_id, node.after, bound - report.examined)
            for link in page.links:
                report.examined += 1
                # Marked: a cascade revoked it and its marked event covers its children. Another org's:
                # never, whatever a link says. Seen: ids are unique, but a walk must end whatever the data.
                if link.cascaded_at is not None or link.org_id != self.org_id or link.token_id in seen:
                    continue
                seen.add(link.token_id)
                child = TokenKey(org_id=link.org_id, app_id=link.app_id, token_id=link.token_id)
                # The service revokes a descendant (actor None), whether in the request or the publisher.
                provenance = Provenance(actor=None, retain_until=purge_at)
                event = token_event(
                    REVOKED, child, now, provenance, revoked_reason=PARENT_REVOKED_REASON, **_MARKED
                )
                outcome = repository.revoke_descendant(link, revoked_at, purge_at, [event])
                if outcome is RevokeOutcome.REVOKED:
                    report.revoked += 1
                    self.covered.add(link.token_id)
                    if not self.expand_revoked:
                        continue
                # Already revoked (or purged) without a cascade: its children may still be live.
                queue.append(Frontier(link.token_id))
            if page.next_after is not None:
                queue.appendleft(Frontier(node.token_id, page.next_after))
        report.pending = [node for node in queue if node.token_id not in self.covered]
        return report


def _leave_pending(
    repository: TokenRepository, now: datetime, about: TokenKey, pending: list[Frontier], event_id: str | None
) -> None:
    """Write where the walk stopped, for the publisher, unless nothing is left."""
    if not pending:
        return
    continuation = LifecycleEvent(
        detail_type=CASCADE_PENDING,
        org_id=about.org_id,
        app_id=about.app_id,
        token_id=about.token_id,
        occurred_at=to_iso(now),
        extra={"frontier": [[node.token_id, node.after] for node in pending]},
    )
    if event_id:
        continuation = replace(continuation, event_id=event_id)
    repository.put_events([continuation])


def _next_event_id(event_id: str) -> str:
    """The id of the continuation a record leaves: the same on every delivery of that record."""
    return hashlib.sha256(f"cascade:{event_id}".encode()).hexdigest()[:32]
