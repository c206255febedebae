"""The fixed permission catalogue and the decorators every route declares itself with.

Deny by default: a ``before_request`` hook refuses any endpoint whose view has not declared
``@require_permission(...)``, ``@login_required_only`` or ``@public``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from console.web.htmx import from_htmx

PERMISSIONS: dict[str, str] = {
    "users.manage": "Create, edit, disable and unlock users; reset passwords and two-factor.",
    "roles.manage": "Create and rename roles and change the permissions they grant.",
    "sessions.manage": "See everyone's sessions and end them.",
    "settings.manage": "Change the console's settings and test the upstream connections.",
    "status.view": "See the status of the databases and services.",
    "audit.view": "Read and export the audit log.",
    "patients.search": "Search for patients in HAPI FHIR.",
    "patients.view": "Open a patient's demographics.",
    "letters.view": "Read a patient's letters from EHRbase.",
    "templates.manage": "List and upload openEHR letter templates.",
}

# Administrative power: a role holding any of these is an administrator's (two-factor by default),
# and only someone who holds a permission may hand it on.
ADMIN_PERMISSIONS: frozenset[str] = frozenset(
    {
        "users.manage",
        "roles.manage",
        "settings.manage",
        "sessions.manage",
        "audit.view",
        "templates.manage",
    }
)
# Clinical access: any holder of ``users.manage`` may grant it (each view stays audited).
CLINICAL_PERMISSIONS: frozenset[str] = frozenset(
    {"patients.search", "patients.view", "letters.view"}
)

SEEDED_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "System administrator": (
        "Manages users, roles, sessions, settings and templates; sees no patient data.",
        (
            "users.manage",
            "roles.manage",
            "sessions.manage",
            "settings.manage",
            "status.view",
            "audit.view",
            "templates.manage",
        ),
    ),
    "Clinician": (
        "Finds patients and reads their letters.",
        ("patients.search", "patients.view", "letters.view"),
    ),
    "Clinical administrator": (
        "Finds patients, reads letters and manages letter templates.",
        ("patients.search", "patients.view", "letters.view", "templates.manage"),
    ),
    "Auditor": ("Reads and exports the audit log.", ("audit.view",)),
}

AUTHENTICATED = "authenticated"
PUBLIC = "public"

F = TypeVar("F", bound=Callable[..., Any])


def _unauthenticated() -> Any:
    """Send an anonymous request to sign-in (htmx requests get a client-side redirect)."""
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if from_htmx():
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _audit_denied(permission: str) -> None:
    """Record a refused page or form (route, method and the permission missing) and commit."""
    from console.audit import record_event
    from console.db import db

    record_event(
        "access.denied",
        outcome="denied",
        details={
            "route": request.url_rule.rule if request.url_rule else request.path,
            "method": request.method,
            "missing_permission": permission,
        },
    )
    db.session.commit()


def require_permission(permission: str) -> Callable[[F], F]:
    """Allow the view only to signed-in users whose roles grant ``permission``."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _unauthenticated()
            if not current_user.has_permission(permission):
                _audit_denied(permission)
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def login_required_only(view: F) -> F:
    """Allow the view to any signed-in user (their own account pages, the dashboard)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _unauthenticated()
        return view(*args, **kwargs)

    wrapped.required_permission = AUTHENTICATED  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def public(view: F) -> F:
    """Mark a view as reachable without signing in (sign-in itself, health checks)."""
    view.required_permission = PUBLIC  # type: ignore[attr-defined]
    return view


def declared_permission(endpoint: str | None) -> str | None:
    """The permission an endpoint's view declared, or None when it declared none."""
    if endpoint is None:
        return None
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "required_permission", None)


def enforce_declared_permissions() -> None:
    """``before_request`` hook: refuse any endpoint that declared no permission."""
    if request.endpoint is None:
        return  # unknown URL: the 404/405 handler answers
    if declared_permission(request.endpoint) is None:
        current_app.logger.error("route %s declares no permission; refused", request.endpoint)
        abort(403)
