"""Patient resources of odd shape or hostile content: the pages still answer, and escape.

HAPI validates little of what it is given, and other systems write to it; whatever a Patient
holds, the patient page and the search results render it as text, or leave it out.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.fhir import Hapi

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NHS = "https://fhir.nhs.uk/Id/nhs-number"

ODD_SHAPES: list[dict[str, Any]] = [
    {"name": "Smith"},
    {"name": [None, 3, {"family": 7, "given": [None, 8]}]},
    {"name": [{"family": "Odd", "given": "Jo", "prefix": "Dr", "period": "always"}]},
    {"gender": 7, "birthDate": 19700101},
    {"birthDate": "1970-02-30", "deceasedDateTime": "yesterday"},
    {"deceasedBoolean": "yes", "multipleBirthInteger": "twins"},
    {"birthDate": "0001-01-01", "deceasedDateTime": "9999-12-31T23:59:59Z"},
    {"telecom": {"system": "phone"}, "address": "1 High St"},
    {"telecom": [None, {"system": 5, "value": ["a"], "use": {"x": 1}}]},
    {"address": [{"line": [None, 4], "postalCode": {"x": 1}, "period": []}]},
    {"identifier": [None, {"system": NHS, "value": 9434765919}, {"type": "x", "value": None}]},
    {"contact": [None, {"relationship": [{"coding": "x"}], "name": 5, "telecom": "x"}]},
    {"generalPractitioner": [None, {"reference": 5, "display": ["x"], "identifier": "y"}]},
    {"meta": {"versionId": 3, "lastUpdated": []}, "extension": "x", "text": 5},
    {"name": [{"family": "Deep", "extension": [{"extension": [{"extension": [{}]}]}]}]},
]

HOSTILE_TEXT: dict[str, Any] = {
    "name": [
        {"use": "official", "family": SCRIPT, "given": [SCRIPT], "prefix": [SCRIPT]},
        {"use": "old", "family": "Hostile", "given": ["Ann"]},
    ],
    "identifier": [
        {"system": NHS, "value": SCRIPT},
        {"type": {"text": SCRIPT}, "system": SCRIPT, "value": SCRIPT},
    ],
    "telecom": [{"system": "phone", "value": SCRIPT, "use": SCRIPT}],
    "gender": SCRIPT,
    "address": [{"use": "home", "line": [SCRIPT], "city": SCRIPT, "postalCode": SCRIPT}],
    "contact": [{"relationship": [{"text": SCRIPT}], "name": {"text": SCRIPT}}],
    "generalPractitioner": [{"display": SCRIPT, "reference": SCRIPT}],
}


def _resource(fields: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Patient", **fields}


@pytest.mark.parametrize("odd", ODD_SHAPES, ids=[str(i) for i in range(len(ODD_SHAPES))])
def test_a_patient_of_odd_shape_still_gets_a_page(
    clinician: FlaskClient, hapi: Hapi, odd: dict[str, Any]
) -> None:
    [patient_id] = hapi.app.seed([_resource(odd)])
    response = clinician.get(f"/patients/{patient_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'class="patient-banner' in page
    assert "FHIR resource" in page  # the raw resource is still there to read


def test_hostile_text_in_a_patient_is_shown_escaped_on_the_page_and_in_results(
    clinician: FlaskClient, hapi: Hapi
) -> None:
    [patient_id] = hapi.app.seed([_resource(HOSTILE_TEXT)])
    page = clinician.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert SCRIPT not in page
    assert ESCAPED.upper() in page.upper()  # the banner shows the family name in capitals
    results = clinician.get("/patients/?q=hostile").get_data(as_text=True)
    assert f'href="/patients/{patient_id}"' in results
    assert SCRIPT not in results
    assert "<script" not in results.lower().replace('<script src="/static/', "")
