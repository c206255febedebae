"""Reading the dates people type: ``31-01-1970`` first, and the other common UK forms.

One place for every date field of the console (patient search, letter and audit filters), so
each accepts the same text and says the same thing when it cannot be read.
"""

from __future__ import annotations

import re
from datetime import date, datetime

DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%d %m %Y", "%Y-%m-%d", "%d-%b-%Y",
                "%d %b %Y", "%d %B %Y", "%d-%B-%Y")  # fmt: skip
# Day, month and four-digit year in numbers: the right shape even when it is not a real day.
_NUMERIC_SHAPE = re.compile(r"^\d{1,2}[-/. ]\d{1,2}[-/. ]\d{4}$|^\d{4}-\d{1,2}-\d{1,2}$")
# What someone part-way through typing a day-month-year date has entered so far.
_PARTIAL = re.compile(r"^\d{1,2}(?:[-/. ](?:\d{1,2}(?:[-/. ]\d{0,4})?)?)?$")


def parse_date(text: str) -> date | None:
    """A date in any common UK form (``31-01-1970``, ``31/1/1970``, ``1 Jan 1970``, ISO)."""
    text = " ".join((text or "").split())
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def is_date_shaped(text: str) -> bool:
    """True for numbers in a date's shape (``31-02-1994``), whether or not the day exists."""
    return bool(_NUMERIC_SHAPE.match(" ".join(text.split())))


def date_problem(text: str, example: str = "31-01-1970") -> str | None:
    """Why ``text`` is not a date (None when it is one): a right-shaped but impossible date,
    such as 31-02-1994, is told it must be a real date rather than shown the format again."""
    if parse_date(text) is not None:
        return None
    if is_date_shaped(text):
        return f"“{text.strip()}” is not a real date. Check the day and the month."
    return f"Enter the date as day-month-year, like {example}."


def is_partial_date(text: str) -> bool:
    """True for the start of a day-month-year date (``31``, ``31-0``, ``31-01-19``)."""
    return bool(_PARTIAL.match(text.strip())) and parse_date(text) is None
