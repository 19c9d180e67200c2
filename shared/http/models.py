"""The pydantic models of the API: requests, responses and error bodies, named by role."""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.domain.lifecycle import SERVICE_REVOKE_REASONS
from shared.domain.permissions import TOKEN_LIST_FIELDS

# A field that holds a plaintext secret stays out of the model's repr: libraries print models
# in their debug logs (Powertools' event handler prints every route's arguments when
# POWERTOOLS_DEBUG is on), and a secret must never reach a log.
HIDDEN_FROM_REPR = Field(repr=False)

MAX_LIST_ITEMS = 100
# All list items of one token together (scopes, permissions, the three id lists, endpoint paths):
# with it, the largest token is about 50 KB of JSON, so that no answer but a list page passes
# 64 KiB. A hundred items of every list at their longest would be about 90 KB.
MAX_TOKEN_LIST_CHARACTERS = 32_768
MAX_RATE_LIMIT_RPS = 100_000
MAX_RATE_LIMIT_BURST = 1_000_000

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# Any id in a path of this API (org, app, token): the token id's pattern, and the widest of them.
PATH_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Free text may hold anything printable, line breaks and tabs included, but no other control characters.
_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"

TokenName = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=128, pattern=_LINE_PATTERN
    ),
]
Description = Annotated[str, StringConstraints(strict=True, max_length=1024, pattern=_TEXT_PATTERN)]


def _not_reserved(reason: str) -> str:
    # Reasons the service writes itself mean something (refresh_token_reuse raises an alarm
    # event): a user claiming one, in any case, would make them lie.
    if reason.lower() in SERVICE_REVOKE_REASONS:
        raise PydanticCustomError(
            "reason_reserved",
            "Reason is reserved for revocations the service makes itself: {reserved}",
            {"reserved": ", ".join(sorted(SERVICE_REVOKE_REASONS))},
        )
    return reason


