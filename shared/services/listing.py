"""The list use case: one page of an app's tokens, with a signed cursor for the next."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.clock import to_iso
from shared.domain.errors import NotFound
from shared.domain.principals import Principal
from shared.domain.records import StatusFilter, TokenRecord
from shared.services.deps import Deps
from shared.services.paging import cursor_position, next_cursor
from shared.services.tokens import require_same_org
from shared.storage.repository import ListQuery


@dataclass(frozen=True)
class PageRequest:
    """Which page of a listing: its size, the cursor of the previous page, and a status filter."""

    limit: int
    next_token: str | None = None
    status: StatusFilter | None = None


@dataclass(frozen=True)
class TokenListing:
    """One page of tokens and the cursor of the next."""

    tokens: list[TokenRecord]
    next_token: str | None


def list_tokens(deps: Deps, caller: Principal, org_id: str, app_id: str, page: PageRequest) -> TokenListing:
    """One page of an app's tokens, newest first, with a signed cursor bound to this org, app and filter."""
    require_same_org(caller, org_id, "app", app_id)
    made_for = {"org": org_id, "app": app_id, "status": page.status or ""}
    after = cursor_position(deps.hasher, page.next_token, made_for)
    query = ListQuery(limit=page.limit, now_iso=to_iso(deps.clock()), after=after, status=page.status)
    found = deps.repository.list_tokens(org_id, app_id, query)
    if not found.app_found:
        raise NotFound("app", app_id)
    return TokenListing(tokens=found.tokens, next_token=next_cursor(deps.hasher, made_for, found.last_key))
