"""Sign-in with the organisation's OpenID Connect identity provider (Authlib's Flask client).

Configured by ``OIDC_ISSUER``, ``OIDC_CLIENT_ID`` and ``OIDC_CLIENT_SECRET`` and the
``sso.*`` settings; without the variables the routes answer 404 and the sign-in page shows
no button.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from console.sso import models as models
from console.sso import provider

bp = Blueprint("sso", __name__, url_prefix="/auth/sso")
admin_bp = Blueprint("sso_admin", __name__, url_prefix="/admin/users")

__all__ = ["bp", "init_app"]


def _sso_button() -> str | None:
    """The sign-in button's label, or None when single sign-on is not configured."""
    if provider.client() is None:
        return None
    from console.appsettings import get_setting

    return str(get_setting("sso.button_label"))


def _sso_links(users: Any) -> dict[int, Any]:
    """``{user id: SsoIdentity}`` for a page of users (one query)."""
    from sqlalchemy import select

    from console.db import db

    ids = [user.id for user in users]
    if not ids:
        return {}
    rows = db.session.scalars(select(models.SsoIdentity).where(models.SsoIdentity.user_id.in_(ids)))
    return {row.user_id: row for row in rows}


def _sso_step_up(user: Any) -> dict[str, Any] | None:
    """What the step-up page offers ``user`` at the identity provider (None: nothing)."""
    from console.sso import stepup

    return stepup.offer(user)


def init_app(app: Flask) -> None:
    """Build the identity provider's client, register the administrators' pages, and forget
    remembered logout tokens as expired sessions are purged."""
    from console.auth.sessions import add_housekeeping
    from console.sso.logout import purge_expired_tokens

    provider.init_app(app)
    add_housekeeping(app, "expired logout token", purge_expired_tokens)
    app.register_blueprint(admin_bp)
    app.jinja_env.globals.update(
        sso_button=_sso_button, sso_links=_sso_links, sso_step_up=_sso_step_up
    )


from console.sso import views  # noqa: E402,F401  (the views register themselves on bp and admin_bp)
