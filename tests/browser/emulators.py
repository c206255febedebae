"""Start the HAPI FHIR and EHRbase emulators for the browser tests, seeded with synthetic data."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from console.sandbox.server import EmulatorServer

PATIENTS = 30
SEED = 8


@dataclass
class Upstream:
    """A started emulator, the console config pointing at it, and what was loaded into it."""

    server: EmulatorServer
    base_url: str
    config: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def start_hapi() -> Upstream | None:
    """The HAPI emulator with a few synthetic patients, or None when it is not part of the tree."""
    hapi = _optional("console.sandbox.hapi")
    generator = _optional("console.sandbox.patients")
    if hapi is None or generator is None:
        return None
    resources = generator.generate_patients(PATIENTS, seed=SEED)
    server, base_url = hapi.start_hapi_emulator(port=0)
    ids = generator.load_patients(base_url, resources)
    patients = [{**resource, "id": pid} for resource, pid in zip(resources, ids, strict=True)]
    return Upstream(server, base_url, {"FHIR_SERVER_URL": base_url}, {"patients": patients})


def start_ehrbase(hapi: Upstream | None) -> Upstream | None:
    """The EHRbase emulator with letters for the synthetic patients, or None when absent."""
    ehrbase = _optional("console.sandbox.ehrbase")
    letters = _optional("console.sandbox.letters")
    client_module = _optional("console.openehr.client")
    if ehrbase is None or letters is None or client_module is None:
        return None
    user, password = ehrbase.DEFAULT_USER
    admin_user, admin_password = ehrbase.DEFAULT_ADMIN
    server, base_url = ehrbase.start_ehrbase_emulator(port=0)
    config = {
        "EHRBASE_URL": base_url,
        "EHRBASE_API_USER": user,
        "EHRBASE_API_PASSWORD": password,
        "EHRBASE_API_ADMIN_USER": admin_user,
        "EHRBASE_API_ADMIN_PASSWORD": admin_password,
    }
    data: dict[str, Any] = {}
    if hapi is not None:
        client = client_module.EhrbaseClient(
            base_url,
            user=user,
            password=password,
            admin_user=admin_user,
            admin_password=admin_password,
        )
        try:
            people = [letters.SandboxPatient.from_fhir(p, p["id"]) for p in hapi.data["patients"]]
            report = letters.load_letters(client, people, seed=SEED, workers=2)
            if report.failures:
                raise RuntimeError(f"loading letters failed: {report.failures[:3]}")
            data["letters_loaded"] = report.letters_created
        finally:
            client.close()
    return Upstream(server, base_url, config, data)
