"""Typed failures of the EHRbase client.

Every error carries a plain ``message`` for the person at the screen and ``diagnostics``: the
server's own words, verbatim, for the disclosure panel and the logs. ``status`` is the HTTP
status when the server answered at all. Each class also subclasses its kind in ``console.upstream.errors``
(``EhrbaseTimeout`` is an ``UpstreamTimeout`` and, as for FHIR, an "unavailable" failure).
"""

from __future__ import annotations

from xml.etree import ElementTree

from console.upstream.errors import (
    UpstreamBreakerOpen,
    UpstreamError,
    UpstreamMalformed,
    UpstreamNotConfigured,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnavailable,
    UpstreamUnreachable,
    UpstreamWrongRecord,
)
from console.upstream.transport import parse_json

SERVICE = "the clinical records server (EHRbase)"


class EhrbaseError(UpstreamError):
    """Base class of every EHRbase client failure."""

    default_message = f"Something went wrong talking to {SERVICE}."
    #: True when the failure says the server is unhealthy (counts against the breaker).
    upstream_fault = False

    def __init__(
        self,
        message: str | None = None,
        *,
        diagnostics: str = "",
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        server_error: str | None = None,
    ) -> None:
        self.server_error = server_error
        super().__init__(message, diagnostics=diagnostics, status=status, method=method, url=url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class EhrbaseUnavailable(EhrbaseError, UpstreamUnavailable):
    """The server could not be asked, or did not answer in time."""

    default_message = f"Letters cannot be shown right now: {SERVICE} cannot be reached."
    upstream_fault = True


class EhrbaseUnreachable(EhrbaseUnavailable, UpstreamUnreachable):
    """The server could not be reached (connection refused, DNS, reset)."""


class EhrbaseTimeout(EhrbaseUnavailable, UpstreamTimeout):
    """The server did not answer in time."""

    default_message = f"Letters cannot be shown right now: {SERVICE} did not answer in time."
    upstream_fault = True


class EhrbaseBreakerOpen(EhrbaseUnavailable, UpstreamBreakerOpen):
    """Recent calls failed, so the client is not calling the server for a while."""

    default_message = (
        f"Letters cannot be shown right now: {SERVICE} has been failing, "
        "so the console is pausing calls to it. Try again in a moment."
    )
    upstream_fault = False


class EhrbaseUnauthorised(EhrbaseError, UpstreamRejected):
    """401: the server refused the console's credentials."""

    default_message = (
        f"{SERVICE.capitalize()} refused the console's credentials. "
        "Ask an administrator to check the EHRbase user settings."
    )


class EhrbaseForbidden(EhrbaseError, UpstreamRejected):
    """403: the credentials are valid but lack the role the operation needs."""

    default_message = (
        f"The console's account on {SERVICE} is not allowed to do this. "
        "Template changes need the EHRbase administrator credentials."
    )


class EhrbaseNotFound(EhrbaseError, UpstreamNotFound):
    """404 (or a deleted record): the thing asked for is not there."""

    default_message = f"The record was not found on {SERVICE}."


class CompositionDeleted(EhrbaseNotFound):
    """The composition existed but has been deleted (EHRbase answers 204 with no body)."""

    default_message = "This record has been deleted on the clinical records server."


class EhrbaseConflict(EhrbaseError, UpstreamRejected):
    """409: the request conflicts with what the server holds."""

    default_message = f"{SERVICE.capitalize()} reported a conflict with what it already holds."


class TemplateAlreadyExists(EhrbaseConflict):
    """409 on template upload: a template with this id is already on the server."""

    default_message = "A template with this id is already on the server."

    def __init__(self, template_id: str, **kwargs: object) -> None:
        self.template_id = template_id
        super().__init__(
            f"The template “{template_id}” is already on the server.",
            **kwargs,  # type: ignore[arg-type]
        )


class EhrbaseRejected(EhrbaseError, UpstreamRejected):
    """Another 4xx: the server rejected the request (bad query, invalid data, ...)."""

    default_message = f"{SERVICE.capitalize()} rejected the request."


class EhrbaseServerError(EhrbaseError, UpstreamServerError):
    """5xx: the server failed while handling the request."""

    default_message = f"Letters cannot be shown right now: {SERVICE} reported an internal error."
    upstream_fault = True


class EhrbaseMalformedResponse(EhrbaseError, UpstreamMalformed):
    """The server answered with something the console could not read."""

    default_message = (
        f"Letters cannot be shown right now: {SERVICE} sent a response the console could not read."
    )
    upstream_fault = True


class EhrbaseTooLarge(EhrbaseMalformedResponse, UpstreamTooLarge):
    """The answer was larger than the console accepts (``clinical.ehrbase_max_response_mb``)."""

    default_message = (
        f"Letters cannot be shown right now: {SERVICE} sent too much (its answer is larger "
        "than the console accepts). Tell the system administrator."
    )


class EhrbaseWrongRecord(EhrbaseError, UpstreamWrongRecord):
    """EHRbase answered with records of another patient's EHR (never shown)."""

    default_message = (
        f"{SERVICE.capitalize()} answered with a record that is not this patient's, "
        "so it is not shown. Tell the system administrator."
    )
    upstream_fault = True


class EhrbaseNotConfigured(EhrbaseError, UpstreamNotConfigured):
    """The console has no URL or credentials for the operation asked for."""

    default_message = "The console is not configured to reach EHRbase (EHRBASE_URL)."


class TemplateInvalid(EhrbaseError):
    """The OPT failed the console's checks before upload; ``problems`` lists each one."""

    default_message = "The file is not a valid openEHR operational template (ADL 1.4 OPT)."

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(diagnostics="\n".join(self.problems))


def parse_error_body(text: str) -> tuple[str | None, str]:
    """``(error, message)`` from an EHRbase error body, or ``(None, text)`` when unknown.

    EHRbase answers ``{"error": ..., "message": ...}``; endpoints that produce only XML may
    send the same two fields as XML; Spring's own 401/403 bodies carry ``error`` and ``path``.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = parse_json(stripped.encode("utf-8", "surrogatepass"))
        except ValueError:
            return None, text
        if isinstance(data, dict):
            error = data.get("error")
            message = data.get("message")
            if isinstance(message, str) and message:
                return (error if isinstance(error, str) else None), message
            if isinstance(error, str):
                return error, text
        return None, text
    if stripped.startswith("<") and "<message>" in stripped and "<!DOCTYPE" not in stripped:
        try:
            root = ElementTree.fromstring(stripped)  # noqa: S314 - no DTDs are processed
        except ElementTree.ParseError:
            return None, text
        error = root.findtext("error")
        message = root.findtext("message")
        if message:
            return error, message
    return None, text
