"""Synthetic patients: repeatable, realistic, valid NHS test numbers, idempotent loading."""

from __future__ import annotations

import re
from collections import Counter

from console.fhir import FhirClient, PatientSearch
from console.fhir.models import parse_patient
from console.nhs_number import is_valid
from console.sandbox.patients import generate_patients, load_patients, transaction_bundle
from tests.support.fhir import Hapi

POSTCODE = re.compile(r"^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$")


def test_same_seed_same_patients_other_seed_other_patients() -> None:
    assert generate_patients(50, seed=7) == generate_patients(50, seed=7)
    assert generate_patients(50, seed=7) != generate_patients(50, seed=8)
    assert generate_patients(10, seed=7) == generate_patients(50, seed=7)[:10]


def test_nhs_numbers_are_valid_unique_and_from_the_test_range() -> None:
    patients = generate_patients(1000)
    numbers = [parse_patient({**p, "id": "x"}).nhs_number for p in patients]
    assert all(number.startswith("999") and is_valid(number) for number in numbers)
    assert len(set(numbers)) == 1000


def test_the_population_looks_real() -> None:
    views = [parse_patient({**p, "id": str(i)}) for i, p in enumerate(generate_patients(500))]
    assert all(v.name and v.name.family and v.name.given for v in views)
    assert any(v.name and v.name.prefix for v in views), "some titles"
    assert any(v.name and len(v.name.given) > 1 for v in views), "some middle names"
    assert any(len(v.names) > 1 for v in views), "some previous or preferred names"
    assert all(v.home_address and POSTCODE.match(v.home_address.postal_code) for v in views)
    assert all(v.general_practitioners for v in views)
    assert 0 < sum(v.deceased for v in views) < 50
    assert any(v.contacts for v in views)
    phones = [t.value for v in views for t in v.telecom if t.system == "phone"]
    assert phones and all(p.startswith(("07700 900", "0113 496", "0161 496", "0117 496",
                                         "0121 496", "0114 496", "029 2018", "0191 498",
                                         "020 7946", "0115 496", "0141 496")) for p in phones)  # fmt: skip
    genders = Counter(v.gender for v in views)
    assert genders["female"] > 150 and genders["male"] > 150
    assert all(v.birth_date and v.birth_date.as_date for v in views)


def test_the_transaction_creates_conditionally_on_the_nhs_number() -> None:
    [patient] = generate_patients(1)
    bundle = transaction_bundle([patient])
    assert bundle["type"] == "transaction"
    request = bundle["entry"][0]["request"]
    number = patient["identifier"][0]["value"]
    assert request == {
        "method": "POST",
        "url": "Patient",
        "ifNoneExist": f"identifier=https://fhir.nhs.uk/Id/nhs-number|{number}",
    }


def test_loading_is_idempotent_and_searchable(hapi: Hapi, client: FhirClient) -> None:
    patients = generate_patients(25, seed=11)
    ids = load_patients(hapi.base_url, patients, batch_size=10)
    assert len(set(ids)) == 25
    assert load_patients(client, patients, batch_size=10) == ids
    assert hapi.app.count() == 25
    number = patients[3]["identifier"][0]["value"]
    found = client.search_patients(PatientSearch.by_nhs_number(number))
    assert [p.id for p in found.patients] == [ids[3]]
