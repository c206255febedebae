"""The dashboard: what the signed-in user can do from here."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from console.navigation import visible_sections
from console.permissions import login_required_only

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required_only
def dashboard() -> ResponseReturnValue:
    """The landing page: a card for each area the user's roles open."""
    return render_template("home/dashboard.html", sections=visible_sections())
