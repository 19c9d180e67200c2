"""IP allowlists (issue 16): which source addresses a token may be used from, and how a list narrows.

A token's ``ip_allowlist`` holds IPv4 and IPv6 networks in their canonical spelling
(``ipaddress``'s: compressed, lower case, always with a prefix; a host is ``/32`` or ``/128``).
An empty list means any address. The one verification core asks :func:`source_allowed`; the
escalation checks of create and PATCH ask :func:`allowlist_breach`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

IP_ALLOWLIST_FIELD = "ip_allowlist"
# The required_permission of a child that would have no allowlist from an allowlisted creator.
_ANY_ADDRESS = "*"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def network(value: str) -> Network:
    """A stored network, parsed once per container (the lists are read on every verification)."""
    return ipaddress.ip_network(value, strict=True)


def canonical_network(value: str) -> str:
    """``value``'s canonical spelling; ``ValueError`` for a malformed one or one with host bits set.

    Host bits are refused, not masked: ``10.0.0.1/8`` most likely means a typo, and silently
    widening it to ``10.0.0.0/8`` would admit sixteen million addresses nobody asked for.
    """
    return str(ipaddress.ip_network(value, strict=True))


def masked_network(value: str) -> str:
    """The network ``value`` would be with its host bits cleared (for the 422's hint)."""
    return str(ipaddress.ip_network(value, strict=False))


def source_address(source_ip: str | None) -> Address | None:
    """The request's source address, ``None`` when unknown or unreadable."""
    if source_ip is None:
        return None
    try:
        return ipaddress.ip_address(source_ip)
    except ValueError:
        return None


def source_allowed(allowlist: Sequence[str], source_ip: str | None) -> bool:
    """Whether a token whose allowlist is ``allowlist`` may be used from ``source_ip``.

    Empty: any address, known or not. Otherwise fail closed: an unknown or unreadable source is
    refused. An IPv4-mapped IPv6 source (``::ffff:192.0.2.1``, what a dual-stack socket reports
    for an IPv4 client) is the IPv4 host it maps, so it matches the IPv4 networks; it also
    matches an IPv6 network that holds it as written (``::ffff:0:0/96``).
    """
    if not allowlist:
        return True
    address = source_address(source_ip)
    if address is None:
        return False
    candidates: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    # ``in`` is False across families (an IPv4 address is never in an IPv6 network).
    return any(candidate in network(value) for value in allowlist for candidate in candidates)


def shown_source(source_ip: str | None) -> str:
    """The source address as a 403 names it: canonical, or ``unknown`` when there is none."""
    address = source_address(source_ip)
    return str(address) if address is not None else "unknown"


def _within(inner: Network, outer: Network) -> bool:
    # subnet_of raises TypeError across families: an IPv6 network is never inside an IPv4 one.
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def allowlist_breach(creator: Sequence[str], requested: Sequence[str]) -> str | None:
    """The first ``ip_allowlist:<network>`` (or ``ip_allowlist:*``) that would widen ``creator``'s list.

    A creator without a list may set any list; an allowlisted one only a non-empty list whose
    every network lies inside one of its own (overlaps among the requested ones are fine).
    """
    if not creator:
        return None
    if not requested:
        return f"{IP_ALLOWLIST_FIELD}:{_ANY_ADDRESS}"
    own = [network(value) for value in creator]
    for value in requested:
        if not any(_within(network(value), outer) for outer in own):
            return f"{IP_ALLOWLIST_FIELD}:{value}"
    return None
