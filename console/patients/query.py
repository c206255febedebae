"""Understanding the patient search box: an NHS number, a name, or a name and date of birth.

``parse_search(q, dob, gender, postcode)`` turns what staff typed into ``PatientSearch``
criteria, or into field errors to show inline (and then nothing is searched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from console import nhs_number
from console.fhir.search import GENDERS, PatientSearch

MIN_NAME_LENGTH = 2
MAX_QUERY_LENGTH = 200
_DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%d-%b-%Y", "%d %b %Y",
                 "%d %B %Y", "%d-%B-%Y")  # fmt: skip
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

    @property
    def ready(self) -> bool:
        """True when a search should be sent."""
        return self.search is not None and not self.errors


def parse_date(text: str) -> date | None:
    """A date of birth in any common UK form (``01-01-1970``, ``1/1/1970``, ``1 Jan 1970``)."""
    text = " ".join(text.split())
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def normalise_postcode(text: str) -> str:
    """Upper-case a postcode and put the space before the inward code when it was left out."""
    compact = re.sub(r"\s+", "", text.upper())
    if len(compact) >= 5 and compact[-3].isdigit():
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def parse_search(
    q: str = "", dob: str = "", gender: str = "", postcode: str = "", today: date | None = None
) -> ParsedSearch:
    """Read the search form. Errors are keyed by field name (``q``, ``dob``, ``gender``, ``postcode``)."""
    today = today or date.today()
    q = " ".join((q or "").split())[:MAX_QUERY_LENGTH]
    dob, gender, postcode = (dob or "").strip(), (gender or "").strip(), (postcode or "").strip()
    result = ParsedSearch()
    if not (q or dob or gender or postcode):
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
            result.errors["dob"] = "Enter the date of birth as day-month-year, like 31-01-1970."
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
    )
    return result
