"""``make stack``'s sandbox seed into the real HAPI FHIR and EHRbase of the live tier.

The seed is the one ``make stack`` runs (``seed_sandbox``, 200 patients, the same generator
seed); the letters go to an EHR subject namespace of this run, so EHRbase's share is written
afresh each time. The patients must then be found through the console's own search, with
their letters on their page, and a second seed must add nothing to either server.
"""

from __future__ import annotations

import html
import re
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from console.appsettings import store_setting
from console.db import db
from console.nhs_number import NHS_NUMBER_SYSTEM
from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from console.sandbox.cli import seed_sandbox
from console.sandbox.letters import SandboxPatient, generate_letters
from console.sandbox.patients import generate_patients
from stack.sandbox import SANDBOX_PATIENTS
from tests.support.live import LiveEhrbase, live_ehrbase, live_fhir_url
from tests.support.openehr import ehrbase_config
from tests.support.users import make_user, sign_in

pytestmark = pytest.mark.live

SEED = 42
"""The generator seed ``make stack`` seeds with (``seed_sandbox``'s default)."""
IDENTIFIERS_PER_SEARCH = 40
RESULT_LINK = re.compile(r'<td><a href="/patients/([^"/?]+)">')
LETTER_LINK = re.compile(r'<a href="/patients/[^"/]+/letters/([^"]+)">([^<]*)</a>')
LETTERS_BY_SUBJECT = (
    "SELECT e/ehr_status/subject/external_ref/id/value AS subject, c/uid/value AS uid "
    f"FROM EHR e CONTAINS COMPOSITION c[{lt.COMPOSITION_ARCHETYPE}] "
    "WHERE e/ehr_status/subject/external_ref/namespace = $namespace"
)


@dataclass(frozen=True)
class Platform:
    """A console on both real servers, its letters in a namespace of its own."""

    app: Flask
    fhir_url: str
    ehrbase: LiveEhrbase
    namespace: str

    def ehrbase_client(self) -> EhrbaseClient:
        return EhrbaseClient(
            self.ehrbase.url,
            user=self.ehrbase.user,
            password=self.ehrbase.password,
            admin_user=self.ehrbase.admin_user,
            admin_password=self.ehrbase.admin_password,
            read_timeout=120,
        )

    def seed(self) -> list[str]:
        """What ``make stack`` does after the servers are up: the sandbox seed."""
        with self.app.app_context():
            return seed_sandbox(
                self.app.config["SETTINGS"],
                fhir_url=self.fhir_url,
                ehrbase_url=self.ehrbase.url,
                count=SANDBOX_PATIENTS,
            )

    def clinician(self) -> FlaskClient:
        username = f"clinician-{uuid.uuid4().hex[:8]}"
        make_user(self.app, username, roles=("Clinician",))
        client = self.app.test_client()
        assert sign_in(client, username).status_code in (302, 303)
        return client


@pytest.fixture
def platform(app_factory: Callable[..., Flask]) -> Iterator[Platform]:
    ehrbase = live_ehrbase()
    fhir_url = live_fhir_url()
    app = app_factory(
        FHIR_SERVER_URL=fhir_url,
        FHIR_BREAKER_THRESHOLD=1000,
        **ehrbase_config(ehrbase, EHRBASE_BREAKER_THRESHOLD=1000),
    )
    namespace = f"live-seed-{uuid.uuid4().hex[:12]}"
    with app.app_context():
        store_setting("clinical.ehr_subject_namespace", namespace, None)
        store_setting("clinical.ehrbase_read_timeout_seconds", 30, None)
        db.session.commit()
    yield Platform(app, fhir_url, ehrbase, namespace)


