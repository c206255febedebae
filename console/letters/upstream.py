"""The app's EHRbase client, built from the settings and shared by every request.

One client (one pooled session, one circuit breaker) per app, sending the request id
upstream and reporting each call to the request log. Its timeouts are settings
(``clinical.ehrbase_*_timeout_seconds``); it is rebuilt when they change, keeping the breaker.
Flask config keys (all optional): ``EHRBASE_CONNECT_TIMEOUT`` and ``EHRBASE_READ_TIMEOUT``
(override the settings), ``EHRBASE_RETRIES`` (2), ``EHRBASE_BACKOFF_FACTOR`` (0.25),
``EHRBASE_BREAKER_THRESHOLD`` (5), ``EHRBASE_BREAKER_RESET_S`` (30).
"""

from __future__ import annotations

from datetime import tzinfo

from flask import Flask, current_app

from console import templating
from console.appsettings import get_setting
from console.openehr.client import EhrbaseClient
from console.openehr.errors import EhrbaseNotConfigured
from console.ops.request_log import current_request_id, upstream_hook
from console.upstream_clients import ClientHolder, holder_for

EXTENSION = "letters.ehrbase"

DISPLAY_TIMEZONE: tzinfo = templating.DISPLAY_TIMEZONE


def init_app(app: Flask) -> None:
    """Prepare the per-app client holder."""
    holder_for(app, EXTENSION, "EHRBASE")


def ehrbase_client() -> EhrbaseClient:
    """The EHRbase client of the current app; raises ``EhrbaseNotConfigured`` without a URL."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["SETTINGS"]
    if not settings.EHRBASE_URL:
        raise EhrbaseNotConfigured(diagnostics="EHRBASE_URL is not set.")
    connect = float(
        app.config.get("EHRBASE_CONNECT_TIMEOUT")
        or get_setting("clinical.ehrbase_connect_timeout_seconds")
    )
    read = float(
        app.config.get("EHRBASE_READ_TIMEOUT")
        or get_setting("clinical.ehrbase_read_timeout_seconds")
    )
    holder: ClientHolder[EhrbaseClient] = holder_for(app, EXTENSION, "EHRBASE")
    return holder.get(
        (settings.EHRBASE_URL, connect, read),
        lambda breaker: EhrbaseClient(
            settings.EHRBASE_URL,
            **settings.ehrbase_accounts,
            connect_timeout=connect,
            read_timeout=read,
            retries=int(app.config.get("EHRBASE_RETRIES", 2)),
            backoff=float(app.config.get("EHRBASE_BACKOFF_FACTOR", 0.25)),
            breaker=breaker,
            request_id=current_request_id,
            on_call=upstream_hook("ehrbase"),
        ),
    )


def subject_namespace() -> str:
    """The namespace linking an EHR to a FHIR Patient id (setting ``clinical.ehr_subject_namespace``)."""
    return str(get_setting("clinical.ehr_subject_namespace"))


def letter_template_id() -> str:
    """The template letters are stored with (setting ``clinical.letter_template_id``)."""
    return str(get_setting("clinical.letter_template_id"))


def letters_page_size() -> int:
    """Letters per page (setting ``clinical.letters_page_size``)."""
    return int(get_setting("clinical.letters_page_size"))
