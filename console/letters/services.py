"""Letters and templates: upstream call, audit row, commit, in that order.

Every list of a patient's letters and every letter view is audited and committed before
anything is rendered; if the audit row cannot be written, ``AuditUnavailable`` is raised and
no letter data is shown. Upstream failures of a list are returned (not raised) so the page
can explain them; they are audited too, with outcome ``failure``. A letter that is not in
this patient's EHR is audited as a ``denied`` access and reported as ``LetterNotFound``.

Should EHRbase answer with another patient's letters (``console.openehr.letters`` checks every
row and letter against the patient's own EHR), nothing of them is shown: the list withholds
them and says so, a letter asked for by URL raises ``NotThisPatientsLetter``; either way an
audit row with outcome ``denied`` and a structured warning in the log record the event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from console.audit import AuditUnavailable, record_access
from console.dates import is_date_shaped, parse_date
from console.fhir.models import PatientView
from console.letters.upstream import (
    DISPLAY_TIMEZONE,
    ehrbase_client,
    letter_template_id,
    letters_page_size,
    subject_namespace,
)
from console.openehr import letter_template as lt
from console.openehr.client import TemplateInfo, TemplateUpload
from console.openehr.errors import (
    EhrbaseError,
    EhrbaseNotConfigured,
    EhrbaseWrongRecord,
    TemplateAlreadyExists,
    TemplateInvalid,
)
from console.openehr.letters import Letter, LetterFilters, LetterPage, get_letter, list_letters
from console.patients.display import audit_identity
from console.upstream.trust import warn_wrong_patient

log = logging.getLogger(__name__)

LIST_ACTION = "letter.list"
VIEW_ACTION = "letter.view"
UPLOAD_ACTION = "template.upload"
MAX_PAGE = 10_000
MAX_AUTHOR = 200
PARAMS = ("letters_from", "letters_to", "letters_author", "letters_status", "letters_page")

__all__ = ["AuditUnavailable", "LetterNotFound", "NotThisPatientsLetter"]
WRONG_PATIENT = "EHRbase answered with another patient's record"


class LetterNotFound(Exception):
    """The letter is not in this patient's record (or does not exist)."""


class NotThisPatientsLetter(Exception):
    """EHRbase answered with a letter of another patient's record: refused, never shown."""


@dataclass(frozen=True)
class LetterQuery:
    """The letter list's state, read from the URL (``letters_*`` parameters)."""

    filters: LetterFilters = field(default_factory=LetterFilters)
    page: int = 1
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def filtered(self) -> bool:
        """True when any filter is in force."""
        return any(self.values.get(p) for p in PARAMS if p != "letters_page")

    def args(self, **changes: Any) -> dict[str, str]:
        """URL parameters for this state with ``changes`` applied (empty values dropped)."""
        merged: dict[str, Any] = {**self.values, "letters_page": str(self.page), **changes}
        return {
            k: str(v)
            for k, v in merged.items()
            if v not in (None, "") and not (k == "letters_page" and str(v) == "1")
        }


def _parse_date(text: str, label: str, errors: dict[str, str], key: str) -> date | None:
    if not text:
        return None
    found = parse_date(text)
    if found is None:
        errors[key] = (
            f"{label} must be a real date: check the day and the month."
            if is_date_shaped(text)
            else f"{label} must be a date, as day-month-year, like 31-03-2025."
        )
    return found


def parse_letter_query(args: Mapping[str, str]) -> LetterQuery:
    """Validate the ``letters_*`` URL parameters; invalid ones become field errors."""
    values = {p: (args.get(p) or "").strip() for p in PARAMS}
    errors: dict[str, str] = {}
    date_from = _parse_date(values["letters_from"], "The from date", errors, "letters_from")
    date_to = _parse_date(values["letters_to"], "The to date", errors, "letters_to")
    if date_from and date_to and date_from > date_to:
        errors["letters_to"] = "The to date must be the same as or after the from date."
    author = values["letters_author"]
    if len(author) > MAX_AUTHOR:
        errors["letters_author"] = f"The author must be {MAX_AUTHOR} characters or fewer."
    status = values["letters_status"]
    if status and status not in lt.STATUS_CODES:
        errors["letters_status"] = "Choose draft, final or amended."
        status = ""
    try:
        page = int(values["letters_page"] or 1)
    except ValueError:
        page = 1
    page = min(max(page, 1), MAX_PAGE)
    if "letters_author" in errors:
        author = ""
    filters = LetterFilters(
        date_from=date_from, date_to=date_to, author=author or None, status=status or None
    )
    return LetterQuery(filters=filters, page=page, values=values, errors=errors)


