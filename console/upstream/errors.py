"""The failures every upstream client reports, whichever service it talks to.

``console.fhir.errors`` and ``console.openehr.errors`` subclass these, so a caller needs one
``except`` per kind of failure, whichever service failed::

    UpstreamError
    ├── UpstreamUnavailable     the server could not be asked, or did not answer in time
    │   ├── UpstreamUnreachable connection refused, DNS, TLS, reset
    │   ├── UpstreamTimeout     no answer within the timeouts or the call's overall deadline
    │   ├── UpstreamBreakerOpen recent failures; not tried at all
    │   └── UpstreamNotConfigured no address (or credentials) configured
    ├── UpstreamMalformed       an answer the console cannot read (bad JSON, wrong shape)
    │   └── UpstreamTooLarge    an answer bigger than the configured cap
    ├── UpstreamNotFound        404/410: the record is not there
    ├── UpstreamRejected        another 4xx
    ├── UpstreamServerError     5xx
    └── UpstreamWrongRecord     the answer is about another record than the one asked for

Every error carries ``message`` (plain English, safe to show to staff) and ``diagnostics``
(the technical detail, for the disclosure panel and the logs).
"""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of every upstream client failure."""

    default_message = "The service the console depends on could not complete the request."
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
    ) -> None:
        self.message = message or self.default_message
        self.diagnostics = diagnostics
        self.status = status
        self.method = method
        self.url = url
        super().__init__(self.message)


class UpstreamUnavailable(UpstreamError):
    """The server could not be asked, or did not answer in time."""

    upstream_fault = True


class UpstreamUnreachable(UpstreamUnavailable):
    """Connection refused, name not resolved, TLS failure, connection reset."""


class UpstreamTimeout(UpstreamUnavailable):
    """No answer within the timeouts, or the call's overall deadline passed."""


class UpstreamBreakerOpen(UpstreamUnavailable):
    """Recent calls failed, so the client is not calling the server for a while."""

    upstream_fault = False


class UpstreamNotConfigured(UpstreamUnavailable):
    """The console has no address (or credentials) for the service."""

    upstream_fault = False


class UpstreamMalformed(UpstreamError):
    """The server answered with something the console could not read."""

    upstream_fault = True


class UpstreamTooLarge(UpstreamMalformed):
    """The server sent more than the configured maximum response size."""


class UpstreamNotFound(UpstreamError):
    """404 or 410: the record asked for is not there."""


class UpstreamRejected(UpstreamError):
    """Another 4xx: the server refused the request."""


class UpstreamServerError(UpstreamError):
    """5xx: the server failed while handling the request."""

    upstream_fault = True


class UpstreamWrongRecord(UpstreamError):
    """The server answered about another record than the one asked for (never shown)."""

    upstream_fault = True
