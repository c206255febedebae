"""Wiring: Flask-Login over the server-side sessions, required actions, sign-in rate limits."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager

from console.auth import sessions
from console.auth.cli import sessions_cli
from console.auth.required_actions import enforce_required_actions
from console.db.models import User

# Per client address: one allowance shared by the sign-in and two-factor code forms (POST only),
# another for two-factor set-up. A hospital's staff may share one address behind its proxy, so
# this is generous: the per-account lockout is the real brute-force defence, this one slows down
# password spraying across many accounts.
DEFAULT_SIGN_IN_RATE_LIMIT = "30 per minute; 300 per hour"

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = None  # see console.auth.sessions


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return sessions.load_session_user(user_id)


def init_app(app: Flask) -> None:
    """Install the server-side sessions, the login manager, the required-actions hook and the
    ``flask sessions`` commands."""
    app.config.setdefault("AUTH_RATE_LIMIT", DEFAULT_SIGN_IN_RATE_LIMIT)
    sessions.init_app(app)
    login_manager.init_app(app)
    app.before_request(enforce_required_actions)
    app.cli.add_command(sessions_cli)
