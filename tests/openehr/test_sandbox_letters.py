"""Synthetic letters: deterministic, realistic, valid for the template, loaded idempotently."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from console.openehr import letter_template as lt
from console.openehr.client import EhrbaseClient
from console.openehr.letters import list_letters
from console.sandbox.letters import SandboxPatient, generate_letters, load_letters
from tests.support.openehr import Target

PATIENTS = [f"sandbox-{n}" for n in range(40)]


def test_the_same_patient_always_gets_the_same_letters() -> None:
    assert generate_letters("patient-7") == generate_letters("patient-7")
    assert generate_letters("patient-7") != generate_letters("patient-8")
    assert generate_letters("patient-7", seed=1) != generate_letters("patient-7", seed=2)


def test_letters_are_varied_and_within_bounds() -> None:
    counts = [len(generate_letters(p)) for p in PATIENTS]
    assert min(counts) == 0 and max(counts) <= 20 and sum(counts) > 100
    every = [letter for p in PATIENTS for letter in generate_letters(p)]
    assert {letter.status for letter in every} == {"draft", "final", "amended"}
    assert len({letter.author for letter in every}) >= 6
    titles = {letter.title for letter in every}
    assert "Discharge summary" in titles
    assert any(t.startswith("Referral to") for t in titles)
    assert any(t.endswith("clinic letter") for t in titles)
    assert all(letter.date.tzinfo is not None for letter in every)
    assert all(letter.body_markdown.count("\n## ") >= 2 for letter in every)


def test_the_patient_name_appears_in_the_letter() -> None:
    letters = next(
        found
        for n in range(50)
        if (found := generate_letters(SandboxPatient(f"p{n}", "SMITH, Jane")))
    )
    assert all("SMITH, Jane" in letter.body_markdown for letter in letters)


def test_loading_is_idempotent_and_patients_without_letters_get_no_ehr(ehrbase: Target) -> None:
    client = ehrbase.client()
    patients = [f"load-{n}" for n in range(12)]
    first = load_letters(client, patients, namespace="sandbox")
    expected = sum(len(generate_letters(p)) for p in patients)
    assert first.failures == []
    assert first.letters_created == expected
    with_letters = [p for p in patients if generate_letters(p)]
    assert first.ehrs_created == len(with_letters)
    second = load_letters(client, patients, namespace="sandbox")
    assert second.template_uploaded is False
    assert second.letters_created == 0 and second.ehrs_created == 0
    assert second.patients_skipped == len(with_letters)
    empty = next(p for p in patients if not generate_letters(p))
    assert client.find_ehr(empty, "sandbox") is None
    sample = with_letters[0]
    page = list_letters(
        client, subject_id=sample, namespace="sandbox", template_id=lt.TEMPLATE_ID, page_size=50
    )
    assert len(page.letters) == len(generate_letters(sample))


@pytest.mark.live
def test_loading_into_a_real_ehrbase(target: Target) -> None:
    if target.server is not None:
        pytest.skip("covered against the emulator above")
    if target.admin_user is None:
        pytest.skip("EHRBASE_API_ADMIN_USER is not set")
    report = load_letters(
        target.client(), ["live-sandbox-1", "live-sandbox-2"], namespace="quill-test"
    )
    assert report.failures == []


class _OverlapWatch:
    """An EHRbase client that notes when a second EHR request starts before the first one
    has been answered (the first waits a moment for one to arrive)."""

    def __init__(self, client: EhrbaseClient) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.answered = False
        self.in_flight = 0
        self.second_arrived = threading.Event()
        self.overlapped = False

    def ensure_ehr(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            first = not self.answered and self.in_flight == 0
            if not self.answered and self.in_flight:
                self.overlapped = True
                self.second_arrived.set()
            self.in_flight += 1
        try:
            if first:
                self.second_arrived.wait(timeout=1)
            return self.client.ensure_ehr(*args, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.answered = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_the_first_ehr_is_made_alone_before_the_others_start(ehrbase: Target) -> None:
    """A fresh EHRbase records its API user at the first write and refuses a second request
    doing the same at that moment: the loader waits for one answer before going parallel."""
    watch = _OverlapWatch(ehrbase.client())
    patients = [f"first-{n}" for n in range(12)]
    report = load_letters(watch, patients, namespace="sandbox-first", workers=4)  # type: ignore[arg-type]
    assert report.failures == []
    assert not watch.overlapped
    assert report.ehrs_created == sum(1 for p in patients if generate_letters(p))
