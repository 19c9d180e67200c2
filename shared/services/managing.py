"""The use cases of running tokens day to day (issue 15): who am I, read one, edit it, its history.

CONTRACT (implemented by the issue15-core branch): the signatures and types below are what the
HTTP layer calls; the bodies are filled in there.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.edits import TokenChange
from shared.domain.history import HistoryPage
from shared.domain.principals import Principal
from shared.domain.records import TokenRecord
from shared.domain.status import TokenDetails
from shared.services.deps import Deps
from shared.storage.repository import TokenKey


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


def whoami(deps: Deps, caller: Principal) -> TokenView:
    """The bearer token itself, from what authentication already read (no further read).

    A caller vouched for by a trusted authorizer (no token) is ``NotFound("token", "whoami")``.
    """
    raise NotImplementedError


def get_token(deps: Deps, caller: Principal, key: TokenKey) -> TokenView:
    """One token of the caller's org, one strongly consistent read; another org's or none: 404."""
    raise NotImplementedError


def update_token(deps: Deps, caller: Principal, key: TokenKey, change: TokenChange) -> TokenView:
    """Narrow a token (or disable/enable it) in one conditional transaction, with its history.

    Widening is ``Forbidden("<field>:<value>")`` (``scopes:write``, ``expires_at:later``, ...);
    the result must also be a token the caller could have created. A revoked or expired token is
    ``InvalidInput(field="token_id", ...)``; a concurrent edit that won first is ``Conflict``.
    """
    raise NotImplementedError


def token_history(deps: Deps, caller: Principal, key: TokenKey, page: HistoryRequest) -> HistoryPage:
    """One page of a token's history, newest first, one Query; cursor bound to this token."""
    raise NotImplementedError
