"""Forms of sign-in, the second factor, password changes and two-factor set-up."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

_CODE_ATTRIBUTES = {
    "autocomplete": "one-time-code",
    "autocapitalize": "none",
    "spellcheck": "false",
}


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(
        "Username",
        validators=[DataRequired(message="Enter your username."), Length(max=150)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(message="Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class SecondFactorForm(FlaskForm):
    """The code from the authenticator app, or a recovery code. An empty code is a failed
    attempt like a wrong one, so it is not refused by a validator before being counted."""

    code = StringField(
        "Code",
        validators=[Length(max=64, message="Enter the 6-digit code or a recovery code.")],
        render_kw=_CODE_ATTRIBUTES,
    )


class ChangePasswordForm(FlaskForm):
    """Current password (when asked), the new one twice."""

    current_password = PasswordField(
        "Current password",
        validators=[Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(message="Enter a new password."), Length(max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired(message="Enter the new password again."),
            EqualTo("new_password", message="The two new passwords are not the same."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class CodeForm(FlaskForm):
    """A 6-digit code from the authenticator app."""

    code = StringField(
        "Code from your authenticator app",
        validators=[
            DataRequired(message="Enter the 6-digit code from your authenticator app."),
            Length(max=16, message="Enter the 6-digit code from your authenticator app."),
        ],
        render_kw={**_CODE_ATTRIBUTES, "inputmode": "numeric"},
    )


class StepUpForm(FlaskForm):
    """The current password, and a code when two-factor is on (checked by the route)."""

    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[Length(max=64, message="Enter the 6-digit code or a recovery code.")],
        render_kw=_CODE_ATTRIBUTES,
    )
