"""HTTP client for a HAPI FHIR R4 server.

The shared upstream transport (``console.upstream.transport``): one pooled session per client,
connect and read timeouts, an overall deadline and a response size cap, urllib3 ``Retry`` with
backoff for GET only (honouring ``Retry-After``, capped), and a circuit breaker so a dead server
costs milliseconds. Every failure becomes a ``FhirError`` subclass.

Searches follow the Bundle's own ``next``/``previous`` links for paging, and only after
``check_link`` has confirmed the link points at the configured server (scheme, host, port and
base path), so a crafted link cannot make the console fetch another address.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from console.fhir.breaker import CircuitBreaker
from console.fhir.errors import (
    FhirBreakerOpen,
    FhirError,
    FhirGone,
    FhirInvalidLink,
    FhirMalformed,
    FhirNotFound,
    FhirRejected,
    FhirSearchExpired,
    FhirServerError,
    FhirTimeout,
    FhirTooLarge,
    FhirUnreachable,
    FhirWrongPatient,
    OutcomeIssue,
    parse_outcome,
)
from console.fhir.models import (
    FHIR_ID,
    PatientView,
    SearchPage,
    ServerInfo,
    parse_capability_statement,
    parse_patient,
    parse_search_bundle,
)
from console.fhir.search import PatientSearch
from console.upstream.transport import (
    DeadlineRetry,
    ErrorKinds,
    Limits,
    RetryPolicy,
    Transport,
    excerpt,
    parse_json,
)

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SEARCH_EXPIRED = "does not exist and may have expired"

CallHook = Callable[[str, str, "int | None", float], None]
KINDS = ErrorKinds(
    unreachable=FhirUnreachable,
    timeout=FhirTimeout,
    breaker_open=FhirBreakerOpen,
    malformed=FhirMalformed,
    too_large=FhirTooLarge,
)


#: The transport's retry policy: ``Retry-After`` honoured up to a cap and within the deadline.
CappedRetry = DeadlineRetry


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a create or update."""

    status: int
    resource_type: str
    id: str
    version_id: str
    location: str
    resource: dict[str, Any] | None

    @property
    def created(self) -> bool:
        """True when the server created a new resource (201), False when it matched one (200)."""
        return self.status == 201


@dataclass(frozen=True)
class _Base:
    scheme: str
    host: str
    port: int
    path: str


def _split_base(url: str) -> _Base:
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    return _Base(
        scheme=parts.scheme,
        host=parts.hostname.lower(),
        port=parts.port or _DEFAULT_PORTS[parts.scheme],
        path=parts.path.rstrip("/"),
    )


