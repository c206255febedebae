"""The wire contract with HAPI FHIR, checked against the emulator and, when configured, a real server.

Every test runs against the emulator. With ``LIVE_FHIR_URL`` set (the real HAPI FHIR that
``make test`` starts, or the compose stack's ``http://localhost:8080/fhir``), the ``live`` copies
run against that server too: ``pytest -m live tests/fhir``. Without it they are skipped, or fail
when ``CI=true``. They create their own patients with random test NHS numbers and a
random family name, and delete what they can afterwards.
"""

from __future__ import annotations

import html
import random
import re
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask

from console.appsettings import store_setting
from console.db import db
from console.fhir import (
    FhirClient,
    FhirGone,
    FhirNotFound,
    FhirRejected,
    FhirSearchExpired,
    PatientSearch,
)
from console.nhs_number import NHS_NUMBER_SYSTEM
from console.sandbox.patients import generate_patients, load_patients
from tests.support.fhir import Hapi, live_fhir_url, random_nhs_number
from tests.support.users import make_user, sign_in

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


@dataclass
class Target:
    """A FHIR server under test and what the test created on it."""

    base_url: str
    client: FhirClient
    family: str
    created: list[str] = field(default_factory=list)

    def patient(self, given: str, **extra: Any) -> dict[str, Any]:
        """A Patient of this run's family with a fresh test NHS number."""
        return {
            "resourceType": "Patient",
            "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": random_nhs_number()}],
            "name": [{"use": "official", "family": self.family, "given": [given]}],
            **extra,
        }

    def create(self, given: str, **extra: Any) -> str:
        result = self.client.create(self.patient(given, **extra))
        self.created.append(result.id)
        return result.id

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(
            f"{self.base_url}{path}",
            headers={"Accept": "application/fhir+json", "Cache-Control": "no-cache", **headers},
            timeout=10,
        )


def random_family() -> str:
    letters = "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    return "Qc" + letters


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "live":
        base_url = live_fhir_url()
    else:
        hapi: Hapi = request.getfixturevalue("hapi")
        base_url = hapi.base_url
    client = FhirClient(base_url, connect_timeout=3, read_timeout=30, retries=0)
    found = Target(base_url.rstrip("/"), client, random_family())
    yield found
    for patient_id in found.created:
        try:
            client.delete("Patient", patient_id)
        except Exception:  # noqa: S112  (best-effort clean-up on a live server)
            continue
    client.close()


def test_metadata_is_a_hapi_r4_capability_statement(target: Target) -> None:
    info = target.client.metadata()
    assert info.software_name == "HAPI FHIR Server"
    assert info.fhir_version == "4.0.1"
    assert re.match(r"^\d+\.\d+\.\d+", info.software_version)


def test_read_headers_and_meta(target: Target) -> None:
    patient_id = target.create("Reader")
    response = target.get(f"/Patient/{patient_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0].lower() == "application/fhir+json"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Content-Location"].endswith(f"/Patient/{patient_id}/_history/1")
    assert response.headers["Last-Modified"].endswith("GMT")
    body = response.json()
    assert body["meta"]["versionId"] == "1"
    assert INSTANT.match(body["meta"]["lastUpdated"])


def test_create_answers_201_with_location_and_conditional_create_200(target: Target) -> None:
    resource = target.patient("Once")
    number = resource["identifier"][0]["value"]
    rule = f"identifier={NHS_NUMBER_SYSTEM}|{number}"
    first = target.client.create(resource, if_none_exist=rule)
    target.created.append(first.id)
    assert first.status == 201
    assert re.search(rf"/Patient/{first.id}/_history/1$", first.location)
    second = target.client.create(resource, if_none_exist=rule)
    assert second.status == 200
    assert second.id == first.id


def test_string_search_is_a_case_insensitive_prefix_match(target: Target) -> None:
    for given in ("Ann", "Bea", "Cat"):
        target.create(given)
    prefix = target.family[:-3].lower()
    found = target.client.search_patients(PatientSearch(family=prefix, sort=()), count=10)
    assert sorted(p.name.given[0] for p in found.patients if p.name) == ["Ann", "Bea", "Cat"]
    by_name = target.client.search_patients(PatientSearch(name=(target.family.upper(), "be")))
    assert [p.name.given[0] for p in by_name.patients if p.name] == ["Bea"]


