"""Patient search and the patient page.

Routes read the form, call a service (upstream call, audit, commit) and render. An htmx
request gets the results fragment; any other request gets the whole page, so the search
works without JavaScript as a plain GET form.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.audit import AuditUnavailable
from console.fhir.errors import (
    FhirError,
    FhirGone,
    FhirInvalidLink,
    FhirNotFound,
    FhirSearchExpired,
    FhirTimeout,
    FhirUnavailable,
)
from console.fhir.models import FHIR_ID
from console.fhir.search import PatientSearch
from console.letters.services import letters_panel
from console.patients import bp
from console.patients.forms import DEFAULT_SORT, GENDERS, SORTS, parse_search
from console.patients.matching import display_order, match_note
from console.patients.services import (
    SearchResult,
    page_size,
    page_token,
    search_patients,
    view_patient,
)
from console.permissions import require_permission
from console.templating import truncated_json
from console.web.htmx import is_htmx

# The typed fields, each with an inline error slot on the page; then the sort, which has none.
FIELDS_WITH_ERRORS = ("q", "dob", "gender", "postcode")
SEARCH_FIELDS = (*FIELDS_WITH_ERRORS, "sort")
# The fields whose htmx requests are sent as the user types (``HX-Trigger`` is the element id).
LIVE_TRIGGERS = ("patient-q", "patient-dob", "patient-postcode")
MAX_TOKEN_LENGTH = 2048
# The results table's columns: (label, the ``SORTS`` key that orders by it, or None).
COLUMNS = (("Name", "name"), ("NHS No.", None), ("Born", "born"), ("Gender", "gender"),
           ("Postcode", "postcode"))  # fmt: skip


def _state() -> dict[str, str]:
    state = {name: request.args.get(name, "").strip()[:200] for name in SEARCH_FIELDS}
    if state["sort"].lstrip("-") not in SORTS or state["sort"] == DEFAULT_SORT:
        state["sort"] = ""
    return state


def _is_live() -> bool:
    """True for a search htmx sends while someone types in a field (not a submit)."""
    return is_htmx() and request.headers.get("HX-Trigger") in LIVE_TRIGGERS


def _sort_links(state: dict[str, str]) -> list[dict[str, object]]:
    """The results table's headers: label, sort state (for ``aria-sort``) and the URL that
    sorts by the column (reversing it when it is already the order)."""
    current = state["sort"] or DEFAULT_SORT
    headers = []
    for label, key in COLUMNS:
        header: dict[str, object] = {"label": label, "key": key, "url": None, "aria_sort": None}
        if key is not None:
            if current.lstrip("-") == key:
                header["aria_sort"] = "descending" if current.startswith("-") else "ascending"
                wanted = key if current.startswith("-") else f"-{key}"
            else:
                wanted = key
            header["url"] = _search_url(state | {"sort": "" if wanted == DEFAULT_SORT else wanted})
        headers.append(header)
    return headers


def _rows(result: SearchResult, search: PatientSearch | None) -> list[tuple[object, str]]:
    """(patient, what matched) in the order of what is shown."""
    if result.page is None or search is None:
        return []
    patients = display_order(result.page.patients, search.sort)
    return [(patient, match_note(patient, search)) for patient in patients]


def _search_url(state: dict[str, str], token: str | None = None) -> str:
    params = {k: v for k, v in state.items() if v}
    if token:
        params["page"] = token
    query = urlencode(params)
    return url_for("patients.search") + (f"?{query}" if query else "")


@bp.get("/")
@require_permission("patients.search")
def search() -> ResponseReturnValue:
    """Find a patient by NHS number, name, or name and date of birth."""
    state = _state()
    token = request.args.get("page", "")[:MAX_TOKEN_LENGTH] or None
    parsed = parse_search(
        state["q"], state["dob"], state["gender"], state["postcode"],
        sort=state["sort"], live=_is_live(),
    )  # fmt: skip
    context: dict[str, object] = {
        "live": _is_live(),
        "rows": [],
        "columns": _sort_links(state),
        "state": state,
        "error_fields": FIELDS_WITH_ERRORS,
        "parsed": parsed,
        "genders": GENDERS,
        "result": None,
        "audit_error": None,
        "next_url": None,
        "previous_url": None,
        "retry_url": _search_url(state, token),
        "searched": False,
        "link_error": None,
    }
    status = 200
    if parsed.ready:
        try:
            result = search_patients(parsed, token)
        except AuditUnavailable as exc:
            context["audit_error"] = exc.message
            status = 503
        else:
            context["result"] = result
            context["searched"] = True
            context["rows"] = _rows(result, parsed.search)
            if result.page is not None and parsed.search is not None:
                shown = len(result.page.patients)
                for key, link, start in (
                    ("next_url", result.page.next_url, result.start + shown),
                    ("previous_url", result.page.previous_url, result.start - page_size()),
                ):
                    context[key] = _page_url(
                        state, link, parsed.search, context, start, result.total
                    )
            elif result.error is not None:
                status = _status_for(result.error)
                if isinstance(result.error, (FhirSearchExpired, FhirInvalidLink)):
                    context["retry_url"] = _search_url(state)
    elif parsed.errors:
        status = 400
    if is_htmx():
        # htmx swaps only successful answers; the fragment explains any problem itself.
        return render_template("patients/_search_oob.html", **context)
    return render_template("patients/search.html", **context), status


def _page_url(
    state: dict[str, str],
    link: str | None,
    search: PatientSearch,
    context: dict[str, object],
    start: int,
    total: int | None,
) -> str | None:
    """The console URL of a results page, or None; a link the SSRF guard refuses is reported
    in ``context["link_error"]`` rather than dropped silently."""
    try:
        token = page_token(link, search, start, total)
    except FhirInvalidLink as exc:
        context["link_error"] = {
            "message": "More results may exist, but the patient record service gave a "
            "results-page address that is not its own, so the console did not follow it. "
            "Narrow the search, or tell the system administrator.",
            "diagnostics": exc.diagnostics,
            "retryable": False,
        }
        return None
    return _search_url(state, token) if token else None


@bp.get("/<patient_id>")
@require_permission("patients.view")
def patient(patient_id: str) -> ResponseReturnValue:
    """A patient's demographics: banner, identifiers, contacts, addresses, GP, raw resource."""
    retry_url = url_for("patients.patient", patient_id=patient_id)
    if not FHIR_ID.match(patient_id):
        error = FhirNotFound(diagnostics=f"{patient_id!r} is not a valid FHIR resource id.")
        return _patient_error(error, retry_url)
    try:
        view = view_patient(patient_id)
    except AuditUnavailable as exc:
        return render_template(
            "patients/patient_problem.html", audit_error=exc.message, retry_url=retry_url
        ), 503
    except FhirError as exc:
        return _patient_error(exc, retry_url)
    raw = truncated_json(view.raw)
    letters = (
        letters_panel(patient_id, request.args, view)
        if current_user.has_permission("letters.view")
        else None
    )
    return render_template(
        "patients/patient.html",
        patient=view,
        letters_panel=letters,
        resource_json=raw.text,
        raw_cut=raw,
        today=date.today(),
        search_url=url_for("patients.search"),
        accesses=_recent_accesses(view.id),
    )


def _recent_accesses(patient_id: str) -> list[object] | None:
    """The latest views for "Who has viewed this record" (None without ``audit.view``)."""
    if not current_user.has_permission("audit.view"):
        return None
    from console.admin.audit.services import recent_patient_accesses

    return list(recent_patient_accesses(patient_id))


def _patient_error(error: FhirError, retry_url: str) -> ResponseReturnValue:
    return render_template(
        "patients/patient_problem.html",
        error=error,
        retry_url=retry_url,
        deleted=isinstance(error, FhirGone),
    ), _status_for(error)


def _status_for(error: FhirError) -> int:
    """The HTTP status of the console's page for an upstream failure (never 500)."""
    if isinstance(error, FhirNotFound):
        return 404
    if isinstance(error, FhirGone):
        return 410
    if isinstance(error, FhirInvalidLink):
        return 400
    if isinstance(error, FhirTimeout):
        return 504
    if isinstance(error, FhirUnavailable):
        return 503
    return 502
