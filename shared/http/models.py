"""The pydantic models of the API: requests, responses and error bodies, named by role.

Their field types are ``shared.http.fields``.
"""

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.domain.records import TokenRecord
from shared.domain.restrictions import RESTRICTIONS, TOKEN_LIST_FIELDS, Match
from shared.http.credit_models import Cost, CreditsBody
from shared.http.fields import (
    HIDDEN_FROM_REPR,
    ID_PATTERN,
    MAX_TOKEN_LIST_CHARACTERS,
    PATH_ID_PATTERN,
    Description,
    EndpointPaths,
    ExpiresAt,
    IpAddress,
    IpAllowlist,
    Permission,
    Permissions,
    QueryFlag,
    RateLimitBurst,
    RateLimitRps,
    Reason,
    RequestPath,
    ResourceId,
    ResourceIds,
    Scopes,
    Timestamp,
    TokenName,
    UserAgent,
    check_list_budget,
)

if TYPE_CHECKING:
    from shared.services.tokens import IssuedToken

# Also re-exported from shared.http.fields: what the routes and tests import from here.
__all__ = [
    "ID_PATTERN",
    "MAX_TOKEN_LIST_CHARACTERS",
    "PATH_ID_PATTERN",
    "ApiModel",
    "AppTokenPublic",
    "ErrorBody",
    "QueryFlag",
    "RateLimitPublic",
    "Reason",
    "RequestBody",
    "TokenCreate",
    "TokenCreated",
    "TokenRefresh",
    "TokenRevoke",
    "TokenVerification",
    "TokenVerify",
    "TokensPublic",
    "ValidationErrorBody",
    "ValidationErrorItem",
    "public_token",
]


class ApiModel(BaseModel):
    """Base of every model here. Schemas are built on first use, not at import: each function
    validates only its own few models, and building all of them would lengthen every cold start.
    """

    model_config = ConfigDict(defer_build=True)


class RequestBody(ApiModel):
    """Base of every request body: unknown fields refused, and a size bound checked before parsing.

    ``MAX_BODY_BYTES`` is the largest valid body of the model, derived from its own limits
    (``tests/unit/test_models.py`` derives it and keeps these numbers in step; the rule is
    in docs/decisions.md). A longer body cannot be valid, so it is refused unread (413).
    """

    model_config = ConfigDict(defer_build=True, extra="forbid")
    MAX_BODY_BYTES: ClassVar[int]


class AppTokenPublic(ApiModel):
    """An AppToken as the API shows it: every field present, null where unset, no secret."""

    token_id: str
    token_type: Literal["pat"]
    owner_type: Literal["user"]
    owner_id: str
    org_id: str
    name: str
    description: str | None
    prefix: str
    scopes: list[str]
    permissions: list[str]
    workspace_ids: list[str]
    namespace_ids: list[str]
    environment_ids: list[str]
    endpoint_paths: list[str]
    rate_limit_rps: int | None
    rate_limit_burst: int | None
    created_by_user_id: str
    issued_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    revoked_reason: str | None


def public_token(record: TokenRecord) -> AppTokenPublic:
    """The API's view of a token: exactly the seed's fields (``TokenRecord.public_fields``)."""
    return AppTokenPublic.model_validate(record.public_fields())


# The pydantic type of each restriction's list on a token, and of its value in a verify request,
# by how the restriction matches (shared.domain.restrictions).
_LIST_TYPES: dict[Match, Any] = {Match.ALL_OF: Scopes, Match.MEMBER: ResourceIds, Match.PATH: EndpointPaths}


def token_lists() -> dict[str, Any]:
    """The create body's lists, in the seed's order (AppToken's): the grants and every restriction."""
    types = {"permissions": Permissions, **{r.list_field: _LIST_TYPES[r.match] for r in RESTRICTIONS}}
    return {name: types[name] for name in AppTokenPublic.model_fields if name in types}


class TokenCreate(RequestBody):
    """The body of Create App Token: ``name`` and, optionally, every other writable field."""

    name: TokenName
    description: Description | None = None
    token_type: Literal["pat"] = "pat"
    # The grants and every restriction of the domain's one tuple, each an empty list by default.
    __annotations__.update(token_lists())
    vars().update({name: [] for name in token_lists()})
    if TYPE_CHECKING:
        # A type checker cannot follow fields added from the domain's tuple: they are lists of str.
        def __getattr__(self, name: str) -> list[str]: ...

    rate_limit_rps: RateLimitRps | None = None
    rate_limit_burst: RateLimitBurst | None = None
    expires_at: ExpiresAt | None = None
    # Issue 16: usage credits; absent or null: unlimited.
    credits: CreditsBody | None = None
    # Issue 16: a decoy that never authenticates and trips an alarm when used (JSON true/false only).
    canary: Annotated[bool, Field(strict=True)] = False
    # Issue 16: where the token may be used from; not a field of the seed's AppToken (details only).
    ip_allowlist: IpAllowlist = []
    MAX_BODY_BYTES = 1_220_037

    @field_validator("rate_limit_burst")
    @classmethod
    def _burst_needs_a_rate(cls, burst: int | None, info: ValidationInfo) -> int | None:
        # The bucket holds the burst and refills at the rate: a burst without a rate would never refill.
        if burst is not None and info.data.get("rate_limit_rps") is None:
            raise PydanticCustomError("burst_without_rate", "rate_limit_burst needs rate_limit_rps")
        return burst

    @model_validator(mode="after")
    def _lists_within_budget(self) -> "TokenCreate":
        check_list_budget(getattr(self, name) for name in TOKEN_LIST_FIELDS)
        return self


