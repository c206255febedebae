"""Why a patient is in the results, and the order the results are shown in.

A FHIR name search matches any of a patient's names (a maiden name, a previous name), and a
postcode search any of their addresses, while the results show only the current name and home
postcode. ``match_note`` says what matched when it is not what is shown, so staff can tell
why "ROBINSON, Zara" answered a search for "smith".
"""

from __future__ import annotations

import unicodedata
from datetime import date
from functools import partial

from console.fhir.models import Address, HumanName, PatientView
from console.fhir.search import PatientSearch

NAME_USES = {
    "maiden": "maiden name",
    "old": "previous name",
    "nickname": "nickname",
    "usual": "usual name",
    "official": "official name",
    "anonymous": "anonymous name",
    "temp": "temporary name",
}


def _fold(text: str) -> str:
    """Lower case without accents, as FHIR string search compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _name_parts(name: HumanName) -> list[str]:
    parts = [name.family, *name.given, *name.prefix, *name.suffix, name.text]
    return [_fold(part) for part in parts if part]


def _name_matches(name: HumanName, words: tuple[str, ...]) -> bool:
    """True when every word starts some part of the name (HAPI's default string match)."""
    parts = _name_parts(name)
    joined = " ".join(parts)
    return all(
        any(part.startswith(_fold(word)) for part in parts) or _fold(word) in joined
        for word in words
    )


def _postcode(text: str) -> str:
    return "".join(text.split()).upper()


def _address_matches(address: Address, postcode: str) -> bool:
    return bool(address.postal_code) and _postcode(address.postal_code).startswith(
        _postcode(postcode)
    )


def match_note(patient: PatientView, search: PatientSearch | None) -> str:
    """What matched, when it is not the name or postcode shown; "" when the row says it all."""
    if search is None:
        return ""
    notes = []
    words = tuple(word for word in search.name if word)
    shown = patient.name
    if words and not (shown is not None and _name_matches(shown, words)):
        other = next((n for n in patient.other_names if _name_matches(n, words)), None)
        if other is not None:
            use = NAME_USES.get(other.use, "other name")
            notes.append(f"also known as {other.banner} ({use})")
        else:
            notes.append("matched on other details in the record")
    if search.postcode:
        home = patient.home_address
        if not (home is not None and _address_matches(home, search.postcode)):
            found = next(
                (a for a in patient.addresses if _address_matches(a, search.postcode)), None
            )
            if found is not None:
                notes.append(f"matched on previous address ({found.postal_code})")
    text = "; ".join(notes)
    return text[:1].upper() + text[1:]


def _name_key(patient: PatientView) -> tuple[int, str, str]:
    name = patient.name
    if name is None:
        return (1, "", "")
    return (0 if name.family else 1, _fold(name.family), _fold(" ".join(name.given)))


def _born_key(patient: PatientView) -> tuple[int, date]:
    born = patient.birth_date
    if born is None or born.year is None:
        return (1, date.min)
    return (0, date(born.year, born.month or 1, born.day or 1))


def _sort_key(patient: PatientView, key: str) -> tuple[object, ...]:
    if key == "family":
        return _name_key(patient)[:2]
    if key == "given":
        return (_name_key(patient)[2],)
    if key == "birthdate":
        return _born_key(patient)
    if key == "gender":
        return (0 if patient.gender else 1, patient.gender)
    if key == "address-postalcode":
        return (0 if patient.postcode else 1, _postcode(patient.postcode))
    return ()


def display_order(patients: tuple[PatientView, ...], sort: tuple[str, ...]) -> list[PatientView]:
    """One page's patients in the order of what is shown (the displayed name, not whichever
    name the server sorted on), by the same keys as the search's ``_sort``."""
    ordered = list(patients)
    for key in reversed(sort):
        field = key.lstrip("-")
        ordered.sort(key=partial(_sort_key, key=field), reverse=key.startswith("-"))
    return ordered
