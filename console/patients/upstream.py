"""What the patient pages need from the upstream layer: the app's FHIR client, the page size.

The client itself is built in ``console.upstream.builders`` (one builder for every use).
"""

from __future__ import annotations

from flask import Flask

from console.appsettings import get_setting
from console.upstream import builders
from console.upstream.builders import fhir_client

__all__ = ["fhir_client", "init_app", "page_size"]


def init_app(app: Flask) -> None:
    """Prepare the app's shared upstream clients."""
    builders.init_app(app)


def page_size() -> int:
    """Patients per results page (the ``clinical.fhir_page_size`` setting)."""
    return int(get_setting("clinical.fhir_page_size"))
