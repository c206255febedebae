"""User accounts: creating users and setting passwords, each change audited."""

from __future__ import annotations

import re
import secrets
import string
import unicodedata

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from console.appsettings import get_setting
from console.audit import record_event
from console.auth import clock
from console.auth.password_policy import password_problems
from console.auth.passwords import hash_password
from console.db import db
from console.db.models import Role, User, utcnow

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"
MAX_USERNAME_LENGTH = 150


def is_username_shaped(text: str) -> bool:
    """True when ``text`` could be a username (what the create form accepts)."""
    return 0 < len(text) <= MAX_USERNAME_LENGTH and re.fullmatch(USERNAME_PATTERN, text) is not None


# Control and format characters (tabs, line breaks, bidirectional overrides, zero-width
# spaces) and the line and paragraph separators: never part of a name, and able to disguise one.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
HIDDEN_CHARACTERS_MESSAGE = (
    "Remove the control or invisible characters (such as tabs, line breaks or "
    "text-direction marks)."
)


def has_hidden_characters(text: str) -> bool:
    """True when ``text`` holds a character of Unicode category Cc, Cf, Zl or Zp."""
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in text)


class AccountError(ValueError):
    """A user cannot be created or changed as asked; the message says why.

    ``field`` names the form field the problem belongs to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    """A validated, lower-case e-mail address (no deliverability check)."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"Enter a valid e-mail address ({exc}).", "email") from None


def create_user(
    *,
    username: str,
    email: str,
    full_name: str,
    password: str,
    role_names: list[str],
    must_change_password: bool = True,
    audit_action: str = "user.create",
) -> User:
    """Add a user with the named roles to the current transaction, audited."""
    username = username.strip().lower()
    if not username or len(username) > 150:
        raise AccountError("Enter a username of 1 to 150 characters.", "username")
    if has_hidden_characters(full_name):
        raise AccountError(HIDDEN_CHARACTERS_MESSAGE, "full_name")
    email = normalise_email(email)
    if db.session.scalar(select(func.count()).where(User.username == username)):
        raise AccountError(f"The username {username} is already taken.", "username")
    if db.session.scalar(select(func.count()).where(User.email == email)):
        raise AccountError(f"The e-mail address {email} is already used by another user.", "email")
    roles = list(db.session.scalars(select(Role).where(Role.name.in_(role_names))))
    unknown = set(role_names) - {r.name for r in roles}
    if unknown:
        raise AccountError(f"Unknown role: {', '.join(sorted(unknown))}.", "roles")
    now = utcnow()
    user = User(
        username=username,
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        password_changed_at=now,
        must_change_password=must_change_password,
        temporary_password_set_at=clock.now() if must_change_password else None,
        roles=roles,
    )
    db.session.add(user)
    db.session.flush()
    record_event(
        audit_action,
        target_type="user",
        target_id=user.id,
        after={
            "username": username,
            "email": email,
            "full_name": user.full_name,
            "roles": sorted(role_names),
        },
    )
    return user


def reset_password(user: User, password: str, *, must_change: bool, audit_action: str) -> None:
    """Set a new password in the current transaction, audited; one the user must change is a
    temporary password, which expires (``security.temporary_password_minutes``)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = must_change
    user.temporary_password_set_at = clock.now() if must_change else None
    record_event(audit_action, target_type="user", target_id=user.id)


def temporary_password(username: str = "", email: str = "") -> str:
    """A random password that meets the current policy (shown once to the administrator)."""
    length = max(20, int(get_setting("security.password_min_length")))
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if not password_problems(password, username=username, email=email):
            return password
