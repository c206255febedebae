"""Building FHIR search parameters from the console's criteria."""

from __future__ import annotations

import pytest

from console.fhir.search import PatientSearch, check_birthdate, escape


def test_nhs_number_search_uses_the_nhs_identifier_system() -> None:
    search = PatientSearch.by_nhs_number("943 476 5919")
    assert search.params(count=20) == [
        ("identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919"),
        ("_count", "20"),
    ]


def test_name_words_become_repeated_name_parameters_sorted_by_name() -> None:
    search = PatientSearch(name=("john", "smith"))
    assert search.params(count=10) == [
        ("name", "john,john smith"),
        ("name", "smith,john smith"),
        ("_count", "10"),
        ("_sort", "family,given"),
    ]
    assert PatientSearch(name=("smith",)).params()[0] == ("name", "smith")


def test_each_name_word_may_also_match_with_its_neighbours() -> None:
    values = [v for k, v in PatientSearch(name=("Mary", "Da", "Silva,")).params() if k == "name"]
    assert values == ["Mary,Mary Da", "Da,Mary Da,Da Silva\\,", "Silva\\,,Da Silva\\,"]


def test_every_supported_parameter() -> None:
    search = PatientSearch(
        family="Smith",
        given="Jo",
        birthdate=("ge1980", "lt1990-06"),
        gender="female",
        postcode="LS1 4AP",
        identifier="urn:oid:1.2|A,B",
        sort=("-birthdate",),
    )
    assert search.params() == [
        ("family", "Smith"),
        ("given", "Jo"),
        ("birthdate", "ge1980"),
        ("birthdate", "lt1990-06"),
        ("gender", "female"),
        ("identifier", "urn:oid:1.2|A\\,B"),
        ("address-postalcode", "LS1 4AP"),
        ("_sort", "-birthdate"),
    ]


def test_total_is_never_requested() -> None:
    params = PatientSearch(name=("smith",)).params(count=20)
    assert not [key for key, _ in params if key == "_total"]


def test_special_characters_are_escaped_not_read_as_or() -> None:
    assert escape("Smith, John") == "Smith\\, John"
    assert escape("a|b$c\\d") == "a\\|b\\$c\\\\d"
    assert PatientSearch(family="O'Brien, Jr").params()[0] == ("family", "O'Brien\\, Jr")


@pytest.mark.parametrize(
    "value", ["1970", "1970-01", "1970-01-31", "ge1970", "le2001-12-31", "ap1980"]
)
def test_valid_birthdate_values(value: str) -> None:
    assert check_birthdate(value) == value


@pytest.mark.parametrize(
    "value", ["01-01-1970", "1970-13", "1970-02-32", "xx1970", "yesterday", ""]
)
def test_invalid_birthdate_values_are_refused_before_any_request(value: str) -> None:
    with pytest.raises(ValueError):
        check_birthdate(value)
    with pytest.raises(ValueError):
        PatientSearch(birthdate=(value,))


def test_unknown_gender_and_sort_are_refused() -> None:
    with pytest.raises(ValueError):
        PatientSearch(gender="f")
    with pytest.raises(ValueError):
        PatientSearch(name=("x",), sort=("shoe-size",))


def test_emptiness_and_audit_criteria() -> None:
    assert PatientSearch().is_empty
    search = PatientSearch(name=("mary", "jones"), birthdate=("1970-01-01",), postcode="LS1")
    assert not search.is_empty
    assert search.criteria() == {
        "name": "mary jones",
        "postcode": "LS1",
        "birthdate": ["1970-01-01"],
    }
