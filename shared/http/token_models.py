"""The models of the endpoints that read, edit and trace one token (issue 15): whoami, get, patch, history.

The seed's AppToken inside them is ``AppTokenPublic`` unchanged (``public_token``); what the
service knows beyond its 22 fields is in ``details`` (``TokenDetailsPublic``), only here.
Apart from ``shared.http.models`` because that module holds the seed's models and is near its size.
"""

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shared.domain.edits import UPDATABLE_FIELDS, TokenChange
from shared.domain.history import HistoryPage, HistoryType
from shared.domain.restrictions import TOKEN_LIST_FIELDS
from shared.domain.status import TokenDetails, TokenStatus
from shared.http.credit_models import CreditsBody, CreditsPublic, credits_public
from shared.http.fields import (
    Description,
    ExpiresAt,
    GraceSeconds,
    IpAllowlist,
    RateLimitBurst,
    RateLimitRps,
    Timestamp,
    TokenName,
    check_list_budget,
)
from shared.http.models import ApiModel, AppTokenPublic, RequestBody, public_token, token_lists
from shared.services.managing import TokenView

__all__ = [
    "ActorPublic",
    "FieldChangePublic",
    "HistoryEventPublic",
    "TokenDetailsPublic",
    "TokenHistoryPublic",
    "TokenRead",
    "TokenRotate",
    "TokenUpdate",
    "WhoAmI",
    "history_public",
    "token_read",
    "who_am_i",
]

# A field left out of a PATCH body is left alone: its default is never used as a value (the route
# reads only the fields the body set), and the document does not show it (_document_the_body).
_UNSET: Any = None
# JSON true or false only: a PATCH that means "disable" must not be guessed from "no" or 0.
Enabled = Annotated[bool, Field(strict=True)]


def _document_the_body(schema: dict[str, Any]) -> None:
    # An empty PATCH changes nothing and is refused (422): the document says so, so that a
    # client (and the fuzzer) knows {} is invalid before sending it. No field has a default:
    # one left out is not changed, and null is not a value of any but description.
    schema["minProperties"] = 1
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class TokenUpdate(RequestBody):
    """The body of Update App Token: any of the updatable fields, at least one, each at most once.

    The field types and limits are the create body's. ``null`` is refused for every field but
    ``description`` (``null`` clears it): a token always has a name, an expiry it had, lists and
    grants. Whether a change only narrows the token is the use case's rule, not the model's.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=_document_the_body)
    MAX_BODY_BYTES = 1_219_887

    name: TokenName = _UNSET
    description: Description | None = _UNSET
    enabled: Enabled = _UNSET
    expires_at: ExpiresAt = _UNSET
    # The grants and every restriction of the domain's one tuple, with the create body's types.
    __annotations__.update(token_lists())
    vars().update(dict.fromkeys(token_lists(), _UNSET))
    if TYPE_CHECKING:
        # A type checker cannot follow fields added from the domain's tuple: they are lists of str.
        def __getattr__(self, name: str) -> list[str]: ...

    rate_limit_rps: RateLimitRps = _UNSET
    rate_limit_burst: RateLimitBurst = _UNSET
    # Issue 16: set or top up the credits; null removes the limit (by an unlimited caller only).
    credits: CreditsBody | None = _UNSET
    ip_allowlist: IpAllowlist = _UNSET

    @model_validator(mode="after")
    def _changes_something_within_budget(self) -> "TokenUpdate":
        if not self.model_fields_set:
            raise PydanticCustomError(
                "update_empty",
                "Give at least one field to change: {fields}",
                {"fields": ", ".join(UPDATABLE_FIELDS)},
            )
        check_list_budget(getattr(self, name) for name in TOKEN_LIST_FIELDS if name in self.model_fields_set)
        return self

    def change(self) -> TokenChange:
        """The fields the body set, as the domain takes them (lists as tuples), and no other."""
        given = self.model_dump(exclude_unset=True)
        return TokenChange(values={k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})


class TokenRotate(RequestBody):
    """The optional body of Rotate App Token (issue 16): how long the current access secret lives on."""

    MAX_BODY_BYTES = 65_865

    expire_current_in_seconds: GraceSeconds = 0


class TokenDetailsPublic(ApiModel):
    """What the service knows of a token beyond the seed's AppToken; only in the new endpoints."""

    status: TokenStatus
    enabled: bool
    created_by_token_id: str | None
    rotated_at: Timestamp | None
    updated_at: Timestamp | None
    # Issue 16: when the access secret the last rotation replaced stops working; null when no grace runs.
    previous_secret_expires_at: Timestamp | None
    # Issue 16: the live credits (any due refill applied) and the next refill; null when unlimited.
    credits: CreditsPublic | None
    # Issue 16: a canary (decoy) token, and when it was last used (tripped); null: never.
    canary: bool
    last_tripped_at: Timestamp | None
    # Issue 16: the networks the token may be used from, canonical; empty: any address.
    ip_allowlist: list[str]


class TokenRead(ApiModel):
    """Get App Token's and Update App Token's 200 body: the seed's token and its details."""

    token: AppTokenPublic
    details: TokenDetailsPublic


class WhoAmI(ApiModel):
    """Who Am I's 200 body: the bearer token, where it belongs, and its details."""

    token: AppTokenPublic
    org_id: str
    app_id: str
    details: TokenDetailsPublic


class ActorPublic(ApiModel):
    """Who caused an event: the calling token and its user (either may be null for a vouched caller)."""

    token_id: str | None
    user_id: str | None


class FieldChangePublic(ApiModel):
    """One field an update changed: its value before and after, as the token shows it."""

    field: str
    old: Any
    new: Any


class HistoryEventPublic(ApiModel):
    """One entry of a token's history. ``changes`` is always there: empty for an event that changed
    no field (created, rotated, revoked, expired, ...)."""

    type: HistoryType
    occurred_at: Timestamp
    actor: ActorPublic | None
    changes: list[FieldChangePublic]


class TokenHistoryPublic(ApiModel):
    """Get App Token History's 200 body: one page, newest first, and the cursor of the next one."""

    events: list[HistoryEventPublic]
    next_token: str | None


def _details(details: TokenDetails) -> TokenDetailsPublic:
    return TokenDetailsPublic.model_validate({**vars(details), "credits": credits_public(details.credits)})


def token_read(view: TokenView) -> TokenRead:
    """The get and patch answers: the seed's 22 fields (``public_token``) and the details beside them."""
    return TokenRead(token=public_token(view.token), details=_details(view.details))


def who_am_i(view: TokenView) -> WhoAmI:
    """The whoami answer: the token, its org and app, its details."""
    return WhoAmI(
        token=public_token(view.token),
        org_id=view.token.org_id,
        app_id=view.token.app_id,
        details=_details(view.details),
    )


def history_public(page: HistoryPage) -> TokenHistoryPublic:
    """One page of history as the API shows it."""
    return TokenHistoryPublic(
        events=[
            HistoryEventPublic(
                type=event.type,
                occurred_at=event.occurred_at,
                actor=None if event.actor is None else ActorPublic(**vars(event.actor)),
                changes=[FieldChangePublic(**vars(change)) for change in event.changes],
            )
            for event in page.events
        ],
        next_token=page.next_token,
    )
