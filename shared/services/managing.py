"""The use cases of running tokens day to day (issue 15): who am I, read one, edit it, its history.

The narrowing rules of an edit are the domain's (``shared.domain.edits.narrowed``); the
editor's own grants bind as on create (``shared.services.tokens``' escalation check on the
resulting token). Every edit is one conditional transaction whose events write the token's
history beside them (``shared.storage.items``, ``HISTORY_TYPES``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain.canary import edit_problem
from shared.domain.clock import to_iso
from shared.domain.edits import UPDATABLE_FIELDS, TokenChange, narrowed, new_expiry_problem
from shared.domain.errors import Conflict, InvalidInput, NotFound
from shared.domain.history import FieldChange, HistoryPage
from shared.domain.lifecycle import DISABLED, ENABLED, UPDATED
from shared.domain.principals import Principal
from shared.domain.records import LifecycleEvent, TokenRecord, TokenSpec
from shared.domain.restrictions import RESTRICTION_FIELDS
from shared.domain.status import TokenDetails, TokenStatus, no_longer, token_details, token_status
from shared.services.credits import credit_edit, with_live_credits
from shared.services.deps import Deps, history_ttl
from shared.services.events import Provenance, actor_of, token_event
from shared.services.paging import MAX_PAGE_SIZE, cursor_position, next_cursor
from shared.services.tokens import check_no_escalation, require_same_org
from shared.storage.repository import TokenEdit, TokenKey, TokenMissing


@dataclass(frozen=True)
class TokenView:
    """A token as the new endpoints show it: the seed's record and the ``details`` beside it."""

    token: TokenRecord
    details: TokenDetails


@dataclass(frozen=True)
class HistoryRequest:
    """Which page of a token's history: its size and the cursor of the previous page."""

    limit: int
    next_token: str | None = None


def _view(token: TokenRecord, now: datetime) -> TokenView:
    return TokenView(token=token, details=token_details(token, to_iso(now)))


def whoami(deps: Deps, caller: Principal) -> TokenView:
    """The bearer token itself, from what authentication already read (no further read).

    A caller vouched for by a trusted authorizer (no token) is ``NotFound("token", "whoami")``.
    """
    # Authentication hands over the TokenRecord it read; a vouched caller is only what the
    # authorizer's context says, which is not the whole record: no token to show.
    if not isinstance(caller, TokenRecord):
        raise NotFound("token", "whoami")
    return _view(caller, deps.clock())


def get_token(deps: Deps, caller: Principal, key: TokenKey) -> TokenView:
    """One token of the caller's org, one strongly consistent read; another org's or none: 404."""
    require_same_org(caller, key.org_id, "token", key.token_id)
    token = deps.repository.get_token(key.org_id, key.app_id, key.token_id)
    if token is None:
        raise NotFound("token", key.token_id)
    return _view(with_live_credits(deps, token), deps.clock())


def _as_spec(token: TokenRecord) -> TokenSpec:
    """The create request that would have made ``token`` (for the editor's escalation check)."""
    return TokenSpec(
        name=token.name,
        description=token.description,
        token_type=token.token_type,
        permissions=tuple(token.permissions),
        restrictions={name: tuple(token.restricted_to(name)) for name in RESTRICTION_FIELDS},
        rate_limit_rps=token.rate_limit_rps,
        rate_limit_burst=token.rate_limit_burst,
        ip_allowlist=token.ip_allowlist,
    )


def _edit_events(
    token: TokenRecord, changes: tuple[FieldChange, ...], at: datetime, by: Provenance
) -> list[LifecycleEvent]:
    """``App Token Updated`` for the fields an edit changed, then ``Disabled``/``Enabled`` for ``enabled``.

    The outbox event names the changed fields only (``changed_fields``); the values go to the
    history entry alone.
    """
    events = []
    fields = tuple(change for change in changes if change.field != "enabled")
    if fields:
        event = token_event(UPDATED, token, at, by)
        events.append(replace(event, extra={"changed_fields": [c.field for c in fields]}, changes=fields))
    for toggle in (change for change in changes if change.field == "enabled"):
        event = token_event(ENABLED if toggle.new else DISABLED, token, at, by)
        events.append(replace(event, extra={"changed_fields": ["enabled"]}, changes=(toggle,)))
    return events


