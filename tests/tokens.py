"""Helpers that make almost-right secrets for tests of refusal paths."""


def mistype_last_character(secret: str) -> str:
    """Return ``secret`` with its last character changed, so its checksum no longer matches.

    The replacement always differs from the original: appending a fixed letter would give
    back the same secret whenever the secret already ends with that letter.
    """
    replacement = "x" if secret[-1] != "x" else "y"
    return secret[:-1] + replacement
