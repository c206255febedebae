"""Patient search and the patient page (HAPI FHIR).

Other capabilities use ``console.patients.services.load_patient(patient_id)`` to read a
patient (raising the typed ``console.fhir`` errors) and include
``patients/_banner.html`` and ``_upstream_error.html`` in their pages.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask

from console.fhir.models import PatientView
from console.nhs_number import format_nhs_number
from console.patients import display

bp = Blueprint("patients", __name__, url_prefix="/patients")


def _born(patient: PatientView, today: date | None = None) -> str:
    return display.born_label(patient, today or date.today())


def init_app(app: Flask) -> None:
    """The FHIR client holder and the template filters for patient details."""
    from console.patients import upstream

    upstream.init_app(app)
    app.jinja_env.filters.update(
        banner_name=display.banner_name,
        born_label=_born,
        fhir_date=display.fhir_date,
        gender_label=display.gender_label,
        instant_label=display.instant_label,
        nhs_number=format_nhs_number,
    )


from console.patients import views as routes  # noqa: E402  (the views register themselves on bp)

__all__ = ["bp", "init_app", "routes"]
