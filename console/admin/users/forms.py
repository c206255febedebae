"""The user forms: create, edit, password reset, bulk actions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp
from wtforms.widgets import HiddenInput

from console.admin.forms import CheckboxesField
from console.admin.users.accounts import USERNAME_PATTERN
from console.admin.users.bulk import BulkRequest
from console.admin.users.listing import UserFilter, parse_filter
from console.web.query import parse_id

MAX_BULK_IDS = 1000


class PasswordChoice:
    """The choice between a generated temporary password and a typed one."""

    password_mode = RadioField(
        "Password",
        choices=[
            SelectChoice("generate", "Generate a temporary password (shown to you once)"),
            SelectChoice("type", "Type a temporary password"),
        ],
        default="generate",
    )
    password = PasswordField(
        "Temporary password",
        validators=[Optional(), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    password_confirm = PasswordField(
        "Temporary password again",
        validators=[Optional()],
        render_kw={"autocomplete": "new-password"},
    )

    def typed_password(self) -> str | None:
        """The typed password, or None when one is to be generated."""
        return self.password.data if self.password_mode.data == "type" else None  # type: ignore[attr-defined]

    def validate_password(self, field: PasswordField) -> None:
        if self.password_mode.data != "type":  # type: ignore[attr-defined]
            return
        if not field.data:
            raise ValidationError("Enter the temporary password, or choose to generate one.")

    def validate_password_confirm(self, field: PasswordField) -> None:
        if self.password_mode.data == "type" and field.data != self.password.data:  # type: ignore[attr-defined]
            raise ValidationError("The two passwords are not the same.")


class UserCreateForm(PasswordChoice, FlaskForm):
    """A new user."""

    username = StringField(
        "Username",
        validators=[
            DataRequired(message="Enter a username."),
            Length(max=150, message="Enter a username of at most 150 characters."),
            Regexp(
                USERNAME_PATTERN,
                message="Use letters, digits and . _ @ - only, starting with a letter or digit.",
            ),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    full_name = StringField(
        "Full name",
        validators=[DataRequired(message="Enter the person's name."), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    email = StringField(
        "E-mail address",
        validators=[
            DataRequired(message="Enter an e-mail address."),
            Email(message="Enter an e-mail address like name@example.org."),
            Length(max=320),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    roles = CheckboxesField("Roles", coerce=int)


class UserEditForm(FlaskForm):
    """Name, e-mail, roles and the active flag, with the version the form was opened at."""

    full_name = StringField(
        "Full name",
        validators=[DataRequired(message="Enter the person's name."), Length(max=200)],
    )
    email = StringField(
        "E-mail address",
        validators=[
            DataRequired(message="Enter an e-mail address."),
            Email(message="Enter an e-mail address like name@example.org."),
            Length(max=320),
        ],
        render_kw={"spellcheck": "false"},
    )
    roles = CheckboxesField("Roles", coerce=int)
    active = BooleanField("Active (may sign in)")
    version = IntegerField(widget=HiddenInput(), validators=[DataRequired()])
    original = HiddenField()

    def original_values(self) -> dict[str, Any]:
        """The user as the form showed it when opened (for conflict messages)."""
        try:
            values = json.loads(self.original.data or "{}")
        except ValueError:
            return {}
        return values if isinstance(values, dict) else {}


class PasswordResetForm(PasswordChoice, FlaskForm):
    """A new temporary password for someone else."""


def parse_ids(values: list[str]) -> tuple[int, ...]:
    """Selected user ids (at most a page's worth, duplicates dropped)."""
    ids = {user_id for v in values if (user_id := parse_id(v)) is not None}
    return tuple(sorted(ids))[:MAX_BULK_IDS]


def parse_bulk(form: MultiDict[str, str] | Mapping[str, Any]) -> BulkRequest:
    """A bulk action from the users page's form (the filter travels in the same form)."""
    getlist = form.getlist if isinstance(form, MultiDict) else (lambda _k: [])
    role = str(form.get("role_id") or "")
    return BulkRequest(
        action=str(form.get("action") or ""),
        scope=str(form.get("scope") or ""),
        ids=parse_ids(getlist("ids")),
        filter=parse_filter(form) if form.get("scope") == "filter" else UserFilter(),
        role_id=parse_id(role),
    )
