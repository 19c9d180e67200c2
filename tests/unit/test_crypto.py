"""Token format, checksum, keyed hashing and cursors."""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.crypto import (
    BASE62,
    SECRET_LENGTH,
    TOKEN_ID_RANDOM_LENGTH,
    TOKEN_ID_TIME_LENGTH,
    SecretHasher,
    SecretKind,
    display_prefix,
    new_secret,
    new_token_id,
    parse_secret,
)

KEY = b"k" * 32
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_secret_carries_at_least_256_random_bits_in_base62() -> None:
    secret = new_secret(SecretKind.ACCESS, new_token_id(NOW))
    random_part = secret.split("_")[2][:SECRET_LENGTH]
    assert set(random_part) <= set(BASE62)
    assert SECRET_LENGTH * math.log2(62) >= 256


def test_random_parts_use_every_position_and_character() -> None:
    """Drawn as one integer each: no position may be stuck (a short draw would pad with zeros)."""
    token_ids = [new_token_id(NOW) for _ in range(300)]
    random_parts = [
        new_secret(SecretKind.ACCESS, token_ids[0]).split("_")[2][:SECRET_LENGTH] for _ in range(300)
    ]
    for position in range(SECRET_LENGTH):
        assert len({part[position] for part in random_parts}) > 30, position
    assert set("".join(random_parts)) == set(BASE62)
    tails = [token_id[TOKEN_ID_TIME_LENGTH:] for token_id in token_ids]
    for position in range(TOKEN_ID_RANDOM_LENGTH):
        assert len({tail[position] for tail in tails}) > 16, position
    assert len({token_id[:TOKEN_ID_TIME_LENGTH] for token_id in token_ids}) == 1  # the time part: NOW


def test_access_and_refresh_secrets_have_distinct_type_prefixes() -> None:
    token_id = new_token_id(NOW)
    assert new_secret(SecretKind.ACCESS, token_id).startswith("atok_")
    assert new_secret(SecretKind.REFRESH, token_id).startswith("aref_")


def test_secrets_are_never_repeated() -> None:
    token_id = new_token_id(NOW)
    assert len({new_secret(SecretKind.ACCESS, token_id) for _ in range(200)}) == 200


def test_a_well_formed_secret_parses_to_its_kind_and_token_id() -> None:
    token_id = new_token_id(NOW)
    parsed = parse_secret(new_secret(SecretKind.REFRESH, token_id))
    assert parsed is not None
    assert parsed.kind is SecretKind.REFRESH
    assert parsed.token_id == token_id


@pytest.mark.parametrize("position", [6, 30, 40, 60, -1])
def test_one_mistyped_character_fails_the_checksum(position: int) -> None:
    secret = new_secret(SecretKind.ACCESS, new_token_id(NOW))
    original = secret[position]
    replacement = "A" if original != "A" else "B"
    if position < 32:  # inside the token id, keep its alphabet
        replacement = "0" if original != "0" else "1"
    mistyped = (
        secret[:position] + replacement + secret[position + 1 :]
        if position != -1
        else secret[:-1] + replacement
    )
    assert parse_secret(mistyped) is None


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "atok_",
        "ghp_" + "a" * 36,
        "atok_short_abc",
        "Bearer atok_x",
        "atok_" + "1" * 26 + "_" + "a" * 49 + " ",
    ],
)
def test_foreign_or_truncated_shapes_are_refused(presented: str) -> None:
    assert parse_secret(presented) is None


def test_truncated_secret_is_refused() -> None:
    secret = new_secret(SecretKind.ACCESS, new_token_id(NOW))
    assert parse_secret(secret[:-1]) is None


def test_display_prefix_is_the_leading_non_secret_part() -> None:
    token_id = new_token_id(NOW)
    secret = new_secret(SecretKind.ACCESS, token_id)
    prefix = display_prefix(SecretKind.ACCESS, token_id)
    assert secret.startswith(prefix + "_")
    assert len(secret) - len(prefix) > SECRET_LENGTH


def test_token_ids_sort_by_creation_time_and_are_url_safe() -> None:
    ids = [new_token_id(NOW + timedelta(microseconds=step * 7)) for step in range(50)]
    ids += [new_token_id(NOW + timedelta(days=400 * step)) for step in range(1, 5)]
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"[0-9a-z]{26}", token_id) for token_id in ids)


def test_hash_is_keyed_and_deterministic() -> None:
    one, other = SecretHasher(KEY), SecretHasher(b"o" * 32)
    assert one.hash("atok_x") == one.hash("atok_x")
    assert one.hash("atok_x") != other.hash("atok_x")
    assert "atok_x" not in one.hash("atok_x")
    assert one.matches("atok_x", one.hash("atok_x"))
    assert not one.matches("atok_y", one.hash("atok_x"))
    assert not one.matches("atok_x", None)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SecretHasher(b"short")


def test_cursor_round_trips_and_resists_tampering() -> None:
    hasher = SecretHasher(KEY)
    cursor = hasher.sign_cursor({"org": "acme", "app": "billing", "after": "TOKEN#1"})
    assert hasher.open_cursor(cursor) == {"org": "acme", "app": "billing", "after": "TOKEN#1"}
    body, _, signature = cursor.partition(".")
    forged = hasher.sign_cursor({"org": "evil", "app": "billing", "after": "TOKEN#1"}).partition(".")[0]
    assert hasher.open_cursor(f"{forged}.{signature}") is None
    assert hasher.open_cursor(body) is None
    assert hasher.open_cursor("not a cursor") is None
    assert hasher.open_cursor("%%%.###") is None
    assert SecretHasher(b"o" * 32).open_cursor(cursor) is None


def test_cursor_has_one_spelling() -> None:
    """A 16-byte signature leaves 4 unused bits in its last base64 character; flipping them is refused."""
    hasher = SecretHasher(KEY)
    cursor = hasher.sign_cursor({"org": "acme", "app": "billing", "after": "TOKEN#1"})
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(cursor[-1])
    same_bytes = cursor[:-1] + alphabet[last ^ 0b0001]
    assert base64.urlsafe_b64decode(same_bytes.partition(".")[2] + "==") == base64.urlsafe_b64decode(
        cursor.partition(".")[2] + "=="
    )
    assert hasher.open_cursor(same_bytes) is None
    assert hasher.open_cursor(cursor) is not None
