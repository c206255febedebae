"""The letters panel when EHRbase keeps failing (breaker) or is not configured at all."""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from console.openehr import letter_template as lt
from tests.support.audit import audit_rows
from tests.support.fhir import Hapi
from tests.support.letters import a_letter, person, set_settings
from tests.support.openehr import Target, ehrbase_config
from tests.support.users import make_user, sign_in

AQL = "/ehrbase/rest/openehr/v1/query/aql"


def text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def clinician_of(app: Flask) -> FlaskClient:
    make_user(app, "dr.panel", roles=("Clinician",))
    client = app.test_client()
    sign_in(client, "dr.panel")
    return client


def aql_sent(ehrbase: Target) -> int:
    assert ehrbase.server is not None
    return sum(1 for _, path in ehrbase.server.injector.requests if path == AQL)


def test_the_breaker_pauses_calls_then_one_trial_brings_the_letters_back(
    app_factory: Callable[..., Flask], hapi: Hapi, ehrbase: Target
) -> None:
    app = app_factory(
        FHIR_SERVER_URL=hapi.base_url,
        **ehrbase_config(
            ehrbase, EHRBASE_RETRIES=0, EHRBASE_BREAKER_THRESHOLD=2, EHRBASE_BREAKER_RESET_S=0.4
        ),
    )
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    set_settings(app, **{"clinical.ehr_subject_namespace": namespace})
    [patient] = hapi.app.seed([person("Breaker")])
    writer = ehrbase.client()
    if not any(t.template_id == lt.TEMPLATE_ID for t in writer.list_templates()):
        writer.ensure_template(lt.letter_opt())
    ehr, _ = writer.ensure_ehr(patient, namespace)
    writer.create_composition(ehr.ehr_id, lt.TEMPLATE_ID, lt.letter_to_flat(a_letter(1)))
    client = clinician_of(app)
    assert ehrbase.server is not None

    ehrbase.server.set_faults(status=503, body="{}", only_paths=[AQL])
    for _ in range(2):
        assert "Letters cannot be shown" in text(client.get(f"/patients/{patient}"))
    sent = aql_sent(ehrbase)
    paused = text(client.get(f"/patients/{patient}"))
    assert "pausing calls" in paused and "Try again" in paused
    assert "There are no letters" not in paused
    assert aql_sent(ehrbase) == sent, "an open breaker must not call EHRbase"
    assert audit_rows(app, "letter.list")[-1].outcome == "failure"

    ehrbase.server.clear_faults()
    time.sleep(0.5)
    recovered = text(client.get(f"/patients/{patient}"))
    assert "Cardiology clinic letter 1" in recovered
    assert aql_sent(ehrbase) == sent + 1


def test_without_ehrbase_configured_the_panel_says_so(
    app_factory: Callable[..., Flask], hapi: Hapi
) -> None:
    app = app_factory(FHIR_SERVER_URL=hapi.base_url, EHRBASE_URL=None)
    [patient] = hapi.app.seed([person("Unconfigured")])
    page = text(clinician_of(app).get(f"/patients/{patient}"))
    assert "UNCONFIGURED, Mary" in page  # the demographics still show
    assert "Letters cannot be shown" in page and "EHRBASE_URL" in page
    assert "There are no letters" not in page
