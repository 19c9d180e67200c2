"""Token secrets: generation, the checksum, keyed hashing and signed cursors.

A token reads ``atok_<token_id>_<secret><checksum>``: the ``atok_`` (access) or
``aref_`` (refresh) type prefix lets secret scanners match it, the token id lets
authentication find the record with one read, the secret carries 256 random
bits in base62, and the CRC32 checksum lets a mistyped or made-up token be
refused without touching the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Crockford's base32 in lower case: URL-safe, and its ASCII order is its numeric order.
BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"
SECRET_BITS = 256
SECRET_LENGTH = 43  # 62**43 > 2**256: 43 base62 characters hold the 256 random bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32, so a CRC32 always fits
TOKEN_ID_TIME_LENGTH = 11  # microseconds since the epoch, 5 bits a character
TOKEN_ID_RANDOM_LENGTH = 15  # 75 random bits
TOKEN_ID_LENGTH = TOKEN_ID_TIME_LENGTH + TOKEN_ID_RANDOM_LENGTH
MIN_KEY_BYTES = 32


class SecretKind(StrEnum):
    """The two kinds of secret a token has; each has its own type prefix."""

    ACCESS = "atok"
    REFRESH = "aref"


# The shape of a token, written once: parse_secret matches it, and docs/secret-scanning.md gives it to
# secret scanners (tests/unit/test_secret_scanning.py checks the document's copies against these).
_TOKEN_ID_PATTERN = rf"[{BASE32}]{{{TOKEN_ID_LENGTH}}}"
_SECRET_PATTERN = rf"[0-9A-Za-z]{{{SECRET_LENGTH + CHECKSUM_LENGTH}}}"
ACCESS_TOKEN_REGEX = rf"atok_{_TOKEN_ID_PATTERN}_{_SECRET_PATTERN}"
REFRESH_TOKEN_REGEX = rf"aref_{_TOKEN_ID_PATTERN}_{_SECRET_PATTERN}"
# Either kind, for a scanner with one rule; bounded so that a token inside longer text is not matched.
SCANNER_REGEX = rf"\b(?:atok|aref)_{_TOKEN_ID_PATTERN}_{_SECRET_PATTERN}\b"

_TOKEN_PATTERN = re.compile(
    rf"^(atok|aref)_({_TOKEN_ID_PATTERN})_([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$"
)


@dataclass(frozen=True)
class ParsedSecret:
    """A presented secret whose shape and checksum are right; it may still be unknown."""

    kind: SecretKind
    token_id: str
    plaintext: str = field(repr=False)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


def _base32(number: int, width: int) -> str:
    return "".join(BASE32[(number >> shift) & 31] for shift in range(5 * (width - 1), -1, -5))


# The random parts below are drawn as one integer each, not a character at a time: secrets.choice
# reads the OS's random source once per character, a hundred system calls for a token's secrets.


def new_token_id(now: datetime) -> str:
    """A URL-safe id that sorts by creation time (to the microsecond), then at random."""
    micros = int(now.timestamp() * 1_000_000)
    random_part = secrets.randbits(5 * TOKEN_ID_RANDOM_LENGTH)
    return _base32(micros, TOKEN_ID_TIME_LENGTH) + _base32(random_part, TOKEN_ID_RANDOM_LENGTH)


def new_secret(kind: SecretKind, token_id: str) -> str:
    """A fresh plaintext secret for ``token_id``: shown once, never stored."""
    body = f"{kind.value}_{token_id}_" + _base62(secrets.randbits(SECRET_BITS), SECRET_LENGTH)
    return body + _checksum(body)


def display_prefix(kind: SecretKind, token_id: str) -> str:
    """The leading, non-secret part of a plaintext token, for UIs and leak reports."""
    return f"{kind.value}_{token_id}"


def parse_secret(presented: str) -> ParsedSecret | None:
    """Check a presented secret's shape and checksum; ``None`` when it cannot be one of ours."""
    match = _TOKEN_PATTERN.match(presented)
    if match is None:
        return None
    body = presented[:-CHECKSUM_LENGTH]
    if not hmac.compare_digest(_checksum(body), match.group(4)):
        return None
    return ParsedSecret(kind=SecretKind(match.group(1)), token_id=match.group(2), plaintext=presented)


class SecretHasher:
    """HMAC-SHA256 under the server's key: the only form in which secrets are stored."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the token hashing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._cursor_key = hmac.new(key, b"app-tokens/list-cursor", hashlib.sha256).digest()

    def hash(self, plaintext: str) -> str:
        """The keyed hash stored in place of a secret."""
        return hmac.new(self._key, plaintext.encode(), hashlib.sha256).hexdigest()

    def matches(self, plaintext: str, stored_hash: str | None) -> bool:
        """Constant-time check of a presented secret against a stored hash."""
        if not stored_hash:
            return False
        return hmac.compare_digest(self.hash(plaintext), stored_hash)

    def sign_cursor(self, payload: dict[str, str]) -> str:
        """An opaque, tamper-proof pagination cursor."""
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        signature = hmac.new(self._cursor_key, raw, hashlib.sha256).digest()[:16]
        return f"{_b64(raw)}.{_b64(signature)}"

    def open_cursor(self, cursor: str) -> dict[str, str] | None:
        """The payload of a cursor this key signed, or ``None`` for anything else."""
        raw_part, _, signature_part = cursor.partition(".")
        try:
            raw, signature = _unb64(raw_part), _unb64(signature_part)
        except (binascii.Error, ValueError):
            return None
        expected = hmac.new(self._cursor_key, raw, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, signature):
            return None
        payload = json.loads(raw)
        if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
            return None
        return payload


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # The decoder ignores the unused low bits of the last character, so several strings
    # decode to the same bytes; accepting only the canonical one keeps one cursor per page.
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data
