"""The audit log: read-only viewer with filters, keyset pages and CSV export."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from console.admin import bp
from console.admin.audit import services as audit_service
from console.audit import OUTCOMES
from console.permissions import require_permission
from console.web.csv import csv_response, stream_csv
from console.web.htmx import is_htmx, page_or_fragment


@bp.get("/audit")
@require_permission("audit.view")
def audit() -> ResponseReturnValue:
    """Audit events, newest first, filtered; htmx requests get the results fragment."""
    view = audit_service.parse_view(request.args)
    result = audit_service.list_events(view)
    body, status, headers = page_or_fragment(  # type: ignore[misc]
        "admin/audit.html",
        "admin/_audit_oob.html",
        400 if result.errors else 200,
        view=view,
        result=result,
        outcomes=OUTCOMES,
        action_labels=audit_service.ACTION_LABELS,
        action_label=audit_service.action_label,
        page_sizes=audit_service.PAGE_SIZES,
        diff_rows=audit_service.diff_rows,
        detail_rows=audit_service.detail_rows,
        patient_label=audit_service.patient_label,
    )
    if result.errors and is_htmx():
        headers["HX-Retarget"] = "#audit-results"  # show the filter problems, not nothing
    return body, status, headers


@bp.get("/audit/export.csv")
@require_permission("audit.view")
def audit_export() -> ResponseReturnValue:
    """The filtered view as CSV, newest first, streamed; the export itself is audited."""
    view = audit_service.parse_view(request.args)
    audit_service.record_export(view.filter)
    return csv_response(
        "audit", stream_csv(audit_service.EXPORT_HEADER, audit_service.export_rows(view.filter))
    )
