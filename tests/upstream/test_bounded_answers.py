"""Every upstream answer is bounded: in time (one overall deadline), in size (a streamed cap)
and in shape (any JSON the console cannot read is the client's typed "malformed" error).

Both clients run against their emulators, real HTTP servers on loopback that trickle, bloat
and garble their answers on demand. Deadlines are kept under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from console.fhir import FhirClient
from console.fhir.errors import FhirMalformed, FhirServerError, FhirTimeout, FhirTooLarge
from console.openehr import errors
from console.upstream.errors import (
    UpstreamMalformed,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnavailable,
)
from tests.support.fhir import Hapi, hapi, hapi_server, make_client  # noqa: F401  (fixtures)
from tests.support.openehr import Target, ehrbase, ehrbase_server  # noqa: F401  (fixtures)

AQL = "/ehrbase/rest/openehr/v1/query/aql"
DEEP = "[" * 100_000 + "]" * 100_000
MB = 1024 * 1024


@pytest.fixture
def fhir(hapi: Hapi, make_client: Callable[..., FhirClient]) -> Iterator[FhirClient]:  # noqa: F811
    [patient_id] = hapi.app.seed([{"resourceType": "Patient", "gender": "female"}])
    assert patient_id == "1000"
    yield make_client(read_timeout=0.4, deadline=0.6, max_bytes=MB // 4)


def aql(target: Target, **options: object) -> object:
    client = target.client(**options)
    try:
        return client.query("SELECT e/ehr_id/value FROM EHR e", {})
    finally:
        client.close()


# -- time -----------------------------------------------------------------------------------


def test_a_trickling_fhir_server_is_a_timeout_at_the_deadline(hapi: Hapi, fhir: FhirClient) -> None:  # noqa: F811
    hapi.server.set_faults(trickle=True, content_type="application/fhir+json")
    with pytest.raises(FhirTimeout) as caught:
        fhir.read_patient("1000")
    assert "0.6 s in all" in caught.value.diagnostics
    assert isinstance(caught.value, UpstreamUnavailable)


def test_a_trickling_ehrbase_is_a_timeout_at_the_deadline(ehrbase: Target) -> None:  # noqa: F811
    assert ehrbase.server is not None
    ehrbase.server.set_faults(trickle=True)
    with pytest.raises(errors.EhrbaseTimeout) as caught:
        aql(ehrbase, read_timeout=0.4, deadline=0.6)
    assert isinstance(caught.value, errors.EhrbaseUnavailable)
    assert isinstance(caught.value, UpstreamTimeout)


def test_a_retry_after_longer_than_the_deadline_is_not_waited_for(
    hapi: Hapi,  # noqa: F811
    make_client: Callable[..., FhirClient],  # noqa: F811
) -> None:
    client = make_client(retries=2, deadline=1.0)
    hapi.server.set_faults(
        status=503,
        body='{"resourceType": "OperationOutcome"}',
        content_type="application/fhir+json",
        retry_after=120,
    )
    with pytest.raises(FhirServerError):
        client.read_patient("1000")
    assert len(hapi.requests_to("/fhir/Patient")) == 1, "no retry waited past the deadline"


def test_a_short_retry_after_is_still_honoured_within_the_deadline(
    hapi: Hapi,  # noqa: F811
    make_client: Callable[..., FhirClient],  # noqa: F811
) -> None:
    client = make_client(retries=2, deadline=5.0)
    hapi.server.set_faults(
        status=503,
        body='{"resourceType": "OperationOutcome"}',
        content_type="application/fhir+json",
        retry_after=0,
    )
    with pytest.raises(FhirServerError):
        client.read_patient("1000")
    assert len(hapi.requests_to("/fhir/Patient")) == 3


# -- size -----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_fhir_answer_is_too_large(hapi: Hapi, fhir: FhirClient, chunked: bool) -> None:  # noqa: F811
    hapi.server.set_faults(huge_bytes=2 * MB, chunked=chunked, content_type="application/fhir+json")
    with pytest.raises(FhirTooLarge) as caught:
        fhir.read_patient("1000")
    assert "sent too much" in caught.value.message
    assert "0.25 MB" in caught.value.diagnostics
    assert isinstance(caught.value, FhirMalformed | UpstreamTooLarge)


def test_an_answer_under_the_cap_is_read(hapi: Hapi, fhir: FhirClient) -> None:  # noqa: F811
    hapi.server.set_faults(huge_bytes=MB // 8, content_type="application/fhir+json")
    assert fhir.read_patient("1000").id == "1000"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_ehrbase_answer_is_too_large(ehrbase: Target, chunked: bool) -> None:  # noqa: F811
    assert ehrbase.server is not None
    ehrbase.server.set_faults(huge_bytes=2 * MB, chunked=chunked)
    with pytest.raises(errors.EhrbaseTooLarge) as caught:
        aql(ehrbase, max_bytes=MB // 4)
    assert "sent too much" in caught.value.message
    assert isinstance(caught.value, errors.EhrbaseMalformedResponse)


# -- shape ----------------------------------------------------------------------------------


BAD_BODIES = {
    "deeply nested": DEEP.encode(),
    "invalid UTF-8": b'{"resourceType": "Patient", "id": "1000", "x": "\xff\xfe"}',
    "truncated": b'{"resourceType": "Patient", "id": "10',
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_unreadable_fhir_json_is_malformed(hapi: Hapi, fhir: FhirClient, body: bytes) -> None:  # noqa: F811
    hapi.server.set_faults(body_bytes=body, content_type="application/fhir+json")
    with pytest.raises(FhirMalformed):
        fhir.read_patient("1000")


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_unreadable_ehrbase_json_is_malformed(ehrbase: Target, body: bytes) -> None:  # noqa: F811
    assert ehrbase.server is not None
    ehrbase.server.set_faults(body_bytes=body)
    with pytest.raises(errors.EhrbaseMalformedResponse):
        aql(ehrbase)
    client = ehrbase.client()
    try:
        with pytest.raises(errors.EhrbaseMalformedResponse):
            client.status()
        with pytest.raises(errors.EhrbaseMalformedResponse):
            client.find_ehr("p-1", "fhir")
    finally:
        client.close()


@pytest.mark.parametrize("body", [b"[]", b'"Patient"', b"null", b"42"])
def test_json_of_the_wrong_type_is_malformed(
    hapi: Hapi,  # noqa: F811
    fhir: FhirClient,
    ehrbase: Target,  # noqa: F811
    body: bytes,
) -> None:
    hapi.server.set_faults(body_bytes=body, content_type="application/fhir+json")
    with pytest.raises(UpstreamMalformed):
        fhir.read_patient("1000")
    assert ehrbase.server is not None
    ehrbase.server.set_faults(body_bytes=body)
    with pytest.raises(UpstreamMalformed):
        aql(ehrbase)


@pytest.mark.parametrize("status", [400, 404, 500])
def test_a_deeply_nested_error_body_keeps_its_status(ehrbase: Target, status: int) -> None:  # noqa: F811
    assert ehrbase.server is not None
    ehrbase.server.set_faults(status=status, body=DEEP)
    with pytest.raises(errors.EhrbaseError) as caught:
        aql(ehrbase)
    assert caught.value.status == status
    if status == 500:
        assert isinstance(caught.value, UpstreamServerError)


def test_a_deeply_nested_fhir_error_body_keeps_its_status(hapi: Hapi, fhir: FhirClient) -> None:  # noqa: F811
    hapi.server.set_faults(status=500, body=DEEP, content_type="application/fhir+json")
    with pytest.raises(FhirServerError):
        fhir.read_patient("1000")
