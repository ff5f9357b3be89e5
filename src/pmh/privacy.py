"""Guarding personal data: keyed hashes of My Number and redaction of anything that looks like one."""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import unquote

from pmh.codes.checkdigits import my_number_check_digit

# Twelve digits (ASCII or full-width), optionally one separator between any two of them (hyphens and
# dashes of every width, spaces, a '+' that stands for a space in a query string), and not part of a
# longer run of digits.
_DIGIT = "[0-9０-９]"
_SEPARATOR = "[\\s\u3000\\-\u2010-\u2015\u2212\uff0d\u30fc+]"
_TWELVE_DIGITS = re.compile(rf"(?<![0-9０-９])(?:{_DIGIT}{_SEPARATOR}?){{11}}{_DIGIT}(?![0-9０-９])")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_NOT_DIGIT = re.compile(r"[^0-9０-９]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
REDACTED = "[個人番号]"


def my_number_digest(my_number: str, secret: bytes) -> str:
    """Return the keyed hash (HMAC-SHA256, hex) under which a 個人番号 is stored and looked up.

    A plain hash of a 12-digit number could be reversed by trying every number; the server
    secret makes that impossible for anyone who has only the database.
    """
    normalized = my_number.translate(_FULLWIDTH).strip()
    return hmac.new(secret, normalized.encode("ascii"), hashlib.sha256).hexdigest()


def looks_like_my_number(digits: str) -> bool:
    """Return True when twelve digits carry a valid My Number check digit."""
    plain = digits.translate(_FULLWIDTH)
    return len(plain) == 12 and plain.isdigit() and my_number_check_digit(plain[:11]) == int(plain[11])


def _redact_plain(text: str) -> str:
    return _TWELVE_DIGITS.sub(
        lambda m: REDACTED if looks_like_my_number(_NOT_DIGIT.sub("", m.group(0))) else m.group(0),
        text,
    )


def redact_my_numbers(text: str) -> str:
    """Replace every My Number in ``text`` with a placeholder, in any of the forms people write it.

    Twelve digits with a valid check digit, ASCII or full-width, plain or with a hyphen, dash or
    space between digits; percent-encoded forms (a URL, a query string) are decoded first when they
    hide one, and the decoded text is returned redacted.
    """
    redacted = _redact_plain(text)
    if "%" in redacted and _PERCENT.search(redacted):
        decoded = unquote(redacted)
        if decoded != redacted:
            again = _redact_plain(decoded)
            if again != decoded:
                return again
    return redacted


def mask_my_numbers(value: str) -> str:
    """Return ``value`` with every valid My Number in it replaced by :data:`REDACTED` (for stored values)."""
    return redact_my_numbers(value) if value else value
