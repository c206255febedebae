"""Template helpers: navigation, the environment banner, dates in the NHS staff format, and
raw upstream JSON cut to a size a page can carry."""

from __future__ import annotations

import json
from dataclasses import dataclass
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


#: The most characters of raw upstream JSON a page shows (the rest is left out, with a note).
RAW_JSON_LIMIT = 100_000
TOO_DEEP = "The resource is too deeply nested to show here."


@dataclass(frozen=True)
class RawJson:
    """Indented JSON for a "raw resource" panel, cut to ``RAW_JSON_LIMIT`` characters."""

    text: str
    total: int

    @property
    def shown(self) -> int:
        """How many characters are shown."""
        return len(self.text)

    @property
    def truncated(self) -> bool:
        """True when part of the JSON is left out."""
        return self.shown < self.total


def truncated_json(value: Any, limit: int = RAW_JSON_LIMIT) -> RawJson:
    """``value`` as indented JSON, at most ``limit`` characters of it."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):
        text = TOO_DEEP
    return RawJson(text[:limit], len(text))


def init_app(app: Flask) -> None:
    """Register filters and the values every page needs."""
    app.jinja_env.filters["nhs_date"] = format_date
    app.jinja_env.filters["nhs_datetime"] = format_datetime

    @app.context_processor
    def _layout_values() -> dict[str, Any]:
        from console.appsettings import get_setting

        banner = ""
        if current_user.is_authenticated:
            try:
                banner = get_setting("display.environment_banner")
            except Exception:
                banner = ""
        return {
            "nav_sections": visible_sections(),
            "environment_banner": banner,
        }
