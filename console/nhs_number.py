"""NHS numbers: Modulus 11 validation, normalising and display.

An NHS number has ten digits; the tenth is a check digit over the first nine, weighted
10 down to 2. ``11 - (sum % 11)`` gives the check digit, except that 11 becomes 0 and 10
means the number is not valid. Numbers made of one repeated digit pass the arithmetic
but are never issued, so they are rejected too.
"""

from __future__ import annotations

import re
import unicodedata

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

_SEPARATORS = re.compile(r"[\s-]+")
_NUMBER_LIKE = re.compile(r"^[0-9\s-]+$")
_DATE_LIKE = re.compile(r"^\d{1,2}[-\s]\d{1,2}[-\s]\d{4}$|^\d{4}-\d{1,2}-\d{1,2}$")


def normalise(text: str) -> str:
    """Remove spaces and dashes, e.g. ``"943-476 5919"`` → ``"9434765919"``.

    Full-width digits (pasted from some documents) become ASCII digits.
    """
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))


def check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no valid number can end them."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("expected nine digits")
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)
    )
    remainder = 11 - (total % 11)
    if remainder == 11:
        return 0
    if remainder == 10:
        return None
    return remainder


def is_valid(text: str) -> bool:
    """True for a well-formed NHS number (spaces and dashes allowed) with a correct check digit."""
    digits = normalise(text)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    if len(set(digits)) == 1:
        return False
    return check_digit(digits[:9]) == int(digits[9])


def problem(text: str) -> str | None:
    """A plain-English reason why ``text`` is not a valid NHS number, or None if it is valid."""
    digits = normalise(text)
    if not digits.isascii() or not digits.isdigit():
        return "An NHS number must contain only numbers, spaces and dashes."
    if len(digits) != 10:
        return f"An NHS number has 10 digits; you entered {len(digits)}."
    if len(set(digits)) == 1:
        return "This is not a valid NHS number: all the digits are the same."
    if not is_valid(digits):
        return "This is not a valid NHS number. Check the digits and try again."
    return None


def format_nhs_number(text: str) -> str:
    """Show a valid NHS number as ``943 476 5919``; anything else is returned unchanged."""
    digits = normalise(text)
    if len(digits) == 10 and digits.isascii() and digits.isdigit():
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return text


def looks_like_nhs_number(text: str) -> bool:
    """True when a search box entry is meant as an NHS number (digits, spaces and dashes only).

    Dates such as ``01-01-1970`` are not NHS numbers, so they are left for the date of birth.
    """
    stripped = unicodedata.normalize("NFKC", text or "").strip()
    if not stripped or not _NUMBER_LIKE.match(stripped):
        return False
    if _DATE_LIKE.match(stripped):
        return False
    return any(ch.isdigit() for ch in stripped)