def patients_by_number(fhir_url: str, numbers: list[str]) -> dict[str, list[str]]:
    """Every patient on the server holding each NHS number: number -> ids."""
    found: dict[str, list[str]] = {number: [] for number in numbers}
    with requests.Session() as session:
        for start in range(0, len(numbers), IDENTIFIERS_PER_SEARCH):
            chunk = numbers[start : start + IDENTIFIERS_PER_SEARCH]
            url: str | None = f"{fhir_url}/Patient?" + urllib.parse.urlencode(
                {
                    "identifier": ",".join(f"{NHS_NUMBER_SYSTEM}|{n}" for n in chunk),
                    "_count": "100",
                }
            )
            while url:
                response = session.get(
                    url,
                    headers={"Accept": "application/fhir+json", "Cache-Control": "no-cache"},
                    timeout=60,
                )
                assert response.status_code == 200, response.text[:500]
                bundle = response.json()
                for entry in bundle.get("entry") or []:
                    resource = entry["resource"]
                    for identifier in resource.get("identifier") or []:
                        if identifier.get("system") == NHS_NUMBER_SYSTEM:
                            found.setdefault(identifier["value"], []).append(resource["id"])
                url = next(
                    (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"),
                    None,
                )
    return found


def letters_by_subject(platform: Platform) -> dict[str, list[str]]:
    """Every letter in the run's namespace on the real EHRbase: patient id -> letter uids."""
    client = platform.ehrbase_client()
    try:
        result = client.query(LETTERS_BY_SUBJECT, {"namespace": platform.namespace})
    finally:
        client.close()
    found: dict[str, list[str]] = {}
    for subject, uid in result.rows:
        found.setdefault(subject, []).append(uid)
    return {subject: sorted(uids) for subject, uids in found.items()}


def number_of(resource: dict[str, Any]) -> str:
    return next(i["value"] for i in resource["identifier"] if i["system"] == NHS_NUMBER_SYSTEM)


def result_ids(client: FlaskClient, query: dict[str, str]) -> list[str]:
    response = client.get("/patients/?" + urllib.parse.urlencode(query))
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    return RESULT_LINK.findall(page)


def listed_letters(client: FlaskClient, patient_id: str) -> list[tuple[str, str]]:
    response = client.get(f"/patients/{patient_id}")
    assert response.status_code == 200
    return [
        (html.unescape(uid), html.unescape(title))
        for uid, title in LETTER_LINK.findall(response.get_data(as_text=True))
    ]


def test_the_sandbox_seed_fills_both_servers_once_and_the_console_finds_it(
    platform: Platform,
) -> None:
    generated = generate_patients(SANDBOX_PATIENTS, seed=SEED)
    numbers = [number_of(resource) for resource in generated]

    ids = platform.seed()

    assert len(ids) == SANDBOX_PATIENTS
    on_fhir = patients_by_number(platform.fhir_url, numbers)
    assert {number: on_fhir[number] for number in numbers} == {
        number: [patient_id] for number, patient_id in zip(numbers, ids, strict=True)
    }, "each seeded NHS number is held by exactly one patient: the one the seed named"
    expected = {
        patient_id: generate_letters(SandboxPatient.from_fhir(resource, patient_id), seed=SEED)
        for resource, patient_id in zip(generated, ids, strict=True)
    }
    letters = letters_by_subject(platform)
    assert {subject: len(uids) for subject, uids in letters.items()} == {
        patient_id: len(items) for patient_id, items in expected.items() if items
    }

    clinician = platform.clinician()
    with_letters = [i for i, patient_id in enumerate(ids) if expected[patient_id]]
    without = [i for i, patient_id in enumerate(ids) if not expected[patient_id]]
    sample = [with_letters[0], with_letters[len(with_letters) // 2], with_letters[-1], without[0]]
    for index in sample:
        resource, patient_id = generated[index], ids[index]
        assert result_ids(clinician, {"q": numbers[index]}) == [patient_id]
        born = "-".join(reversed(resource["birthDate"].split("-")))
        by_name = result_ids(clinician, {"q": resource["name"][0]["family"], "dob": born})
        assert by_name.count(patient_id) == 1
        shown = listed_letters(clinician, patient_id)
        assert Counter(title for _, title in shown) == Counter(
            letter.title for letter in expected[patient_id]
        )
        assert {uid for uid, _ in shown} == set(letters.get(patient_id, []))

    # Never another patient's record: a letter asked for under another patient is not found.
    first, second = ids[with_letters[0]], ids[with_letters[-1]]
    theirs = letters[second][0]
    refused = clinician.get(f"/patients/{first}/letters/{theirs}")
    assert refused.status_code == 404
    assert expected[second][0].title not in html.unescape(refused.get_data(as_text=True))
    elsewhere = f"{uuid.uuid4()}::another.ehrbase.node::1"
    assert clinician.get(f"/patients/{first}/letters/{elsewhere}").status_code == 404

    assert platform.seed() == ids
    assert patients_by_number(platform.fhir_url, numbers) == on_fhir
    assert letters_by_subject(platform) == letters


def test_the_status_page_is_green_on_both_real_servers(platform: Platform) -> None:
    username = f"admin-{uuid.uuid4().hex[:8]}"
    make_user(platform.app, username, roles=("System administrator",))
    admin = platform.app.test_client()
    assert sign_in(admin, username).status_code in (302, 303)
    page = admin.get("/status").get_data(as_text=True)
    assert "Everything the console needs is answering." in page
    rows = {
        key: re.search(rf'<tr id="check-{key}">(.*?)</tr>', page, re.DOTALL)
        for key in ("fhir", "ehrbase")
    }
    for key, row in rows.items():
        assert row, f"no {key} row"
        assert 'data-state="up"' in row.group(1), key
    assert "HAPI FHIR Server 8.8.0" in rows["fhir"].group(1)  # type: ignore[union-attr]
    assert re.search(r"EHRbase 2\.\d+\.\d+", rows["ehrbase"].group(1))  # type: ignore[union-attr]
