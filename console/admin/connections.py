"""“Test connection” for HAPI FHIR and EHRbase: one real request, its latency and the version.

The probes are the upstream layer's (``console.upstream.health``), shared with the status
page: the console's own client with no retries and a fresh circuit breaker, because the
administrator wants to know how the server answers *now*, with the exact failure, not what the
breaker remembers. Anything that can answer ``() -> ProbeResult`` can be plugged in (``Probe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from console.upstream.errors import (
    UpstreamError,
    UpstreamMalformed,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnreachable,
)
from console.upstream.health import Health, probe_ehrbase, probe_fhir
from console.upstream.transport import Limits

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


def _excerpt(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_DIAGNOSTICS else text[:MAX_DIAGNOSTICS] + " …"


def _summary(exc: UpstreamError, limits: Limits) -> str:
    """What went wrong, in the words an administrator checking a connection needs."""
    status = exc.status
    if isinstance(exc, UpstreamTimeout):
        return (
            f"No answer in time (connect {limits.connect_timeout:g} s, "
            f"read {limits.read_timeout:g} s)."
        )
    if isinstance(exc, UpstreamUnreachable):
        return "The server could not be reached."
    if status in (401, 403):
        return f"The server refused the console's credentials (HTTP {status})."
    if isinstance(exc, UpstreamTooLarge):
        return "The server sent too much: its answer is larger than the console accepts."
    if isinstance(exc, UpstreamMalformed):
        return "The server answered, but not with what the console expects."
    if status:
        return f"The server answered HTTP {status}."
    return exc.message


def result_of(health: Health, limits: Limits) -> ProbeResult:
    """A probe's findings in the settings page's words."""
    service = SERVICES[health.service]
    if health.ok:
        fhir_version = health.facts.get("fhir_version")
        version = " ".join(
            part
            for part in (health.version, f"(FHIR {fhir_version})" if fhir_version else "")
            if part
        )
        return ProbeResult(
            service, health.url, True, "Connected.", health.latency_ms, version, status=200
        )
    exc = health.error
    assert exc is not None
    if not health.configured:
        return ProbeResult(service, None, False, exc.diagnostics or exc.message)
    diagnostics = exc.diagnostics or getattr(exc, "server_error", None) or exc.message
    return ProbeResult(
        service,
        health.url,
        False,
        _summary(exc, limits),
        latency_ms=health.latency_ms,
        status=exc.status,
        diagnostics=_excerpt(str(diagnostics)),
    )


def fhir_probe(settings: Any, limits: Limits) -> Probe:
    """A probe reading HAPI FHIR's CapabilityStatement (``GET [base]/metadata``)."""
    return lambda: result_of(probe_fhir(settings, limits), limits)


def ehrbase_probe(settings: Any, limits: Limits) -> Probe:
    """A probe reading EHRbase's status (``GET [base]/rest/status``, which needs credentials)."""

    def probe() -> ProbeResult:
        result = result_of(probe_ehrbase(settings, limits), limits)
        if result.status == 401 and not settings.EHRBASE_API_USER:
            result.summary = "EHRbase needs credentials: EHRBASE_API_USER is not set."
        return result

    return probe


def default_probes(settings: Any, fhir_limits: Limits, ehrbase_limits: Limits) -> dict[str, Probe]:
    """The probes for the configured services (``settings`` is ``console.config.Settings``)."""
    from console.sso.provider import probe as identity_provider_probe

    return {
        "oidc": identity_provider_probe,
        "fhir": fhir_probe(settings, fhir_limits),
        "ehrbase": ehrbase_probe(settings, ehrbase_limits),
    }
