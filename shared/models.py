"""The pydantic models of the API: requests, responses and error bodies, named by role."""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

# A field that holds a plaintext secret stays out of the model's repr: libraries print models
# in their debug logs (Powertools' event handler prints every route's arguments when
# POWERTOOLS_DEBUG is on), and a secret must never reach a log.
HIDDEN_FROM_REPR = Field(repr=False)

MAX_LIST_ITEMS = 100
MAX_RATE_LIMIT_RPS = 100_000
MAX_RATE_LIMIT_BURST = 1_000_000

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# Any id in a path of this API (org, app, token): the token id's pattern, and the widest of them.
PATH_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Free text may hold anything printable, line breaks and tabs included, but no other control characters.
_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
REASON_PATTERN = _LINE_PATTERN

TokenName = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=128, pattern=_LINE_PATTERN
    ),
]
Description = Annotated[str, StringConstraints(strict=True, max_length=1024, pattern=_TEXT_PATTERN)]
Reason = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, max_length=512, pattern=_LINE_PATTERN)
]
Scope = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9:._/*-]{0,127}$")]
Permission = Annotated[
    str, StringConstraints(strict=True, pattern=r"^(\*|[A-Za-z0-9_.-]{1,64}:(\*|[A-Za-z0-9_.-]{1,64}))$")
]
ResourceId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
# A literal segment, a {param} segment, and an optional trailing /* (see docs/decisions.md).
EndpointPath = Annotated[
    str,
    StringConstraints(
        strict=True,
        min_length=1,
        max_length=256,
        pattern=r"^(/([A-Za-z0-9._~:@!$&'()+,;=-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))*(/\*|/)?$",
    ),
]


class ApiModel(BaseModel):
    """Base of every model here. Schemas are built on first use, not at import: each function
    validates only its own few models, and building all of them would lengthen every cold start.
    """

    model_config = ConfigDict(defer_build=True)


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


RateLimitRps = Annotated[int, Field(strict=True, ge=0, le=MAX_RATE_LIMIT_RPS), BeforeValidator(_integral)]
RateLimitBurst = Annotated[int, Field(strict=True, ge=0, le=MAX_RATE_LIMIT_BURST), BeforeValidator(_integral)]


class TokenCreate(ApiModel):
    """The body of Create App Token: ``name`` and, optionally, every other writable field."""

    model_config = ConfigDict(extra="forbid")

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
    expires_at: AwareDatetime | None = None


class TokenRevoke(ApiModel):
    """The optional body of Revoke App Token."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class TokenRefresh(ApiModel):
    """The body of the refresh route: the refresh token is the credential."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[
        str, StringConstraints(strict=True, min_length=1, max_length=256), HIDDEN_FROM_REPR
    ]


# A request path: no whitespace nor control characters. Spelled out rather than with \s, which
# means one set of characters in Python (U+0085 and U+001C-U+001F included) and another in the
# ECMAScript regexes that JSON Schema validators use (U+FEFF included): the document must refuse
# exactly what the service refuses.
_REQUEST_PATH = r"^/[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$"


class TokenVerify(ApiModel):
    """The body of the verify endpoint: the token and, optionally, what its bearer wants to do."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=512), HIDDEN_FROM_REPR]
    method: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{1,16}$")] | None = None
    path: Annotated[str, StringConstraints(strict=True, max_length=2048, pattern=_REQUEST_PATH)] | None = None
    scopes: Scopes = []
    permission: Permission | None = None
    workspace_id: ResourceId | None = None
    namespace_id: ResourceId | None = None
    environment_id: ResourceId | None = None


class RateLimitPublic(ApiModel):
    """The token's rate-limit bucket after the request."""

    limit: int
    remaining: int
    reset: str


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
    issued_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
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
    """The seed's error shape for 401, 403, 404 and 500."""

    error: str
    message: str
    details: dict[str, Any]
    timestamp: str
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
