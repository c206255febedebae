"""Understanding the patient search box: an NHS number, a name, or a name and date of birth.

``parse_search(q, dob, gender, postcode)`` turns what staff typed into ``PatientSearch``
criteria, or into field errors to show inline (and then nothing is searched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from console import nhs_number
from console.dates import date_problem, is_partial_date, parse_date
from console.fhir.search import GENDERS, PatientSearch

MIN_NAME_LENGTH = 2
MAX_QUERY_LENGTH = 200
# The orders a user may choose for a name search: the FHIR ``_sort`` keys (the first reversed
# for "-name" and so on). Ties fall back to the displayed name, then the date of birth.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("family", "given", "birthdate"),
    "born": ("birthdate", "family", "given"),
    "gender": ("gender", "family", "given", "birthdate"),
    "postcode": ("address-postalcode", "family", "given", "birthdate"),
}
DEFAULT_SORT = "name"
_DATE_TOKEN = re.compile(
    r"\b(\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}[- ][A-Za-z]{3,9}[- ]\d{4})\b"
)
_YEAR = re.compile(r"^(?:18|19|20)\d{2}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?(?: ?[0-9][A-Z]{0,2})?$")
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:['\u2019.-][^\W\d_]*)*$")


@dataclass
class ParsedSearch:
    """The criteria, the field errors, and whether there is anything to search for."""

    search: PatientSearch | None = None
    errors: dict[str, str] = field(default_factory=dict)
    kind: str = ""  # "nhs_number", "name", "details" or ""
    # True while someone is still typing something that could become valid (a part of an NHS
    # number, one letter, half a date): nothing is searched and no error is shown yet.
    pending: bool = False

    @property
    def ready(self) -> bool:
        """True when a search should be sent."""
        return self.search is not None and not self.errors


__all__ = ["DEFAULT_SORT", "SORTS", "ParsedSearch", "parse_date", "parse_search", "sort_keys"]


def sort_keys(sort: str) -> tuple[str, ...]:
    """The FHIR ``_sort`` keys for a chosen order (``name``, ``-born``…); the default if unknown."""
    descending = sort.startswith("-")
    keys = SORTS.get(sort.lstrip("-"), SORTS[DEFAULT_SORT])
    return (f"-{keys[0]}", *keys[1:]) if descending else keys


def _still_typing(q: str, dob: str) -> bool:
    """True when what is typed so far could still become a valid search."""
    if q and nhs_number.looks_like_nhs_number(q):
        digits = nhs_number.normalise(q)
        return digits.isascii() and digits.isdigit() and len(digits) < 10 and not dob
    if q and len(q) < MIN_NAME_LENGTH and q.isalpha():
        return True
    return bool(dob) and is_partial_date(dob)


def normalise_postcode(text: str) -> str:
    """Upper-case a postcode and put the space before the inward code when it was left out."""
    compact = re.sub(r"\s+", "", text.upper())
    if len(compact) >= 5 and compact[-3].isdigit():
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def parse_search(
    q: str = "",
    dob: str = "",
    gender: str = "",
    postcode: str = "",
    today: date | None = None,
    *,
    sort: str = "",
    live: bool = False,
) -> ParsedSearch:
    """Read the search form. Errors are keyed by field name (``q``, ``dob``, ``gender``, ``postcode``).

    ``live`` is for a search sent while someone types: what could still become valid (see
    ``ParsedSearch.pending``) is neither searched nor reported as an error until the form is
    submitted. ``sort`` is a key of ``SORTS``, optionally ``-`` for reversed.
    """
    today = today or date.today()
    q = " ".join((q or "").split())[:MAX_QUERY_LENGTH]
    dob, gender, postcode = (dob or "").strip(), (gender or "").strip(), (postcode or "").strip()
    result = ParsedSearch()
    if not (q or dob or gender or postcode):
        return result
    if live and _still_typing(q, dob):
        result.pending = True
        return result

    if q and nhs_number.looks_like_nhs_number(q):
        problem = nhs_number.problem(q)
        if problem:
            result.errors["q"] = problem
            return result
        result.kind = "nhs_number"
        result.search = PatientSearch.by_nhs_number(q)
        return result

    birthdates: list[str] = []
    words: list[str] = []
    if q:
        remainder = q
        for match in _DATE_TOKEN.finditer(q):
            found = parse_date(match.group(0))
            if found is None:
                result.errors["q"] = f"“{match.group(0)}” is not a real date."
                return result
            birthdates.append(found.isoformat())
            remainder = remainder.replace(match.group(0), " ")
        for word in remainder.replace(",", " ").split():
            if _YEAR.match(word):
                if int(word) > today.year:
                    result.errors["q"] = "The date of birth must be today or in the past."
                    return result
                birthdates.append(word)  # a year of birth: FHIR's implicit precision
                continue
            if not _NAME_CHARS.match(word):
                result.errors["q"] = (
                    "Enter an NHS number, a name, or a name and date of birth "
                    "(for example “Smith 01-01-1970”)."
                )
                return result
            words.append(word.replace("\u2019", "'"))
        if words and max(len(word) for word in words) < MIN_NAME_LENGTH:
            result.errors["q"] = f"Enter at least {MIN_NAME_LENGTH} letters of the name."
            return result

    if dob:
        found = parse_date(dob)
        if found is None:
            result.errors["dob"] = date_problem(dob) or ""
        elif found > today:
            result.errors["dob"] = "The date of birth must be today or in the past."
        else:
            birthdates.append(found.isoformat())
    for value in birthdates:
        if len(value) == 10 and date.fromisoformat(value) > today:
            result.errors.setdefault("q", "The date of birth must be today or in the past.")
    birthdates = list(dict.fromkeys(birthdates))
    if len(birthdates) > 1:
        result.errors.setdefault("dob", "Enter one date of birth.")

    if gender and gender not in GENDERS:
        result.errors["gender"] = "Choose a gender from the list."
    if postcode:
        postcode = normalise_postcode(postcode)
        if not _POSTCODE.match(postcode):
            result.errors["postcode"] = "Enter a postcode (or its first part), like LS1 4AP or LS1."
    if result.errors:
        return result
    if not words and not birthdates and (gender or postcode) and not q:
        # Gender or a postcode alone would list a whole population.
        result.errors["q"] = "Enter a name, an NHS number or a date of birth as well."
        return result
    result.kind = "name" if words and not (birthdates or gender or postcode) else "details"
    result.search = PatientSearch(
        name=tuple(words),
        birthdate=tuple(birthdates),
        gender=gender,
        postcode=postcode,
        sort=sort_keys(sort),
    )
    return result
