"""Pages stay pages whatever the upstreams send: slow, huge, garbled or too many answers end
in the page's own explanation, never a 500, an endless wait or a page of megabytes."""

from __future__ import annotations

import html
import json

from flask.testing import FlaskClient

from tests.support.letters import HX, World, a_letter, set_settings

AQL = "/ehrbase/rest/openehr/v1/query/aql"
DEEP = "[" * 100_000 + "]" * 100_000
MB = 1024 * 1024


def page(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def test_a_trickling_fhir_server_ends_in_the_timeout_message(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    set_settings(
        world.app,
        **{"clinical.fhir_read_timeout_seconds": 0.5, "clinical.fhir_deadline_seconds": 0.8},
    )
    world.hapi.server.set_faults(trickle=True, content_type="application/fhir+json")
    response = clinician.get(f"/patients/{patient}")
    assert response.status_code == 504
    assert "took too long to answer" in page(response)


def test_a_trickling_ehrbase_ends_in_the_letters_timeout_message(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    set_settings(world.app, **{"clinical.ehrbase_deadline_seconds": 0.8})
    assert world.ehrbase.server is not None
    world.ehrbase.server.set_faults(trickle=True, only_paths=[AQL])
    response = clinician.get(f"/patients/{patient}/letters", headers=HX)
    assert response.status_code == 200
    assert "did not answer in time" in page(response)


def test_a_huge_patient_is_refused_as_too_much(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    set_settings(world.app, **{"clinical.fhir_max_response_mb": 0.5})
    world.hapi.server.set_faults(huge_bytes=2 * MB, content_type="application/fhir+json")
    response = clinician.get(f"/patients/{patient}")
    assert response.status_code == 502
    body = page(response)
    assert "sent too much" in body
    assert len(body) < 100_000


def test_a_large_patient_shows_a_cut_raw_resource_with_a_note(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    world.hapi.server.set_faults(huge_bytes=MB, content_type="application/fhir+json")
    response = clinician.get(f"/patients/{patient}")
    assert response.status_code == 200
    body = page(response)
    assert "The resource is too large to show whole" in body
    assert len(body) < 200_000


def test_too_many_letters_from_ehrbase_are_refused_as_too_much(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    set_settings(world.app, **{"clinical.ehrbase_max_response_mb": 0.5})
    assert world.ehrbase.server is not None
    world.ehrbase.server.set_faults(huge_bytes=2 * MB, chunked=True, only_paths=[AQL])
    body = page(clinician.get(f"/patients/{patient}/letters", headers=HX))
    assert "Letters cannot be shown" in body and "sent too much" in body


def test_deeply_nested_ehrbase_answers_are_not_a_crash(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    [uid] = world.letters(patient, [a_letter(1)])
    assert world.ehrbase.server is not None
    world.ehrbase.server.set_faults(status=200, body=DEEP, only_paths=[AQL])
    response = clinician.get(f"/patients/{patient}")
    assert response.status_code == 200
    assert "Letters cannot be shown" in page(response)
    letter = clinician.get(f"/patients/{patient}/letters/{uid}")
    assert letter.status_code == 502
    assert "could not read" in page(letter)
    world.ehrbase.server.set_faults(status=500, body=DEEP, only_paths=[AQL])
    assert clinician.get(f"/patients/{patient}/letters/{uid}").status_code == 502


def test_a_search_renders_at_most_the_page_size_asked_for(
    world: World, clinician: FlaskClient
) -> None:
    set_settings(world.app, **{"clinical.fhir_page_size": 5})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": str(2000 + n),
                    "name": [{"family": f"Smith{n}", "given": ["Ann"]}],
                },
                "search": {"mode": "match"},
            }
            for n in range(50)
        ],
    }
    world.hapi.server.set_faults(
        status=200,
        body=json.dumps(bundle),
        content_type="application/fhir+json",
        only_paths=["/fhir/Patient"],
    )
    body = page(clinician.get("/patients/", query_string={"q": "Smith"}))
    shown = [n for n in range(50) if f"/patients/{2000 + n}" in body]
    assert shown == [0, 1, 2, 3, 4]
