"""“Test connection” for HAPI FHIR and EHRbase: one real request, its latency and the version.

Each probe uses the console's own client (``console.fhir`` / ``console.openehr``), so the test
exercises the same URL handling, authentication and error parsing as the pages do, but builds
a throw-away client with no retries and a fresh circuit breaker: the administrator wants to
know how the server answers *now*, with the exact failure, not what the breaker remembers.
Anything that can answer ``() -> ProbeResult`` can be plugged in (see ``Probe``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from console.fhir.breaker import CircuitBreaker
from console.fhir.client import FhirClient
from console.fhir.errors import FhirError, FhirMalformed, FhirTimeout, FhirUnreachable
from console.openehr.client import EhrbaseClient
from console.openehr.errors import (
    EhrbaseError,
    EhrbaseMalformedResponse,
    EhrbaseTimeout,
    EhrbaseUnavailable,
)

SERVICES = {"fhir": "HAPI FHIR", "ehrbase": "EHRbase", "oidc": "Identity provider"}
MAX_DIAGNOSTICS = 2000


@dataclass
class ProbeResult:
    """The outcome of one connection test."""

    service: str
    url: str | None
    ok: bool
    summary: str
    latency_ms: float | None = None
    version: str | None = None
    status: int | None = None
    diagnostics: str = ""


class Probe(Protocol):
    """Tests one upstream service."""

    def __call__(self) -> ProbeResult: ...


@dataclass(frozen=True)
class Timeouts:
    """Connect and read timeouts, in seconds."""

    connect: float = 3.05
    read: float = 10.0


def _excerpt(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_DIAGNOSTICS else text[:MAX_DIAGNOSTICS] + " …"


def _summary(exc: FhirError | EhrbaseError, timeouts: Timeouts) -> str:
    """What went wrong, in the words an administrator checking a connection needs."""
    status = getattr(exc, "status", None)
    if isinstance(exc, FhirTimeout | EhrbaseTimeout):
        return f"No answer in time (connect {timeouts.connect:g} s, read {timeouts.read:g} s)."
    if isinstance(exc, FhirUnreachable | EhrbaseUnavailable):
        return "The server could not be reached."
    if status in (401, 403):
        return f"The server refused the console's credentials (HTTP {status})."
    if isinstance(exc, FhirMalformed | EhrbaseMalformedResponse):
        return "The server answered, but not with what the console expects."
    if status:
        return f"The server answered HTTP {status}."
    return exc.message


def _run(
    service: str,
    url: str,
    call: Callable[[], Any],
    describe: Callable[[Any], str],
    timeouts: Timeouts,
) -> ProbeResult:
    started = time.perf_counter()
    try:
        answer = call()
    except (FhirError, EhrbaseError) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        status = getattr(exc, "status", None)
        diagnostics = exc.diagnostics or getattr(exc, "server_error", None) or exc.message
        return ProbeResult(
            service,
            url,
            False,
            _summary(exc, timeouts),
            latency_ms=elapsed,
            status=status,
            diagnostics=_excerpt(str(diagnostics)),
        )
    elapsed = (time.perf_counter() - started) * 1000
    return ProbeResult(
        service, url, True, "Connected.", latency_ms=elapsed, status=200, version=describe(answer)
    )


def fhir_probe(
    base_url: str | None,
    timeouts: Timeouts = Timeouts(),
    *,
    bearer_token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
) -> Probe:
    """A probe reading HAPI FHIR's CapabilityStatement (``GET [base]/metadata``)."""
    service = SERVICES["fhir"]

    def probe() -> ProbeResult:
        if not base_url:
            return ProbeResult(service, None, False, "FHIR_SERVER_URL is not set.")
        client = FhirClient(
            base_url,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            retries=0,
            breaker=CircuitBreaker(),
            bearer_token=bearer_token,
            basic_auth=basic_auth,
        )
        try:
            return _run(
                service,
                client.base_url + "/metadata",
                client.metadata,
                lambda info: " ".join(
                    part
                    for part in (
                        info.software_name,
                        info.software_version,
                        f"(FHIR {info.fhir_version})" if info.fhir_version else "",
                    )
                    if part
                ),
                timeouts,
            )
        finally:
            client.session.close()

    return probe


def ehrbase_probe(
    base_url: str | None, user: str | None, password: str, timeouts: Timeouts = Timeouts()
) -> Probe:
    """A probe reading EHRbase's status (``GET [base]/rest/status``, which needs credentials)."""
    service = SERVICES["ehrbase"]

    def probe() -> ProbeResult:
        if not base_url:
            return ProbeResult(service, None, False, "EHRBASE_URL is not set.")
        client = EhrbaseClient(
            base_url,
            user=user,
            password=password,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            retries=0,
            breaker=CircuitBreaker(),
        )
        try:
            result = _run(
                service,
                client.base_url + "/rest/status",
                client.status,
                lambda status: f"EHRbase {status.ehrbase_version}",
                timeouts,
            )
        finally:
            client.close()
        if result.status == 401 and not user:
            result.summary = "EHRbase needs credentials: EHRBASE_API_USER is not set."
        return result

    return probe


def default_probes(
    settings: Any, fhir_timeouts: Timeouts, ehrbase_timeouts: Timeouts
) -> dict[str, Probe]:
    """The probes for the configured services (``settings`` is ``console.config.Settings``)."""
    from console.sso.provider import probe as identity_provider_probe

    return {
        "oidc": identity_provider_probe,
        "fhir": fhir_probe(
            settings.FHIR_SERVER_URL,
            fhir_timeouts,
            bearer_token=settings.fhir_bearer_token,
            basic_auth=settings.fhir_basic_auth,
        ),
        "ehrbase": ehrbase_probe(
            settings.EHRBASE_URL,
            settings.EHRBASE_API_USER,
            settings.EHRBASE_API_PASSWORD.reveal(),
            ehrbase_timeouts,
        ),
    }
