"""Usage credits (issue 16): how many verifications a token has left, and its refill at UTC boundaries.

A token with credits holds ``credits_remaining`` (``None``: unlimited) on its record; the live
figure is the credential item's, which every spend updates in one conditional write. A token
with a refill also holds the period its figure belongs to (``credits_period``, the period's
start); the first use in a later period finds the figure refilled to the amount (set, not
added, as Unkey does) and spends from that. No scheduled job: the refill is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.domain.clock import to_iso

if TYPE_CHECKING:
    from shared.domain.records import TokenRecord

MAX_CREDITS = 1_000_000_000
MAX_REFILL = 1_000_000_000
MAX_COST = 1_000
# What a limited creator is refused for, as ``required_permission`` of the 403.
UNLIMITED_CREDITS = "credits:*"
REFILL_CREDITS = "credits:refill"


class RefillInterval(StrEnum):
    """When credits refill: each day at 00:00 UTC, or each month on the 1st at 00:00 UTC."""

    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Refill:
    """A refill: the figure becomes ``amount`` at each boundary of ``interval``."""

    amount: int
    interval: RefillInterval


@dataclass(frozen=True)
class Credits:
    """A token's credits as a create or PATCH body gives them: what remains, and any refill."""

    remaining: int
    refill: Refill | None = None


@dataclass(frozen=True)
class CreditsView:
    """``details.credits``: the live figure (any due refill applied), the refill, the next refill."""

    remaining: int
    refill: Refill | None
    next_refill_at: str | None


def credits_from(body: Mapping[str, Any]) -> Credits:
    """Credits from a body's ``{"remaining": N, "refill": null | {"amount": M, "interval": ...}}``."""
    refill = body.get("refill")
    return Credits(
        remaining=int(body["remaining"]),
        refill=None if refill is None else Refill(int(refill["amount"]), RefillInterval(refill["interval"])),
    )


def period_start(interval: RefillInterval, now: datetime) -> datetime:
    """The start of the UTC period of ``interval`` that ``now`` falls in."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if interval is RefillInterval.DAILY else day.replace(day=1)


def next_period_start(interval: RefillInterval, now: datetime) -> datetime:
    """The next UTC boundary of ``interval`` after ``now``: the next refill."""
    start = period_start(interval, now)
    if interval is RefillInterval.DAILY:
        return start.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def refill_of(token: TokenRecord) -> Refill | None:
    """The token's refill, if it has one."""
    if token.credits_refill_amount is None or token.credits_refill_interval is None:
        return None
    return Refill(token.credits_refill_amount, RefillInterval(token.credits_refill_interval))


def current_period(token: TokenRecord, now: datetime) -> str | None:
    """The period (its start, ISO) the token's figure belongs to at ``now``; ``None`` without a refill."""
    refill = refill_of(token)
    return to_iso(period_start(refill.interval, now)) if refill is not None else None


def live_remaining(token: TokenRecord, now: datetime) -> int | None:
    """The token's credits at ``now`` with any due refill applied; ``None``: unlimited."""
    if token.credits_remaining is None:
        return None
    refill = refill_of(token)
    if refill is not None and token.credits_period != current_period(token, now):
        return refill.amount
    return token.credits_remaining


def credits_view(token: TokenRecord, now: datetime) -> CreditsView | None:
    """``details.credits`` of the token at ``now``; ``None`` when it is unlimited."""
    remaining = live_remaining(token, now)
    if remaining is None:
        return None
    refill = refill_of(token)
    next_at = to_iso(next_period_start(refill.interval, now)) if refill is not None else None
    return CreditsView(remaining=remaining, refill=refill, next_refill_at=next_at)


def credits_shown(token: TokenRecord) -> dict[str, object] | None:
    """The token's credits as an edit's history records them (``None``: unlimited)."""
    if token.credits_remaining is None:
        return None
    refill = refill_of(token)
    shown_refill = None if refill is None else {"amount": refill.amount, "interval": refill.interval.value}
    return {"remaining": token.credits_remaining, "refill": shown_refill}


@dataclass(frozen=True)
class CreditSpend:
    """Credits to take from one token's credential in one conditional write.

    ``read_period`` is the period of the figure as read; ``period`` the period now. When they
    differ a refill is due: the write sets the figure to ``refill_amount - cost`` for the new
    period, conditioned on the period read (a concurrent first use of the period wins, and this
    one decides again). Otherwise it subtracts ``cost`` conditioned on ``remaining >= cost``
    (and the period still being ``period``), so no two spends can take the same credit.
    """

    token_id: str
    cost: int
    read_period: str | None = None
    period: str | None = None
    refill_amount: int | None = None

    @property
    def refills(self) -> bool:
        """Whether this write also refills (the first use in a new period)."""
        return self.period != self.read_period


def spend_for(token: TokenRecord, cost: int, now: datetime) -> CreditSpend | None:
    """The write that takes ``cost`` credits from the token at ``now``, or ``None`` if it cannot
    (fewer than ``cost`` left, after any due refill). Only for a token with credits."""
    remaining = live_remaining(token, now)
    assert remaining is not None, "only a token with credits spends them"
    if remaining < cost:
        return None
    refill = refill_of(token)
    return CreditSpend(
        token_id=token.token_id,
        cost=cost,
        read_period=token.credits_period,
        period=current_period(token, now),
        refill_amount=refill.amount if refill is not None else None,
    )


def record_fields(credits: Credits | None, now: datetime) -> dict[str, Any]:
    """The record fields that hold ``credits`` from ``now`` (all ``None``: unlimited)."""
    if credits is None:
        return dict.fromkeys(
            ("credits_remaining", "credits_refill_amount", "credits_refill_interval", "credits_period")
        )
    refill = credits.refill
    return {
        "credits_remaining": credits.remaining,
        "credits_refill_amount": refill.amount if refill else None,
        "credits_refill_interval": refill.interval.value if refill else None,
        "credits_period": to_iso(period_start(refill.interval, now)) if refill else None,
    }


@dataclass(frozen=True)
class Grant:
    """Credits a giver (the creator, or the editor of a PATCH) hands a token.

    ``credits`` is what the token is to hold (``None``: unlimited); ``given`` what that costs the
    giver (the new figure, or on PATCH the increase over the token's live one); ``kept_refill``
    the token's refill as it is (a PATCH may keep it, a limited giver may not add one).
    """

    credits: Credits | None
    given: int
    kept_refill: Refill | None = None


def grant_breach(giver: TokenRecord | None, grant: Grant, now: datetime) -> str | None:
    """What a giver (``None``: not a token, hence unlimited) lacks to make ``grant``: ``credits:*`` for an
    unlimited token, ``credits:refill`` for a new refill, ``credits:<n>`` for more than it holds
    (after its own due refill); ``None`` when it may. An unlimited giver may grant anything."""
    held = live_remaining(giver, now) if giver is not None else None
    if held is None:
        return None
    if grant.credits is None:
        return UNLIMITED_CREDITS
    refill = grant.credits.refill
    if refill is not None and refill != grant.kept_refill:
        return REFILL_CREDITS
    if grant.given > held:
        return f"credits:{grant.given}"
    return None