class TokenRevoke(RequestBody):
    """The optional body of Revoke App Token."""

    MAX_BODY_BYTES = 71_759

    reason: Reason | None = None


class TokenRefresh(RequestBody):
    """The body of the refresh route: the refresh token is the credential."""

    MAX_BODY_BYTES = 68_771

    refresh_token: Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=256), HIDDEN_FROM_REPR
    ]


_ASKED_TYPES: dict[Match, tuple[Any, Any]] = {
    Match.PATH: (RequestPath | None, None),
    Match.ALL_OF: (Scopes, []),
    Match.MEMBER: (ResourceId | None, None),
}


def _asked(*matches: Match) -> dict[str, Any]:
    """The verify body's field of each restriction that matches so, in ``matches`` order."""
    return {r.request_field: _ASKED_TYPES[m][0] for m in matches for r in RESTRICTIONS if r.match is m}


_ASKED_DEFAULTS = {r.request_field: _ASKED_TYPES[r.match][1] for r in RESTRICTIONS}


class TokenVerify(RequestBody):
    """The body of the verify endpoint: the token and, optionally, what its bearer wants to do."""

    MAX_BODY_BYTES = 264_380

    token: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=512), HIDDEN_FROM_REPR]
    method: Annotated[str, StringConstraints(strict=True, max_length=16, pattern=r"^[A-Z]{1,16}$")] | None = (
        None
    )
    # What the request goes to and claims, the permission it needs, then what it acts on: the
    # restrictions' request fields in the order verification checks them (Match's order).
    __annotations__.update(_asked(Match.PATH, Match.ALL_OF))
    vars().update(_ASKED_DEFAULTS)
    permission: Permission | None = None
    __annotations__.update(_asked(Match.MEMBER))
    vars().update(_ASKED_DEFAULTS)
    # Issue 16: the credits a valid request spends (0 checks the token without spending).
    cost: Cost = 1
    # Where the request being verified comes from, as the calling service saw it (issue 16).
    source_ip: IpAddress | None = None
    user_agent: UserAgent | None = None


class RateLimitPublic(ApiModel):
    """The token's rate-limit bucket after the request."""

    limit: int
    remaining: int
    reset: Timestamp


class TokenCreated(ApiModel):
    """Create App Token's 201 body: the only response that ever carries the plaintext secrets."""

    token: AppTokenPublic
    plaintext_token: Annotated[str, HIDDEN_FROM_REPR]
    refresh_token_plaintext: Annotated[str, HIDDEN_FROM_REPR]

    @classmethod
    def of(cls, issued: "IssuedToken") -> "TokenCreated":
        """The answer handing out a just-minted token's secrets (create, refresh, rotate)."""
        return cls(
            token=public_token(issued.token),
            plaintext_token=issued.plaintext_token,
            refresh_token_plaintext=issued.refresh_token_plaintext,
        )


class TokenVerification(ApiModel):
    """The verify endpoint's 200: a verdict; token metadata only when the token is valid."""

    valid: bool
    code: Literal[
        "VALID",
        "MALFORMED",
        "NOT_FOUND",
        "EXPIRED",
        "REVOKED",
        "DISABLED",
        "FORBIDDEN_PATH",
        "INSUFFICIENT_SCOPE",
        "FORBIDDEN_RESOURCE",
        "RATE_LIMITED",
        "USAGE_EXHAUSTED",
        "FORBIDDEN_IP",
    ]
    token: AppTokenPublic | None
    rate_limit: RateLimitPublic | None
    # Issue 16: the token's credits after the request; null when unlimited or not ours to tell.
    credits_remaining: int | None


class TokensPublic(ApiModel):
    """List App Tokens' 200 body: one page, newest first, and the cursor of the next one."""

    tokens: list[AppTokenPublic]
    next_token: str | None


class ErrorBody(ApiModel):
    """The seed's error shape for 401, 403, 404, 409, 413, 500 and 503."""

    error: str
    message: str
    details: dict[str, Any]
    timestamp: Annotated[
        str,
        Field(
            pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$",
            description="When the error happened, in UTC, as the seed writes it: without a zone designator.",
        ),
    ]
    status_code: int


class ValidationErrorItem(ApiModel):
    """One problem with the request, FastAPI style."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any
    ctx: dict[str, Any]


class ValidationErrorBody(ApiModel):
    """The seed's 422 shape."""

    detail: list[ValidationErrorItem]
