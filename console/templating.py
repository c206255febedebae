"""Template helpers: navigation, the environment banner, dates in the NHS staff format."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask
from flask_login import current_user

from console.navigation import visible_sections


def format_date(value: date | datetime | None) -> str:
    """``01-Jan-1970`` (the NHS staff-screen date format); "Not known" when missing."""
    if value is None:
        return "Not known"
    return value.strftime("%d-%b-%Y")


def format_datetime(value: datetime | None) -> str:
    """``01-Jan-1970 13:45``; "Not known" when missing."""
    if value is None:
        return "Not known"
    return value.strftime("%d-%b-%Y %H:%M")


def init_app(app: Flask) -> None:
    """Register filters and the values every page needs."""
    app.jinja_env.filters["nhs_date"] = format_date
    app.jinja_env.filters["nhs_datetime"] = format_datetime

    @app.context_processor
    def _layout_values() -> dict[str, Any]:
        from console.appsettings import get_setting
        from console.auth.sessions import seconds_left

        try:  # on every page, the sign-in pages too
            banner = get_setting("display.environment_banner")
        except Exception:
            banner = ""
        return {
            "nav_sections": visible_sections(),
            "environment_banner": banner,
            "session_expires_in": seconds_left() if current_user.is_authenticated else None,
        }
