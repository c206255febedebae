"""One health probe per upstream service, for the settings page's "test connection" and the
status page alike.

A probe makes one real request with the console's own client (built by
``console.upstream.builders``, so URL handling, credentials and error parsing are the pages'),
but with no retries and a fresh circuit breaker: it says how the server answers *now*.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.fhir.breaker import CircuitBreaker
from console.upstream.builders import build_ehrbase_client, build_fhir_client
from console.upstream.errors import UpstreamError, UpstreamNotConfigured
from console.upstream.transport import Limits

CallHook = Callable[[str, str, "int | None", float], None]
NAMES = {"fhir": "HAPI FHIR", "ehrbase": "EHRbase"}


@dataclass(frozen=True)
class Health:
    """What one probe of a service found."""

    service: str
    url: str | None
    ok: bool
    latency_ms: float | None = None
    version: str | None = None
    error: UpstreamError | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The service's name for people."""
        return NAMES[self.service]

    @property
    def configured(self) -> bool:
        """False when the console has no address for the service."""
        return not isinstance(self.error, UpstreamNotConfigured)


def _probe(service: str, url: str, call: Callable[[], Health]) -> Health:
    started = time.perf_counter()
    try:
        health = call()
    except UpstreamError as exc:
        return Health(service, url, False, (time.perf_counter() - started) * 1000, error=exc)
    return Health(
        service,
        url,
        True,
        (time.perf_counter() - started) * 1000,
        health.version,
        facts=health.facts,
    )


def probe_fhir(
    settings: Any,
    limits: Limits,
    *,
    request_id: Callable[[], str | None] | None = None,
    on_call: CallHook | None = None,
) -> Health:
    """``GET [base]/metadata``: HAPI FHIR's CapabilityStatement (software and FHIR version)."""
    try:
        client = build_fhir_client(
            settings,
            limits,
            retries=0,
            breaker=CircuitBreaker(failure_threshold=1000),
            request_id=request_id,
            on_call=on_call,
        )
    except UpstreamError as exc:
        return Health("fhir", None, False, error=exc)

    def call() -> Health:
        info = client.metadata()
        version = " ".join(v for v in (info.software_name, info.software_version) if v)
        return Health(
            "fhir",
            client.base_url,
            True,
            version=version or None,
            facts={"fhir_version": info.fhir_version},
        )

    try:
        return _probe("fhir", client.base_url + "/metadata", call)
    finally:
        client.close()


def probe_ehrbase(
    settings: Any,
    limits: Limits,
    *,
    request_id: Callable[[], str | None] | None = None,
    on_call: CallHook | None = None,
) -> Health:
    """``GET [base]/rest/status`` with the API user: EHRbase's versions."""
    try:
        client = build_ehrbase_client(
            settings,
            limits,
            retries=0,
            breaker=CircuitBreaker(failure_threshold=1000),
            request_id=request_id,
            on_call=on_call,
        )
    except UpstreamError as exc:
        return Health("ehrbase", None, False, error=exc)

    def call() -> Health:
        status = client.status()
        return Health(
            "ehrbase",
            client.base_url,
            True,
            version=f"EHRbase {status.ehrbase_version}",
            facts={
                "openehr_sdk_version": status.openehr_sdk_version,
                "postgres_version": status.postgres_version,
            },
        )

    try:
        return _probe("ehrbase", client.base_url + "/rest/status", call)
    finally:
        client.close()


PROBES = {"fhir": probe_fhir, "ehrbase": probe_ehrbase}