class FhirClient:
    """A FHIR R4 REST client for Patients, with no Flask dependency.

    ``request_id`` returns the id to send as ``X-Request-ID`` (or None); ``on_call`` is told
    ``(method, url, status or None, seconds)`` after every call, for request logging. The URL
    given to ``on_call`` has no query string, so search terms (patient names) stay out of logs.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        retries: int = 2,
        backoff_factor: float = 0.25,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        breaker: CircuitBreaker | None = None,
        request_id: Callable[[], str | None] | None = None,
        on_call: CallHook | None = None,
        pool_size: int = 10,
        user_agent: str = "QuillConsole",
        deadline: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._base = _split_base(self.base_url)
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.transport = Transport(
            limits=Limits(connect_timeout, read_timeout, deadline, max_bytes),
            retry=RetryPolicy(
                retries=retries,
                backoff_factor=backoff_factor,
                statuses=(429, 502, 503, 504),
                methods=frozenset({"GET"}),
                respect_retry_after=True,
            ),
            kinds=KINDS,
            breaker=self.breaker,
            base_url=self.base_url,
            request_id=request_id,
            on_call=on_call,
            pool_size=pool_size,
            service="FHIR",
        )
        self.session = self.transport.session
        self.session.headers.update({"Accept": FHIR_JSON, "User-Agent": user_agent})
        if bearer_token:
            self.session.headers["Authorization"] = f"Bearer {bearer_token}"
        elif basic_auth:
            self.session.auth = basic_auth

    @property
    def timeout(self) -> tuple[float, float]:
        """The connect and read timeouts."""
        return self.transport.timeout

    # -- public API -----------------------------------------------------------------------

    def metadata(self) -> ServerInfo:
        """The server's CapabilityStatement: software name and version for the status page."""
        response = self._request("GET", f"{self.base_url}/metadata")
        return parse_capability_statement(self._json(response))

    def read_patient(self, patient_id: str) -> PatientView:
        """Read ``Patient/{id}``; raises ``FhirNotFound`` (404) or ``FhirGone`` (410, deleted)."""
        if not isinstance(patient_id, str) or not FHIR_ID.match(patient_id):
            raise FhirNotFound(diagnostics=f"{patient_id!r} is not a valid FHIR resource id.")
        response = self._request("GET", f"{self.base_url}/Patient/{patient_id}")
        patient = parse_patient(self._json(response))
        if patient.id != patient_id:
            raise FhirWrongPatient(
                diagnostics=f"Asked for Patient/{patient_id}, received Patient/{patient.id}.",
                url=response.url,
                status=response.status_code,
            )
        return patient

    def search_patients(self, search: PatientSearch, count: int = 20) -> SearchPage:
        """The first page of a Patient search (one request; never ``_total=accurate``)."""
        with _no_search_here():
            response = self._request(
                "GET",
                f"{self.base_url}/Patient",
                params=search.params(count=count),
                headers={"Cache-Control": "no-cache"},
            )
        return _at_most(parse_search_bundle(self._json(response)), count)

    def page(self, link: str) -> SearchPage:
        """Follow a Bundle ``next``/``previous`` link (checked by ``check_link`` first)."""
        url = self.check_link(link)
        with _no_search_here():
            response = self._request("GET", url, paging=True)
        return parse_search_bundle(self._json(response, paging=True))

    def check_link(self, link: str) -> str:
        """Return a paging link rebuilt on the configured base, or raise ``FhirInvalidLink``.

        The link must use the configured scheme, host, port and base path exactly, carry no
        credentials or fragment, and be either HAPI's ``<base>?_getpages=…`` form or a
        ``<base>/Patient?…`` search.
        """
        if not isinstance(link, str) or not link or len(link) > 4096:
            raise FhirInvalidLink(diagnostics="Empty or oversized paging link.")
        if any(ch in link for ch in "\\\r\n\t ") or any(ord(ch) < 32 for ch in link):
            raise FhirInvalidLink(diagnostics="Paging link contains characters a URL cannot.")
        try:
            parts = urlsplit(link)
            port = parts.port
        except ValueError as exc:
            raise FhirInvalidLink(diagnostics=f"Unreadable paging link: {exc}") from None
        problems = []
        if parts.scheme != self._base.scheme:
            problems.append(f"scheme {parts.scheme!r}")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            problems.append("credentials in the address")
        if (parts.hostname or "").lower() != self._base.host:
            problems.append(f"host {parts.hostname!r}")
        if (port or _DEFAULT_PORTS.get(parts.scheme)) != self._base.port:
            problems.append(f"port {port!r}")
        if parts.fragment:
            problems.append("a fragment")
        path = parts.path.rstrip("/")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == self._base.path:
            if not query.get("_getpages"):
                problems.append("no _getpages id")
        elif path != f"{self._base.path}/Patient":
            problems.append(f"path {parts.path!r}")
        if any(key == "_total" for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
            problems.append("a _total parameter (the console never asks for a count)")
        if problems:
            raise FhirInvalidLink(
                diagnostics="Paging link rejected because it does not point at the configured "
                f"FHIR server ({self.base_url}): " + ", ".join(problems) + "."
            )
        target = self.base_url if path == self._base.path else f"{self.base_url}/Patient"
        return f"{target}?{parts.query}"

    def create(
        self, resource: Mapping[str, Any], *, if_none_exist: str | None = None
    ) -> WriteResult:
        """POST a resource; with ``if_none_exist`` (a search such as ``identifier=s|v``) a match returns 200."""
        resource_type = self._resource_type(resource)
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        response = self._request(
            "POST", f"{self.base_url}/{resource_type}", data=_dump(resource), headers=headers
        )
        return self._write_result(response, resource_type)

    def update(self, resource: Mapping[str, Any], *, if_match: str | None = None) -> WriteResult:
        """PUT a resource by its ``id``; ``if_match`` (``W/"1"``) makes a stale version a 409."""
        resource_type = self._resource_type(resource)
        resource_id = resource.get("id")
        if not isinstance(resource_id, str) or not FHIR_ID.match(resource_id):
            raise ValueError("update needs a resource with a valid id")
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_match:
            headers["If-Match"] = if_match
        response = self._request(
            "PUT",
            f"{self.base_url}/{resource_type}/{resource_id}",
            data=_dump(resource),
            headers=headers,
        )
        return self._write_result(response, resource_type)

    def delete(self, resource_type: str, resource_id: str) -> None:
        """DELETE a resource."""
        if not FHIR_ID.match(resource_id) or not resource_type.isalpha():
            raise ValueError("not a valid resource type and id")
        response = self._request("DELETE", f"{self.base_url}/{resource_type}/{resource_id}")
        self._check_status(response)

    def transaction(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """POST a transaction or batch Bundle to the base URL; returns the response Bundle."""
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in (
            "transaction",
            "batch",
        ):
            raise ValueError("expected a transaction or batch Bundle")
        response = self._request(
            "POST",
            self.base_url,
            data=_dump(bundle),
            headers={"Content-Type": FHIR_JSON, "Prefer": "return=minimal"},
        )
        payload = self._json(response)
        if not isinstance(payload, dict) or payload.get("resourceType") != "Bundle":
            raise FhirMalformed(diagnostics="Expected a Bundle in answer to a transaction.")
        return payload

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # -- plumbing -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: list[tuple[str, str]] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        paging: bool = False,
    ) -> requests.Response:
        full_url = f"{url}?{urlencode(params)}" if params else url
        try:
            response = self.transport.send(method, url, params=params, data=data, headers=headers)
        except FhirBreakerOpen:
            wait = self.breaker.seconds_until_retry()
            raise FhirBreakerOpen(
                diagnostics=f"Circuit breaker open after {self.breaker.consecutive_failures} "
                f"failures in a row; the next attempt is allowed in {wait:.0f} s. "
                f"{method} {full_url} was not sent.",
                url=full_url,
            ) from None
        except (FhirTimeout, FhirUnreachable, FhirTooLarge) as exc:
            exc.url = full_url
            raise
        self._check_status(response, paging=paging)
        return response

    def _check_status(self, response: requests.Response, *, paging: bool = False) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        method = response.request.method if response.request else "GET"
        url = response.url
        issues = parse_outcome(_try_json(response))
        diagnostics = _describe(status, method, url, issues, response)
        kwargs: dict[str, Any] = {
            "diagnostics": diagnostics,
            "url": url,
            "status": status,
            "issues": issues,
        }
        expired = any(_SEARCH_EXPIRED in issue.diagnostics for issue in issues)
        if paging and expired and status in (400, 404, 410):
            raise FhirSearchExpired(**kwargs)
        if 300 <= status < 400:
            raise FhirMalformed(
                diagnostics=f"Unexpected redirect to {response.headers.get('Location', '?')}. "
                + diagnostics,
                url=url,
                status=status,
            )
        if status == 404:
            raise FhirNotFound(**kwargs)
        if status == 410:
            raise FhirGone(**kwargs)
        if status in (401, 403):
            raise FhirRejected(
                "The console is not allowed to use the patient record service. "
                "Tell the system administrator.",
                **kwargs,
            )
        if status == 409 or status == 412:
            raise FhirRejected(
                "The record was changed by someone else at the same time. Try again.", **kwargs
            )
        if status < 500:
            raise FhirRejected(**kwargs)
        raise FhirServerError(**kwargs)

    def _json(self, response: requests.Response, *, paging: bool = False) -> Any:
        content_type = response.headers.get("Content-Type", "")
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in _JSON_TYPES:
            raise FhirMalformed(
                diagnostics=f"Expected FHIR JSON, got Content-Type {content_type!r} "
                f"(HTTP {response.status_code} from {response.url}). "
                f"Body starts: {excerpt(response.content)}",
                url=response.url,
                status=response.status_code,
            )
        return self.transport.json(response, what="FHIR JSON")

    def _write_result(self, response: requests.Response, resource_type: str) -> WriteResult:
        location = response.headers.get("Location") or response.headers.get("Content-Location", "")
        resource = self._json(response) if response.content else None
        if resource is not None and not isinstance(resource, dict):
            raise FhirMalformed(diagnostics="Expected a resource in answer to a write.")
        resource_id, version = _id_from_location(location, resource_type)
        if resource:
            meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
            resource_id = str(resource.get("id") or resource_id)
            version = str(meta.get("versionId") or version)
        if not resource_id:
            raise FhirMalformed(
                diagnostics=f"The server did not say which {resource_type} it wrote "
                "(no Location header and no body)."
            )
        return WriteResult(
            status=response.status_code,
            resource_type=resource_type,
            id=resource_id,
            version_id=version,
            location=location,
            resource=resource,
        )

    @staticmethod
    def _resource_type(resource: Mapping[str, Any]) -> str:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type.isalpha():
            raise ValueError("resource without a valid resourceType")
        return resource_type


@contextmanager
def _no_search_here() -> Iterator[None]:
    """A 404 to a search means the address is wrong (a search with no match is an empty
    Bundle), so it must never read as "no record found"."""
    try:
        yield
    except FhirNotFound as exc:
        raise FhirRejected(
            "The patient record service does not offer patient search at the configured "
            "address. Tell the system administrator.",
            diagnostics=exc.diagnostics,
            url=exc.url,
            status=exc.status,
            issues=exc.issues,
        ) from None


def _dump(resource: Mapping[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False).encode()


def _try_json(response: requests.Response) -> Any:
    """An error body as JSON, or None when it is not readable JSON (the status still counts)."""
    try:
        return parse_json(response.content)
    except ValueError:
        return None


def _at_most(page: SearchPage, count: int) -> SearchPage:
    """The page with at most ``count`` patients, however many the server sent."""
    if len(page.patients) <= count:
        return page
    return replace(page, patients=page.patients[:count])


def _describe(
    status: int,
    method: str,
    url: str,
    issues: tuple[OutcomeIssue, ...],
    response: requests.Response,
) -> str:
    head = f"HTTP {status} {response.reason or ''} from {method} {url}".replace("  ", " ")
    if issues:
        return head + "\n" + "\n".join(str(issue) for issue in issues)
    body = response.text[:500].strip()
    return f"{head}\n{body}" if body else head


def _id_from_location(location: str, resource_type: str) -> tuple[str, str]:
    """``<base>/Patient/1000/_history/1`` → ``("1000", "1")``."""
    path = urlsplit(location).path if "://" in location else location
    parts = [part for part in path.split("/") if part]
    for index, part in enumerate(parts):
        if part == resource_type and index + 1 < len(parts):
            resource_id = parts[index + 1]
            version = ""
            if index + 3 < len(parts) and parts[index + 2] == "_history":
                version = parts[index + 3]
            return resource_id, version
    return "", ""


__all__ = ["CappedRetry", "FhirClient", "FhirError", "WriteResult"]
