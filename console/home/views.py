"""The dashboard: what the signed-in user can do from here."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.home import bp
from console.home.services import accounts_needing_attention
from console.navigation import visible_sections
from console.permissions import login_required_only


@bp.route("/")
@login_required_only
def dashboard() -> ResponseReturnValue:
    """The landing page: a card for each area the user's roles open, a patient search box for
    clinical staff and, for user administrators, the accounts that need attention."""
    accounts = accounts_needing_attention() if current_user.has_permission("users.manage") else None
    return render_template(
        "home/dashboard.html",
        sections=visible_sections(),
        can_search_patients=current_user.has_permission("patients.search"),
        accounts=accounts,
    )