def update_token(deps: Deps, caller: Principal, key: TokenKey, change: TokenChange) -> TokenView:
    """Narrow a token (or disable/enable it) in one conditional transaction, with its history.

    Widening is ``Forbidden("<field>:<value>")`` (``scopes:write``, ``expires_at:later``, ...);
    the result must also be a token the caller could have created. A revoked or expired token is
    ``InvalidInput(field="token_id", ...)``; a concurrent edit that won first is ``Conflict``.
    A change that changes nothing is answered with the token as it is, with no write.
    """
    require_same_org(caller, key.org_id, "token", key.token_id)
    token = deps.repository.get_token(key.org_id, key.app_id, key.token_id)
    if token is None:
        raise NotFound("token", key.token_id)
    now = deps.clock()
    now_iso = to_iso(now)
    status = token_status(token, now_iso)
    if status in (TokenStatus.REVOKED, TokenStatus.EXPIRED):
        raise no_longer(key.token_id, status, "changed", "token_not_editable")
    # Issue 16: a canary changes its name, description and expiry only (a 422 before any 403).
    problem = edit_problem(UPDATABLE_FIELDS, change.values) if token.canary else None
    if problem is not None:
        raise problem
    token = with_live_credits(deps, token)
    edit = narrowed(token, change, now_iso)
    credits = None
    if "credits" in change.values:
        # Issue 16: the editor pays a top-up out of its own credits; the change joins the others.
        credits = credit_edit(caller, token, change.values["credits"], now)
        changes = edit.changes + ((credits.change,) if credits.change else ())
        edit = replace(edit, token=replace(edit.token, **credits.fields), changes=changes)
    # Nobody edits a token into one they could not have created, a name-only edit included.
    check_no_escalation(caller, _as_spec(edit.token))
    if "expires_at" in change.values:
        problem = new_expiry_problem(change.values["expires_at"], now_iso, caller.expires_at)
        if problem is not None:
            raise problem
    if not edit.changes:
        return _view(token, now)
    after = replace(edit.token, updated_at=now_iso, revision=(token.revision or 0) + 1)
    by = Provenance(actor_of(caller), history_ttl(after.expires_at, now, deps.lifetimes))
    try:
        events = _edit_events(after, edit.changes, now, by)
        credits_read = credits.read if credits is not None else None
        funding = credits.funding if credits is not None else None
        landed = deps.repository.update_token(TokenEdit(token, after, events, credits_read, funding))
    except TokenMissing:
        raise NotFound("token", key.token_id) from None
    if not landed:
        # Decided against the token as read; the client reads again and decides with what won.
        raise Conflict("token", key.token_id)
    return _view(after, now)


def token_history(deps: Deps, caller: Principal, key: TokenKey, page: HistoryRequest) -> HistoryPage:
    """One page of a token's history, newest first, one Query; cursor bound to this token.

    A token with no history (unknown, or of another app of the org) is ``NotFound``, as is
    another org's.
    """
    require_same_org(caller, key.org_id, "token", key.token_id)
    if not 1 <= page.limit <= MAX_PAGE_SIZE:
        raise InvalidInput(
            field="limit",
            msg=f"Input should be between 1 and {MAX_PAGE_SIZE}",
            error_type="limit_out_of_range",
            value=page.limit,
            ctx={"ge": 1, "le": MAX_PAGE_SIZE},
        )
    made_for = {"kind": "history", "org": key.org_id, "app": key.app_id, "token": key.token_id}
    after = cursor_position(deps.hasher, page.next_token, made_for)
    found = deps.repository.token_history(key.token_id, page.limit, after)
    # The entries name their org and app: a token id of another app is not this token.
    foreign = any((entry.org_id, entry.app_id) != (key.org_id, key.app_id) for entry in found.entries)
    if foreign or (not found.entries and after is None):
        raise NotFound("token", key.token_id)
    events = [entry.event for entry in found.entries]
    return HistoryPage(events=events, next_token=next_cursor(deps.hasher, made_for, found.last_key))
