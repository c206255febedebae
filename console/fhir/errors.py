"""Typed failures of the FHIR client.

Every error carries ``message`` (plain English, safe to show to staff) and ``diagnostics``
(the technical detail, shown behind a disclosure). Nothing else escapes the client.

    FhirError
    ├── FhirUnavailable          the server could not be asked
    │   ├── FhirUnreachable      connection refused, DNS, TLS
    │   ├── FhirTimeout          no answer in time
    │   ├── FhirBreakerOpen      recent failures; not tried at all
    │   └── FhirNotConfigured    no server address configured
    ├── FhirResponseError        the server answered with an error status
    │   ├── FhirNotFound         404
    │   ├── FhirGone             410 (a deleted record)
    │   │   └── FhirSearchExpired  410/400 on a paging link whose search has expired
    │   ├── FhirRejected         other 4xx, with OperationOutcome issues
    │   └── FhirServerError      5xx
    ├── FhirMalformed            an answer the console cannot read
    │   └── FhirTooLarge         an answer larger than the configured cap
    ├── FhirWrongPatient         a read of Patient X that answered another Patient
    └── FhirInvalidLink          a paging link that does not point at the configured server

Each class also subclasses its kind in ``console.upstream.errors`` (``FhirTimeout`` is an
``UpstreamTimeout``), so one ``except`` per kind serves both services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class OutcomeIssue:
    """One ``OperationOutcome.issue``: severity, code and the server's diagnostics."""

    severity: str
    code: str
    diagnostics: str

    def __str__(self) -> str:
        return f"{self.severity} ({self.code}): {self.diagnostics}".strip()


def parse_outcome(payload: Any) -> tuple[OutcomeIssue, ...]:
    """The issues of an OperationOutcome body; empty for anything else."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "OperationOutcome":
        return ()
    issues = payload.get("issue")
    if not isinstance(issues, list):
        return ()
    parsed = []
    for issue in issues:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics")
        if not isinstance(text, str):
            details = issue.get("details")
            text = details.get("text") if isinstance(details, dict) else None
        parsed.append(
            OutcomeIssue(
                severity=str(issue.get("severity") or "error"),
                code=str(issue.get("code") or "unknown"),
                diagnostics=text if isinstance(text, str) else "",
            )
        )
    return tuple(parsed)


class FhirError(UpstreamError):
    """Base of every FHIR client failure."""

    default_message = "The patient record service could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        diagnostics: str = "",
        url: str | None = None,
        status: int | None = None,
        issues: tuple[OutcomeIssue, ...] = (),
        method: str | None = None,
    ) -> None:
        self.issues = issues
        super().__init__(message, diagnostics=diagnostics, status=status, method=method, url=url)

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (the page offers a retry button)."""
        return True

    def __str__(self) -> str:
        return f"{self.message} {self.diagnostics}".strip()


class FhirUnavailable(FhirError, UpstreamUnavailable):
    """The server could not be asked."""

    default_message = "The patient record service (HAPI FHIR) is not available at the moment."


class FhirUnreachable(FhirUnavailable, UpstreamUnreachable):
    """Connection refused, name not resolved, TLS failure."""

    default_message = (
        "The patient record service (HAPI FHIR) is not available: the console could not "
        "connect to it. It may be down or restarting; try again in a minute."
    )


class FhirTimeout(FhirUnavailable, UpstreamTimeout):
    """The server took too long to connect or to answer."""

    default_message = (
        "The patient record service (HAPI FHIR) took too long to answer. Try again in a minute."
    )


class FhirBreakerOpen(FhirUnavailable, UpstreamBreakerOpen):
    """Recent calls failed, so the client is not trying for a short while."""

    default_message = (
        "The patient record service (HAPI FHIR) has been failing, so the console is pausing "
        "requests to it for a few seconds. Try again shortly."
    )


class FhirNotConfigured(FhirUnavailable, UpstreamNotConfigured):
    """No FHIR server address is configured."""

    default_message = (
        "The console is not connected to a patient record service (FHIR_SERVER_URL is not "
        "set). Tell the system administrator."
    )

    @property
    def retryable(self) -> bool:
        return False


class FhirResponseError(FhirError):
    """The server answered with an error status."""


class FhirNotFound(FhirResponseError, UpstreamNotFound):
    """404: no such record."""

    default_message = "No patient record was found with this identifier."

    @property
    def retryable(self) -> bool:
        return False


class FhirGone(FhirResponseError, UpstreamNotFound):
    """410: the record was deleted."""

    default_message = "This record was deleted from the patient record service."

    @property
    def retryable(self) -> bool:
        return False


class FhirSearchExpired(FhirGone):
    """A results-page link whose search the server has forgotten."""

    default_message = "These search results have expired. Run the search again."

    @property
    def retryable(self) -> bool:
        return True


class FhirRejected(FhirResponseError, UpstreamRejected):
    """Another 4xx: the server refused the request; its OperationOutcome says why."""

    default_message = "The patient record service rejected the request."

    @property
    def retryable(self) -> bool:
        return self.status in (408, 409, 429)


class FhirServerError(FhirResponseError, UpstreamServerError):
    """5xx: the server failed."""

    default_message = (
        "The patient record service (HAPI FHIR) had a problem answering. Try again in a minute."
    )


class FhirMalformed(FhirError, UpstreamMalformed):
    """The answer was not what a FHIR server sends (bad JSON, wrong type, missing fields)."""

    default_message = (
        "The patient record service sent an answer the console could not read. "
        "Try again; if it keeps happening, tell the system administrator."
    )


class FhirTooLarge(FhirMalformed, UpstreamTooLarge):
    """The answer was larger than the console accepts (``clinical.fhir_max_response_mb``)."""

    default_message = (
        "The patient record service sent too much: its answer is larger than the console "
        "accepts. Tell the system administrator."
    )


class FhirWrongPatient(FhirError, UpstreamWrongRecord):
    """A read of one Patient answered with another: refused, never shown."""

    default_message = (
        "The patient record service answered with a different patient's record than the one "
        "asked for, so nothing is shown. Tell the system administrator."
    )

    @property
    def retryable(self) -> bool:
        return False


class FhirInvalidLink(FhirError):
    """A paging link that does not point at the configured FHIR server."""

    default_message = "This results page link is not valid. Run the search again."
