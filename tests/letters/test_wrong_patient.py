"""Never another patient's record: what EHRbase and HAPI FHIR answer is checked against the
patient asked for, whatever the query said.

Both emulators have a fault that answers with another patient's rows or resource (as a server
bug, a mis-set subject namespace or a proxy caching the wrong answer would). Nothing of the
other patient reaches the page, the htmx fragment or the audit export; each event is audited
as ``denied`` and logged as a structured warning.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from console.openehr import letter_template as lt
from console.openehr.client import Ehr
from console.openehr.letters import belongs_to
from console.upstream.trust import EVENT
from tests.support.audit import audit_rows
from tests.support.letters import HX, World, a_letter

SECRET_TITLE = "Oncology letter of Brown"
SECRET_BODY = "Confidential plan for Brown only"


def page(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def two_patients(world: World) -> tuple[str, str, str, str]:
    """Jones with one letter and Brown with a secret one: (jones, brown, jones uid, brown uid)."""
    jones = world.patient("Jones")
    brown = world.patient("Brown", "Eve")
    [own] = world.letters(jones, [a_letter(1, title="Cardiology letter of Jones")])
    [secret] = world.letters(
        brown, [a_letter(2, title=SECRET_TITLE, body_markdown=f"## Plan\n\n{SECRET_BODY}")]
    )
    return jones, brown, own, secret


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and getattr(r, "fields", {}).get("event") == EVENT
    ]


def test_a_truthful_server_shows_only_the_patients_own_letters(
    world: World, clinician: FlaskClient
) -> None:
    jones, _brown, _own, secret = two_patients(world)
    body = page(clinician.get(f"/patients/{jones}"))
    assert "Cardiology letter of Jones" in body and SECRET_TITLE not in body
    assert "Some results were withheld" not in body
    assert clinician.get(f"/patients/{jones}/letters/{secret}").status_code == 404


@pytest.mark.parametrize("only_theirs", [False, True], ids=["mixed", "theirs-only"])
def test_rows_of_another_patient_are_withheld_from_the_list(
    world: World,
    clinician: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    only_theirs: bool,
) -> None:
    jones, brown, _own, secret = two_patients(world)
    emulator = world.ehrbase.emulator
    assert emulator is not None
    emulator.foreign_subject, emulator.foreign_only = brown, only_theirs
    caplog.set_level(logging.WARNING, logger="console.upstream.trust")

    for response in (
        clinician.get(f"/patients/{jones}"),
        clinician.get(f"/patients/{jones}/letters", headers=HX),
    ):
        assert response.status_code == 200
        body = page(response)
        assert SECRET_TITLE not in body and secret not in body
        assert "Some results were withheld" in body
        assert "not in this patient's record" in body
        assert ("Cardiology letter of Jones" in body) is (not only_theirs)

    denied = [r for r in audit_rows(world.app, "letter.list") if r.outcome == "denied"]
    assert len(denied) == 2
    assert denied[0].patient_id == jones and denied[0].details["withheld"] == 1
    assert denied[0].details["uids"] == [secret]
    assert len(warnings_logged(caplog)) == 2


def test_a_letter_of_another_patient_is_refused_by_url(
    world: World,
    clinician: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    jones, brown, _own, secret = two_patients(world)
    emulator = world.ehrbase.emulator
    assert emulator is not None
    emulator.foreign_subject, emulator.foreign_only = brown, True
    caplog.set_level(logging.WARNING, logger="console.upstream.trust")

    response = clinician.get(f"/patients/{jones}/letters/{secret}")
    assert response.status_code == 409
    body = page(response)
    assert "This is not this patient's letter" in body
    assert SECRET_TITLE not in body and SECRET_BODY not in body
    assert "jones" in body.lower(), "the banner still names the patient asked for"

    [row] = [r for r in audit_rows(world.app, "letter.view") if r.target_id == secret]
    assert row.outcome == "denied" and row.patient_id == jones
    [warning] = warnings_logged(caplog)
    assert warning.fields["patient_id"] == jones  # type: ignore[attr-defined]

    export = signed_in(("Auditor",)).get("/admin/audit/export.csv")
    assert export.status_code == 200
    csv = export.get_data(as_text=True)
    assert "denied" in csv and SECRET_TITLE not in csv and SECRET_BODY not in csv


def test_a_letter_id_of_another_system_is_not_found_without_asking(
    world: World, clinician: FlaskClient
) -> None:
    jones, _brown, own, _secret = two_patients(world)
    clinician.get(f"/patients/{jones}/letters/{own}")  # the patient's EHR is known now
    before = len(world.aql_requests)
    elsewhere = f"{uuid.uuid4()}::another.ehrbase.node::1"
    response = clinician.get(f"/patients/{jones}/letters/{elsewhere}")
    assert response.status_code == 404
    assert len(world.aql_requests) == before


def test_a_composition_naming_another_subject_does_not_belong() -> None:
    ehr = Ehr(ehr_id="e-1")
    theirs = {
        "content": [{"subject": {"external_ref": {"id": {"value": "p-2"}, "namespace": "fhir"}}}]
    }
    mine = {
        "content": [{"subject": {"external_ref": {"id": {"value": "p-1"}, "namespace": "fhir"}}}]
    }
    self_only = {"content": [{"subject": {"_type": "PARTY_SELF"}}]}
    assert belongs_to(ehr, "p-1", "fhir", "e-1", mine)
    assert belongs_to(ehr, "p-1", "fhir", "e-1", self_only)
    assert not belongs_to(ehr, "p-1", "fhir", "e-1", theirs)
    assert not belongs_to(ehr, "p-1", "other-namespace", "e-1", mine)
    assert not belongs_to(ehr, "p-1", "fhir", "e-2", mine)
    assert lt.TEMPLATE_ID  # the letter template is the one the emulator holds


# -- FHIR ---------------------------------------------------------------------------------------


def test_a_fhir_read_answering_another_patient_is_refused(
    world: World, clinician: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    jones, brown, own, _secret = two_patients(world)
    world.hapi.app.read_answers_with = brown
    caplog.set_level(logging.WARNING, logger="console.upstream.trust")

    response = clinician.get(f"/patients/{jones}")
    assert response.status_code == 502
    body = page(response)
    assert "a different patient's record" in body
    assert "Brown" not in body and "Eve" not in body

    letter = page(clinician.get(f"/patients/{jones}/letters/{own}"))
    assert "Brown" not in letter and "Eve" not in letter

    denied = [r for r in audit_rows(world.app, "patient.view") if r.outcome == "denied"]
    assert {r.patient_id for r in denied} == {jones} and len(denied) == 2
    assert len(warnings_logged(caplog)) == 2
