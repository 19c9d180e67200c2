"""What an update asks of a token (PATCH, issue 15): the fields it may change, and only narrower.

``UPDATABLE_FIELDS`` is the one list of what a PATCH body may hold; the restriction lists among
them come from ``shared.domain.restrictions.RESTRICTIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.restrictions import RESTRICTION_FIELDS

UPDATABLE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "enabled",
    "expires_at",
    "permissions",
    *RESTRICTION_FIELDS,
    "rate_limit_rps",
    "rate_limit_burst",
)


@dataclass(frozen=True)
class TokenChange:
    """The fields an update sets, by name, each present only when the request gave it.

    Values are already of the domain's types: ``expires_at`` a timezone-aware ``datetime``,
    lists as tuples of strings, ``enabled`` a ``bool``, ``description`` a string or ``None``
    (clears it). The HTTP model refuses an empty change, unknown fields and ``null`` where
    a field has no meaning without a value.
    """

    values: Mapping[str, Any]
