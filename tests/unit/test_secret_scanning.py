"""docs/secret-scanning.md gives scanners the token patterns of shared/domain/crypto.py, and they work."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.domain.crypto import (
    ACCESS_TOKEN_REGEX,
    REFRESH_TOKEN_REGEX,
    SCANNER_REGEX,
    SecretKind,
    new_secret,
    new_token_id,
    parse_secret,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "secret-scanning.md"
_REGEX_BLOCK = re.compile(r"```regex\n(.*?)\n```", re.DOTALL)
_GITLEAKS = re.compile(r"^regex = '''(.*)'''$", re.MULTILINE)


def _documented() -> list[str]:
    text = DOC.read_text()
    return _REGEX_BLOCK.findall(text) + _GITLEAKS.findall(text)


def _real(kind: SecretKind) -> str:
    secret = new_secret(kind, new_token_id(datetime.now(UTC)))
    assert parse_secret(secret) is not None
    return secret


def _near_misses(secret: str) -> list[str]:
    prefix, token_id, rest = secret.split("_")
    return [
        "x" + secret[1:],  # another prefix
        f"{prefix}_{token_id[:-1]}u_{rest}",  # a letter Crockford's base32 leaves out
        f"{prefix}_{token_id.upper()}_{rest}",  # the id is lower case
        f"{prefix}_{token_id}_{rest[:-1]}",  # one character short
        f"{prefix}_{token_id}_{rest}0",  # one too many
        f"{prefix}_{token_id}_{rest[:-1]}-",  # not base62
        f"{prefix}-{token_id}_{rest}",  # another separator
    ]


def test_the_document_gives_exactly_the_code_patterns() -> None:
    assert _documented() == [ACCESS_TOKEN_REGEX, REFRESH_TOKEN_REGEX, SCANNER_REGEX, SCANNER_REGEX]


@pytest.mark.parametrize("pattern", _documented())
def test_each_documented_pattern_finds_real_tokens_and_refuses_near_misses(pattern: str) -> None:
    kinds = [kind for kind in SecretKind if pattern in (SCANNER_REGEX, f"{kind.value}_" + pattern[5:])]
    assert kinds, pattern
    compiled = re.compile(pattern)
    for kind in SecretKind:
        secret = _real(kind)
        found = compiled.fullmatch(secret) is not None
        assert found == (kind in kinds), (pattern, kind)
        # Inside text, as a scanner meets it: in quotes, after "=", at the end of a line.
        assert (compiled.search(f'TOKEN="{secret}"\n') is not None) == (kind in kinds)
        for miss in _near_misses(secret):
            assert compiled.fullmatch(miss) is None, (pattern, miss)


def test_the_bounded_pattern_does_not_match_inside_a_longer_word() -> None:
    secret = _real(SecretKind.ACCESS)
    assert re.search(SCANNER_REGEX, "x" + secret) is None
    assert re.search(SCANNER_REGEX, secret + "0") is None
    assert re.search(SCANNER_REGEX, f"{secret} {secret}") is not None
