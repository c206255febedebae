"""Template helpers: navigation, the environment banner, dates in the NHS staff format, and
raw upstream JSON cut to a size a page can carry.

Every time the console shows goes through ``format_datetime`` (the ``nhs_datetime`` filter):
``DD-Mmm-YYYY HH:MM`` in UK time, and the page's footer then says once which time zone that is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g, has_request_context
from flask_login import current_user
from ua_parser import parse as parse_user_agent

from console.navigation import visible_sections


def format_date(value: date | datetime | None) -> str:
    """``01-Jan-1970`` (the NHS staff-screen date format); "Not known" when missing."""
    if value is None:
        return "Not known"
    return value.strftime("%d-%b-%Y")


try:
    DISPLAY_TIMEZONE: tzinfo = ZoneInfo("Europe/London")
    TIMEZONE_NOTE = "Times are UK time (GMT, or BST in summer)."
except ZoneInfoNotFoundError:  # a system without time zone data
    DISPLAY_TIMEZONE = UTC
    TIMEZONE_NOTE = "Times are UTC."


def format_datetime(value: datetime | None) -> str:
    """``01-Jan-1970 13:45`` in UK time (a naive value is taken as UTC); "Not known" when
    missing. Notes that the page shows a time, so the footer states the zone once."""
    if value is None:
        return "Not known"
    if has_request_context():
        g.shows_times = True
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.astimezone(DISPLAY_TIMEZONE).strftime("%d-%b-%Y %H:%M")


@lru_cache(maxsize=512)
def browser_label(user_agent: str | None) -> str:
    """``Chrome 156 on Linux`` from a User-Agent header (ua-parser's rules); "Not known" when
    it names no browser."""
    if not user_agent:
        return "Not known"
    found = parse_user_agent(user_agent[:512])
    if found.user_agent is None:
        return "Not known"
    browser = found.user_agent.family
    if found.user_agent.major:
        browser += f" {found.user_agent.major}"
    return f"{browser} on {found.os.family}" if found.os is not None else browser


def timezone_note() -> str:
    """The footer's sentence naming the time zone, on pages that showed a time ("" if none)."""
    return TIMEZONE_NOTE if has_request_context() and g.get("shows_times") else ""


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
    app.jinja_env.globals["timezone_note"] = timezone_note
    app.jinja_env.filters["browser"] = browser_label

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
