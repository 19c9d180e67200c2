"""Permission and restriction rules: what a token may do, and what a creator may grant.

Permissions are grants (``resource:action``; ``resource:*`` and ``*`` are
wildcards; an empty list grants nothing). The restriction lists (scopes,
workspace, namespace and environment ids, endpoint paths) narrow a token: an
empty list means unrestricted, a non-empty one means only these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

WILDCARD = "*"
RESTRICTION_FIELDS = ("scopes", "workspace_ids", "namespace_ids", "environment_ids", "endpoint_paths")


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


def _is_param(segment: str) -> bool:
    return len(segment) > 2 and segment.startswith("{") and segment.endswith("}")


def path_matches(pattern: str, path: str) -> bool:
    """Match a request path against an ``endpoint_paths`` pattern.

    A literal segment matches itself, ``{name}`` matches exactly one non-empty
    segment, and a trailing ``/*`` matches one or more further segments.
    """
    pattern_parts, path_parts = _segments(pattern), _segments(path)
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


def restriction_breach(field: str, creator: Sequence[str], requested: Sequence[str]) -> str | None:
    """The first ``<field>:<value>`` (or ``<field>:*``) that would widen the creator's restriction.

    A creator with an empty list may set anything; a restricted creator may only
    set a non-empty subset (for endpoint paths: patterns its own patterns cover).
    """
    if not creator:
        return None
    if not requested:
        return f"{field}:{WILDCARD}"
    for value in requested:
        if field == "endpoint_paths":
            covered = any(pattern_within(value, own) for own in creator)
        else:
            covered = value in creator
        if not covered:
            return f"{field}:{value}"
    return None
