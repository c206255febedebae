"""What the admin services share: one transaction per action and the errors pages show."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from console.db import db

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


class AdminActionError(Exception):
    """An administrative action was refused; the message says why, for the page."""


class NotFound(AdminActionError):
    """The user, role or session no longer exists."""


class FieldErrors(AdminActionError):
    """Input problems, keyed by form field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class EditConflict(AdminActionError):
    """Someone saved the record after this form was opened; nothing was written."""

    def __init__(self, what: str = "this user") -> None:
        super().__init__(
            f"Someone else changed {what} after you opened the form. "
            "Nothing you entered has been saved."
        )


@contextmanager
def transaction() -> Iterator[None]:
    """Commit what the block did (the change and its audit events), or roll all of it back."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
