"""Patient search and patient views: upstream call, audit row, commit, in that order.

Every search and every patient view is audited and committed before anything is rendered.
If the audit row cannot be written, ``AuditUnavailable`` is raised and the route shows no
patient data. Upstream failures are returned (not raised) so the page can explain them; they
are audited too, with outcome ``failure``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from console.audit import AuditUnavailable, record_access
from console.fhir.errors import FhirError, FhirInvalidLink, FhirWrongPatient
from console.fhir.models import PatientView, SearchPage
from console.fhir.search import PatientSearch
from console.patients.display import audit_identity
from console.patients.forms import ParsedSearch
from console.patients.upstream import fhir_client, page_size
from console.upstream.trust import warn_wrong_patient

log = logging.getLogger(__name__)

SEARCH_ACTION = "patient.search"
VIEW_ACTION = "patient.view"
PAGE_TOKEN_SALT = "patients.results-page"  # noqa: S105  (a signing namespace, not a secret)


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search request: a page of patients or an upstream error.

    ``start`` is how many patients came before this page; ``known_total`` the number of
    matches the server gave, on this page or an earlier one (None when it never said).
    """

    page: SearchPage | None = None
    error: FhirError | None = None
    paged: bool = False
    start: int = 0
    known_total: int | None = None

    @property
    def total(self) -> int | None:
        """All the matches, when the server has said how many."""
        if self.page is not None and self.page.total is not None:
            return self.page.total
        return self.known_total

    @property
    def range_label(self) -> str:
        """``Patients 21\N{EN DASH}40 of 137``, or ``of more than 40`` when the total is not known."""
        if self.page is None or not self.page.patients:
            return ""
        first, last = self.start + 1, self.start + len(self.page.patients)
        total = self.total
        if total is None:
            of = f"more than {last}" if self.page.next_url else str(last)
        else:
            of = str(max(total, last))
        return (
            f"Patient {first} of {of}"
            if first == last
            else f"Patients {first}\N{EN DASH}{last} of {of}"
        )


@dataclass(frozen=True)
class PageToken:
    """What a results-page token carries: the link, and where that page starts."""

    link: str
    start: int = 0
    total: int | None = None


def _token_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=PAGE_TOKEN_SALT)


def _fingerprint(search: PatientSearch) -> str:
    """A short digest of the FHIR parameters a search sends."""
    return sha256(json.dumps(search.params()).encode()).hexdigest()[:16]


def page_token(
    link: str | None, search: PatientSearch, start: int = 0, total: int | None = None
) -> str | None:
    """A signed token for a Bundle paging link, to carry in the console's URL (None for no link).

    The link is checked by the client's SSRF guard first (``FhirInvalidLink`` if it points
    anywhere but the configured server). The token holds only the part after the FHIR base, so
    the server's address never reaches the browser, and it is bound to ``search``: it cannot be
    altered, nor replayed with other criteria (so the audit row names the search really run).
    """
    if not link:
        return None
    client = fhir_client()
    url = client.check_link(link)
    data: dict[str, Any] = {"l": url[len(client.base_url) :], "s": _fingerprint(search)}
    data["o"] = max(0, start)
    if total is not None:
        data["t"] = total
    return _token_serializer().dumps(data)


def link_from_token(token: str, search: PatientSearch) -> PageToken:
    """The paging link (after the FHIR base) and position a ``page_token`` carries;
    ``FhirInvalidLink`` if the token was altered, forged, or issued for another search."""
    try:
        data = _token_serializer().loads(token)
    except BadData:
        raise FhirInvalidLink(
            diagnostics="The results page token was not issued by this console, or was altered."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("l"), str):
        raise FhirInvalidLink(diagnostics="The results page token holds no link.")
    if data.get("s") != _fingerprint(search):
        raise FhirInvalidLink(
            diagnostics="The results page token belongs to a different search than the one "
            "in the address."
        )
    start, total = data.get("o"), data.get("t")
    return PageToken(
        link=data["l"],
        start=start if isinstance(start, int) and start >= 0 else 0,
        total=total if isinstance(total, int) and total >= 0 else None,
    )


def search_patients(parsed: ParsedSearch, token: str | None = None) -> SearchResult:
    """Run a search (or follow a results-page token), audit it and commit.

    ``parsed`` must be ready. ``token`` comes from ``page_token`` via the URL; its signature,
    its search and then the client's SSRF guard are checked before any request.
    """
    if not parsed.ready or parsed.search is None:
        raise ValueError("nothing to search for")
    result: SearchResult
    link = ""
    try:
        client = fhir_client()
        if token:
            position = link_from_token(token, parsed.search)
            link = position.link
            page = client.page(client.base_url + link)
            result = SearchResult(
                page=page, paged=True, start=position.start, known_total=position.total
            )
        else:
            page = client.search_patients(parsed.search, count=page_size())
            result = SearchResult(page=page)
    except FhirError as exc:
        result = SearchResult(error=exc, paged=bool(token))
    details: dict[str, Any] = {"criteria": parsed.search.criteria(), "kind": parsed.kind}
    if token:
        details["page"] = link[:200] if link else "(not a valid results page link)"
    if result.page is not None:
        details["results"] = len(result.page.patients)
    if result.error is not None:
        details["error"] = type(result.error).__name__
    record_access(
        SEARCH_ACTION,
        outcome="success" if result.error is None else "failure",
        target_type="Patient",
        details=details,
    )
    return result


def view_patient(patient_id: str) -> PatientView:
    """Read a patient for the patient page, audit the view and commit; FHIR errors propagate
    after their failed view has been audited."""
    try:
        patient = load_patient(patient_id)
    except FhirWrongPatient:
        raise  # audited as denied by load_patient
    except FhirError as exc:
        record_access(
            VIEW_ACTION,
            outcome="failure",
            target_type="Patient",
            target_id=patient_id[:128],
            patient_id=patient_id[:128],
            details={"error": type(exc).__name__},
        )
        raise
    record_access(
        VIEW_ACTION,
        target_type="Patient",
        target_id=patient.id,
        patient_id=patient.id,
        details={"version": patient.version_id} if patient.version_id else None,
        **audit_identity(patient),
    )
    return patient


def load_patient(patient_id: str) -> PatientView:
    """Read ``Patient/{patient_id}`` from HAPI FHIR, raising the typed ``FhirError``s.

    For other capabilities (the letters pages' banner). It writes no audit row (the caller
    audits its own view in its own transaction), except when the server answers with another
    patient than the one asked for: that answer is refused (``FhirWrongPatient``), logged as a
    misbehaving upstream and audited as ``denied``.
    """
    try:
        return fhir_client().read_patient(patient_id)
    except FhirWrongPatient as exc:
        warn_wrong_patient("HAPI FHIR", patient_id, "a read of the patient")
        with contextlib.suppress(AuditUnavailable):  # nothing is shown either way
            record_access(
                VIEW_ACTION,
                outcome="denied",
                target_type="Patient",
                target_id=patient_id[:128],
                patient_id=patient_id[:128],
                details={
                    "reason": "HAPI FHIR answered with another patient's record",
                    "diagnostics": exc.diagnostics[:500],
                },
            )
        raise
