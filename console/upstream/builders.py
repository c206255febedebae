"""Each upstream client built from the settings, in one place.

``build_fhir_client`` / ``build_ehrbase_client`` make a client from ``console.config.Settings``
and ``Limits`` (for the CLI, the probes and the app alike); ``fhir_client()`` /
``ehrbase_client()`` return the current app's shared client, whose limits are the settings
``clinical.{fhir,ehrbase}_{connect_timeout,read_timeout,deadline}_seconds`` and
``clinical.{fhir,ehrbase}_max_response_mb``, rebuilt (keeping its breaker) when they change.

Flask config keys (all optional): ``{FHIR,EHRBASE}_RETRIES`` (2),
``{FHIR,EHRBASE}_BACKOFF_FACTOR`` (0.25), ``{FHIR,EHRBASE}_BREAKER_THRESHOLD`` (5),
``{FHIR,EHRBASE}_BREAKER_RESET_S`` (30); ``EHRBASE_CONNECT_TIMEOUT`` and
``EHRBASE_READ_TIMEOUT`` override the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from console.appsettings import get_setting
from console.fhir.breaker import CircuitBreaker
from console.fhir.client import FhirClient
from console.fhir.errors import FhirNotConfigured
from console.openehr.client import EhrbaseClient
from console.openehr.errors import EhrbaseNotConfigured
from console.ops.request_log import current_request_id, upstream_hook
from console.upstream.holder import ClientHolder, holder_for
from console.upstream.transport import Limits

FHIR_EXTENSION = "patients.fhir"
EHRBASE_EXTENSION = "letters.ehrbase"
_MB = 1024 * 1024
CallHook = Callable[[str, str, "int | None", float], None]
DEFAULT_LIMITS = Limits()


def limits_from_settings(service: str, app: Flask | None = None) -> Limits:
    """The limits of ``service`` (``fhir`` or ``ehrbase``) from the settings page."""
    config = app.config if app is not None else {}
    prefix = service.upper()
    connect = config.get(f"{prefix}_CONNECT_TIMEOUT") or get_setting(
        f"clinical.{service}_connect_timeout_seconds"
    )
    read = config.get(f"{prefix}_READ_TIMEOUT") or get_setting(
        f"clinical.{service}_read_timeout_seconds"
    )
    return Limits(
        connect_timeout=float(connect),
        read_timeout=float(read),
        deadline=float(get_setting(f"clinical.{service}_deadline_seconds")),
        max_bytes=int(float(get_setting(f"clinical.{service}_max_response_mb")) * _MB),
    )


def build_fhir_client(
    settings: Any,
    limits: Limits = DEFAULT_LIMITS,
    *,
    url: str | None = None,
    retries: int = 2,
    backoff_factor: float = 0.25,
    breaker: CircuitBreaker | None = None,
    request_id: Callable[[], str | None] | None = None,
    on_call: CallHook | None = None,
) -> FhirClient:
    """A FHIR client for ``settings.FHIR_SERVER_URL`` (or ``url``) with its credentials."""
    base_url = url or settings.FHIR_SERVER_URL
    if not base_url:
        raise FhirNotConfigured(diagnostics="FHIR_SERVER_URL is not set.")
    return FhirClient(
        base_url,
        connect_timeout=limits.connect_timeout,
        read_timeout=limits.read_timeout,
        deadline=limits.deadline,
        max_bytes=limits.max_bytes,
        retries=retries,
        backoff_factor=backoff_factor,
        bearer_token=settings.fhir_bearer_token,
        basic_auth=settings.fhir_basic_auth,
        breaker=breaker if breaker is not None else CircuitBreaker(),
        request_id=request_id,
        on_call=on_call,
    )


def build_ehrbase_client(
    settings: Any,
    limits: Limits = DEFAULT_LIMITS,
    *,
    url: str | None = None,
    retries: int = 2,
    backoff: float = 0.25,
    breaker: CircuitBreaker | None = None,
    request_id: Callable[[], str | None] | None = None,
    on_call: CallHook | None = None,
    pool_size: int = 10,
) -> EhrbaseClient:
    """An EHRbase client for ``settings.EHRBASE_URL`` (or ``url``) with both accounts."""
    base_url = url or settings.EHRBASE_URL
    if not base_url:
        raise EhrbaseNotConfigured(diagnostics="EHRBASE_URL is not set.")
    return EhrbaseClient(
        base_url,
        **settings.ehrbase_accounts,
        connect_timeout=limits.connect_timeout,
        read_timeout=limits.read_timeout,
        deadline=limits.deadline,
        max_bytes=limits.max_bytes,
        retries=retries,
        backoff=backoff,
        breaker=breaker,
        request_id=request_id,
        on_call=on_call,
        pool_size=pool_size,
    )


def init_app(app: Flask) -> None:
    """Prepare the app's two client holders (each with the breaker that outlives rebuilds)."""
    holder_for(app, FHIR_EXTENSION, "FHIR")
    holder_for(app, EHRBASE_EXTENSION, "EHRBASE")


@dataclass(frozen=True)
class _Upstream:
    """How the app's shared client of one service is made."""

    key: str
    """``fhir`` or ``ehrbase``: its settings' infix, config prefix and request-log name."""
    url_setting: str
    extension: str
    not_configured: type[FhirNotConfigured] | type[EhrbaseNotConfigured]
    build: Callable[..., Any]
    backoff_argument: str


_FHIR = _Upstream(
    "fhir",
    "FHIR_SERVER_URL",
    FHIR_EXTENSION,
    FhirNotConfigured,
    build_fhir_client,
    "backoff_factor",
)
_EHRBASE = _Upstream(
    "ehrbase",
    "EHRBASE_URL",
    EHRBASE_EXTENSION,
    EhrbaseNotConfigured,
    build_ehrbase_client,
    "backoff",
)


def _shared_client(upstream: _Upstream) -> Any:
    """The current app's client of ``upstream``, rebuilt (keeping its breaker) when its URL or
    limits change; raises the service's "not configured" error without a URL."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["SETTINGS"]
    url = getattr(settings, upstream.url_setting)
    if not url:
        raise upstream.not_configured(diagnostics=f"{upstream.url_setting} is not set.")
    limits = limits_from_settings(upstream.key, app)
    prefix = upstream.key.upper()
    holder: ClientHolder[Any] = holder_for(app, upstream.extension, prefix)
    backoff = float(app.config.get(f"{prefix}_BACKOFF_FACTOR", 0.25))
    return holder.get(
        (url, limits),
        lambda breaker: upstream.build(
            settings,
            limits,
            retries=int(app.config.get(f"{prefix}_RETRIES", 2)),
            breaker=breaker,
            request_id=current_request_id,
            on_call=upstream_hook(upstream.key),
            **{upstream.backoff_argument: backoff},
        ),
    )


def fhir_client() -> FhirClient:
    """The current app's FHIR client; raises ``FhirNotConfigured`` without a server URL."""
    return _shared_client(_FHIR)


def ehrbase_client() -> EhrbaseClient:
    """The current app's EHRbase client; raises ``EhrbaseNotConfigured`` without a URL."""
    return _shared_client(_EHRBASE)
