"""Patients for the patient page tests: FHIR resources, upstream faults, hostile values."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import text

from console.appsettings import store_setting
from console.db import db

HX = {"HX-Request": "true"}


NHS = "https://fhir.nhs.uk/Id/nhs-number"


def person(family: str, given: str = "Alex", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        **extra,
    }


def mary() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS, "value": "4010232137"},
            {
                "type": {"text": "Hospital number"},
                "system": "https://trust.example/mrn",
                "value": "RX123",
            },
        ],
        "name": [
            {"use": "official", "family": "Jones", "given": ["Mary", "Anne"], "prefix": ["Mrs"]},
            {"use": "maiden", "family": "Evans", "given": ["Mary"], "period": {"end": "1995"}},
        ],
        "telecom": [{"system": "phone", "value": "07700 900123", "use": "mobile"}],
        "gender": "female",
        "birthDate": "1970-01-01",
        "address": [
            {"use": "home", "line": ["1 High Street"], "city": "Leeds", "postalCode": "LS1 4AP"}
        ],
        "generalPractitioner": [
            {
                "type": "Organization",
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y90001",
                },
                "display": "Riverside Medical Practice",
            }
        ],
        "contact": [
            {
                "relationship": [
                    {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}
                        ]
                    }
                ],
                "name": {"family": "Jones", "given": ["Tom"]},
                "telecom": [{"system": "phone", "value": "07700 900456"}],
            }
        ],
    }


def body(response: Any) -> str:
    return response.get_data(as_text=True)


FAULTS = [
    ({"status": 500}, 502, "had a problem answering"),
    ({"status": 503}, 502, "had a problem answering"),
    ({"malformed": True, "content_type": "application/fhir+json"}, 502, "could not read"),
    (
        {
            "status": 200,
            "body": '{"resourceType": "Observation"}',
            "content_type": "application/fhir+json",
        },
        502,
        "could not read",
    ),
    (
        {"status": 200, "body": "<html>login</html>", "content_type": "text/html"},
        502,
        "could not read",
    ),
    (
        {
            "status": 400,
            "content_type": "application/fhir+json",
            "body": json.dumps(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "error",
                            "code": "processing",
                            "diagnostics": "HAPI-9999: nope",
                        }
                    ],
                }
            ),
        },
        502,
        "rejected the request",
    ),
]


XSS = "<script>alert(1)</script>"


def hostile() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS, "value": "9434765919"},
            {"system": f"urn:{XSS}", "value": XSS, "type": {"text": XSS}},
        ],
        "name": [
            {
                "use": "official",
                "family": f"Xss{XSS}",
                "given": [XSS],
                "prefix": [XSS],
                "suffix": [XSS],
            },
            {"use": XSS, "text": XSS},
        ],
        "telecom": [{"system": XSS, "value": XSS, "use": XSS}],
        "gender": XSS,
        "birthDate": XSS,
        "address": [{"use": "home", "line": [XSS], "city": XSS, "postalCode": XSS, "country": XSS}],
        "generalPractitioner": [{"display": XSS, "identifier": {"system": XSS, "value": XSS}}],
        "managingOrganization": {"display": XSS},
        "contact": [
            {
                "relationship": [{"text": XSS}],
                "name": {"family": XSS, "given": [XSS]},
                "telecom": [{"system": "phone", "value": XSS}],
                "address": {"line": [XSS]},
            }
        ],
        "deceasedDateTime": XSS,
    }


def break_the_audit_table(app: Flask) -> None:
    with app.app_context():
        db.session.execute(text("DROP TABLE audit_events"))
        db.session.commit()


def set_settings(app: Flask, **values: Any) -> None:
    """Store application settings, e.g. ``set_settings(app, **{"clinical.fhir_page_size": 2})``."""
    with app.app_context():
        for key, value in values.items():
            store_setting(key, value, None)
        db.session.commit()
