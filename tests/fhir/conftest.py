"""Fixtures: a HAPI emulator per test, FHIR clients with short timeouts and no backoff, and
the real HAPI FHIR server of the ``live`` tier (``LIVE_FHIR_URL``)."""

from __future__ import annotations

from tests.support.fhir import client, hapi, hapi_server, make_client  # noqa: F401  (fixtures)
