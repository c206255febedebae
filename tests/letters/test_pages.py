"""The letters panel on the patient page and the letter page, with both emulators behind them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import render_template
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select, text

from console.db import db
from console.db.models import User
from console.openehr import letter_template as lt
from console.patients.services import load_patient
from console.templating import truncated_json
from tests.support.audit import audit_rows
from tests.support.letters import HX, World, a_letter, add_role, set_settings

ROW = re.compile(r'<a href="(/patients/[^"/]+/letters/[^"]+)">([^<]*)</a>')


def page_text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def titles(response: object) -> list[str]:
    return [title for _, title in ROW.findall(response.get_data(as_text=True))]  # type: ignore[attr-defined]


# -- the panel on the patient page ----------------------------------------------------------------


def test_the_patient_page_lists_letters_newest_first(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    world.letters(
        patient,
        [
            a_letter(1, status="draft", author="Dr Owen Hughes"),
            a_letter(3, status="amended"),
            a_letter(2),
        ],
    )
    response = clinician.get(f"/patients/{patient}")
    assert response.status_code == 200
    assert titles(response) == [
        "Cardiology clinic letter 3",
        "Cardiology clinic letter 2",
        "Cardiology clinic letter 1",
    ]
    body = page_text(response)
    assert "04-Mar-2025 14:30" in body  # DD-Mmm-YYYY HH:mm
    assert "Dr Owen Hughes" in body
    for status in ("Draft", "Final", "Amended"):
        assert f">{status}</span>" in body
    [listed] = audit_rows(world.app, "letter.list")
    assert (listed.patient_nhs_number, listed.patient_name) == ("9434765919", "JONES, Mary")


def test_filtering_or_paging_the_letters_audits_the_patient_as_the_banner_shows_them(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1, author="Dr Owen Hughes"), a_letter(2)])
    response = clinician.get(f"/patients/{patient}/letters?letters_author=hugh", headers=HX)
    assert response.status_code == 200
    assert titles(response) == ["Cardiology clinic letter 1"]
    [listed] = audit_rows(world.app, "letter.list")
    assert (listed.patient_nhs_number, listed.patient_name) == ("9434765919", "JONES, Mary")


def test_upstream_text_in_the_list_is_escaped(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    world.letters(
        patient,
        [
            a_letter(
                1,
                title='<img src=x onerror="alert(1)">Letter',
                author="<script>alert(2)</script>Dr X",
            )
        ],
    )
    raw = clinician.get(f"/patients/{patient}").get_data(as_text=True)
    panel = raw[raw.index('id="letters"') :]
    assert "<img src=x" not in panel and "<script>alert(2)" not in panel
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Letter" in panel
    assert "&lt;script&gt;alert(2)&lt;/script&gt;Dr X" in panel


def test_letter_times_are_shown_in_uk_time(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1, date=datetime(2025, 7, 1, 8, 5, tzinfo=UTC))])
    assert "01-Jul-2025 09:05" in page_text(clinician.get(f"/patients/{patient}"))


def test_a_patient_without_an_ehr_has_no_letters_and_that_is_said(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    body = page_text(clinician.get(f"/patients/{patient}"))
    assert "There are no letters for this patient." in body


def test_the_patient_page_costs_one_aql_request_with_values_as_parameters(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    before = len(world.aql_requests)
    clinician.get(f"/patients/{patient}?letters_author=Dr+O%27Brien")
    sent = world.aql_requests[before:]
    assert len(sent) == 1
    assert "O'Brien" not in sent[0]["q"] and patient not in sent[0]["q"]
    assert sent[0]["query_parameters"]["author"] == "*Dr O'Brien*"
    assert sent[0]["query_parameters"]["subject_id"] == patient
    assert sent[0]["query_parameters"]["subject_namespace"] == world.namespace


def test_the_aql_body_is_query_parameters_offset_and_fetch_only(
    world: World, clinician: FlaskClient
) -> None:
    set_settings(world.app, **{"clinical.letters_page_size": 5})
    patient = world.patient()
    before = len(world.aql_requests)
    clinician.get(f"/patients/{patient}?letters_page=3&letters_status=final")
    [sent] = world.aql_requests[before:]
    assert set(sent) == {"q", "query_parameters", "offset", "fetch"}
    assert (sent["offset"], sent["fetch"]) == (10, 6)  # page 3 of 5, one extra row to page
    assert sent["query_parameters"]["template_id"] == lt.TEMPLATE_ID
    assert sent["query_parameters"]["status_code"] == lt.STATUS_CODES["final"]
    assert f"COMPOSITION c[{lt.COMPOSITION_ARCHETYPE}]" in sent["q"]
    assert "ORDER BY c/context/start_time DESC" in sent["q"], "the DV_DATE_TIME, not its text"
    assert "LIMIT" not in sent["q"].upper()


@pytest.mark.parametrize("patient_id", ["x'%20OR%20'1'%3D'1", "a%20b", "x" * 65])
def test_a_patient_id_no_fhir_server_issues_is_not_found_and_nothing_is_asked(
    world: World, clinician: FlaskClient, patient_id: str
) -> None:
    before = len(world.aql_requests)
    assert clinician.get(f"/patients/{patient_id}/letters", headers=HX).status_code == 404
    uid = f"{'0' * 8}-0000-4000-8000-{'0' * 12}::quill.ehrbase.node::1"
    assert clinician.get(f"/patients/{patient_id}/letters/{uid}").status_code == 404
    assert len(world.aql_requests) == before


def test_letters_are_paged_with_the_state_in_the_url(world: World, clinician: FlaskClient) -> None:
    set_settings(world.app, **{"clinical.letters_page_size": 5})
    patient = world.patient()
    world.letters(patient, [a_letter(n) for n in range(12)])
    first = clinician.get(f"/patients/{patient}")
    assert titles(first) == [f"Cardiology clinic letter {n}" for n in range(11, 6, -1)]
    older = re.search(
        r'<a href="([^"]+)"[^>]*rel="next">Older letters', first.get_data(as_text=True)
    )
    assert older is not None
    next_url = html.unescape(older.group(1))
    assert parse_qs(urlsplit(next_url).query) == {"letters_page": ["2"]}
    assert urlsplit(next_url).path == f"/patients/{patient}"
    third = clinician.get(f"/patients/{patient}?letters_page=3")
    assert titles(third) == ["Cardiology clinic letter 1", "Cardiology clinic letter 0"]
    assert 'rel="next"' not in third.get_data(as_text=True)
    assert 'rel="prev"' in third.get_data(as_text=True)


def test_filters_work_without_javascript(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    world.letters(
        patient,
        [
            a_letter(1, status="draft"),
            a_letter(10, status="final", author="Dr Owen Hughes"),
            a_letter(20, status="final"),
        ],
    )
    assert titles(clinician.get(f"/patients/{patient}?letters_status=draft")) == [
        "Cardiology clinic letter 1"
    ]
    assert titles(clinician.get(f"/patients/{patient}?letters_author=Dr+Owen+Hughes")) == [
        "Cardiology clinic letter 10"
    ]
    for part in ("Hughes", "hughes", "HUGHES", "Owen Hu"):
        found = clinician.get(f"/patients/{patient}", query_string={"letters_author": part})
        assert titles(found) == ["Cardiology clinic letter 10"], part
    wildcard = clinician.get(f"/patients/{patient}", query_string={"letters_author": "*"})
    assert titles(wildcard) == [], "a * typed is a character, not a wildcard"
    ranged = clinician.get(f"/patients/{patient}?letters_from=2025-03-05&letters_to=2025-03-15")
    assert titles(ranged) == ["Cardiology clinic letter 10"]
    typed = clinician.get(f"/patients/{patient}?letters_from=05-03-2025&letters_to=15/03/2025")
    assert titles(typed) == ["Cardiology clinic letter 10"], "dates typed day-month-year"
    none = clinician.get(f"/patients/{patient}?letters_status=amended")
    assert titles(none) == []
    assert "No letters match these filters." in page_text(none)
    assert "Clear filters" in page_text(none)


def test_invalid_filters_are_explained_and_nothing_is_asked(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    before = len(world.aql_requests)
    response = clinician.get(f"/patients/{patient}?letters_from=2025-13-40&letters_status=lost")
    body = page_text(response)
    assert "There is a problem" in body
    assert "The from date must be a real date" in body
    assert "Choose draft, final or amended." in body
    assert len(world.aql_requests) == before


def test_htmx_gets_the_panel_fragment_and_the_patient_page_url_to_push(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1, status="draft"), a_letter(2)])
    response = clinician.get(f"/patients/{patient}/letters?letters_status=draft", headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="letters-filters"' in body
    assert titles(response) == ["Cardiology clinic letter 1"]
    pushed = urlsplit(response.headers["HX-Push-Url"])
    assert pushed.path == f"/patients/{patient}"
    assert parse_qs(pushed.query) == {"letters_status": ["draft"]}
    assert 'hx-swap-oob="true"' in body and "Page 1: 1 letter, newest first, filtered." in body


def test_without_htmx_the_fragment_address_leads_to_the_patient_page(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    response = clinician.get(f"/patients/{patient}/letters?letters_page=2&other=x")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/patients/{patient}"
    assert parse_qs(location.query) == {"letters_page": ["2"]}


def test_the_panel_is_only_for_holders_of_letters_view(
    world: World, signed_in: Callable[..., FlaskClient]
) -> None:
    add_role(world.app, "Demographics only", ("patients.search", "patients.view"))
    reader = signed_in(("Demographics only",))
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    before = len(world.aql_requests)
    response = reader.get(f"/patients/{patient}")
    assert response.status_code == 200
    assert 'id="letters"' not in response.get_data(as_text=True)
    assert len(world.aql_requests) == before
    assert reader.get(f"/patients/{patient}/letters", headers=HX).status_code == 403


def test_letter_routes_refuse_users_without_letters_view(
    world: World, signed_in: Callable[..., FlaskClient]
) -> None:
    patient = world.patient()
    [uid] = world.letters(patient, [a_letter(1)])
    admin = signed_in(("System administrator",))
    assert admin.get(f"/patients/{patient}/letters/{uid}").status_code == 403
    assert admin.get(f"/patients/{patient}/letters", headers=HX).status_code == 403
    anonymous = world.app.test_client()
    assert anonymous.get(f"/patients/{patient}/letters/{uid}").status_code == 302


# -- upstream failures on the panel ------------------------------------------------------------


FAULTS = {
    "refused": ({}, "cannot be reached"),
    "server error": ({"status": 500, "body": '{"error":"Internal Server Error","message":"An internal error has occurred. Please contact your administrator."}'}, "reported an internal error"),
    "slow": ({"latency_ms": 1500}, "did not answer in time"),
    "malformed": ({"malformed": True}, "could not read"),
    "rejected query": ({"status": 400, "body": '{"error":"Bad Request","message":"Could not parse AQL query: unexpected FORM"}'}, "rejected the request"),
    "refused credentials": ({"status": 401, "body": '{"timestamp":"x","status":401,"error":"Unauthorized","path":"/ehrbase/rest/openehr/v1/query/aql"}'}, "refused the console's credentials"),
}  # fmt: skip


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_ehrbase_failures_show_a_message_a_retry_and_details_never_an_empty_list(
    world: World, clinician: FlaskClient, fault: str
) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    faults, words = FAULTS[fault]
    server = world.ehrbase.server
    assert server is not None
    if fault == "refused":
        server.refuse_connections()
    else:
        server.set_faults(only_paths=["/ehrbase/rest/openehr/v1/query"], **faults)
    response = clinician.get(f"/patients/{patient}")
    assert response.status_code == 200  # the patient's demographics still show
    body = page_text(response)
    assert "JONES, Mary" in body
    assert "Letters cannot be shown" in body
    assert words in body
    assert "Try again" in body and "Technical details" in body
    assert "There are no letters" not in body and titles(response) == []
    if fault == "server error":
        assert "An internal error has occurred. Please contact your administrator." in body
    if fault == "rejected query":
        assert "Could not parse AQL query: unexpected FORM" in body
    [row] = audit_rows(world.app, "letter.list")
    assert row.outcome == "failure" and row.patient_id == patient


def test_the_ehrbase_read_timeout_is_a_setting_that_takes_effect_at_once(
    world: World, clinician: FlaskClient
) -> None:
    """The fixture sets 0.5 s; an administrator raising it lets a slow EHRbase answer."""
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    server = world.ehrbase.server
    assert server is not None
    server.set_faults(latency_ms=800, only_paths=["/ehrbase/rest/openehr/v1/query"])
    assert "did not answer in time" in page_text(clinician.get(f"/patients/{patient}"))
    set_settings(world.app, **{"clinical.ehrbase_read_timeout_seconds": 3.0})
    response = clinician.get(f"/patients/{patient}")
    assert "Letters cannot be shown" not in page_text(response)
    assert len(titles(response)) == 1


def test_retry_after_an_outage_shows_the_letters(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    server = world.ehrbase.server
    assert server is not None
    server.set_faults(status=503, body="{}", only_paths=["/ehrbase/rest/openehr/v1/query"])
    failed = clinician.get(f"/patients/{patient}/letters", headers=HX)
    retry = re.search(r'class="button" href="([^"]+)"\s*hx-get', failed.get_data(as_text=True))
    assert retry is not None
    server.clear_faults()
    again = clinician.get(html.unescape(retry.group(1)), headers=HX)
    assert titles(again) == ["Cardiology clinic letter 1"]


# -- audit ----------------------------------------------------------------------------------------


def test_each_list_is_audited_with_its_filters(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    world.letters(patient, [a_letter(1, status="draft")])
    clinician.get(f"/patients/{patient}?letters_status=draft")
    [row] = audit_rows(world.app, "letter.list")
    assert row.outcome == "success"
    assert row.patient_id == patient and row.actor_username == "reader1"
    assert row.details == {"page": 1, "filters": {"letters_status": "draft"}, "results": 1}


def test_rendering_the_patient_page_reads_and_writes_nothing(
    world: World, clinician: FlaskClient
) -> None:
    """The patient view reads (and audits) the letters; the template only shows what it got."""
    patient = world.patient()
    world.letters(patient, [a_letter(1)])
    asked_before = len(world.aql_requests)
    with world.app.test_request_context(f"/patients/{patient}"):
        reader = db.session.scalar(select(User).where(User.username == "reader1"))
        assert reader is not None and reader.has_permission("letters.view")
        login_user(reader)
        view = load_patient(patient)
        raw = truncated_json(view.raw)
        body = render_template(
            "patients/patient.html", patient=view, resource_json=raw.text, raw_cut=raw
        )
    assert "Cardiology clinic letter" not in body
    assert len(world.aql_requests) == asked_before
    assert audit_rows(world.app, "letter.list") == []


def break_the_audit_table(world: World) -> None:
    with world.app.app_context():
        db.session.execute(text("DROP TABLE audit_events"))
        db.session.commit()


def test_no_letters_are_shown_without_an_audit_row(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    [uid] = world.letters(patient, [a_letter(1)])
    break_the_audit_table(world)
    body = page_text(clinician.get(f"/patients/{patient}/letters", headers=HX))
    assert "could not record this access in the audit log" in body
    assert "Cardiology clinic letter" not in body
    letter = clinician.get(f"/patients/{patient}/letters/{uid}")
    assert letter.status_code == 503
    assert "Review in clinic" not in page_text(letter)
    assert "could not record this access in the audit log" in page_text(letter)


# -- the letter page -----------------------------------------------------------------------------


def test_the_letter_page_shows_banner_metadata_body_and_raw_composition(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient("Jones", "Mary")
    [uid] = world.letters(patient, [a_letter(4, status="amended")])
    response = clinician.get(f"/patients/{patient}/letters/{uid}")
    assert response.status_code == 200
    body = page_text(response)
    assert re.search(r"<h1[^>]*>Cardiology clinic letter 4</h1>", body)
    assert 'class="patient-banner' in body and "JONES, Mary" in body and "943 476 5919" in body
    assert "05-Mar-2025 14:30" in body and "Dr Priya Raman" in body
    assert "Dr Alan Fraser, Millbrook Surgery" in body and ">Amended</span>" in body
    assert "<h2>Plan</h2>" in body
    assert re.search(r"<details class=\"raw-composition\">\s*<summary>", body)
    assert f'"archetype_node_id": "{lt.COMPOSITION_ARCHETYPE}"' in body
    [row] = audit_rows(world.app, "letter.view")
    assert (row.outcome, row.target_type, row.target_id, row.patient_id) == (
        "success",
        "Composition",
        uid,
        patient,
    )
    assert (row.patient_nhs_number, row.patient_name) == ("9434765919", "JONES, Mary")


def test_the_letter_body_is_sanitised(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    hostile = (
        "# Result\n\n<script>alert('body')</script>\n\n"
        "[click me](javascript:alert(1))\n\n"
        '<img src="x" onerror="alert(2)">\n\n'
        "![scan](https://evil.example/tracker.png)\n\n"
        '<a href="https://nhs.uk" onmouseover="alert(3)">NHS</a>'
    )
    [uid] = world.letters(patient, [a_letter(1, body_markdown=hostile, title="<b>Title</b>")])
    raw = clinician.get(f"/patients/{patient}/letters/{uid}").get_data(as_text=True)
    article = raw[
        raw.index('<div class="letter-body">') : raw.index('<details class="raw-composition">')
    ]
    assert "<script" not in article and not re.search(r"href=\"\s*javascript", article, re.I)
    assert "&lt;script&gt;" in article  # shown as text, not run
    assert "<img" not in article and "evil.example" not in article
    assert not re.search(r"<[^>]+\son\w+=", article)
    assert "Image not shown: scan" in article
    assert "<h1>Result</h1>" in article
    assert "&lt;b&gt;Title&lt;/b&gt;" in raw and "<b>Title</b>" not in raw
    assert "<script" not in raw.split("<body>", 1)[1].replace('<script src="/static/', "")


def test_another_patients_letter_is_not_found_and_audited_as_denied(
    world: World, clinician: FlaskClient
) -> None:
    owner = world.patient("Owner", "Olive")
    other = world.patient("Other", "Oscar")
    [uid] = world.letters(owner, [a_letter(1)])
    response = clinician.get(f"/patients/{other}/letters/{uid}")
    assert response.status_code == 404
    assert "Review in clinic" not in page_text(response)
    [row] = audit_rows(world.app, "letter.view")
    assert (row.outcome, row.patient_id, row.target_id) == ("denied", other, uid)
    assert clinician.get(f"/patients/{owner}/letters/{uid}").status_code == 200


def test_a_made_up_uid_is_not_found(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    before = len(world.aql_requests)
    assert clinician.get(f"/patients/{patient}/letters/not-a-uid").status_code == 404
    assert len(world.aql_requests) == before
    [row] = audit_rows(world.app, "letter.view")
    assert row.outcome == "denied"


def test_a_letter_of_an_unknown_patient_is_not_found(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    [uid] = world.letters(patient, [a_letter(1)])
    assert clinician.get(f"/patients/99999/letters/{uid}").status_code == 404
    [row] = audit_rows(world.app, "letter.view")
    assert (row.outcome, row.patient_id, row.target_id) == ("denied", "99999", uid)
    assert row.details == {"reason": "no such patient"}


def test_the_letter_page_explains_an_ehrbase_failure(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    [uid] = world.letters(patient, [a_letter(1)])
    server = world.ehrbase.server
    assert server is not None
    server.set_faults(
        status=500,
        body='{"error":"Internal Server Error","message":"disk full"}',
        only_paths=["/ehrbase/rest/openehr/v1/query"],
    )
    response = clinician.get(f"/patients/{patient}/letters/{uid}")
    assert response.status_code == 502
    body = page_text(response)
    assert "The letter cannot be shown" in body and "Try again" in body and "disk full" in body
    assert "JONES, Mary" in body
    [row] = audit_rows(world.app, "letter.view")
    assert row.outcome == "failure"


def test_the_letter_page_still_shows_when_fhir_is_down(
    world: World, clinician: FlaskClient
) -> None:
    patient = world.patient()
    [uid] = world.letters(patient, [a_letter(1)])
    world.hapi.server.refuse_connections()
    response = clinician.get(f"/patients/{patient}/letters/{uid}")
    assert response.status_code == 200
    body = page_text(response)
    assert "The patient's details cannot be shown" in body
    assert "Cardiology clinic letter 1" in body


def test_a_patient_without_letters_is_told_so_once(world: World, clinician: FlaskClient) -> None:
    patient = world.patient()
    page = clinician.get(f"/patients/{patient}").get_data(as_text=True)
    section = page.split('id="letters"')[1]
    assert "There are no letters for this patient." in section
    status = re.search(r'<p id="letters-status" class="([^"]*)"', section)
    assert status is not None and "visually-hidden" in status.group(1), (
        "the status line repeats the message for screen readers only"
    )
