"""Letter pages: a patient's letters (htmx fragment or full page), one letter, templates admin."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from console.fhir.errors import FhirError, FhirGone, FhirNotFound
from console.fhir.models import FHIR_ID
from console.letters import bp
from console.letters.forms import TemplateUploadForm
from console.letters.rendering import render_markdown
from console.letters.services import (
    AuditUnavailable,
    LetterNotFound,
    NotThisPatientsLetter,
    deny_unknown_patient,
    letters_panel,
    server_templates,
    upload_template,
    view_letter,
)
from console.letters.upstream import letter_template_id
from console.openehr import letter_template as lt
from console.openehr.errors import EhrbaseError
from console.patients.display import audit_identity
from console.permissions import require_permission
from console.templating import truncated_json
from console.web.htmx import is_htmx


def patient_page_url(patient_id: str, **args: str) -> str:
    """The patient page, where a patient's letter list lives, with the list's state in its query."""
    return url_for("patients.patient", patient_id=patient_id, _anchor="letters", **args)


def require_patient_id(patient_id: str) -> None:
    """404 for a patient id no FHIR server could have issued (nothing is asked upstream)."""
    if not FHIR_ID.match(patient_id):
        abort(404)


def load_banner(patient_id: str) -> tuple[Any, FhirError | None]:
    """The patient for the banner, or the FHIR error; 404 when the patient does not exist."""
    from console.patients.services import load_patient

    try:
        return load_patient(patient_id), None
    except (FhirNotFound, FhirGone):
        abort(404)
    except FhirError as exc:
        return None, exc


@bp.get("/patients/<patient_id>/letters")
@require_permission("letters.view")
def patient_letters(patient_id: str) -> ResponseReturnValue:
    """A patient's letters: the panel fragment for htmx; otherwise the patient page shows them."""
    require_patient_id(patient_id)
    if not is_htmx():
        args = {k: v for k, v in request.args.items() if k.startswith("letters_")}
        return redirect(patient_page_url(patient_id, **args))
    # The patient is read again (not trusted from the page) so that the audit row names them
    # as the banner does; when HAPI FHIR cannot answer, the letters still list, audited by id.
    patient, _banner_error = load_banner(patient_id)
    panel = letters_panel(patient_id, request.args, patient)
    body = render_template("letters/_panel.html", panel=panel, htmx=True)
    headers = {
        "Vary": "HX-Request",
        "HX-Push-Url": patient_page_url(patient_id, **panel["query"].args()),
    }
    return body, 200, headers


@bp.get("/patients/<patient_id>/letters/<uid>")
@require_permission("letters.view")
def letter(patient_id: str, uid: str) -> ResponseReturnValue:
    """One letter, rendered for reading, after checking it is in this patient's record."""
    require_patient_id(patient_id)
    try:
        patient, banner_error = load_banner(patient_id)
    except NotFound:
        with contextlib.suppress(AuditUnavailable):  # nothing is shown either way
            deny_unknown_patient(patient_id, uid)
        raise
    try:
        found = view_letter(patient_id, uid, audit_identity(patient))
    except LetterNotFound:
        abort(404)
    except NotThisPatientsLetter:
        return render_template(
            "letters/letter.html", patient=patient, banner_error=banner_error, letter=None,
            not_this_patients=True, audit_error=None, error=None, patient_id=patient_id,
            back_url=patient_page_url(patient_id),
        ), 409  # fmt: skip
    except AuditUnavailable as exc:
        return render_template(
            "letters/letter.html", patient=patient, banner_error=banner_error, letter=None,
            audit_error=exc.message, error=None, patient_id=patient_id,
        ), 503  # fmt: skip
    except EhrbaseError as exc:
        return render_template(
            "letters/letter.html", patient=patient, banner_error=banner_error, letter=None,
            audit_error=None, error=exc, patient_id=patient_id,
        ), 502  # fmt: skip
    raw = truncated_json(found.composition)
    return render_template(
        "letters/letter.html",
        patient=patient,
        banner_error=banner_error,
        letter=found,
        body_html=render_markdown(found.body_markdown),
        raw=raw.text,
        raw_cut=raw,
        audit_error=None,
        error=None,
        patient_id=patient_id,
        back_url=patient_page_url(patient_id),
    )


def _templates_page(
    form: TemplateUploadForm, outcome: Any = None, status: int = 200
) -> ResponseReturnValue:
    listing = server_templates()
    shipped_on_server = any(t.template_id == lt.TEMPLATE_ID for t in listing.templates)
    return render_template(
        "letters/templates.html",
        listing=listing,
        form=form,
        outcome=outcome,
        shipped_id=lt.TEMPLATE_ID,
        shipped_on_server=shipped_on_server,
        configured_id=letter_template_id(),
    ), status


@bp.get("/letters/templates")
@require_permission("templates.manage")
def templates() -> ResponseReturnValue:
    """The templates on EHRbase, and a form to upload another."""
    return _templates_page(TemplateUploadForm())


@bp.post("/letters/templates")
@require_permission("templates.manage")
def upload() -> ResponseReturnValue:
    """Upload an OPT file; EHRbase's diagnostics are shown when it refuses it."""
    form = TemplateUploadForm()
    if not form.validate_on_submit():
        return _templates_page(form, status=400)
    data = form.opt_file.data.read()
    outcome = upload_template(data, form.opt_file.data.filename or "template.opt")
    if outcome.ok:
        flash(outcome.message, "success")
        return redirect(url_for("letters.templates"))
    return _templates_page(TemplateUploadForm(formdata=None), outcome, status=422)


@bp.post("/letters/templates/shipped")
@require_permission("templates.manage")
def upload_shipped() -> ResponseReturnValue:
    """Upload the console's own letter template (already on the server counts as done)."""
    outcome = upload_template(lt.letter_opt(), lt.TEMPLATE_FILE)
    if outcome.ok or (outcome.error is not None and outcome.error.status == 409):
        flash(f"The console's letter template “{lt.TEMPLATE_ID}” is on the server.", "success")
        return redirect(url_for("letters.templates"))
    return _templates_page(TemplateUploadForm(formdata=None), outcome, status=422)
