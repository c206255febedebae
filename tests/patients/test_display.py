"""Patient details as staff read them: NHS date format, ages, "Not known"."""

from __future__ import annotations

from datetime import date

import pytest

from console.fhir.models import PartialDate, parse_patient
from console.patients.display import (
    age_label,
    banner_name,
    born_label,
    fhir_date,
    gender_label,
    instant_label,
)


def test_dates() -> None:
    assert fhir_date(PartialDate.parse("1970-01-01")) == "01-Jan-1970"
    assert fhir_date(PartialDate.parse("1970-03")) == "Mar-1970"
    assert fhir_date(PartialDate.parse("1970")) == "1970"
    assert fhir_date(None) == "Not known"


@pytest.mark.parametrize(
    ("born", "on", "label"),
    [
        (date(1970, 1, 1), date(2026, 1, 1), "56y"),
        (date(1970, 1, 2), date(2026, 1, 1), "55y"),
        (date(2024, 6, 15), date(2026, 1, 1), "18m"),
        (date(2025, 12, 20), date(2026, 1, 1), "12d"),
    ],
)
def test_ages(born: date, on: date, label: str) -> None:
    assert age_label(born, on) == label


def test_born_label_and_age_at_death() -> None:
    alive = parse_patient({"resourceType": "Patient", "id": "1", "birthDate": "1970-01-01"})
    assert born_label(alive, date(2026, 1, 1)) == "01-Jan-1970 (56y)"
    dead = parse_patient(
        {
            "resourceType": "Patient",
            "id": "1",
            "birthDate": "1970-01-01",
            "deceasedDateTime": "2000-06-01",
        }
    )
    assert born_label(dead, date(2026, 1, 1)) == "01-Jan-1970 (30y)"
    assert (
        born_label(parse_patient({"resourceType": "Patient", "id": "1"}), date(2026, 1, 1))
        == "Not known"
    )


def test_other_labels() -> None:
    assert gender_label("female") == "Female"
    assert gender_label("unknown") == "Not known"
    assert gender_label("") == "Not known"
    assert instant_label("2025-05-23T05:42:36.551+00:00") == "23-May-2025 06:42"  # BST
    assert instant_label("2025-01-23T05:42:36.551+00:00") == "23-Jan-2025 05:42"  # GMT
    assert instant_label("") == "Not known"
    assert banner_name(parse_patient({"resourceType": "Patient", "id": "1"})) == "Name not known"