def test_a_surname_of_two_words_is_found_by_the_whole_name(target: Target) -> None:
    resource = target.patient("Ana")
    resource["name"][0]["family"] = f"Da {target.family}"
    target.created.append(target.client.create(resource).id)
    wanted = PatientSearch(name=("ana", "da", target.family.lower()))
    assert [p.name.given[0] for p in target.client.search_patients(wanted).patients if p.name] == [
        "Ana"
    ]
    alone = PatientSearch(name=(target.family,))
    assert target.client.search_patients(alone).patients == (), (
        "HAPI matches a prefix of the whole family name, not of its second word"
    )


def test_paging_by_next_links_in_getpages_form(target: Target) -> None:
    for given in ("Ann", "Bea", "Cat"):
        target.create(given)
    page = target.client.search_patients(PatientSearch(family=target.family), count=1)
    assert page.total == 3, "a small result set carries its total"
    seen = [page.patients[0].name.given[0]]  # type: ignore[union-attr]
    assert page.next_url is not None
    assert "_getpages=" in page.next_url and page.next_url.endswith("_bundletype=searchset")
    assert "_getpagesoffset=1" in page.next_url and "_count=1" in page.next_url
    while page.next_url:
        page = target.client.page(page.next_url)
        seen.extend(p.name.given[0] for p in page.patients if p.name)
        assert page.previous_url is not None
    assert seen == ["Ann", "Bea", "Cat"]


def test_self_link_lists_the_parameters_sorted(target: Target) -> None:
    response = target.get(f"/Patient?name={target.family}&_count=5&birthdate=ge1900")
    links = {link["relation"]: link["url"] for link in response.json()["link"]}
    query = links["self"].split("?", 1)[1]
    assert [part.split("=")[0] for part in query.split("&")] == ["_count", "birthdate", "name"]


def test_an_empty_result_has_no_entry_and_a_zero_total(target: Target) -> None:
    response = target.get(f"/Patient?family={target.family}nobody")
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    assert body["total"] == 0
    assert "entry" not in body
    assert [link["relation"] for link in body["link"]] == ["self"]


def test_birthdate_prefixes_and_precision(target: Target) -> None:
    target.create("Old", birthDate="1950-06-15")
    target.create("Young", birthDate="1990-01-31")

    def givens(*dates: str) -> list[str]:
        page = target.client.search_patients(PatientSearch(family=target.family, birthdate=dates))
        return sorted(p.name.given[0] for p in page.patients if p.name)

    assert givens("1950") == ["Old"]
    assert givens("1990-01") == ["Young"]
    assert givens("ge1960") == ["Young"]
    assert givens("lt1960-01-01") == ["Old"]
    assert givens("ge1900", "le2000") == ["Old", "Young"]
    assert givens("eq1950-06-16") == []


def test_identifier_search_by_system_and_value(target: Target) -> None:
    resource = target.patient("Ident")
    number = resource["identifier"][0]["value"]
    target.created.append(target.client.create(resource).id)
    found = target.client.search_patients(PatientSearch.by_nhs_number(number))
    assert [p.nhs_number for p in found.patients] == [number]
    other_system = target.client.search_patients(PatientSearch(identifier=f"urn:other|{number}"))
    assert other_system.patients == ()


def test_unknown_patient_404_with_hapi_2001(target: Target) -> None:
    missing = f"qc-missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(FhirNotFound) as error:
        target.client.read_patient(missing)
    assert (
        error.value.issues[0].diagnostics == f"HAPI-2001: Resource Patient/{missing} is not known"
    )
    assert error.value.issues[0].severity == "error"


def test_deleted_patient_410(target: Target) -> None:
    patient_id = target.create("Gone")
    target.client.delete("Patient", patient_id)
    with pytest.raises(FhirGone) as error:
        target.client.read_patient(patient_id)
    assert error.value.issues[0].diagnostics.startswith("Resource was deleted at ")
    found = target.client.search_patients(PatientSearch(family=target.family))
    assert patient_id not in [p.id for p in found.patients]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "shoe-size=9",
            'HAPI-0524: Unknown search parameter "shoe-size" for resource type "Patient"',
        ),
        ("birthdate=01-01-2020", 'HAPI-1882: Invalid date/time format: "01-01-2020"'),
        ("_sort=shoe-size", 'Unknown _sort parameter value "shoe-size"'),
    ],
)
def test_invalid_searches_are_400_operation_outcomes(
    target: Target, query: str, expected: str
) -> None:
    response = target.get(f"/Patient?{query}")
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert expected in outcome["issue"][0]["diagnostics"]


def test_stale_if_match_is_a_409(target: Target) -> None:
    resource = target.client.create(target.patient("Versioned"))
    target.created.append(resource.id)
    assert resource.resource is not None
    target.client.update({**resource.resource, "gender": "female"}, if_match='W/"1"')
    with pytest.raises(FhirRejected) as error:
        target.client.update({**resource.resource, "gender": "male"}, if_match='W/"1"')
    assert error.value.status == 409
    assert "is not the current version" in error.value.diagnostics


