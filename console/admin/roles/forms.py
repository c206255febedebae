"""The role form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import HiddenInput

from console.admin.forms import CheckboxesField


class RoleForm(FlaskForm):
    """A role's name, description and permissions."""

    name = StringField(
        "Name",
        validators=[DataRequired(message="Enter a name for the role."), Length(max=100)],
    )
    description = TextAreaField("Description", validators=[Length(max=500)])
    permissions = CheckboxesField("Permissions")
    version = IntegerField(widget=HiddenInput(), validators=[Optional()])
