"""The models of usage credits (issue 16): the ``credits`` of create and PATCH, and ``details.credits``.

Apart from ``shared.http.models`` (the seed's) and ``shared.http.token_models``, which both use
them; the bounds are the domain's (``shared.domain.credits``).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.domain.credits import MAX_COST, MAX_CREDITS, MAX_REFILL, CreditsView
from shared.http.fields import Timestamp, integral

__all__ = ["Cost", "CreditsBody", "CreditsPublic", "RefillBody", "credits_public"]

CreditCount = Annotated[int, Field(strict=True, ge=0, le=MAX_CREDITS), BeforeValidator(integral)]
RefillAmount = Annotated[int, Field(strict=True, ge=1, le=MAX_REFILL), BeforeValidator(integral)]
# What one verification spends: 0 checks the token without spending.
Cost = Annotated[int, Field(strict=True, ge=0, le=MAX_COST), BeforeValidator(integral)]


class RefillBody(BaseModel):
    """A refill: at each UTC boundary of ``interval`` the figure becomes ``amount`` (set, not added)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    amount: RefillAmount
    interval: Literal["daily", "monthly"]


class CreditsBody(BaseModel):
    """``credits`` on create and PATCH: how many verifications the token has, and any refill."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    remaining: CreditCount
    refill: RefillBody | None = None


class CreditsPublic(BaseModel):
    """``details.credits``: the live figure (any due refill applied), the refill, the next refill."""

    model_config = ConfigDict(defer_build=True)

    remaining: int
    refill: RefillBody | None
    next_refill_at: Timestamp | None


def credits_public(view: CreditsView | None) -> CreditsPublic | None:
    """``details.credits`` as the API shows it; ``None`` for an unlimited token."""
    if view is None:
        return None
    refill = None
    if view.refill is not None:
        refill = RefillBody(amount=view.refill.amount, interval=view.refill.interval.value)
    return CreditsPublic(remaining=view.remaining, refill=refill, next_refill_at=view.next_refill_at)
