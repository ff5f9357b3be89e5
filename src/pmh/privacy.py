"""Guarding personal data: keyed hashes of My Number and redaction of anything that looks like one."""

from __future__ import annotations

import hashlib
import hmac
import re

from pmh.codes.checkdigits import my_number_check_digit

# Twelve digits not embedded in a longer run of digits (full-width digits included).
_TWELVE_DIGITS = re.compile(r"(?<![0-9０-９])[0-9０-９]{12}(?![0-9０-９])")
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


def redact_my_numbers(text: str) -> str:
    """Replace every twelve-digit run that is a valid My Number with a placeholder."""
    return _TWELVE_DIGITS.sub(
        lambda m: REDACTED if looks_like_my_number(m.group(0)) else m.group(0),
        text,
    )
