"""Forms of the administration pages (CSRF comes with every Flask-WTF form)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


class CheckboxesField(SelectMultipleField):
    """Several checkboxes, one value each (roles, permissions)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        """Unknown values are reported, not raised as a crash."""
        known = {self.coerce(choice.value) for choice in self.iter_choices()}
        unknown = [v for v in (self.data or []) if v not in known]
        if unknown:
            raise ValidationError("Choose from the list.")


class ConfirmForm(FlaskForm):
    """A confirmation (only the CSRF token)."""


def choices(pairs: list[tuple[Any, str]]) -> list[SelectChoice]:
    """Options for a choice field from (value, label) pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]
