"""Query-string and form parsing: bounded whole numbers and database ids from request text."""

from __future__ import annotations

# The largest value of an INTEGER column (PostgreSQL's limit; SQLite's is larger). Ids and counts
# from requests are checked against it so a huge number is "not found", never a database error.
MAX_ID = 2**31 - 1
ID_ROUTE = f"int(min=1, max={MAX_ID})"  # as in ``f"/users/<{ID_ROUTE}:user_id>"``


def parse_int(text: object, low: int, high: int) -> int | None:
    """A whole number from request text (ASCII digits only) within ``low..high``, else None."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(text: object) -> int | None:
    """A database id from request text, or None when it cannot be one."""
    return parse_int(text, 1, MAX_ID)
