"""The restrictions a token may carry: one tuple that validation, escalation checks, storage,
verification, the authorizer and the API's models all read.

A restriction is a list on the token (``list_field``): empty means unrestricted, a
non-empty one means only these. A request names what it asks for under
``request_field`` (the verify body, the verification core's request context), and
the authorizer reads that value from a path parameter of that name or, for the ids,
from ``header``. How a request's value is judged against the list is its ``match``.

Adding a restriction is an entry in ``RESTRICTIONS`` (and, when it matches in a new
way, its rule in :meth:`Restriction.allows` and :meth:`Restriction.breach`), a field of
``shared.domain.records.TokenRecord`` and one of the seed's ``AppToken`` (the response
model keeps the seed's explicit fields; a test checks it against this tuple).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.domain.permissions import WILDCARD, path_matches, pattern_within


class Match(Enum):
    """How a request's value is judged against a token's list, in the order verification checks them.

    Where the request goes comes first, then what it claims (and the permission it needs,
    which is not a restriction), then what it acts on: the first refusal is the verdict.
    """

    PATH = "path"  # the request's path must match one of the token's endpoint patterns
    ALL_OF = "all_of"  # every value the request needs must be among the token's
    MEMBER = "member"  # the one id the request acts on, if it names one, must be among the token's


@dataclass(frozen=True)
class Restriction:
    """One restriction: its list on the token, its value in a request, and how the two are compared."""

    list_field: str
    request_field: str
    match: Match
    # Where the authorizer reads the request's value when no path parameter of that name has it.
    header: str | None = None

    def allows(self, allowed: Sequence[str], asked: Any) -> bool:
        """Whether a token whose list is ``allowed`` may make a request asking ``asked``.

        ``asked`` is ``None`` when the request does not name a value for this restriction.
        """
        if not allowed:
            return True
        if self.match is Match.PATH:
            return asked is not None and any(path_matches(pattern, asked) for pattern in allowed)
        if self.match is Match.ALL_OF:
            return all(value in allowed for value in asked or ())
        return asked is None or asked in allowed

    def breach(self, creator: Sequence[str], requested: Sequence[str]) -> str | None:
        """The first ``<field>:<value>`` (or ``<field>:*``) that would widen the creator's restriction.

        A creator with an empty list may set anything; a restricted creator may only
        set a non-empty subset (for endpoint paths: patterns its own patterns cover).
        """
        if not creator:
            return None
        if not requested:
            return f"{self.list_field}:{WILDCARD}"
        for value in requested:
            if self.match is Match.PATH:
                covered = any(pattern_within(value, own) for own in creator)
            else:
                covered = value in creator
            if not covered:
                return f"{self.list_field}:{value}"
        return None


# In the seed's order of a token's fields (AppToken).
RESTRICTIONS = (
    Restriction("scopes", "scopes", Match.ALL_OF),
    Restriction("workspace_ids", "workspace_id", Match.MEMBER, header="x-workspace-id"),
    Restriction("namespace_ids", "namespace_id", Match.MEMBER, header="x-namespace-id"),
    Restriction("environment_ids", "environment_id", Match.MEMBER, header="x-environment-id"),
    Restriction("endpoint_paths", "path", Match.PATH),
)
RESTRICTION_FIELDS = tuple(restriction.list_field for restriction in RESTRICTIONS)
REQUEST_FIELDS = tuple(restriction.request_field for restriction in RESTRICTIONS)
# Every list a token has: its grants and its restrictions.
TOKEN_LIST_FIELDS = ("permissions", *RESTRICTION_FIELDS)
_BY_LIST_FIELD = {restriction.list_field: restriction for restriction in RESTRICTIONS}


def restriction(list_field: str) -> Restriction:
    """The restriction whose list on a token is ``list_field`` (``KeyError`` for any other name)."""
    return _BY_LIST_FIELD[list_field]


def restriction_breach(field: str, creator: Sequence[str], requested: Sequence[str]) -> str | None:
    """:meth:`Restriction.breach` of the restriction whose list is ``field``."""
    return restriction(field).breach(creator, requested)
