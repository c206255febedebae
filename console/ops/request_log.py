"""Structured JSON logs: one line per request, with the upstream calls it made.

Every request gets a request id: the caller's ``X-Request-ID`` when it is a plausible id (letters,
digits and ``._:-``, at most 64 characters), otherwise a new one. It is ``g.request_id`` for the
audit trail, goes back in the response's ``X-Request-ID`` header and is sent upstream by the FHIR
and EHRbase clients (``current_request_id`` is their ``request_id`` hook; ``upstream_hook(name)``
their ``on_call`` hook).

The request line names the route pattern (``/patients/<patient_id>``), never the path or the
query string, and upstream URLs lose their query string and record ids, so patient names, NHS
numbers and identifiers stay out of the logs. No headers, cookies or bodies are logged.
urllib3's warnings (retries, discarded connections) are JSON lines too, with query strings removed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, g, has_request_context, request, session
from flask.logging import default_handler
from sqlalchemy import inspect

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(::.*)?"
)
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]+")
REQUEST_LOGGER = "console.request"
HEALTH_ENDPOINTS = ("ops.live", "ops.ready")
UPSTREAM_LOGGER = "console.upstream"

CallHook = Callable[[str, str, "int | None", float], None]


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    if not has_request_context():
        return None
    return g.get("request_id")


def _new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str | None:
    """The caller's request id when it is safe to reuse, else None."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return None


def redact_url(url: str) -> str:
    """``url`` without credentials, query string, fragment or record ids, for the logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    segments = parts.path.split("/")
    masked = []
    for index, segment in enumerate(segments):
        previous = segments[index - 1] if index else ""
        is_id = (
            segment.isdigit()
            or _UUID.fullmatch(segment) is not None
            # FHIR: Patient/{id}; a following _history/{vid} is masked by the digit rule.
            or (bool(segment) and _RESOURCE_TYPE.fullmatch(previous) is not None)
        )
        masked.append("{id}" if is_id else segment)
    return urlunsplit((parts.scheme, netloc, "/".join(masked), "", ""))


def _call_entry(
    service: str, method: str, url: str, status: int | None, seconds: float
) -> dict[str, Any]:
    return {
        "service": service,
        "method": method.upper(),
        "url": redact_url(url),
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
    }


def _record(calls: list[dict[str, Any]] | None, call: dict[str, Any]) -> None:
    if calls is not None:
        calls.append(call)
    else:
        logging.getLogger(UPSTREAM_LOGGER).debug("upstream call", extra={"fields": call})


def note_upstream_call(
    service: str, method: str, url: str, status: int | None, seconds: float
) -> None:
    """Record one upstream call for the current request's log line (or log it on its own)."""
    calls = g.get("upstream_calls") if has_request_context() else None
    _record(calls, _call_entry(service, method, url, status, seconds))


def upstream_hook(service: str) -> CallHook:
    """An ``on_call`` hook for a client: ``FhirClient(..., on_call=upstream_hook("fhir"))``.

    It records into whichever request is current when the call finishes; for calls made from
    other threads use ``request_bound_hooks``.
    """

    def hook(method: str, url: str, status: int | None, seconds: float) -> None:
        note_upstream_call(service, method, url, status, seconds)

    return hook


def request_bound_hooks() -> tuple[Callable[[], str | None], Callable[[str], CallHook]]:
    """``(request_id, hook_for)`` bound to the current request, for calls made on other
    threads (where Flask's request context does not follow): ``request_id()`` returns this
    request's id and ``hook_for("fhir")`` records into this request's log line."""
    request_id = current_request_id()
    calls = g.get("upstream_calls") if has_request_context() else None

    def get_request_id() -> str | None:
        return request_id

    def hook_for(service: str) -> CallHook:
        def hook(method: str, url: str, status: int | None, seconds: float) -> None:
            _record(calls, _call_entry(service, method, url, status, seconds))

        return hook

    return get_request_id, hook_for


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class StderrJsonHandler(logging.Handler):
    """Writes JSON lines to whatever ``sys.stderr`` is at the time (gunicorn collects it)."""

    quill_json = True

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


_QUERY_STRING = re.compile(r"\?[^\s'\"]*")
# urllib3 names the request's URL, query string included, when it retries or discards a
# connection; the query of a patient search holds names and NHS numbers.
URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


class QueryStringFilter(logging.Filter):
    """Rewrites a record's message without query strings (for library loggers)."""

    quill_redacts = True

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed library message: keep nothing of it
            message = "(unformattable message)"
        record.msg = _QUERY_STRING.sub("?(query removed)", message)
        record.args = ()
        return True


def configure_logging(app: Flask, level: str) -> None:
    """Send the console's loggers to stderr as JSON lines, at ``level``; urllib3's warnings
    (retries, discarded connections) too, without query strings."""
    logger = logging.getLogger("console")
    app.logger.removeHandler(default_handler)
    if not any(getattr(h, "quill_json", False) for h in logger.handlers):
        logger.addHandler(StderrJsonHandler())
    logger.setLevel(level)
    # A filter on a logger applies only to records made there, so one on each module's logger
    # (urllib3 logs under its module names); the records are redacted before any handler,
    # including ones an operator may add to the root logger, sees them.
    for name in URLLIB3_LOGGERS:
        library = logging.getLogger(name)
        if not any(getattr(f, "quill_redacts", False) for f in library.filters):
            library.addFilter(QueryStringFilter())
    urllib3 = logging.getLogger("urllib3")
    if not any(getattr(h, "quill_json", False) for h in urllib3.handlers):
        handler = StderrJsonHandler()
        handler.setLevel(logging.WARNING)
        urllib3.addHandler(handler)


def _start_request() -> None:
    g.request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER)) or _new_request_id()
    g.request_started = time.perf_counter()
    g.upstream_calls = []


def _user_id() -> int | str | None:
    try:
        from flask_login import current_user

        if "_login_user" not in g:
            # Nothing in this request needed the user (a public page): name the session's user
            # without loading and checking the whole account just for the log line.
            stored = getattr(session, "stored_user_id", None)
            return str(stored) if stored is not None else None
        if current_user and current_user.is_authenticated:
            # The identity key needs no database read, whereas ``get_id()`` on a user expired
            # by this request's commit would load the whole row again just for the log line.
            state = inspect(current_user._get_current_object(), raiseerr=False)
            if state is not None and state.identity:
                return str(state.identity[0])
            return current_user.get_id()
    except Exception:  # a broken session must not lose the log line
        return None
    return None


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    if request.endpoint == "static":
        return response
    calls = g.get("upstream_calls", [])
    fields = {
        "event": "request",
        "request_id": g.request_id,
        "user_id": _user_id(),
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule is not None else None,
        "endpoint": request.endpoint,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
        "upstream": calls,
        "upstream_ms": round(sum(c["duration_ms"] for c in calls), 1),
    }
    logging.getLogger(REQUEST_LOGGER).log(
        _level(response.status_code), "request", extra={"fields": fields}
    )
    return response


def _level(status: int) -> int:
    """Server errors stand out; passing health probes (every few seconds) stay at DEBUG."""
    if status >= 500:
        return logging.ERROR
    if request.endpoint in HEALTH_ENDPOINTS and status < 400:
        return logging.DEBUG
    return logging.INFO


def init_app(app: Flask) -> None:
    """Give every request an id first and write its log line last."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    # after_request functions run in reverse order: first in the list means last to run.
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
