"""Clinical staff in a real browser: find a patient, read the banner, open a letter, and an outage."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from console.sandbox.patients import nhs_number_of
from tests.support.browser import (
    LiveConsole,
    PageWatch,
    _clinician,
    _search_path,
    assert_accessible,
    focused,
    screenshot,
    tab_until,
)


def _patient(live: LiveConsole) -> dict[str, Any]:
    """A living synthetic patient with an NHS number and a family name unique in the data set."""
    patients = live.data["patients"]
    families = [p["name"][0].get("family", "") for p in patients]
    for patient in patients:
        family = patient["name"][0].get("family", "")
        if (
            families.count(family) == 1
            and nhs_number_of(patient)
            and "deceasedDateTime" not in patient
            and "deceasedBoolean" not in patient
        ):
            return patient
    raise AssertionError("no suitable synthetic patient")


def _patient_with_letters(live: LiveConsole) -> dict[str, Any]:
    """A synthetic patient with an NHS number whom the letter generator gave letters."""
    from console.sandbox.letters import SandboxPatient, generate_letters
    from tests.browser.emulators import SEED

    for patient in live.data["patients"]:
        person = SandboxPatient.from_fhir(patient, patient["id"])
        if nhs_number_of(patient) and generate_letters(person, seed=SEED):
            return patient
    raise AssertionError("no synthetic patient has letters")


def _hx_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.headers.get("hx-request") else None)
    return seen


def _formatted_nhs(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def test_active_patient_search_by_keyboard_then_banner(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    path = _search_path(live)
    patient = _patient(live)
    family = patient["name"][0]["family"]
    _clinician(live, page)
    page.goto(path)
    assert_accessible(page, "the patient search page")
    screenshot(page, artifacts, "patients-search-empty")
    requests = _hx_requests(page)
    live.delay_htmx(600)

    box = tab_until(page, lambda f: f["name"] == "q")
    assert box["visible"]
    page.keyboard.type(family, delay=30)
    indicator = page.locator(".htmx-indicator").first
    expect(indicator).to_be_visible()
    results = page.get_by_role("table")
    expect(results).to_contain_text(family.upper())
    expect(indicator).to_be_hidden()
    live.delay_htmx(0)
    typed = [u for u in requests if "q=" in u]
    assert len(typed) == 1, f"the debounce should send one search, not {typed}"
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(family)))
    assert focused(page)["name"] == "q", "focus left the search box after the results swapped"
    assert_accessible(page, "the patient search results")
    screenshot(page, artifacts, "patients-search-results")

    link = tab_until(page, lambda f: f["tag"] == "a" and family.upper() in f["text"].upper())
    assert link["visible"]
    page.keyboard.press("Enter")

    banner = page.locator(".patient-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(family.upper())
    expect(banner).to_contain_text(_formatted_nhs(nhs_number_of(patient) or ""))
    expect(banner).to_contain_text(re.compile(r"Born \d{2}-[A-Z][a-z]{2}-\d{4} \(\d+y\)"))
    expect(banner).to_contain_text(re.compile("Gender", re.I))
    expect(banner.get_by_role("button", name=re.compile("Copy", re.I))).to_be_visible()
    assert_accessible(page, "the patient page")
    screenshot(page, artifacts, "patient-page")


def test_open_a_letter_from_the_patient_page(live: LiveConsole, page: Any, artifacts: Path) -> None:
    path = _search_path(live)
    if live.ehrbase is None:
        pytest.skip("this build has no EHRbase emulator")
    patient = _patient_with_letters(live)
    number = nhs_number_of(patient)
    watch = PageWatch(page)
    _clinician(live, page)
    with watch.step(f"finding the patient by NHS number {number}"):
        page.goto(f"{path}?q={number}")
        found = page.get_by_role("table").get_by_role("link")
        expect(found).to_have_count(1)
    with watch.step("opening the patient page from the search result"):
        found.click()
        expect(page.locator(".patient-banner")).to_be_visible()
    # The panel is part of the page: wait for it, and when EHRbase could not be asked say why
    # (a failing first page must not send the test on to other patients, tripping the breaker).
    status = page.locator("#letters-status")
    with watch.step("waiting for the letters panel's status line", region="#letters"):
        expect(status).to_have_text(re.compile(r"\S"))
        said = status.inner_text()
    with watch.step(f"the letters panel saying {said!r}", region="#letters"):
        assert "cannot be shown" not in said, "the letters could not be read"
        letters = page.locator("#letters table a[href*='/letters/']")
        expect(letters.first).to_be_visible()
    assert_accessible(page, "the patient page with letters")
    title = letters.first.inner_text().strip()
    with watch.step(f"opening the letter {title!r}"):
        letters.first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(title)
        expect(page.locator(".patient-banner")).to_be_visible()
        expect(page.locator("main")).to_contain_text(re.compile(r"\d{2}-[A-Z][a-z]{2}-\d{4}"))
    assert_accessible(page, "the letter page")
    screenshot(page, artifacts, "letter-page")


def test_hapi_outage_shows_a_retry_then_recovers(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    path = _search_path(live)
    patient = _patient(live)
    family = patient["name"][0]["family"]
    _clinician(live, page)
    assert live.hapi is not None
    live.hapi.refuse_connections()
    try:
        page.goto(f"{path}?q={family}")
        main = page.locator("main")
        expect(main).to_contain_text(re.compile(r"not available|unavailable|could not", re.I))
        expect(main).not_to_contain_text(re.compile("no patients match", re.I))
        retry = page.get_by_role("button", name=re.compile("try again|retry", re.I)).or_(
            page.get_by_role("link", name=re.compile("try again|retry", re.I))
        )
        expect(retry.first).to_be_visible()
        assert_accessible(page, "the patient search during an outage")
        screenshot(page, artifacts, "patients-search-outage")
    finally:
        live.hapi.accept_connections()
    retry.first.click()
    expect(page.get_by_role("table")).to_contain_text(family.upper())
