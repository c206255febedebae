"""Administration: users, roles, sessions, settings and the audit log."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from console.admin import (  # noqa: E402  (the views register themselves on bp)
    audit_views,
    roles_views,
    sessions_views,
    settings_views,
    users_views,
)

__all__ = ["audit_views", "bp", "roles_views", "sessions_views", "settings_views", "users_views"]
