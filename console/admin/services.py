"""What the admin services share: one transaction per action and the errors pages show."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError

from console.audit import record_event
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


class Refused(FieldErrors):
    """An action refused for lack of power over it: shown on the form's field, answered 403 and
    audited as ``denied`` (after the refused change is rolled back)."""

    def __init__(
        self,
        field: str,
        message: str,
        *,
        action: str,
        target_type: str | None = None,
        target_id: str | int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__({field: message})
        self.audit = {
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "details": {"reason": message, **(details or {})},
        }


class Clash(FieldErrors):
    """A unique constraint refused the change: someone saved the same name at the same moment.
    Nothing was written; the page shows the message on the field (409)."""

    # (text found in the database's error, form field, message): the first match wins.
    KNOWN = (
        ("user_roles", "role_id", "Someone else changed the roles of these users at the same moment. "
         "Nothing was changed; check the list and try again."),
        ("username", "username", "That username was taken a moment ago by someone else. "
         "Choose another."),
        ("email", "email", "That e-mail address was given to another user a moment ago."),
        ("roles", "name", "A role with that name was created a moment ago by someone else. "
         "Choose another name."),
    )  # fmt: skip

    @classmethod
    def from_error(cls, error: IntegrityError) -> Clash:
        """The clash an ``IntegrityError`` stands for, worded for the form."""
        text = str(error.orig).lower()
        for needle, field, message in cls.KNOWN:
            if needle in text:
                return cls({field: message})
        return cls({"form": "Someone else saved a conflicting change at the same moment. "
                             "Nothing was saved; try again."})  # fmt: skip


def error_status(exc: FieldErrors) -> int:
    """403 for an action refused for lack of power, 409 for a clash with a change saved at the
    same moment, 400 for other input problems."""
    if isinstance(exc, Refused):
        return 403
    return 409 if isinstance(exc, Clash) else 400


@contextmanager
def transaction() -> Iterator[None]:
    """Commit what the block did (the change and its audit events), or roll all of it back;
    a ``Refused`` action leaves only its ``denied`` audit event."""
    try:
        yield
        db.session.commit()
    except Refused as exc:
        db.session.rollback()
        record_denied(**exc.audit)
        raise
    except IntegrityError as exc:
        db.session.rollback()
        raise Clash.from_error(exc) from None
    except BaseException:
        db.session.rollback()
        raise


def record_denied(action: str, **fields: Any) -> None:
    """Write and commit a ``denied`` audit event on its own."""
    record_event(action, outcome="denied", **fields)
    db.session.commit()
