"""Printing a letter: a Print button, and on paper only the letter, full width, with the patient
banner and the letter's date, author, recipient and status at the top of every page."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import url_for
from playwright.sync_api import expect

from console.appsettings import store_setting
from console.db import db
from console.sandbox.patients import nhs_number_of
from tests.support.browser import LiveConsole, create_user, sign_in


def _open_a_letter(live: LiveConsole, page: Any) -> None:
    if live.ehrbase is None or "letters.letter" not in live.app.view_functions:
        pytest.skip("this build has no letters")
    from console.sandbox.letters import SandboxPatient, generate_letters
    from tests.browser.emulators import SEED

    for patient in live.data["patients"]:
        person = SandboxPatient.from_fhir(patient, patient["id"])
        if nhs_number_of(patient) and generate_letters(person, seed=SEED):
            with live.app.test_request_context():
                path = url_for("patients.patient", patient_id=patient["id"])
            break
    else:
        raise AssertionError("no synthetic patient has letters")
    with live.app.app_context():
        store_setting("display.environment_banner", "TRAINING", None)
        db.session.commit()
    create_user(live.app, "dr.print", ("Clinician",), full_name="Dr Print")
    sign_in(page, "dr.print")
    page.goto(path)
    page.locator(".letters-table a").first.click()
    page.locator(".letter-meta").wait_for()


def _meta(page: Any) -> dict[str, str]:
    items = page.locator(".letter-meta > div")
    return {
        items.nth(i).locator("dt").inner_text(): items.nth(i).locator("dd").inner_text()
        for i in range(items.count())
    }


def test_the_print_button_prints_the_page(live: LiveConsole, page: Any) -> None:
    _open_a_letter(live, page)
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("() => window.__printed") == 1


def test_a_printed_letter_shows_only_the_letter_at_full_width(live: LiveConsole, page: Any) -> None:
    _open_a_letter(live, page)
    expect(page.locator(".environment-banner")).to_have_text("TRAINING")
    page.emulate_media(media="print")
    for hidden in (".site-header", ".environment-banner", "nav", ".site-footer",
                   ".raw-composition", "button", ".letter-meta"):  # fmt: skip
        for i in range(page.locator(hidden).count()):
            expect(page.locator(hidden).nth(i)).to_be_hidden()
    expect(page.locator(".patient-banner")).to_be_visible()
    expect(page.locator(".letter-body")).to_be_visible()
    expect(page.locator(".letter-running-head")).to_be_visible()
    width = page.evaluate("() => document.documentElement.clientWidth")
    main = page.locator("main").bounding_box()
    assert main is not None and main["width"] == pytest.approx(width, abs=1)
    page.emulate_media(media="screen")
    expect(page.locator(".letter-running-head")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_visible()


def test_every_printed_page_carries_the_patient_and_the_letter_details(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    from pypdf import PdfReader

    _open_a_letter(live, page)
    meta = _meta(page)
    nhs = page.locator(".patient-banner .nhs-number").inner_text()
    name = page.locator(".patient-banner .patient-name").inner_text()
    # A long letter (the sandbox's are short): more paragraphs, so it runs over several pages.
    page.evaluate(
        """() => { const body = document.querySelector('.letter-body');
            for (let i = 1; i <= 120; i++) { const p = document.createElement('p');
                p.textContent = 'Further history, paragraph ' + i + '.'; body.appendChild(p); } }"""
    )
    pdf = page.pdf(format="A4")  # the paper letters are printed on
    (artifacts.parent / "letter-print.pdf").write_bytes(pdf)
    pages = [" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 3, "the long letter should run over several pages"
    for number, text in enumerate(pages, start=1):
        flat = re.sub(r"\s+", "", text)
        for expected in (nhs, name, meta["Date"], meta["Author"], meta["Recipient"],
                         meta["Status"], "Recipient", "Status"):  # fmt: skip
            assert re.sub(r"\s+", "", expected) in flat, f"page {number} lacks {expected!r}"
        assert "Quill Console" not in text and "TRAINING" not in text, f"page {number}: {text}"
        for absent in ("Raw composition", "Copy", "Back to the patient"):
            assert absent not in text, f"page {number} shows {absent!r}"