Reason = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, max_length=512, pattern=_LINE_PATTERN),
    AfterValidator(_not_reserved),
    Field(json_schema_extra={"not": {"enum": sorted(SERVICE_REVOKE_REASONS)}}),
]
Scope = Annotated[
    str, StringConstraints(strict=True, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9:._/*-]{0,127}$")
]
Permission = Annotated[
    str,
    StringConstraints(
        strict=True, max_length=129, pattern=r"^(\*|[A-Za-z0-9_.-]{1,64}:(\*|[A-Za-z0-9_.-]{1,64}))$"
    ),
]
ResourceId = Annotated[
    str, StringConstraints(strict=True, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
]
# Characters of a literal segment (RFC 3986's unreserved and sub-delims, ':' and '@'; no '%', so
# no escapes). A literal segment is not '.' or '..' (spelled without lookahead, which JSON
# Schema tools handle unevenly): it starts with another character, or with '.' and another
# character, or is '..' and more.
_SEGMENT_CHAR = r"[A-Za-z0-9._~:@!$&'()+,;=-]"
_NON_DOT = r"[A-Za-z0-9_~:@!$&'()+,;=-]"
_LITERAL_SEGMENT = rf"{_NON_DOT}{_SEGMENT_CHAR}*|\.{_NON_DOT}{_SEGMENT_CHAR}*|\.\.{_SEGMENT_CHAR}+"
# The root '/', or literal and {param} segments, none empty, and an optional trailing /*
# (see docs/decisions.md).
ENDPOINT_PATH_PATTERN = rf"^(/|(/({_LITERAL_SEGMENT}|\{{[A-Za-z_][A-Za-z0-9_]*\}}))*(/\*)?)$"
EndpointPath = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=256, pattern=ENDPOINT_PATH_PATTERN)
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


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("list_unique", "List items must be unique")
    return values


# uniqueItems tells the OpenAPI document what _unique enforces, so that clients (and the fuzzer)
# know a list with a repeated item is invalid before they send it.
_AT_MOST_100 = Field(max_length=MAX_LIST_ITEMS, json_schema_extra={"uniqueItems": True})
Scopes = Annotated[list[Scope], _AT_MOST_100, AfterValidator(_unique)]
Permissions = Annotated[list[Permission], _AT_MOST_100, AfterValidator(_unique)]
ResourceIds = Annotated[list[ResourceId], _AT_MOST_100, AfterValidator(_unique)]
EndpointPaths = Annotated[list[EndpointPath], _AT_MOST_100, AfterValidator(_unique)]


def _integral(value: Any) -> Any:
    # JSON Schema counts 445.0 as an integer, and the document says "integer": accept a float
    # with no fractional part. Strings and booleans stay refused (strict int after this).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A limit of 0 would refuse everything: a token that may make no request is a revoked one.
RateLimitRps = Annotated[int, Field(strict=True, ge=1, le=MAX_RATE_LIMIT_RPS), BeforeValidator(_integral)]
RateLimitBurst = Annotated[int, Field(strict=True, ge=1, le=MAX_RATE_LIMIT_BURST), BeforeValidator(_integral)]


def _representable(moment: datetime) -> datetime:
    # 9999-12-31T23:59:59-01:00 is a valid datetime that has no UTC spelling (year 10000).
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "Input should be a moment between the years 1 and 9999 in UTC"
        ) from None
    return moment


# ISO 8601 allows any number of fraction digits; pydantic keeps six. The bound keeps the body's
# largest valid size finite (see RequestBody).
DATETIME_MAX_CHARS = 64


def _short_datetime(value: Any) -> Any:
    if isinstance(value, str) and len(value) > DATETIME_MAX_CHARS:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": DATETIME_MAX_CHARS},
        )
    return value


ExpiresAt = Annotated[
    AwareDatetime,
    BeforeValidator(_short_datetime),
    AfterValidator(_representable),
    Field(json_schema_extra={"maxLength": DATETIME_MAX_CHARS}),
]


class TokenCreate(RequestBody):
    """The body of Create App Token: ``name`` and, optionally, every other writable field."""

    name: TokenName
    description: Description | None = None
    token_type: Literal["pat"] = "pat"
    scopes: Scopes = []
    permissions: Permissions = []
    workspace_ids: ResourceIds = []
    namespace_ids: ResourceIds = []
    environment_ids: ResourceIds = []
    endpoint_paths: EndpointPaths = []
    rate_limit_rps: RateLimitRps | None = None
    rate_limit_burst: RateLimitBurst | None = None
    expires_at: ExpiresAt | None = None
    MAX_BODY_BYTES = 1_160_119

    @field_validator("rate_limit_burst")
    @classmethod
    def _burst_needs_a_rate(cls, burst: int | None, info: ValidationInfo) -> int | None:
        # The bucket holds the burst and refills at the rate: a burst without a rate would never refill.
        if burst is not None and info.data.get("rate_limit_rps") is None:
            raise PydanticCustomError("burst_without_rate", "rate_limit_burst needs rate_limit_rps")
        return burst

    @model_validator(mode="after")
    def _lists_within_budget(self) -> "TokenCreate":
        total = sum(len(item) for name in TOKEN_LIST_FIELDS for item in getattr(self, name))
        if total > MAX_TOKEN_LIST_CHARACTERS:
            raise PydanticCustomError(
                "too_long",
                "The token's list items should have at most {max_length} characters together, not {actual}",
                {"max_length": MAX_TOKEN_LIST_CHARACTERS, "actual": total},
            )
        return self


def _true_or_false(value: Any) -> Any:
    # pydantic would also take "1", "yes", "on" or "t"; the contract says exactly true or false.
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise PydanticCustomError("bool_parsing", "Input should be 'true' or 'false'")
        return value == "true"
    return value


QueryFlag = Annotated[bool, BeforeValidator(_true_or_false)]


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


# A request path: no whitespace nor control characters, and no '?' or '#' (a query or a fragment is
# not part of the path the token's endpoint_paths are checked against). Spelled out rather than with \s, which
# means one set of characters in Python (U+0085 and U+001C-U+001F included) and another in the
# ECMAScript regexes that JSON Schema validators use (U+FEFF included): the document must refuse
# exactly what the service refuses.
_REQUEST_PATH = r"^/[^?#\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$"


class TokenVerify(RequestBody):
    """The body of the verify endpoint: the token and, optionally, what its bearer wants to do."""

    MAX_BODY_BYTES = 257_380

    token: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=512), HIDDEN_FROM_REPR]
    method: Annotated[str, StringConstraints(strict=True, max_length=16, pattern=r"^[A-Z]{1,16}$")] | None = (
        None
    )
    path: Annotated[str, StringConstraints(strict=True, max_length=2048, pattern=_REQUEST_PATH)] | None = None
    scopes: Scopes = []
    permission: Permission | None = None
    workspace_id: ResourceId | None = None
    namespace_id: ResourceId | None = None
    environment_id: ResourceId | None = None


# Response timestamps: ISO 8601 in UTC with microseconds and a Z, so that a generated client
# gets a datetime and not a string.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class RateLimitPublic(ApiModel):
    """The token's rate-limit bucket after the request."""

    limit: int
    remaining: int
    reset: Timestamp


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


class TokenCreated(ApiModel):
    """Create App Token's 201 body: the only response that ever carries the plaintext secrets."""

    token: AppTokenPublic
    plaintext_token: Annotated[str, HIDDEN_FROM_REPR]
    refresh_token_plaintext: Annotated[str, HIDDEN_FROM_REPR]


class TokenVerification(ApiModel):
    """The verify endpoint's 200: a verdict; token metadata only when the token is valid."""

    valid: bool
    code: Literal[
        "VALID",
        "MALFORMED",
        "NOT_FOUND",
        "EXPIRED",
        "REVOKED",
        "FORBIDDEN_PATH",
        "INSUFFICIENT_SCOPE",
        "FORBIDDEN_RESOURCE",
        "RATE_LIMITED",
    ]
    token: AppTokenPublic | None
    rate_limit: RateLimitPublic | None


class TokensPublic(ApiModel):
    """List App Tokens' 200 body: one page, newest first, and the cursor of the next one."""

    tokens: list[AppTokenPublic]
    next_token: str | None


class ErrorBody(ApiModel):
    """The seed's error shape for 401, 403, 404, 413, 500 and 503."""

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
