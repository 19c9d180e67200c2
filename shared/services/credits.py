"""Usage credits in the management use cases (issue 16): what a create or an edit takes from its giver.

The figures and the refill are the domain's (``shared.domain.credits``); a verification's spend is
``shared.services.verification``'s. Here: a creator pays for its child's credits, an editor for a
top-up, in the transaction of the change, and never beyond what it holds; the live figure of a
token read from its metadata item comes from its credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.domain.credits import (
    Grant,
    credits_from,
    credits_shown,
    grant_breach,
    live_remaining,
    record_fields,
    refill_of,
    spend_for,
)
from shared.domain.errors import Forbidden
from shared.domain.history import FieldChange
from shared.domain.principals import Principal
from shared.domain.records import TokenRecord, TokenSpec
from shared.services.deps import Deps
from shared.storage.repository import CreditDraw, CreditsRead


def _draw(caller: Principal, grant: Grant, now: datetime) -> CreditDraw | None:
    """What ``caller`` pays for ``grant``, or ``Forbidden`` naming what it lacks.

    A caller vouched for by an authorizer (not a record read here) is checked in the transaction
    to hold no limit at all: its credits are not in the request.
    """
    if not isinstance(caller, TokenRecord):
        credits = grant.credits
        widens = credits is None or grant.given > 0 or credits.refill not in (None, grant.kept_refill)
        return CreditDraw(caller.token_id, None) if caller.token_id is not None and widens else None
    breach = grant_breach(caller, grant, now)
    if breach is not None:
        raise Forbidden(breach)
    if caller.credits_remaining is None or grant.given == 0:
        return None
    return CreditDraw(caller.token_id, spend_for(caller, grant.given, now))


def credit_funding(caller: Principal, spec: TokenSpec, now: datetime) -> CreditDraw | None:
    """What the creator pays for the child's credits, or ``Forbidden`` when it may not.

    A caller with credits gives the child credits out of its own live figure: never an unlimited
    child (``credits:*``), never a refill (``credits:refill``), never more than it holds
    (``credits:<n>``). An unlimited caller may give any.
    """
    credits = spec.credits
    return _draw(caller, Grant(credits, credits.remaining if credits else 0), now)


def with_live_credits(deps: Deps, token: TokenRecord) -> TokenRecord:
    """``token`` (read from its metadata item) with its credential's figure and period, the live ones;
    one more read, only for a token with credits."""
    if token.credits_remaining is None:
        return token
    credential = deps.repository.get_credential(token.token_id)
    if credential is None:
        return token  # expired and swept: nothing spends it any more
    live = credential.token
    return replace(token, credits_remaining=live.credits_remaining, credits_period=live.credits_period)


@dataclass(frozen=True)
class CreditEdit:
    """What a PATCH of ``credits`` makes of a token: its record fields, the history's change, the
    figures the write is conditioned on, and what the editor pays."""

    fields: Mapping[str, Any]
    change: FieldChange | None
    read: CreditsRead
    funding: CreditDraw | None


def credit_edit(
    caller: Principal, token: TokenRecord, requested: Mapping[str, Any] | None, now: datetime
) -> CreditEdit:
    """Set, top up, lower or remove (``None``) the credits of ``token`` (with its live figures).

    Lowering, or limiting an unlimited token, is always allowed. Raising costs the editor the
    increase over the live figure, out of its own credits if it has any; removing the limit, or
    adding a refill, needs an unlimited editor (``credits:*``, ``credits:refill``). A token cannot
    raise its own credits (``credits:<n>``): it would pay itself.
    """
    credits = credits_from(requested) if requested is not None else None
    live = live_remaining(token, now)
    increase = max(0, credits.remaining - live) if credits is not None and live is not None else 0
    if caller.token_id == token.token_id and increase > 0:
        raise Forbidden(f"credits:{increase}")
    funding = _draw(caller, Grant(credits, increase, refill_of(token)), now)
    fields = record_fields(credits, now)
    after = replace(token, **fields)
    before_shown = None if live is None else {**(credits_shown(token) or {}), "remaining": live}
    after_shown = credits_shown(after)
    change = None if before_shown == after_shown else FieldChange("credits", before_shown, after_shown)
    return CreditEdit(
        fields=fields,
        change=change,
        read=CreditsRead(token.credits_remaining, token.credits_period),
        funding=funding,
    )
