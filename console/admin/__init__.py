"""Administration: users, roles, sessions, settings and the audit log."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from console.admin.audit import views as audit_views  # noqa: E402  (the views register themselves on bp)
from console.admin.roles import views as roles_views  # noqa: E402
from console.admin.sessions import views as sessions_views  # noqa: E402
from console.admin.settings import views as settings_views  # noqa: E402
from console.admin.users import views as users_views  # noqa: E402

__all__ = ["audit_views", "bp", "roles_views", "sessions_views", "settings_views", "users_views"]
