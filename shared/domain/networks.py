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

# ::ffff:0:0/96, where IPv6 spells IPv4 addresses (RFC 4291 2.5.5.2).
_MAPPED_PREFIX = 96

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def network(value: str) -> Network:
    """A stored network, parsed once per container (the lists are read on every verification)."""
    return ipaddress.ip_network(value, strict=True)


def canonical_network(value: str) -> str:
    """``value``'s canonical spelling; ``ValueError`` for a malformed one or one with host bits set.

    Host bits are refused, not masked: ``10.0.0.1/8`` most likely means a typo, and silently
    widening it to ``10.0.0.0/8`` would admit sixteen million addresses nobody asked for. A
    network of IPv4-mapped IPv6 addresses (inside ``::ffff:0:0/96``) is the IPv4 network it maps
    (``::ffff:10.0.0.0/104`` is ``10.0.0.0/8``), since a mapped source is matched as IPv4.
    """
    parsed = ipaddress.ip_network(value, strict=True)
    mapped = parsed.network_address.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Network) else None
    if mapped is not None and parsed.prefixlen >= _MAPPED_PREFIX:
        return str(ipaddress.IPv4Network((mapped, parsed.prefixlen - _MAPPED_PREFIX)))
    return str(parsed)


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
    for an IPv4 client) is the IPv4 host it maps, and only that: it matches the IPv4 networks,
    not ``::/0`` (a list never holds a mapped network: :func:`canonical_network` stores it as IPv4).
    """
    if not allowlist:
        return True
    address = source_address(source_ip)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # ``in`` is False across families (an IPv4 address is never in an IPv6 network).
    return any(address in network(value) for value in allowlist)


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