def test_an_unknown_search_id_has_expired(target: Target) -> None:
    link = (
        f"{target.base_url}?_getpages={uuid.uuid4()}&_getpagesoffset=20&_count=20"
        "&_bundletype=searchset"
    )
    with pytest.raises(FhirSearchExpired):
        target.client.page(link)


def test_loading_synthetic_patients_twice_creates_nothing_new(target: Target) -> None:
    patients = generate_patients(4, seed=random.randrange(10**6))
    first = load_patients(target.client, patients)
    target.created.extend(first)
    assert len(set(first)) == 4
    assert load_patients(target.client, patients) == first


def test_the_console_pages_through_results_and_opens_a_patient(
    target: Target, app_factory: Callable[..., Flask]
) -> None:
    """End to end: the console's own pages against the server, following its real page links.

    Against a real HAPI this also proves its paging links name the address the console was
    configured with (behind a proxy or Docker network they may not).
    """
    givens = [f"P{i}" for i in range(6)]
    ids = {given: target.create(given, birthDate="1970-01-01") for given in givens}
    app = app_factory(FHIR_SERVER_URL=target.base_url, FHIR_RETRIES=0)
    with app.app_context():
        store_setting("clinical.fhir_page_size", 5, None)
        db.session.commit()
    make_user(app, "clinician", roles=("Clinician",))
    browser = app.test_client()
    sign_in(browser, "clinician")

    url = f"/patients/?q={target.family}+01-01-1970"
    seen: list[str] = []
    while url:
        response = browser.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, page
        assert "Further pages are not available" not in page
        seen.extend(re.findall(rf">{target.family.upper()}, (P\d)</a>", page))
        found = re.search(r'<a href="([^"]+)"[^>]*>Next page</a>', page)
        url = html.unescape(found.group(1)) if found else ""
    assert seen == givens

    patient_page = browser.get(f"/patients/{ids['P3']}").get_data(as_text=True)
    assert f"{target.family.upper()}, P3" in patient_page
    assert re.search(r"Born</dt> <dd>01-Jan-1970 \(\d+y\)", patient_page)


def _result_names(page: str, family: str) -> list[str]:
    return re.findall(rf">{family.upper()}, (\w+)</a>", page)


def _pagination_link(page: str, label: str) -> str:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{label}</a>', page)
    return html.unescape(found.group(1)) if found else ""


def test_the_console_finds_by_nhs_number_and_birth_date_and_pages_back(
    target: Target, app_factory: Callable[..., Flask]
) -> None:
    """The console's search page: NHS number, name with date of birth, page 2 and back again."""
    givens = [f"R{i}" for i in range(7)]
    numbers: dict[str, str] = {}
    for given in givens:
        resource = target.patient(given, birthDate="1980-02-29" if given == "R6" else "1975-05-05")
        numbers[given] = resource["identifier"][0]["value"]
        target.created.append(target.client.create(resource).id)
    app = app_factory(FHIR_SERVER_URL=target.base_url, FHIR_RETRIES=0)
    with app.app_context():
        store_setting("clinical.fhir_page_size", 4, None)
        db.session.commit()
    make_user(app, "clinician", roles=("Clinician",))
    browser = app.test_client()
    sign_in(browser, "clinician")

    by_number = browser.get(f"/patients/?q={numbers['R3']}").get_data(as_text=True)
    assert _result_names(by_number, target.family) == ["R3"]
    spaced = f"{numbers['R3'][:3]} {numbers['R3'][3:6]} {numbers['R3'][6:]}"
    assert spaced in by_number

    by_birth = browser.get(f"/patients/?q={target.family}&dob=29-02-1980").get_data(as_text=True)
    assert _result_names(by_birth, target.family) == ["R6"]

    first = browser.get(f"/patients/?q={target.family}&dob=05-05-1975").get_data(as_text=True)
    assert _result_names(first, target.family) == ["R0", "R1", "R2", "R3"]
    assert not _pagination_link(first, "Previous page")
    second = browser.get(_pagination_link(first, "Next page")).get_data(as_text=True)
    assert _result_names(second, target.family) == ["R4", "R5"]
    assert not _pagination_link(second, "Next page")
    back = browser.get(_pagination_link(second, "Previous page")).get_data(as_text=True)
    assert "Further pages are not available" not in back
    assert _result_names(back, target.family) == ["R0", "R1", "R2", "R3"]
