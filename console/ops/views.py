"""Health endpoints (public, JSON) and the status page (``status.view``)."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from console.ops import bp
from console.ops import services as service
from console.permissions import public, require_permission

NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/health/live")
@public
def live() -> ResponseReturnValue:
    """The process is up (nothing else is checked)."""
    return {"status": "ok"}, 200, NO_STORE


@bp.get("/health/ready")
@public
def ready() -> ResponseReturnValue:
    """200 when the auth database answers and is migrated to head, 503 otherwise."""
    result = service.readiness()
    return result.body, (200 if result.ready else 503), NO_STORE


def _context() -> dict[str, object]:
    settings = current_app.config["SETTINGS"]
    return {
        "report": service.full_report(),
        "deprecations": settings.deprecations,
        "console_version": current_app.config.get("CONSOLE_VERSION", "unknown"),
        "environment": settings.CONSOLE_ENV,
        "uptime_seconds": int(service.uptime_seconds()),
    }


@bp.get("/status")
@require_permission("status.view")
def status() -> ResponseReturnValue:
    """The databases and services with state, latency and version."""
    return render_template("ops/status.html", **_context())


@bp.get("/status/checks")
@require_permission("status.view")
def status_checks() -> ResponseReturnValue:
    """The checks table alone, for the page's refresh (htmx)."""
    return render_template("ops/_status.html", **_context())