@dataclass(frozen=True)
class LetterListResult:
    """A page of a patient's letters, or the upstream error that prevented it."""

    query: LetterQuery
    page: LetterPage | None = None
    error: EhrbaseError | None = None


def list_patient_letters(
    patient_id: str, query: LetterQuery, identity: Mapping[str, str | None] | None = None
) -> LetterListResult:
    """One page of the patient's letters (one AQL request), audited and committed.

    ``identity`` is the patient's NHS number and name as the page's banner shows them
    (``console.patients.display.audit_identity``), when the page has read the patient.
    """
    if query.errors:
        return LetterListResult(query=query)
    result: LetterListResult
    try:
        client = ehrbase_client()
    except EhrbaseNotConfigured as exc:
        return LetterListResult(query=query, error=exc)  # nothing asked, nothing to audit
    try:
        page = list_letters(
            client,
            subject_id=patient_id,
            namespace=subject_namespace(),
            template_id=letter_template_id(),
            page=query.page,
            page_size=letters_page_size(),
            filters=query.filters,
            tz=DISPLAY_TIMEZONE,
        )
        result = LetterListResult(query=query, page=page)
    except EhrbaseError as exc:
        result = LetterListResult(query=query, error=exc)
    details: dict[str, Any] = {"page": query.page}
    filters = {k: v for k, v in query.values.items() if v and k != "letters_page"}
    if filters:
        details["filters"] = filters
    if result.page is not None:
        details["results"] = len(result.page.letters)
    if result.error is not None:
        details["error"] = type(result.error).__name__
    if result.page is not None and result.page.withheld:
        _deny_withheld(patient_id, result.page, identity)
    record_access(
        LIST_ACTION,
        outcome="success" if result.error is None else "failure",
        target_type="Patient",
        target_id=patient_id[:128],
        patient_id=patient_id[:128],
        details=details,
        **(identity or {}),
    )
    return result


def _deny_withheld(
    patient_id: str, page: LetterPage, identity: Mapping[str, str | None] | None
) -> None:
    """Audit (``denied``) and log the rows of other EHRs a letter list withheld."""
    withheld = page.withheld
    foreign = sorted({row.ehr_id[:64] for row in withheld})[:10]
    warn_wrong_patient(
        "EHRbase", patient_id, f"{len(withheld)} letter list rows", foreign_ehr_ids=foreign
    )
    record_access(
        LIST_ACTION,
        outcome="denied",
        target_type="Patient",
        target_id=patient_id[:128],
        patient_id=patient_id[:128],
        details={
            "reason": WRONG_PATIENT,
            "withheld": len(withheld),
            "uids": [row.uid[:128] for row in withheld[:20]],
            "foreign_ehr_ids": foreign,
        },
        **(identity or {}),
    )


def letters_panel(
    patient_id: str, args: Mapping[str, str], patient: PatientView | None = None
) -> dict[str, Any]:
    """What ``letters/_panel.html`` needs: the page of letters the query string asks for (read,
    audited and committed, with the banner's identity of ``patient`` when the page read it), or
    why the read was refused."""
    query = parse_letter_query(args)
    try:
        result = list_patient_letters(patient_id, query, audit_identity(patient))
    except AuditUnavailable as exc:
        return {
            "patient_id": patient_id,
            "query": query,
            "result": None,
            "audit_error": exc.message,
        }
    return {"patient_id": patient_id, "query": query, "result": result, "audit_error": None}


