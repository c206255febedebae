"""What the admin services share: one transaction per action and the errors pages show."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from console.db import db


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
