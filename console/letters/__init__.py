"""Letters from EHRbase and the templates admin page.

``init_app`` prepares the app's EHRbase client and gives templates ``letters_page_url`` (the
patient page, where the letter list lives) and the ``letter_datetime`` filter
(``DD-Mmm-YYYY HH:mm``, UK time). The patient page's view builds the letters panel with
``console.letters.services.letters_panel`` and passes it to ``letters/_on_patient_page.html``.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Flask

bp = Blueprint("letters", __name__)


def letter_datetime(value: datetime | None) -> str:
    """``05-Mar-2025 14:30`` in UK time; "Not known" when missing (the console's one format)."""
    from console.templating import format_datetime

    return format_datetime(value)


def init_app(app: Flask) -> None:
    """Register the client holder, the letter-list URL function and the date filter."""
    from console.letters import upstream, views

    upstream.init_app(app)
    app.jinja_env.globals["letters_page_url"] = views.patient_page_url
    app.jinja_env.filters["letter_datetime"] = letter_datetime
