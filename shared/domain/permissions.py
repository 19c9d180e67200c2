"""Permission and restriction rules: what a token may do, and what a creator may grant.

Permissions are grants (``resource:action``; ``resource:*`` and ``*`` are
wildcards; an empty list grants nothing). The restriction lists narrow a token
(``shared.domain.restrictions``); the path patterns they use are matched here.
"""

from __future__ import annotations

from collections.abc import Iterable

WILDCARD = "*"


def grants(held: str, wanted: str) -> bool:
    """Whether one held permission covers a wanted one (which may itself be a wildcard)."""
    if held in (WILDCARD, wanted):
        return True
    resource, _, action = held.partition(":")
    return action == WILDCARD and wanted != WILDCARD and wanted.partition(":")[0] == resource


def has_permission(held: Iterable[str], wanted: str) -> bool:
    """Whether any held permission covers ``wanted``."""
    return any(grants(permission, wanted) for permission in held)


def _segments(path: str) -> list[str]:
    return path.split("/")


# Encoded forms that a server in front of or behind us may decode into a path separator or a
# dot segment: '%2f' is '/', '%5c' is '\\' (which some servers treat as '/'), '%2e' is '.'.
_ENCODED_SEPARATORS = ("%2f", "%5c")


def request_segments(path: str) -> list[str] | None:
    """The segments of a request path, or ``None`` when it is not one normal path.

    A service that checks the raw path and routes on a normalised one would hand a token
    restricted to ``/v1/orders/*`` the path ``/v1/orders/../admin``. So a path with a dot
    segment (raw or percent-encoded), an encoded separator, an empty segment, a query or a
    fragment matches no pattern: it fails closed.
    """
    if path == "/":
        return ["", ""]  # the root: one empty segment, as the pattern "/" has
    if not path.startswith("/") or "?" in path or "#" in path or "\\" in path:
        return None
    segments = _segments(path)[1:]
    for segment in segments:
        lowered = segment.lower()
        if not segment or any(encoded in lowered for encoded in _ENCODED_SEPARATORS):
            return None
        if lowered.replace("%2e", ".") in (".", ".."):
            return None
    return ["", *segments]


def _is_param(segment: str) -> bool:
    return len(segment) > 2 and segment.startswith("{") and segment.endswith("}")


def path_matches(pattern: str, path: str) -> bool:
    """Match a request path against an ``endpoint_paths`` pattern.

    A literal segment matches itself, ``{name}`` matches exactly one non-empty
    segment, and a trailing ``/*`` matches one or more further segments. A path that
    :func:`request_segments` refuses matches nothing.
    """
    path_parts = request_segments(path)
    if path_parts is None:
        return False
    pattern_parts = _segments(pattern)
    if pattern_parts[-1] == WILDCARD:
        fixed = pattern_parts[:-1]
        if len(path_parts) <= len(fixed) or not all(path_parts[len(fixed) :]):
            return False
        path_parts = path_parts[: len(fixed)]
        pattern_parts = fixed
    elif len(pattern_parts) != len(path_parts):
        return False
    return all(
        (part != "" if _is_param(expected) else part == expected)
        for expected, part in zip(pattern_parts, path_parts, strict=True)
    )


def pattern_within(inner: str, outer: str) -> bool:
    """Whether every path that ``inner`` matches is also matched by ``outer``."""
    inner_parts, outer_parts = _segments(inner), _segments(outer)
    inner_open = inner_parts[-1] == WILDCARD
    outer_open = outer_parts[-1] == WILDCARD
    if outer_open:
        fixed = outer_parts[:-1]
        inner_fixed = inner_parts[:-1] if inner_open else inner_parts
        # The outer wildcard needs at least one more non-empty segment than its fixed part.
        if len(inner_fixed) < len(fixed) + (0 if inner_open else 1) or not all(inner_fixed[len(fixed) :]):
            return False
        pairs = zip(inner_fixed[: len(fixed)], fixed, strict=True)
    else:
        if inner_open or len(inner_parts) != len(outer_parts):
            return False
        pairs = zip(inner_parts, outer_parts, strict=True)
    return all(_is_param(o) or (not _is_param(i) and i == o) for i, o in pairs)


def bucket_size(rps: int | None, burst: int | None) -> int | None:
    """How many requests a token's bucket holds: its burst, by default one second's worth."""
    return (burst or rps) if rps else None


def rate_limit_breach(
    creator: tuple[int | None, int | None], requested: tuple[int | None, int | None]
) -> str | None:
    """The ``rate_limit_rps:<value>`` or ``rate_limit_burst:<value>`` that would exceed the creator's limit.

    Each pair is ``(rate_limit_rps, rate_limit_burst)``. A creator without a rate limit may set
    any; a limited one only a limit no higher, rate and bucket size each (``:*`` for none at all).
    """
    creator_rps, creator_burst = creator
    requested_rps, requested_burst = requested
    if not creator_rps:
        return None
    if not requested_rps:
        return "rate_limit_rps:*"
    if requested_rps > creator_rps:
        return f"rate_limit_rps:{requested_rps}"
    creator_size = bucket_size(creator_rps, creator_burst) or 0
    requested_size = bucket_size(requested_rps, requested_burst) or 0
    if requested_size > creator_size:
        return f"rate_limit_burst:{requested_size}"
    return None
