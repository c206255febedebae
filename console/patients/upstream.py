"""The app's FHIR client, built from the settings and shared by every request.

One client (one pooled session, one circuit breaker) per app. It is rebuilt when the FHIR
timeouts change on the settings page; the breaker carries over, so a rebuild does not
forget that the server is down.
"""

from __future__ import annotations

from flask import Flask, current_app

from console.appsettings import get_setting
from console.fhir.client import FhirClient
from console.fhir.errors import FhirNotConfigured
from console.ops.request_log import current_request_id, upstream_hook
from console.upstream_clients import ClientHolder, holder_for

EXTENSION = "patients.fhir"


def init_app(app: Flask) -> None:
    """Prepare the per-app client holder.

    Flask config keys (all optional): ``FHIR_RETRIES`` (2), ``FHIR_BACKOFF_FACTOR`` (0.25),
    ``FHIR_BREAKER_THRESHOLD`` (5), ``FHIR_BREAKER_RESET_S`` (30).
    """
    holder_for(app, EXTENSION, "FHIR")


def fhir_client() -> FhirClient:
    """The FHIR client for the current app; raises ``FhirNotConfigured`` without a server URL."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["SETTINGS"]
    if not settings.FHIR_SERVER_URL:
        raise FhirNotConfigured(diagnostics="FHIR_SERVER_URL is not set.")
    connect = float(get_setting("clinical.fhir_connect_timeout_seconds"))
    read = float(get_setting("clinical.fhir_read_timeout_seconds"))
    holder: ClientHolder[FhirClient] = holder_for(app, EXTENSION, "FHIR")
    return holder.get(
        (settings.FHIR_SERVER_URL, connect, read),
        lambda breaker: FhirClient(
            settings.FHIR_SERVER_URL,
            connect_timeout=connect,
            read_timeout=read,
            retries=app.config.get("FHIR_RETRIES", 2),
            backoff_factor=app.config.get("FHIR_BACKOFF_FACTOR", 0.25),
            bearer_token=settings.fhir_bearer_token,
            basic_auth=settings.fhir_basic_auth,
            breaker=breaker,
            request_id=current_request_id,
            on_call=upstream_hook("fhir"),
        ),
    )


def page_size() -> int:
    """Patients per results page (the ``clinical.fhir_page_size`` setting)."""
    return int(get_setting("clinical.fhir_page_size"))
