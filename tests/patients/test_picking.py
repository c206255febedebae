"""Picking the right patient: what matched, the order shown, where a page is in the results,
and validating as someone types rather than at each pause."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.fhir import Hapi
from tests.support.patients import set_settings

HX = {"HX-Request": "true"}


def body(response: Any) -> str:
    return response.get_data(as_text=True)


def patient(family: str, given: str, born: str = "1970-01-01", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        "birthDate": born,
        **extra,
    }


def shown_names(page: str) -> list[str]:
    return re.findall(r'<a href="/patients/[^"]+">([^<]+)</a>', page)


def rows(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>.*?</tr>", page, flags=re.S)


# -- what matched -------------------------------------------------------------------------------


def test_a_row_found_by_a_former_name_says_so(clinician: FlaskClient, hapi: Hapi) -> None:
    zara = patient("Robinson", "Zara")
    zara["name"].append({"use": "maiden", "family": "Smith", "given": ["Zara"]})
    hapi.app.seed([zara, patient("Smith", "Anna")])
    page = body(clinician.get("/patients/?q=smith"))
    by_row = {shown_names(row)[0]: row for row in rows(page)}
    assert "Also known as SMITH, Zara (maiden name)" in by_row["ROBINSON, Zara"]
    assert "match-note" not in by_row["SMITH, Anna"], "the name shown matched: nothing to add"


def test_a_row_found_by_a_previous_address_says_so(clinician: FlaskClient, hapi: Hapi) -> None:
    moved = patient(
        "White",
        "Chioma",
        address=[
            {"use": "home", "postalCode": "M1 1AA"},
            {"use": "old", "postalCode": "LS1 4AP", "period": {"end": "2020"}},
        ],
    )
    hapi.app.seed([moved])
    page = body(clinician.get("/patients/?q=white&postcode=LS1"))
    assert "Matched on previous address (LS1 4AP)" in page
    assert "M1 1AA" in page, "the row still shows the current postcode"


# -- order --------------------------------------------------------------------------------------


def test_rows_are_in_the_order_of_the_names_shown_then_date_of_birth(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    # HAPI sorts by the lowest family name of ANY name: Young's maiden name "Adams" puts her
    # first although "YOUNG" is the name shown.
    young = patient("Young", "Zara")
    young["name"].append({"use": "maiden", "family": "Adams", "given": ["Zara"]})
    hapi.app.seed([
        patient("Smith", "Zara", "1990-05-05"), young, patient("Smith", "Zara", "1950-05-05"),
        patient("White", "Zara"),
    ])  # fmt: skip
    page = body(clinician.get("/patients/?q=zara"))
    assert shown_names(page) == ["SMITH, Zara", "SMITH, Zara", "WHITE, Zara", "YOUNG, Zara"]
    assert page.index("05-May-1950") < page.index("05-May-1990"), "same name: older first"


def test_sorting_by_name_then_born(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.app.seed([
        patient("Smith", "Bea", "1990-05-05"), patient("Smithers", "Al", "1940-01-01"),
        patient("Smith", "Bea", "1950-05-05"), patient("Smith", "Al", "1960-01-01"),
    ])  # fmt: skip
    page = body(clinician.get("/patients/?q=smith"))
    assert shown_names(page) == ["SMITH, Al", "SMITH, Bea", "SMITH, Bea", "SMITHERS, Al"]
    assert page.index("05-May-1950") < page.index("05-May-1990"), "same name: older first"
    assert 'aria-sort="ascending"' in page

    born = body(clinician.get("/patients/?q=smith&sort=born"))
    assert shown_names(born) == ["SMITHERS, Al", "SMITH, Bea", "SMITH, Al", "SMITH, Bea"]
    newest = body(clinician.get("/patients/?q=smith&sort=-born"))
    assert shown_names(newest)[0] == "SMITH, Bea" and "05-May-1990" in rows(newest)[0]
    assert 'aria-sort="descending"' in newest
    reverse = body(clinician.get("/patients/?q=smith&sort=-name"))
    assert shown_names(reverse)[0] == "SMITHERS, Al"
    sort_urls = re.findall(r'class="sort-link" href="([^"]+)"', page)
    assert "/patients/?q=smith&amp;sort=-name" in sort_urls, "the sorted column reverses"
    assert "/patients/?q=smith&amp;sort=born" in sort_urls


def test_an_unknown_sort_is_the_default_order(clinician: FlaskClient, hapi: Hapi) -> None:
    hapi.app.seed([patient("Smith", "Bea"), patient("Smith", "Al")])
    response = clinician.get("/patients/?q=smith&sort=password")
    assert response.status_code == 200
    assert shown_names(body(response)) == ["SMITH, Al", "SMITH, Bea"]


# -- pages --------------------------------------------------------------------------------------


def next_url(page: str) -> str:
    match = re.search(r'<a href="([^"]+)" id="patients-next"', page)
    return html.unescape(match.group(1)) if match else ""


def previous_url(page: str) -> str:
    match = re.search(r'<a href="([^"]+)" id="patients-previous"', page)
    return html.unescape(match.group(1)) if match else ""


def status(page: str) -> str:
    match = re.search(r'id="patient-results-status"[^>]*>([^<]*)<', page)
    assert match is not None
    return match.group(1).strip()


def test_each_page_says_where_it_is_in_the_results(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    set_settings(console, **{"clinical.fhir_page_size": 2})
    hapi.app.seed([patient("Page", f"P{i}") for i in range(5)])
    first = body(clinician.get("/patients/?q=page"))
    assert status(first) == "Patients 1\u20132 of 5."
    second = body(clinician.get(next_url(first)))
    assert status(second) == "Patients 3\u20134 of 5."
    third = body(clinician.get(next_url(second)))
    assert status(third) == "Patient 5 of 5."
    assert not next_url(third)
    back = body(clinician.get(previous_url(third)))
    assert status(back) == "Patients 3\u20134 of 5."
    assert "page=" in next_url(first), "the page is in the address, so reload and back work"


def test_without_a_total_a_page_says_of_more_than(
    console: Flask, clinician: FlaskClient, hapi: Hapi, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_settings(console, **{"clinical.fhir_page_size": 2})
    monkeypatch.setattr(hapi.app, "total_threshold", 1)  # HAPI omits Bundle.total when large
    hapi.app.seed([patient("Page", f"P{i}") for i in range(5)])
    first = body(clinician.get("/patients/?q=page"))
    assert status(first) == "Patients 1\u20132 of more than 2."
    second = body(clinician.get(next_url(first)))
    assert status(second) == "Patients 3\u20134 of more than 4."
    last = body(clinician.get(next_url(second)))
    assert status(last) == "Patient 5 of 5."


def test_a_page_can_be_reloaded_from_its_address(
    console: Flask, clinician: FlaskClient, hapi: Hapi
) -> None:
    set_settings(console, **{"clinical.fhir_page_size": 2})
    hapi.app.seed([patient("Page", f"P{i}") for i in range(5)])
    second_url = next_url(body(clinician.get("/patients/?q=page")))
    fragment = body(clinician.get(second_url, headers=HX))
    again = body(clinician.get(second_url))
    assert status(again) == "Patients 3\u20134 of 5."
    assert shown_names(again) == shown_names(fragment)


# -- validating as someone types ----------------------------------------------------------------

LIVE = {"HX-Request": "true", "HX-Trigger": "patient-q"}
SUBMIT = {"HX-Request": "true", "HX-Trigger": "patient-search"}


@pytest.mark.parametrize("typed", ["9", "999", "999 912", "999 912 10", "999-912-1", "S"])
def test_a_plausible_start_is_not_an_error_while_typing(
    clinician: FlaskClient, hapi: Hapi, typed: str
) -> None:
    response = clinician.get("/patients/", query_string={"q": typed}, headers=LIVE)
    page = body(response)
    assert response.status_code == 200
    assert "Error:" not in page and "Check what you entered" not in page
    assert hapi.requests_to() == [], "nothing is searched yet"


@pytest.mark.parametrize("typed", ["999 912 10", "S"])
def test_the_same_entry_submitted_is_an_error(clinician: FlaskClient, typed: str) -> None:
    for headers in (SUBMIT, {}):
        page = body(clinician.get("/patients/", query_string={"q": typed}, headers=headers))
        assert "Error:" in page
        assert "Check what you entered" in page


def test_a_complete_but_wrong_nhs_number_is_shown_at_once_but_not_announced(
    clinician: FlaskClient,
) -> None:
    page = body(clinician.get("/patients/", query_string={"q": "999 912 1099"}, headers=LIVE))
    assert "not a valid NHS number" in page, "a complete number is checked at once"
    assert status(page) == "", "the live region stays quiet while typing"


def test_a_half_typed_date_of_birth_waits(clinician: FlaskClient, hapi: Hapi) -> None:
    headers = {"HX-Request": "true", "HX-Trigger": "patient-dob"}
    page = body(clinician.get("/patients/?q=smith&dob=31-0", headers=headers))
    assert "Error:" not in page
    assert hapi.requests_to() == []


def test_an_impossible_date_of_birth_is_not_a_format_error(clinician: FlaskClient) -> None:
    response = clinician.get("/patients/?q=smith&dob=31-02-1994")
    assert response.status_code == 400
    page = body(response)
    assert "“31-02-1994” is not a real date" in page
    assert "day-month-year" not in page.split("patient-dob-error")[1][:300]
