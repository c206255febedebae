"""Settings: typed values grouped by area, saved with field errors, reverted, audited;
"test connection" for HAPI FHIR and EHRbase."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.admin import bp, connections
from console.admin.forms import ConfirmForm
from console.admin.services import FieldErrors, NotFound
from console.admin.settings import services as settings_service
from console.appsettings import CATALOGUE
from console.permissions import require_permission
from console.upstream.builders import limits_from_settings
from console.web.htmx import is_htmx


def _page(status: int = 200, **context: Any) -> ResponseReturnValue:
    context.setdefault("areas", settings_service.settings_areas())
    context.setdefault("services", connections.SERVICES)
    return render_template("admin/settings.html", **context), status


@bp.get("/settings")
@require_permission("settings.manage")
def settings() -> ResponseReturnValue:
    """Every setting, grouped by area, with its help text and default."""
    return _page()


@bp.post("/settings")
@require_permission("settings.manage")
def settings_save() -> ResponseReturnValue:
    """Validate and save the changed settings (all or nothing)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    submitted = {key: value for key, value in request.form.items() if key != "csrf_token"}
    try:
        changed = settings_service.save_settings(submitted, current_user.id)
    except FieldErrors as exc:
        texts = {key: submitted[key] for key in CATALOGUE if key in submitted}
        return _page(
            400,
            areas=settings_service.settings_areas(texts, exc.errors),
            has_errors=True,
            originals={
                key: submitted.get(settings_service.ORIGINAL_PREFIX + key) for key in CATALOGUE
            },
        )
    if changed:
        labels = ", ".join(CATALOGUE[key].label for key in changed)
        flash(f"Saved: {labels}.", "success")
    else:
        flash("Nothing was changed.", "info")
    return redirect(url_for("admin.settings"))


@bp.post("/settings/revert")
@require_permission("settings.manage")
def settings_revert() -> ResponseReturnValue:
    """Return one setting to its default."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    key = request.form.get("key", "")
    try:
        reverted = settings_service.revert_to_default(key)
    except NotFound:
        abort(404)
    except FieldErrors as exc:
        return _page(409, areas=settings_service.settings_areas(errors=exc.errors), has_errors=True)
    label = CATALOGUE[key].label
    flash(
        f"{label} is back to its default." if reverted else f"{label} already had its default.",
        "success" if reverted else "info",
    )
    return redirect(url_for("admin.settings") + "#" + key.replace(".", "-"))


def probes() -> dict[str, Any]:
    """The connection tests; an app may put its own in ``config["CONNECTION_PROBES"]``."""
    custom = current_app.config.get("CONNECTION_PROBES")
    if custom is not None:
        return dict(custom)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return connections.default_probes(
        app.config["SETTINGS"],
        limits_from_settings("fhir", app),
        limits_from_settings("ehrbase", app),
    )


@bp.post("/settings/test/<service>")
@require_permission("settings.manage")
def settings_test(service: str) -> ResponseReturnValue:
    """Make one request to the service and report latency, version or the exact failure."""
    if service not in connections.SERVICES:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    result = probes()[service]()
    if is_htmx():
        return render_template("admin/_connection_result.html", result=result, service=service)
    return _page(results={service: result})
