"""Parsing Patients and Bundles: tolerant of missing and odd fields, strict about what matters."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from console.fhir.errors import FhirMalformed
from console.fhir.models import (
    PartialDate,
    parse_capability_statement,
    parse_instant,
    parse_patient,
    parse_search_bundle,
)


def full_patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "1000",
        "meta": {"versionId": "3", "lastUpdated": "2025-05-23T05:42:36.551+00:00"},
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"},
            {"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"},
            {
                "type": {"text": "Hospital number"},
                "system": "https://trust.example/mrn",
                "value": "RX1",
            },
        ],
        "name": [
            {"use": "maiden", "family": "Windsor", "given": ["Peter"], "period": {"end": "2002"}},
            {
                "use": "official",
                "family": "Chalmers",
                "given": ["Peter", "James"],
                "prefix": ["Mr"],
            },
            {"use": "usual", "given": ["Jim"]},
        ],
        "telecom": [
            {"use": "home"},
            {"system": "phone", "value": "07700 900123", "use": "mobile", "rank": 1},
            {"system": "email", "value": "jim@example.com", "use": "work"},
        ],
        "gender": "male",
        "birthDate": "1974-12-25",
        "deceasedBoolean": False,
        "address": [
            {"use": "old", "line": ["1 Old Road"], "postalCode": "LS1 1AA"},
            {"use": "home", "line": ["534 Erewhon St"], "city": "Leeds", "postalCode": "LS6 2AB"},
        ],
        "generalPractitioner": [
            {"reference": "Organization/1", "display": "Riverside Medical Practice"},
            {
                "type": "Organization",
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y90001",
                },
            },
        ],
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}
                        ]
                    }
                ],
                "name": {"family": "du Marché", "given": ["Bénédicte"]},
                "telecom": [{"system": "phone", "value": "+33 (237) 998327"}],
            }
        ],
        "unknownExtraField": {"ignored": True},
    }


def test_a_full_patient_is_read_into_typed_parts() -> None:
    view = parse_patient(full_patient())
    assert view.id == "1000"
    assert (view.version_id, view.last_updated) == ("3", "2025-05-23T05:42:36.551+00:00")
    assert view.name is not None
    assert view.name.banner == "CHALMERS, Peter James (Mr)"
    assert view.name.full == "Mr Peter James Chalmers"
    assert [n.use for n in view.other_names] == ["maiden", "usual"]
    assert view.nhs_number == "9434765919"
    labels = [(i.label, i.display_value) for i in view.identifiers]
    assert labels == [
        ("NHS number", "943 476 5919"),
        ("urn:oid:1.2.36.146.595.217.0.1", "12345"),
        ("Hospital number", "RX1"),
    ]
    assert [t.label for t in view.telecom] == ["Home contact", "Mobile phone", "Work email"]
    assert view.home_address is not None and view.postcode == "LS6 2AB"
    assert view.home_address.one_line == "534 Erewhon St, Leeds, LS6 2AB"
    assert [g.label for g in view.general_practitioners] == [
        "Riverside Medical Practice",
        "ODS organisation code Y90001",
    ]
    contact = view.contacts[0]
    assert contact.relationships == ("Next of kin",)
    assert contact.name is not None and contact.name.full == "Bénédicte du Marché"
    assert not view.deceased
    assert view.birth_date is not None and view.birth_date.as_date == date(1974, 12, 25)
    assert view.age_on(date(2025, 12, 24)) == 50
    assert view.age_on(date(2025, 12, 25)) == 51
    assert view.raw["unknownExtraField"] == {"ignored": True}


def test_a_bare_patient_with_only_an_id_is_fine() -> None:
    view = parse_patient({"resourceType": "Patient", "id": "x"})
    assert view.name is None
    assert view.nhs_number == ""
    assert view.birth_date is None and view.age_on(date.today()) is None
    assert view.home_address is None and view.postcode == ""
    assert view.identifiers == () and view.contacts == ()


@pytest.mark.parametrize(
    "odd",
    [
        {"name": "Smith"},
        {"name": [{"given": "Jo"}]},
        {"name": [None, 3, {"family": 7}]},
        {"telecom": {"system": "phone", "value": "1"}},
        {"identifier": [{"system": None}]},
        {"address": [{"line": "1 High St"}]},
        {"birthDate": "not a date"},
        {"birthDate": "1970-02-30"},
        {"meta": "nope"},
        {"contact": [{"relationship": "friend", "name": "Bob"}]},
        {"generalPractitioner": "Dr Who"},
        {"telecom": [{"rank": "first"}]},
    ],
)
def test_odd_shapes_do_not_crash(odd: dict[str, Any]) -> None:
    view = parse_patient({"resourceType": "Patient", "id": "1", **odd})
    assert view.id == "1"


def test_a_given_name_as_a_string_is_still_a_name() -> None:
    view = parse_patient({"resourceType": "Patient", "id": "1", "name": [{"given": "Jo"}]})
    assert view.name is not None and view.name.banner == "Jo"


def test_deceased_patients() -> None:
    view = parse_patient(
        {
            "resourceType": "Patient",
            "id": "1",
            "birthDate": "1930-06-01",
            "deceasedDateTime": "2020-05-31T10:00:00+00:00",
        }
    )
    assert view.deceased
    assert view.deceased_date is not None and view.deceased_date.as_date == date(2020, 5, 31)
    assert view.age_on(date(2030, 1, 1)) == 89, "age at death, not today"
    assert parse_patient({"resourceType": "Patient", "id": "1", "deceasedBoolean": True}).deceased


def test_partial_dates() -> None:
    assert PartialDate.parse("1970") == PartialDate("1970", 1970)
    assert PartialDate.parse("1970-02") == PartialDate("1970-02", 1970, 2)
    assert PartialDate.parse("1970").age_on(date(2020, 1, 1)) is None  # type: ignore[union-attr]
    assert PartialDate.parse("") is None
    assert PartialDate.parse("garbage") == PartialDate("garbage")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "Patient",
        {"resourceType": "Observation", "id": "1"},
        {"resourceType": "Patient"},
        {"resourceType": "Patient", "id": "../../etc"},
        {"resourceType": "Patient", "id": 5},
    ],
)
def test_not_a_patient_is_malformed(payload: Any) -> None:
    with pytest.raises(FhirMalformed):
        parse_patient(payload)


def test_an_empty_bundle_has_no_entry_key() -> None:
    page = parse_search_bundle(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": 0,
            "link": [{"relation": "self", "url": "http://h/fhir/Patient?name=x"}],
        }
    )
    assert page.is_empty and page.total == 0
    assert page.next_url is None and page.self_url.endswith("name=x")


def test_bundle_links_total_and_non_match_entries() -> None:
    page = parse_search_bundle(
        {
            "resourceType": "Bundle",
            "id": "abc",
            "type": "searchset",
            "link": [
                {"relation": "self", "url": "s"},
                {"relation": "next", "url": "n"},
                {"relation": "previous", "url": "p"},
            ],
            "entry": [
                {"resource": {"resourceType": "Patient", "id": "1"}, "search": {"mode": "match"}},
                {
                    "resource": {"resourceType": "Organization", "id": "o"},
                    "search": {"mode": "include"},
                },
                {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
            ],
        }
    )
    assert [p.id for p in page.patients] == ["1"]
    assert page.total is None, "HAPI leaves total out for large result sets"
    assert (page.self_url, page.next_url, page.previous_url) == ("s", "n", "p")
    assert page.bundle_id == "abc"


@pytest.mark.parametrize(
    "payload",
    [
        {"resourceType": "OperationOutcome"},
        {"resourceType": "Bundle", "type": "transaction-response"},
        {"resourceType": "Bundle", "type": "searchset", "entry": {"resource": {}}},
        {"resourceType": "Bundle", "type": "searchset", "entry": ["x"]},
    ],
)
def test_not_a_searchset_is_malformed(payload: Any) -> None:
    with pytest.raises(FhirMalformed):
        parse_search_bundle(payload)


def test_capability_statement_and_instants() -> None:
    info = parse_capability_statement(
        {
            "resourceType": "CapabilityStatement",
            "software": {"name": "HAPI FHIR Server", "version": "8.8.0"},
            "implementation": {"description": "HAPI FHIR R4 Server"},
            "fhirVersion": "4.0.1",
        }
    )
    assert (info.software_name, info.software_version, info.description) == (
        "HAPI FHIR Server",
        "8.8.0",
        "HAPI FHIR R4 Server",
    )
    with pytest.raises(FhirMalformed):
        parse_capability_statement({"resourceType": "Bundle"})
    moment = parse_instant("2025-05-23T05:42:36.551+00:00")
    assert moment is not None and moment.year == 2025 and moment.microsecond == 551000
    assert parse_instant("yesterday") is None
