"""The API's field types: the constraints of every id, name, list, limit and time a request holds.

The models (``shared.http.models``) are built from these; the OpenAPI document shows them.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared.domain.lifecycle import SERVICE_REVOKE_REASONS
from shared.domain.networks import canonical_network, masked_network
from shared.services.rotation import MAX_GRACE_SECONDS

# A field that holds a plaintext secret stays out of the model's repr: libraries print models
# in their debug logs (Powertools' event handler prints every route's arguments when
# POWERTOOLS_DEBUG is on), and a secret must never reach a log.
HIDDEN_FROM_REPR = Field(repr=False)

MAX_LIST_ITEMS = 100
# All list items of one token together (scopes, permissions, the three id lists, endpoint paths):
# with it, the largest token is about 50 KB of JSON, so that no answer but a list page passes
# 64 KiB. A hundred items of every list at their longest would be about 90 KB.
MAX_TOKEN_LIST_CHARACTERS = 32_768


def check_list_budget(lists: Iterable[Sequence[str]]) -> None:
    """Refuse lists whose items together pass ``MAX_TOKEN_LIST_CHARACTERS`` (a validation error)."""
    total = sum(len(item) for items in lists for item in items)
    if total > MAX_TOKEN_LIST_CHARACTERS:
        raise PydanticCustomError(
            "too_long",
            "The token's list items should have at most {max_length} characters together, not {actual}",
            {"max_length": MAX_TOKEN_LIST_CHARACTERS, "actual": total},
        )


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


# Response timestamps: ISO 8601 in UTC with microseconds and a Z, so that a generated client
# gets a datetime and not a string.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def _true_or_false(value: Any) -> Any:
    # pydantic would also take "1", "yes", "on" or "t"; the contract says exactly true or false.
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise PydanticCustomError("bool_parsing", "Input should be 'true' or 'false'")
        return value == "true"
    return value


QueryFlag = Annotated[bool, BeforeValidator(_true_or_false)]


# A request path: no whitespace nor control characters, and no '?' or '#' (a query or a fragment is
# not part of the path the token's endpoint_paths are checked against). Spelled out rather than with \s, which
# means one set of characters in Python (U+0085 and U+001C-U+001F included) and another in the
# ECMAScript regexes that JSON Schema validators use (U+FEFF included): the document must refuse
# exactly what the service refuses.
_REQUEST_PATH = r"^/[^?#\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$"


RequestPath = Annotated[str, StringConstraints(strict=True, max_length=2048, pattern=_REQUEST_PATH)]


# Issue 16: how long a rotated-away access secret keeps working (0: it ends at the rotation).
GraceSeconds = Annotated[int, Field(strict=True, ge=0, le=MAX_GRACE_SECONDS), BeforeValidator(_integral)]


# Issue 16: an IP address exactly as Python's ``ipaddress`` reads one (no zone id), spelled as a
# pattern too, so that the document refuses what the service refuses (ECMAScript-safe constructs
# only). The address is kept in its canonical spelling (compressed, lower case).
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_PATTERN = rf"{_OCTET}(\.{_OCTET}){{3}}"
_HEX = r"[0-9A-Fa-f]{1,4}"
_LOW32 = rf"({_HEX}:{_HEX}|{IPV4_PATTERN})"  # the last 32 bits: two groups or a dotted quad
IPV6_PATTERN = (
    rf"(({_HEX}:){{6}}{_LOW32}"
    rf"|::({_HEX}:){{5}}{_LOW32}"
    rf"|({_HEX})?::({_HEX}:){{4}}{_LOW32}"
    rf"|(({_HEX}:){{0,1}}{_HEX})?::({_HEX}:){{3}}{_LOW32}"
    rf"|(({_HEX}:){{0,2}}{_HEX})?::({_HEX}:){{2}}{_LOW32}"
    rf"|(({_HEX}:){{0,3}}{_HEX})?::{_HEX}:{_LOW32}"
    rf"|(({_HEX}:){{0,4}}{_HEX})?::{_LOW32}"
    rf"|(({_HEX}:){{0,5}}{_HEX})?::{_HEX}"
    rf"|(({_HEX}:){{0,6}}{_HEX})?::)"
)
# The longest spelling: eight full groups with a dotted quad in the last two (45 characters).
IP_ADDRESS_MAX_CHARS = 45


def _canonical_address(value: str) -> str:
    return str(ipaddress.ip_address(value))


IpAddress = Annotated[
    str,
    StringConstraints(
        strict=True, max_length=IP_ADDRESS_MAX_CHARS, pattern=rf"^({IPV4_PATTERN}|{IPV6_PATTERN})$"
    ),
    AfterValidator(_canonical_address),
]
# What a request says its client is: one printable line, as HTTP clients send it.
UserAgent = Annotated[str, StringConstraints(strict=True, max_length=512, pattern=_LINE_PATTERN)]

# Issue 16: the same float-to-int leniency for the credits' counts (shared.http.credit_models).
integral = _integral

# Issue 16: one network of an IP allowlist: an address (a host: /32 or /128) or an address and a
# prefix length (0..32, 0..128, no leading zeros), the address as IpAddress spells it. The pattern
# refuses what ipaddress would not read (and netmask spellings, which it would); what it cannot
# say, a network with host bits set, is the validator's 422 (docs/decisions.md).
_V4_PREFIX = r"(3[0-2]|[12]?[0-9])"
_V6_PREFIX = r"(12[0-8]|1[01][0-9]|[1-9]?[0-9])"
IP_NETWORK_PATTERN = rf"^({IPV4_PATTERN}(/{_V4_PREFIX})?|{IPV6_PATTERN}(/{_V6_PREFIX})?)$"
IP_NETWORK_MAX_CHARS = IP_ADDRESS_MAX_CHARS + len("/128")


def _canonical_network(value: str) -> str:
    try:
        return canonical_network(value)
    except ValueError:
        raise PydanticCustomError(
            "ip_network_host_bits",
            "Network has host bits set: write {network}, or the host address alone",
            {"network": masked_network(value)},
        ) from None


IpNetwork = Annotated[
    str,
    StringConstraints(strict=True, max_length=IP_NETWORK_MAX_CHARS, pattern=IP_NETWORK_PATTERN),
    AfterValidator(_canonical_network),
]
# Unique after canonicalisation: 10.0.0.1 and 10.0.0.1/32 are one network, a list_unique 422.
IpAllowlist = Annotated[list[IpNetwork], _AT_MOST_100, AfterValidator(_unique)]
