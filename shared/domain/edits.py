"""What an update asks of a token (PATCH, issue 15): the fields it may change, and only narrower.

``UPDATABLE_FIELDS`` is the one list of what a PATCH body may hold; the restriction lists among
them come from ``shared.domain.restrictions.RESTRICTIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.domain.clock import to_iso
from shared.domain.credits import credits_shown
from shared.domain.errors import Forbidden, InvalidInput
from shared.domain.history import FieldChange
from shared.domain.networks import IP_ALLOWLIST_FIELD, allowlist_breach
from shared.domain.permissions import has_permission, rate_limit_breach
from shared.domain.records import TokenRecord
from shared.domain.restrictions import RESTRICTION_FIELDS, restriction

UPDATABLE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "enabled",
    "expires_at",
    "permissions",
    *RESTRICTION_FIELDS,
    "rate_limit_rps",
    "rate_limit_burst",
    # Issue 16: set by the use case (shared.services.credits), which needs the editor's own credits.
    "credits",
    # Issue 16: only narrower (shared.domain.networks.allowlist_breach), as a restriction list.
    IP_ALLOWLIST_FIELD,
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


@dataclass(frozen=True)
class Edit:
    """What a change makes of a token: the resulting record and each field it really changed.

    ``token`` is the record with the change applied (``updated_at`` and ``revision`` are the
    writer's); ``changes`` are in ``UPDATABLE_FIELDS`` order, empty when nothing differs.
    """

    token: TokenRecord
    changes: tuple[FieldChange, ...]


def new_expiry_problem(requested: datetime, now_iso: str, editor_expiry: str | None) -> InvalidInput | None:
    """Why a requested ``expires_at`` cannot be set now (not in the future, or after the editor's own
    expiry, as create refuses it), or ``None``: the bounds that need the clock or the editor are 422s,
    checked after every 403, as on create."""
    expires_at = to_iso(requested)
    if expires_at <= now_iso:
        return InvalidInput(
            field="expires_at",
            msg="Input should be in the future",
            error_type="datetime_future",
            value=expires_at,
            ctx={},
        )
    if editor_expiry is not None and expires_at > editor_expiry:
        return InvalidInput(
            field="expires_at",
            msg="Input should not be later than the creating token's own expiry",
            error_type="datetime_after_creator",
            value=expires_at,
            ctx={"le": editor_expiry},
        )
    return None


def _rate_limits(token: TokenRecord, values: Mapping[str, Any]) -> tuple[int | None, int | None]:
    rps = values.get("rate_limit_rps", token.rate_limit_rps)
    burst = values.get("rate_limit_burst", token.rate_limit_burst)
    # Lower or newly set only; removing a limit is widening (``rate_limit_rps:*``), a 403 first.
    breach = rate_limit_breach((token.rate_limit_rps, token.rate_limit_burst), (rps, burst))
    if breach is not None:
        raise Forbidden(breach)
    if burst is not None and not rps:
        raise InvalidInput(
            field="rate_limit_burst",
            msg="rate_limit_burst needs rate_limit_rps",
            error_type="burst_without_rate",
            value=burst,
            ctx={},
        )
    return rps, burst


def _narrowed_lists(token: TokenRecord, values: Mapping[str, Any]) -> dict[str, list[str]]:
    """The permissions and restriction lists the change sets, each within the token's own."""
    lists: dict[str, list[str]] = {}
    if "permissions" in values:
        for permission in values["permissions"]:
            if not has_permission(token.permissions, permission):
                raise Forbidden(permission)
        lists["permissions"] = list(values["permissions"])
    for list_field in RESTRICTION_FIELDS:
        if list_field in values:
            requested = list(values[list_field])
            breach = restriction(list_field).breach(token.restricted_to(list_field), requested)
            if breach is not None:
                raise Forbidden(breach)
            lists[list_field] = requested
    return lists


def _narrowed_allowlist(token: TokenRecord, values: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The IP allowlist the change sets (issue 16), every network inside one of the token's own."""
    if IP_ALLOWLIST_FIELD not in values:
        return {}
    requested = tuple(values[IP_ALLOWLIST_FIELD])
    breach = allowlist_breach(token.ip_allowlist, requested)
    if breach is not None:
        raise Forbidden(breach)
    return {IP_ALLOWLIST_FIELD: requested}


def narrowed(token: TokenRecord, change: TokenChange, now_iso: str) -> Edit:
    """``token`` with ``change`` applied, if the change only narrows it; else the refusal.

    Widening is ``Forbidden`` naming what is missing, as create names it: a permission the
    token does not hold (wildcards count: ``app_tokens:*`` covers ``app_tokens:update``, only
    ``*`` covers ``*``), ``<list>:<value>`` or ``<list>:*`` for a restriction list not within
    the token's (an unrestricted list may become restricted, never the reverse),
    ``rate_limit_rps:...``/``rate_limit_burst:...`` for a higher or removed limit,
    ``expires_at:later``, ``ip_allowlist:<network>`` or ``ip_allowlist:*`` for an allowlist not
    inside the token's (issue 16). A burst without a rate in the result is ``InvalidInput``. Whether a new
    ``expires_at`` is still in the future is :func:`new_expiry_problem`'s (checked last).
    """
    values = change.values
    unknown = sorted(set(values) - set(UPDATABLE_FIELDS))
    if unknown:
        raise ValueError(f"not updatable: {', '.join(unknown)}")
    updated: dict[str, Any] = {}
    for name in ("name", "description"):
        if name in values:
            updated[name] = values[name]
    if "expires_at" in values:
        expires_at = to_iso(values["expires_at"])
        if token.expires_at is not None and expires_at > token.expires_at:
            raise Forbidden("expires_at:later")
        updated["expires_at"] = expires_at  # whether it is still in the future: new_expiry_problem
    updated.update(_narrowed_lists(token, values))
    updated.update(_narrowed_allowlist(token, values))
    if "rate_limit_rps" in values or "rate_limit_burst" in values:
        updated["rate_limit_rps"], updated["rate_limit_burst"] = _rate_limits(token, values)
    if "enabled" in values and values["enabled"] != token.enabled:
        # Disabling keeps the moment; enabling clears it. Asking for the state it has is no change.
        updated["disabled_at"] = None if values["enabled"] else now_iso
    result = replace(token, **updated)
    changes = tuple(
        FieldChange(name, _shown(token, name), _shown(result, name))
        for name in UPDATABLE_FIELDS
        if _shown(token, name) != _shown(result, name)
    )
    return Edit(token=result, changes=changes)


def _shown(token: TokenRecord, name: str) -> Any:
    """A field's value as a change records it (``enabled`` from ``disabled_at``)."""
    if name == "credits":
        return credits_shown(token)
    return token.enabled if name == "enabled" else getattr(token, name)
