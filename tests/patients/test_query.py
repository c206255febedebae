"""Reading the patient search box: NHS number, name, or name and date of birth."""

from __future__ import annotations

from datetime import date

import pytest

from console.patients.forms import normalise_postcode, parse_date, parse_search

TODAY = date(2026, 1, 1)


def test_nothing_typed_searches_nothing() -> None:
    parsed = parse_search("  ", today=TODAY)
    assert not parsed.ready and not parsed.errors


@pytest.mark.parametrize("text", ["9434765919", "943 476 5919", "943-476-5919"])
def test_an_nhs_number_searches_the_identifier(text: str) -> None:
    parsed = parse_search(text, today=TODAY)
    assert parsed.ready and parsed.kind == "nhs_number"
    assert parsed.search is not None
    assert parsed.search.identifier == "https://fhir.nhs.uk/Id/nhs-number|9434765919"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9434765918", "not a valid NHS number"),
        ("943 476", "has 10 digits"),
        ("1111111111", "all the digits are the same"),
    ],
)
def test_an_invalid_nhs_number_is_an_inline_error_and_no_search(text: str, message: str) -> None:
    parsed = parse_search(text, today=TODAY)
    assert not parsed.ready and parsed.search is None
    assert message in parsed.errors["q"]


def test_a_name_becomes_words_that_must_all_match() -> None:
    parsed = parse_search("Mary  Jones", today=TODAY)
    assert parsed.ready and parsed.kind == "name"
    assert parsed.search is not None and parsed.search.name == ("Mary", "Jones")


def test_family_comma_given_is_understood() -> None:
    parsed = parse_search("JONES, Mary", today=TODAY)
    assert parsed.search is not None and parsed.search.name == ("JONES", "Mary")


@pytest.mark.parametrize(
    "text",
    [
        "Jones 01-02-1970",
        "Jones 1/2/1970",
        "Jones 1970-02-01",
        "Jones 01-Feb-1970",
        "Jones 1 February 1970",
    ],
)
def test_name_and_date_of_birth_in_the_box(text: str) -> None:
    parsed = parse_search(text, today=TODAY)
    assert parsed.ready and parsed.kind == "details"
    assert parsed.search is not None
    assert parsed.search.name == ("Jones",)
    assert parsed.search.birthdate == ("1970-02-01",)


def test_name_and_year_of_birth_in_the_box() -> None:
    parsed = parse_search("Jones Mary 1970", today=TODAY)
    assert parsed.ready and parsed.kind == "details"
    assert parsed.search is not None
    assert parsed.search.name == ("Jones", "Mary") and parsed.search.birthdate == ("1970",)
    future = parse_search(f"Jones {TODAY.year + 1}", today=TODAY)
    assert not future.ready and "in the past" in future.errors["q"]
    assert "10 digits" in parse_search("1970", today=TODAY).errors["q"], (
        "a year alone is not a name"
    )


def test_a_date_alone_searches_by_date_of_birth() -> None:
    parsed = parse_search("01-02-1970", today=TODAY)
    assert parsed.ready
    assert parsed.search is not None and parsed.search.birthdate == ("1970-02-01",)


def test_extra_fields() -> None:
    parsed = parse_search(
        "smith", dob="31/01/1970", gender="female", postcode="ls14ap", today=TODAY
    )
    assert parsed.ready
    assert parsed.search is not None
    assert parsed.search.birthdate == ("1970-01-31",)
    assert parsed.search.gender == "female"
    assert parsed.search.postcode == "LS1 4AP"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"q": "smith", "dob": "31-02-1970"}, "dob", "is not a real date"),
        ({"q": "smith", "dob": "last spring"}, "dob", "day-month-year"),
        ({"q": "smith", "dob": "01-01-2030"}, "dob", "in the past"),
        ({"q": "smith 31-02-1970"}, "q", "not a real date"),
        ({"q": "smith", "gender": "f"}, "gender", "Choose a gender"),
        ({"q": "smith", "postcode": "12345"}, "postcode", "Enter a postcode"),
        ({"q": "s"}, "q", "at least 2 letters"),
        ({"q": "smith <script>"}, "q", "Enter an NHS number, a name"),
        ({"gender": "male"}, "q", "as well"),
        ({"q": "smith 01-01-1970", "dob": "02-02-1980"}, "dob", "one date of birth"),
    ],
)
def test_problems_are_reported_against_their_field(
    fields: dict[str, str], field: str, message: str
) -> None:
    parsed = parse_search(**fields, today=TODAY)
    assert not parsed.ready
    assert message in parsed.errors[field]


def test_names_with_apostrophes_hyphens_and_accents() -> None:
    parsed = parse_search("O'Brien Smith-Jones Zoë", today=TODAY)
    assert parsed.search is not None and parsed.search.name == ("O'Brien", "Smith-Jones", "Zoë")


def test_helpers() -> None:
    assert parse_date("1 jan 1970") == date(1970, 1, 1)
    assert parse_date("nonsense") is None
    assert normalise_postcode(" sw1a1aa ") == "SW1A 1AA"
    assert normalise_postcode("ls1") == "LS1"
