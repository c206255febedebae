"""The app's FHIR client, built from the settings and shared by every request.

One client (one pooled session, one circuit breaker) per app. It is rebuilt when the FHIR
timeouts change on the settings page; the breaker carries over, so a rebuild does not
forget that the server is down.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app

from console.appsettings import get_setting
from console.fhir.breaker import CircuitBreaker
from console.fhir.client import FhirClient
from console.fhir.errors import FhirNotConfigured
from console.ops.request_log import current_request_id, upstream_hook

EXTENSION = "patients.fhir"


class _Holder:
    def __init__(self, app: Flask) -> None:
        self.lock = threading.Lock()
        self.key: tuple[Any, ...] | None = None
        self.client: FhirClient | None = None
        self.breaker = CircuitBreaker(
            failure_threshold=int(app.config.get("FHIR_BREAKER_THRESHOLD", 5)),
            reset_after_s=float(app.config.get("FHIR_BREAKER_RESET_S", 30.0)),
        )


def init_app(app: Flask) -> None:
    """Prepare the per-app client holder.

    Flask config keys (all optional): ``FHIR_RETRIES`` (2), ``FHIR_BACKOFF_FACTOR`` (0.25),
    ``FHIR_BREAKER_THRESHOLD`` (5), ``FHIR_BREAKER_RESET_S`` (30).
    """
    app.extensions[EXTENSION] = _Holder(app)


def fhir_client() -> FhirClient:
    """The FHIR client for the current app; raises ``FhirNotConfigured`` without a server URL."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["SETTINGS"]
    if not settings.FHIR_SERVER_URL:
        raise FhirNotConfigured(diagnostics="FHIR_SERVER_URL is not set.")
    holder: _Holder = app.extensions.setdefault(EXTENSION, _Holder(app))
    connect = float(get_setting("clinical.fhir_connect_timeout_seconds"))
    read = float(get_setting("clinical.fhir_read_timeout_seconds"))
    key = (settings.FHIR_SERVER_URL, connect, read)
    with holder.lock:
        if holder.client is None or holder.key != key:
            if holder.client is not None:
                holder.client.close()
            holder.client = FhirClient(
                settings.FHIR_SERVER_URL,
                connect_timeout=connect,
                read_timeout=read,
                retries=app.config.get("FHIR_RETRIES", 2),
                backoff_factor=app.config.get("FHIR_BACKOFF_FACTOR", 0.25),
                bearer_token=settings.fhir_bearer_token,
                basic_auth=settings.fhir_basic_auth,
                breaker=holder.breaker,
                request_id=current_request_id,
                on_call=upstream_hook("fhir"),
            )
            holder.key = key
        return holder.client


def page_size() -> int:
    """Patients per results page (the ``clinical.fhir_page_size`` setting)."""
    return int(get_setting("clinical.fhir_page_size"))
