"""How patient details read on staff screens (NHS conventions), as plain functions.

Dates are ``01-Jan-1970``; ages are ``(56y)``, or months/days for the very young; anything
missing is "Not known", never blank.
"""

from __future__ import annotations

from datetime import date

from console.fhir.models import PartialDate, PatientView, parse_instant
from console.nhs_number import normalise

NOT_KNOWN = "Not known"
GENDERS = {"male": "Male", "female": "Female", "other": "Other", "unknown": "Not known"}


def fhir_date(value: PartialDate | None) -> str:
    """``01-Jan-1970``; ``Jan-1970`` or ``1970`` when only part is known; else "Not known"."""
    if value is None:
        return NOT_KNOWN
    full = value.as_date
    if full is not None:
        return full.strftime("%d-%b-%Y")
    if value.year and value.month:
        return date(value.year, value.month, 1).strftime("%b-%Y")
    if value.year:
        return str(value.year)
    return value.raw or NOT_KNOWN


def age_label(born: date, on: date) -> str:
    """``56y``; ``18m`` under two years; ``12d`` under a month."""
    if on < born:
        return "0d"
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if years >= 2:
        return f"{years}y"
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    if months >= 1:
        return f"{months}m"
    return f"{(on - born).days}d"


def born_label(patient: PatientView, today: date) -> str:
    """``01-Jan-1970 (56y)``, the age at death for a deceased patient; "Not known" when missing."""
    if patient.birth_date is None:
        return NOT_KNOWN
    text = fhir_date(patient.birth_date)
    born = patient.birth_date.as_date
    if born is None:
        return text
    until = today
    if patient.deceased_date is not None and patient.deceased_date.as_date is not None:
        until = min(today, patient.deceased_date.as_date)
    return f"{text} ({age_label(born, until)})"


def gender_label(value: str) -> str:
    """``Female``, ``Male``, ``Other``; "Not known" for unknown or missing."""
    return GENDERS.get(value, value.capitalize() if value else NOT_KNOWN)


def instant_label(text: str) -> str:
    """``23-May-2025 06:42`` (UK time) for ``meta.lastUpdated``; the raw text if unreadable."""
    from console.templating import format_datetime

    moment = parse_instant(text)
    if moment is None:
        return text or NOT_KNOWN
    return format_datetime(moment)


def banner_name(patient: PatientView) -> str:
    """``FAMILY, Given (Title)`` or "Name not known"."""
    name = patient.name
    return name.banner if name is not None and name.banner else "Name not known"


def audit_identity(patient: PatientView | None) -> dict[str, str | None]:
    """The audit row's record of who the patient was, as the banner shows them.

    The NHS number is kept only when it is ten digits (a hostile record's odd value is not);
    the name is the banner's ``FAMILY, Given`` form.
    """
    if patient is None:
        return {}
    digits = normalise(patient.nhs_number)
    return {
        "patient_nhs_number": digits
        if len(digits) == 10 and digits.isascii() and digits.isdigit()
        else None,
        "patient_name": banner_name(patient),
    }
