"""The console's sections, shown in the navigation only to users whose roles open them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_login import current_user


@dataclass(frozen=True)
class Section:
    """A navigation entry: the endpoint it opens and the permission it needs."""

    title: str
    endpoint: str
    permission: str
    description: str


SECTIONS: tuple[Section, ...] = (
    Section(
        "Patients", "patients.search", "patients.search", "Find a patient and read their record."
    ),
    Section("Users", "admin.users", "users.manage", "Create, edit, disable and unlock users."),
    Section("Roles", "admin.roles", "roles.manage", "Decide what each role may do."),
    Section("Sessions", "admin.sessions", "sessions.manage", "See who is signed in; end sessions."),
    Section(
        "Settings", "admin.settings", "settings.manage", "Security, clinical and display settings."
    ),
    Section(
        "Audit log", "admin.audit", "audit.view", "Who did what, and who looked at which record."
    ),
    Section(
        "Templates", "letters.templates", "templates.manage", "openEHR letter templates on EHRbase."
    ),
    Section("Status", "ops.status", "status.view", "Databases and services, and their health."),
)


@dataclass(frozen=True)
class VisibleSection:
    """A section the current user may open, with its URL."""

    title: str
    url: str
    endpoint: str
    description: str


def visible_sections() -> list[VisibleSection]:
    """The sections the signed-in user's permissions allow (and that exist in this app)."""
    if not current_user.is_authenticated:
        return []
    return [
        VisibleSection(s.title, url_for(s.endpoint), s.endpoint, s.description)
        for s in SECTIONS
        if s.endpoint in current_app.view_functions and current_user.has_permission(s.permission)
    ]
