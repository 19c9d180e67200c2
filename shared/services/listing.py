"""The list use case: one page of an app's tokens, with a signed cursor for the next."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.clock import to_iso
from shared.domain.errors import InvalidInput, NotFound
from shared.domain.principals import Principal
from shared.domain.records import StatusFilter, TokenRecord
from shared.services.deps import Deps
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
    status, next_token = page.status, page.next_token
    after = None
    if next_token is not None:
        payload = deps.hasher.open_cursor(next_token)
        made_for = {"org": org_id, "app": app_id, "status": status or ""}
        if payload is None or any(payload.get(key) != value for key, value in made_for.items()):
            raise InvalidInput(
                field="next_token",
                msg="Invalid pagination cursor",
                error_type="cursor_invalid",
                value=next_token,
                ctx={},
            )
        after = payload["after"]
    query = ListQuery(limit=page.limit, now_iso=to_iso(deps.clock()), after=after, status=status)
    found = deps.repository.list_tokens(org_id, app_id, query)
    if not found.app_found:
        raise NotFound("app", app_id)
    cursor = None
    if found.last_key is not None:
        cursor = deps.hasher.sign_cursor(
            {"org": org_id, "app": app_id, "status": status or "", "after": found.last_key}
        )
    return TokenListing(tokens=found.tokens, next_token=cursor)
