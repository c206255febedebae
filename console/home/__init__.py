"""The dashboard every signed-in user lands on."""

from flask import Blueprint

bp = Blueprint("home", __name__)


__all__ = ["bp"]

from console.home import views  # noqa: E402,F401  (the views register themselves on bp)
