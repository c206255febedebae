"""EHR creation: the EHR comes back in the same answer, and losing a race reads the winner's EHR."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from console.openehr import errors
from console.openehr.client import Ehr, EhrbaseClient
from console.sandbox.ehrbase import EhrbaseEmulator
from tests.support.openehr import Target

EHR_PATH = "/ehrbase/rest/openehr/v1/ehr"


def subject() -> str:
    return f"race-{uuid.uuid4()}"


@pytest.fixture
def emulator(ehrbase: Target) -> Iterator[EhrbaseEmulator]:
    assert ehrbase.emulator is not None
    ehrbase.emulator.calls.clear()
    yield ehrbase.emulator
    ehrbase.emulator.ignore_prefer = False


def ehr_calls(emulator: EhrbaseEmulator) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in emulator.calls if c.path.startswith(EHR_PATH)]


def subjects_held(emulator: EhrbaseEmulator, subject_id: str) -> int:
    return sum(
        1
        for record in emulator.ehrs.values()
        if ((record.status.get("subject") or {}).get("external_ref") or {})
        .get("id", {})
        .get("value")
        == subject_id
    )


def test_creation_asks_for_the_representation_and_needs_one_request(
    ehrbase: Target, emulator: EhrbaseEmulator
) -> None:
    created = ehrbase.client().create_ehr(subject(), "fhir")
    assert created.ehr_id in emulator.ehrs
    assert created.system_id == emulator.system_id
    assert created.time_created
    # With ``Prefer: return=representation`` the body is the EHR: no second request to read it.
    assert ehr_calls(emulator) == [("POST", EHR_PATH)]


def test_a_server_that_ignores_prefer_still_yields_the_ehr(
    ehrbase: Target, emulator: EhrbaseEmulator
) -> None:
    emulator.ignore_prefer = True
    created = ehrbase.client().create_ehr(subject(), "fhir")
    assert created.ehr_id in emulator.ehrs
    assert ehr_calls(emulator) == [("POST", EHR_PATH), ("GET", f"{EHR_PATH}/{created.ehr_id}")]


def test_losing_the_race_reads_the_winners_ehr_and_does_not_claim_it(
    ehrbase: Target, emulator: EhrbaseEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject_id = subject()
    winner = ehrbase.client().create_ehr(subject_id, "fhir")
    loser = ehrbase.client()
    real_find = loser.find_ehr
    answers: list[Ehr | None] = [None]  # the loser looked before the winner had written

    def stale_then_real(subject_id: str, namespace: str) -> Ehr | None:
        return answers.pop() if answers else real_find(subject_id, namespace)

    monkeypatch.setattr(loser, "find_ehr", stale_then_real)
    emulator.calls.clear()
    ehr, created = loser.ensure_ehr(subject_id, "fhir")
    assert ehr.ehr_id == winner.ehr_id
    assert created is False
    assert subjects_held(emulator, subject_id) == 1
    assert ("POST", EHR_PATH) in ehr_calls(emulator)  # the 409 really happened


def test_concurrent_creation_for_one_subject_gives_one_ehr(
    ehrbase: Target, emulator: EhrbaseEmulator
) -> None:
    subject_id = subject()
    clients = [ehrbase.client() for _ in range(6)]
    start = threading.Barrier(len(clients))
    results: list[tuple[Ehr, bool]] = []
    failures: list[BaseException] = []

    def create(client: EhrbaseClient) -> None:
        start.wait()
        try:
            results.append(client.ensure_ehr(subject_id, "fhir"))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failures == []
    assert len({ehr.ehr_id for ehr, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert subjects_held(emulator, subject_id) == 1


def test_a_conflict_that_is_not_a_race_is_reported(
    ehrbase: Target, emulator: EhrbaseEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ehrbase.client()
    monkeypatch.setattr(client, "find_ehr", lambda subject_id, namespace: None)
    subject_id = subject()
    client.create_ehr(subject_id, "fhir")
    with pytest.raises(errors.EhrbaseConflict) as caught:
        client.create_ehr(subject_id, "fhir")
    assert caught.value.status == 409
    assert "partyId" in caught.value.diagnostics
