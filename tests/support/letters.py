"""Test support for letters: helpers and fixtures shared by its tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from console.appsettings import store_setting
from console.db import db
from console.db.models import Role, RolePermission
from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from tests.support.fhir import Hapi
from tests.support.openehr import Target, ehrbase_config

HX = {"HX-Request": "true"}


def set_settings(app: Flask, **values: Any) -> None:
    """Store application settings, e.g. ``set_settings(app, **{"clinical.letters_page_size": 5})``."""
    with app.app_context():
        for key, value in values.items():
            store_setting(key, value, None)
        db.session.commit()


def person(family: str, given: str = "Mary") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": "female",
        "birthDate": "1970-01-01",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
    }


def a_letter(n: int, **changes: Any) -> lt.LetterInput:
    values: dict[str, Any] = {
        "title": f"Cardiology clinic letter {n}",
        "body_markdown": f"## Plan\n\nReview in clinic. Letter number {n}.",
        "status": "final",
        "author": "Dr Priya Raman",
        "date": datetime(2025, 3, 1, 14, 30, tzinfo=UTC) + timedelta(days=n),
        "recipient": "Dr Alan Fraser, Millbrook Surgery",
    }
    values.update(changes)
    return lt.LetterInput(**values)


@dataclass
class World:
    """The console, its emulators and helpers to put patients and letters in them."""

    app: Flask
    hapi: Hapi
    ehrbase: Target
    namespace: str
    client: EhrbaseClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.ehrbase.client()
        if not any(t.template_id == lt.TEMPLATE_ID for t in self.client.list_templates()):
            self.client.ensure_template(lt.letter_opt())

    @property
    def aql_requests(self) -> list[dict[str, Any]]:
        assert self.ehrbase.emulator is not None
        return self.ehrbase.emulator.aql_requests

    def patient(self, family: str = "Jones", given: str = "Mary") -> str:
        [patient_id] = self.hapi.app.seed([person(family, given)])
        return patient_id

    def letters(self, patient_id: str, letters: list[lt.LetterInput]) -> list[str]:
        """Store letters for a patient; returns their version uids in the order given."""
        ehr, _ = self.client.ensure_ehr(patient_id, self.namespace)
        return [
            self.client.create_composition(
                ehr.ehr_id, lt.TEMPLATE_ID, lt.letter_to_flat(item)
            ).version_uid
            for item in letters
        ]

    def flat_letter(self, patient_id: str, flat: dict[str, Any]) -> str:
        ehr, _ = self.client.ensure_ehr(patient_id, self.namespace)
        return self.client.create_composition(ehr.ehr_id, lt.TEMPLATE_ID, flat).version_uid


def build_world(
    app_factory: Callable[..., Flask],
    hapi: Hapi,
    ehrbase: Target,
    *,
    namespace_prefix: str = "test",
    read_timeout: float = 0.5,
) -> World:
    """A console on the HAPI emulator and ``ehrbase`` (no retries, no breaker trips), in an EHR
    subject namespace of its own."""
    app = app_factory(
        FHIR_SERVER_URL=hapi.base_url,
        FHIR_RETRIES=0,
        FHIR_BACKOFF_FACTOR=0,
        FHIR_BREAKER_THRESHOLD=1000,
        **ehrbase_config(
            ehrbase, EHRBASE_RETRIES=0, EHRBASE_BACKOFF_FACTOR=0, EHRBASE_BREAKER_THRESHOLD=1000
        ),
    )
    namespace = f"{namespace_prefix}-{uuid.uuid4().hex[:12]}"
    set_settings(
        app,
        **{
            "clinical.ehr_subject_namespace": namespace,
            "clinical.ehrbase_read_timeout_seconds": read_timeout,
        },
    )
    return World(app, hapi, ehrbase, namespace)


@pytest.fixture
def world(
    app_factory: Callable[..., Flask],
    hapi: Hapi,
    ehrbase: Target,
) -> Iterator[World]:
    """A console on both emulators (no retries, short timeouts, no breaker trips)."""
    world = build_world(app_factory, hapi, ehrbase)
    yield world
    world.client.close()


def add_role(app: Flask, name: str, permissions: tuple[str, ...]) -> None:
    """A role granting exactly these permissions."""
    with app.app_context():
        role = Role(name=name, description=name)
        role.permissions = [RolePermission(permission=p) for p in permissions]
        db.session.add(role)
        db.session.commit()
