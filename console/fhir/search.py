"""Patient search criteria and the FHIR search parameters they become.

String values are escaped as FHIR requires (``\\,`` ``\\|`` ``\\$`` ``\\\\``) so a comma in a
name is not read as "OR". Dates are checked before any request, so a bad date never reaches
the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from console.nhs_number import NHS_NUMBER_SYSTEM, normalise

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
GENDERS = ("male", "female", "other", "unknown")
SORTABLE = ("family", "given", "name", "birthdate", "gender", "address-postalcode", "_id",
            "_lastUpdated")  # fmt: skip

_DATE_VALUE = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?"
    r"(?P<date>\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?)$"
)


def escape(value: str) -> str:
    """Escape a FHIR search string value so ``,`` ``|`` ``$`` and ``\\`` are taken literally."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")


def check_birthdate(value: str) -> str:
    """Return a FHIR date search value such as ``ge1980`` or ``1970-01-31``; raise ValueError otherwise."""
    value = value.strip()
    if not _DATE_VALUE.match(value):
        raise ValueError(f"Not a FHIR date search value: {value!r}")
    return value


def _name_values(words: tuple[str, ...]) -> list[str]:
    """One ``name`` value per word (repeats mean AND), each also offering the word joined to
    its neighbours (commas mean OR).

    HAPI matches each value as a prefix of one name part, so ``name=silva`` misses the family
    name "Da Silva"; ``name=silva,Da Silva`` finds it, while "John Smith" still needs both
    words to match.
    """
    words = tuple(word for word in words if word)
    values = []
    for index, word in enumerate(words):
        options = [word]
        if index > 0:
            options.append(f"{words[index - 1]} {word}")
        if index + 1 < len(words):
            options.append(f"{word} {words[index + 1]}")
        values.append(",".join(escape(option) for option in options))
    return values


@dataclass(frozen=True)
class PatientSearch:
    """What to look for. Each ``name`` word must match some part of some name (AND)."""

    name: tuple[str, ...] = ()
    family: str = ""
    given: str = ""
    birthdate: tuple[str, ...] = ()
    gender: str = ""
    identifier: str = ""
    postcode: str = ""
    sort: tuple[str, ...] = field(default=("family", "given"))

    @classmethod
    def by_nhs_number(cls, number: str) -> PatientSearch:
        """Search by NHS number: ``identifier=https://fhir.nhs.uk/Id/nhs-number|<digits>``."""
        return cls(identifier=f"{NHS_NUMBER_SYSTEM}|{normalise(number)}", sort=())

    def __post_init__(self) -> None:
        for value in self.birthdate:
            check_birthdate(value)
        if self.gender and self.gender not in GENDERS:
            raise ValueError(f"Unknown gender {self.gender!r}")
        for key in self.sort:
            if key.lstrip("-") not in SORTABLE:
                raise ValueError(f"Cannot sort patients by {key!r}")

    @property
    def is_empty(self) -> bool:
        """True when nothing would narrow the search."""
        return not (
            self.name
            or self.family
            or self.given
            or self.birthdate
            or self.gender
            or self.identifier
            or self.postcode
        )

    def params(self, count: int | None = None) -> list[tuple[str, str]]:
        """The query parameters, in a stable order. ``_total`` is never sent."""
        params: list[tuple[str, str]] = [("name", value) for value in _name_values(self.name)]
        if self.family:
            params.append(("family", escape(self.family)))
        if self.given:
            params.append(("given", escape(self.given)))
        params.extend(("birthdate", value) for value in self.birthdate)
        if self.gender:
            params.append(("gender", self.gender))
        if self.identifier:
            system, bar, value = self.identifier.partition("|")
            params.append(
                ("identifier", f"{system}|{escape(value)}" if bar else escape(self.identifier))
            )
        if self.postcode:
            params.append(("address-postalcode", escape(self.postcode)))
        if count is not None:
            params.append(("_count", str(count)))
        if self.sort:
            params.append(("_sort", ",".join(self.sort)))
        return params

    def criteria(self) -> dict[str, object]:
        """The criteria as plain data, for the audit log."""
        found: dict[str, object] = {}
        if self.name:
            found["name"] = " ".join(self.name)
        for key in ("family", "given", "gender", "identifier", "postcode"):
            value = getattr(self, key)
            if value:
                found[key] = value
        if self.birthdate:
            found["birthdate"] = list(self.birthdate)
        return found
