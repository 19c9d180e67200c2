"""IP allowlists (issue 16): every CIDR case of the field, the matching rule and the narrowing rule.

The field is checked twice, as a client and the service see it: the document's pattern (what a
generated client or the fuzzer reads) and the model (what the service answers). They agree on
everything but host bits, which no pattern says: that one is the service's clear 422.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.networks import allowlist_breach, source_allowed
from shared.http.models import TokenCreate
from shared.http.token_models import TokenUpdate


def _pattern() -> str:
    schema = TokenCreate.model_json_schema()
    pattern: str = schema["properties"]["ip_allowlist"]["items"]["pattern"]
    return pattern


def _stored(*networks: Any) -> list[str]:
    allowlist: list[str] = TokenCreate.model_validate(
        {"name": "t", "ip_allowlist": list(networks)}
    ).ip_allowlist
    return allowlist


def _refusal(body: dict[str, Any], model: Any = TokenCreate) -> dict[str, Any]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    [error] = raised.value.errors()
    return dict(error)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.1", "192.0.2.1/32"),  # a host address is a /32
        ("192.0.2.1/32", "192.0.2.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("255.255.255.255", "255.255.255.255/32"),
        ("2001:DB8::/32", "2001:db8::/32"),  # lower case, compressed
        ("2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:db8::/32"),
        ("2001:db8::1", "2001:db8::1/128"),  # a host address is a /128
        ("2001:db8::1/128", "2001:db8::1/128"),
        ("::/0", "::/0"),
        ("::1", "::1/128"),
        ("1:2:3:4:5:6:192.0.2.0/120", "1:2:3:4:5:6:c000:200/120"),
        # IPv4-mapped networks are the IPv4 networks they map (a mapped source matches as IPv4).
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:192.0.2.1", "192.0.2.1/32"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
    ],
)
def test_a_network_is_stored_in_its_canonical_spelling(given: str, canonical: str) -> None:
    assert re.fullmatch(_pattern(), given) is not None
    assert _stored(given) == [canonical]


@pytest.mark.parametrize(
    "given",
    [
        *("not-an-address", "", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0 /8", "10.0.0.0/8\n"),  # whitespace
        *("10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/", "/8", "10.0.0.0/8/8"),  # prefix
        *("10.0.0.0/08", "::/0128"),  # leading zeros in the prefix
        *("010.0.0.0/8", "10.00.0.0/16", "10.0.0.01"),  # leading zeros in the address
        *("10.0.0.0/255.0.0.0", "10.0.0.0/0.255.255.255"),  # netmask spellings
        *("fe80::1%eth0", "fe80::1%eth0/128", "fe80::%1/64"),  # zone ids
        *("256.0.0.0/8", "1.2.3/24", "1.2.3.4.5", "1::2::3/64", "12345::/16", "::g/128", "10.0.0.0/8,"),
    ],
)
def test_a_malformed_network_is_refused_by_the_pattern_and_by_the_service(given: str) -> None:
    assert re.fullmatch(_pattern(), given) is None
    error = _refusal({"name": "t", "ip_allowlist": [given]})
    assert (error["loc"], error["type"]) == (("ip_allowlist", 0), "string_pattern_mismatch")


@pytest.mark.parametrize(
    ("given", "masked"),
    [
        ("10.0.0.1/8", "10.0.0.0/8"),
        ("192.0.2.255/31", "192.0.2.254/31"),
        ("0.0.0.1/0", "0.0.0.0/0"),
        ("2001:db8::1/64", "2001:db8::/64"),
        ("::1/0", "::/0"),
        ("::ffff:10.0.0.1/104", "::ffff:a00:0/104"),
    ],
)
def test_host_bits_are_a_422_naming_the_network_not_silently_masked(given: str, masked: str) -> None:
    assert re.fullmatch(_pattern(), given) is not None  # what no pattern can say: the service's 422
    error = _refusal({"name": "t", "ip_allowlist": ["192.0.2.0/24", given]})
    assert (error["loc"], error["type"]) == (("ip_allowlist", 1), "ip_network_host_bits")
    assert masked in error["msg"] and error["ctx"] == {"network": masked}


def test_wrong_types_are_refused() -> None:
    assert _refusal({"name": "t", "ip_allowlist": [167772160]})["type"] == "string_type"
    assert _refusal({"name": "t", "ip_allowlist": "10.0.0.0/8"})["type"] == "list_type"
    assert _refusal({"name": "t", "ip_allowlist": None})["type"] == "list_type"


def test_at_most_100_networks() -> None:
    hundred = [f"10.0.{i}.0/24" for i in range(100)]
    assert len(_stored(*hundred)) == 100
    error = _refusal({"name": "t", "ip_allowlist": [*hundred, "10.0.100.0/24"]})
    assert (error["loc"], error["type"]) == (("ip_allowlist",), "too_long")


def test_duplicates_after_canonicalisation_are_refused_overlaps_are_not() -> None:
    for twice in (
        ["10.0.0.1", "10.0.0.1/32"],
        ["2001:db8::/32", "2001:DB8::/32"],
        ["10.0.0.1", "::ffff:10.0.0.1"],
    ):
        error = _refusal({"name": "t", "ip_allowlist": twice})
        assert (error["loc"], error["type"]) == (("ip_allowlist",), "list_unique")
    assert _stored("10.0.0.0/8", "10.1.0.0/16", "10.1.2.3") == ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32"]


def test_empty_or_absent_means_any_address_and_mixed_lists_keep_their_order() -> None:
    assert _stored() == []
    assert TokenCreate.model_validate({"name": "t"}).ip_allowlist == []
    assert _stored("2001:db8::/32", "10.0.0.0/8") == ["2001:db8::/32", "10.0.0.0/8"]


def test_the_update_body_takes_the_same_field() -> None:
    change = TokenUpdate.model_validate({"ip_allowlist": ["192.0.2.7", "2001:DB8::/48"]}).change()
    assert change.values == {"ip_allowlist": ("192.0.2.7/32", "2001:db8::/48")}
    assert TokenUpdate.model_validate({"ip_allowlist": []}).change().values == {"ip_allowlist": ()}
    error = _refusal({"ip_allowlist": ["10.0.0.1/8"]}, TokenUpdate)
    assert (error["loc"], error["type"]) == (("ip_allowlist", 0), "ip_network_host_bits")
    assert _refusal({"ip_allowlist": None}, TokenUpdate)["type"] == "list_type"


@pytest.mark.parametrize(
    ("allowlist", "source", "allowed"),
    [
        # Empty: any address, even none known.
        ([], None, True),
        ([], "192.0.2.1", True),
        # Fail closed: an allowlisted token with no known (or no readable) source is refused.
        (["0.0.0.0/0"], None, False),
        (["0.0.0.0/0", "::/0"], "not-an-address", False),
        # v4: the first and last address of the network, and one outside on each side.
        (["10.0.0.0/8"], "10.0.0.0", True),
        (["10.0.0.0/8"], "10.255.255.255", True),
        (["10.0.0.0/8"], "9.255.255.255", False),
        (["10.0.0.0/8"], "11.0.0.0", False),
        (["192.0.2.1/32"], "192.0.2.1", True),
        (["192.0.2.1/32"], "192.0.2.0", False),
        (["192.0.2.1/32"], "192.0.2.2", False),
        (["0.0.0.0/0"], "0.0.0.0", True),  # noqa: S104 (an address, not a bind)
        (["0.0.0.0/0"], "255.255.255.255", True),
        (["0.0.0.0/0"], "2001:db8::1", False),  # the v4 whole is no v6 address
        # v6: the same edges.
        (["2001:db8::/32"], "2001:db8::", True),
        (["2001:db8::/32"], "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", True),
        (["2001:db8::/32"], "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", False),
        (["2001:db8::/32"], "2001:db9::", False),
        (["2001:db8::1/128"], "2001:db8::1", True),
        (["2001:db8::1/128"], "2001:db8::", False),
        (["2001:db8::1/128"], "2001:db8::2", False),
        (["::/0"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", True),
        (["::/0"], "192.0.2.1", False),  # the v6 whole is no v4 address
        # An IPv4-mapped source is its IPv4 address, and only that.
        (["10.0.0.0/8"], "::ffff:10.1.2.3", True),
        (["10.0.0.0/8"], "::ffff:a01:203", True),
        (["10.0.0.0/8"], "::ffff:11.0.0.0", False),
        (["::/0"], "::ffff:10.1.2.3", False),
        # Mixed lists: either family's networks.
        (["10.0.0.0/8", "2001:db8::/32"], "10.0.0.1", True),
        (["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
        (["10.0.0.0/8", "2001:db8::/32"], "192.0.2.1", False),
        (["10.0.0.0/8", "2001:db8::/32"], "2001:db9::1", False),
        # Overlaps are harmless.
        (["10.0.0.0/8", "10.1.0.0/16"], "10.1.0.1", True),
    ],
)
def test_a_source_is_allowed_when_a_network_holds_it(
    allowlist: list[str], source: str | None, allowed: bool
) -> None:
    assert source_allowed(allowlist, source) is allowed


@pytest.mark.parametrize(
    ("creator", "requested", "breach"),
    [
        ([], [], None),  # an unrestricted creator may give anything, nothing included
        ([], ["0.0.0.0/0", "::/0"], None),
        (["10.0.0.0/8"], [], "ip_allowlist:*"),  # no allowlist would be any address
        (["10.0.0.0/8"], ["10.0.0.0/8"], None),  # equal is inside
        (["10.0.0.0/8"], ["10.1.0.0/16", "10.1.2.3/32", "10.255.255.255/32"], None),
        (["10.0.0.0/8"], ["10.1.0.0/16", "11.0.0.0/8"], "ip_allowlist:11.0.0.0/8"),
        (["10.0.0.0/8"], ["0.0.0.0/0"], "ip_allowlist:0.0.0.0/0"),  # wider
        (["10.0.0.0/8"], ["9.255.255.255/32"], "ip_allowlist:9.255.255.255/32"),
        (["10.0.0.0/8", "192.0.2.0/24"], ["192.0.2.128/25", "10.0.0.0/9"], None),  # each in one of its own
        # Across families: never inside.
        (["0.0.0.0/0"], ["2001:db8::/32"], "ip_allowlist:2001:db8::/32"),
        (["::/0"], ["10.0.0.0/8"], "ip_allowlist:10.0.0.0/8"),
        (["2001:db8::/32"], ["2001:db8:1::/48", "2001:db8::1/128"], None),
        (["2001:db8::/32"], ["2001:db8::/31"], "ip_allowlist:2001:db8::/31"),
        (["10.0.0.0/8", "2001:db8::/32"], ["2001:db8::/64", "10.2.0.0/16"], None),
    ],
)
def test_a_new_allowlist_must_lie_inside_the_creators(
    creator: list[str], requested: list[str], breach: str | None
) -> None:
    assert allowlist_breach(creator, requested) == breach