def view_letter(
    patient_id: str, uid: str, identity: Mapping[str, str | None] | None = None
) -> Letter:
    """The letter if it is in this patient's EHR, audited and committed (with the banner's
    ``identity`` of the patient, as ``list_patient_letters``).

    Raises ``LetterNotFound`` (audited as ``denied``) when it is not,
    ``NotThisPatientsLetter`` (audited as ``denied``, and logged) when EHRbase answered with
    another patient's letter, and the typed ``EhrbaseError`` (audited as ``failure``) when
    EHRbase cannot answer.
    """
    fields: dict[str, Any] = {
        "target_type": "Composition",
        "target_id": uid[:128],
        "patient_id": patient_id[:128],
        **(identity or {}),
    }
    try:
        letter = get_letter(
            ehrbase_client(),
            subject_id=patient_id,
            namespace=subject_namespace(),
            template_id=letter_template_id(),
            uid=uid,
        )
    except EhrbaseWrongRecord as exc:
        warn_wrong_patient("EHRbase", patient_id, f"letter {uid[:128]}")
        record_access(
            VIEW_ACTION,
            outcome="denied",
            details={"reason": WRONG_PATIENT, "diagnostics": exc.diagnostics[:500]},
            **fields,
        )
        raise NotThisPatientsLetter(uid) from None
    except EhrbaseError as exc:
        record_access(
            VIEW_ACTION, outcome="failure", details={"error": type(exc).__name__}, **fields
        )
        raise
    if letter is None:
        record_access(
            VIEW_ACTION,
            outcome="denied",
            details={"reason": "not a letter in this patient's record"},
            **fields,
        )
        raise LetterNotFound(uid)
    record_access(
        VIEW_ACTION, details={"version": letter.version, "ehr_id": letter.ehr_id}, **fields
    )
    return letter


def deny_unknown_patient(patient_id: str, uid: str) -> None:
    """Audit a letter asked for under a patient the FHIR server does not know (``denied``)."""
    record_access(
        VIEW_ACTION,
        outcome="denied",
        target_type="Composition",
        target_id=uid[:128],
        patient_id=patient_id[:128],
        details={"reason": "no such patient"},
    )


@dataclass(frozen=True)
class TemplateList:
    """The templates on the server, or why they could not be listed."""

    templates: list[TemplateInfo] = field(default_factory=list)
    error: EhrbaseError | None = None


def server_templates() -> TemplateList:
    """The ADL 1.4 templates EHRbase holds."""
    try:
        return TemplateList(
            templates=sorted(ehrbase_client().list_templates(), key=lambda t: t.template_id.lower())
        )
    except EhrbaseError as exc:
        return TemplateList(error=exc)


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to an uploaded OPT."""

    ok: bool
    message: str
    template_id: str | None = None
    created: bool = False
    problems: tuple[str, ...] = ()
    diagnostics: str = ""
    error: EhrbaseError | None = None


def upload_template(data: bytes, filename: str) -> UploadOutcome:
    """Check and upload an OPT with the administrator credentials; audited either way."""
    outcome: UploadOutcome
    try:
        result: TemplateUpload = ehrbase_client().upload_template(data)
        outcome = UploadOutcome(
            ok=True,
            created=True,
            template_id=result.template_id,
            message=f"The template “{result.template_id}” was uploaded.",
        )
    except TemplateInvalid as exc:
        outcome = UploadOutcome(
            ok=False,
            message=exc.message,
            problems=tuple(exc.problems),
            diagnostics=exc.diagnostics,
            error=exc,
        )
    except TemplateAlreadyExists as exc:
        outcome = UploadOutcome(
            ok=False,
            template_id=exc.template_id,
            message=f"{exc.message} EHRbase does not replace templates; give the new version a new template id.",
            diagnostics=exc.diagnostics,
            error=exc,
        )
    except EhrbaseError as exc:
        outcome = UploadOutcome(
            ok=False,
            message=exc.message,
            diagnostics=exc.diagnostics,
            error=exc,
        )
    details: dict[str, Any] = {"filename": filename[:200], "bytes": len(data)}
    if outcome.error is not None:
        details["error"] = type(outcome.error).__name__
    record_access(
        UPLOAD_ACTION,
        outcome="success" if outcome.ok else "failure",
        target_type="Template",
        target_id=(outcome.template_id or "")[:128] or None,
        details=details,
    )
    return outcome
