"""What the letter pages need from the upstream layer: the app's EHRbase client and settings.

The client itself is built in ``console.upstream.builders`` (one builder for every use).
"""

from __future__ import annotations

from datetime import tzinfo

from flask import Flask

from console import templating
from console.appsettings import get_setting
from console.upstream import builders
from console.upstream.builders import ehrbase_client

__all__ = [
    "DISPLAY_TIMEZONE",
    "ehrbase_client",
    "init_app",
    "letter_template_id",
    "letters_page_size",
    "subject_namespace",
]

DISPLAY_TIMEZONE: tzinfo = templating.DISPLAY_TIMEZONE


def init_app(app: Flask) -> None:
    """Prepare the app's shared upstream clients."""
    builders.init_app(app)


def subject_namespace() -> str:
    """The namespace linking an EHR to a FHIR Patient id (setting ``clinical.ehr_subject_namespace``)."""
    return str(get_setting("clinical.ehr_subject_namespace"))


def letter_template_id() -> str:
    """The template letters are stored with (setting ``clinical.letter_template_id``)."""
    return str(get_setting("clinical.letter_template_id"))


def letters_page_size() -> int:
    """Letters per page (setting ``clinical.letters_page_size``)."""
    return int(get_setting("clinical.letters_page_size"))
