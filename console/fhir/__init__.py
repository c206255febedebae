"""HAPI FHIR R4 client: pooled session, timeouts, retries, circuit breaker, Bundle paging.

No Flask here: the client takes explicit constructor arguments, so scripts and the data
loader use it as they are.
"""

from console.fhir.breaker import CircuitBreaker
from console.fhir.client import FhirClient, WriteResult
from console.fhir.errors import (
    FhirBreakerOpen,
    FhirError,
    FhirGone,
    FhirInvalidLink,
    FhirMalformed,
    FhirNotConfigured,
    FhirNotFound,
    FhirRejected,
    FhirResponseError,
    FhirSearchExpired,
    FhirServerError,
    FhirTimeout,
    FhirTooLarge,
    FhirUnavailable,
    FhirUnreachable,
    FhirWrongPatient,
    OutcomeIssue,
)
from console.fhir.models import PatientView, SearchPage, ServerInfo
from console.fhir.search import PatientSearch

__all__ = [
    "CircuitBreaker",
    "FhirBreakerOpen",
    "FhirClient",
    "FhirError",
    "FhirGone",
    "FhirInvalidLink",
    "FhirMalformed",
    "FhirNotConfigured",
    "FhirNotFound",
    "FhirRejected",
    "FhirResponseError",
    "FhirSearchExpired",
    "FhirServerError",
    "FhirTimeout",
    "FhirTooLarge",
    "FhirUnavailable",
    "FhirUnreachable",
    "FhirWrongPatient",
    "OutcomeIssue",
    "PatientSearch",
    "PatientView",
    "SearchPage",
    "ServerInfo",
    "WriteResult",
]
