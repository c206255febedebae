"""Picking a patient in a real browser: results pages live in the address (back, forward and
reload work), and an NHS number typed in its 3-3-4 chunks is not an error until complete."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from playwright.sync_api import expect

from console.appsettings import store_setting
from console.db import db
from tests.support.browser import LiveConsole, _clinician, _search_path

RANGE = re.compile(r"Patients? (\d+)(?:\u2013(\d+))? of ")


def _common_family(live: LiveConsole) -> tuple[str, int]:
    families = Counter(p["name"][0].get("family", "") for p in live.data["patients"])
    family, count = families.most_common(1)[0]
    assert count >= 2, "the synthetic data set has a family name shared by two patients"
    return family, count


def _first_shown(page: Any) -> int:
    status = page.locator("#patient-results-status")
    expect(status).to_have_text(RANGE)
    match = RANGE.search(status.inner_text())
    assert match is not None
    return int(match.group(1))


def test_results_pages_are_in_the_address_for_back_forward_and_reload(
    live: LiveConsole, page: Any
) -> None:
    path = _search_path(live)
    with live.app.app_context():
        store_setting("clinical.fhir_page_size", 1, None)
        db.session.commit()
    family, _count = _common_family(live)
    _clinician(live, page)
    page.goto(f"{path}?q={family}")
    assert _first_shown(page) == 1

    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"[?&]page="))
    expect(page.locator("#patient-results-status")).to_have_text(re.compile(r"^Patient 2 of"))
    second_url = page.url

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"[?&]page="))
    expect(page.locator("#patient-results-status")).to_have_text(re.compile(r"^Patient 1 of"))

    page.go_forward()
    expect(page).to_have_url(second_url)
    expect(page.locator("#patient-results-status")).to_have_text(re.compile(r"^Patient 2 of"))

    page.reload()
    expect(page.locator("#patient-results-status")).to_have_text(re.compile(r"^Patient 2 of"))
    expect(page.get_by_role("link", name="Previous page")).to_be_visible()


def test_an_nhs_number_typed_in_chunks_is_not_an_error_until_submitted(
    live: LiveConsole, page: Any
) -> None:
    path = _search_path(live)
    _clinician(live, page)
    page.goto(path)
    answered: list[str] = []
    page.on(
        "response",
        lambda r: answered.append(r.url) if r.request.headers.get("hx-request") else None,
    )
    box = page.get_by_label("NHS number, name, or name and date of birth")
    for chunk in ("999 ", "912 ", "10"):
        with page.expect_response(lambda r: "/patients/" in r.url and "q=" in r.url):
            box.press_sequentially(chunk, delay=20)  # each pause sends what is typed so far
        expect(page.locator("#patient-q-error")).to_have_text("")
        expect(page.locator("#patient-results-status")).to_have_text("")
    assert answered, "the pauses were sent to the server"
    box.press("Enter")
    expect(page.locator("#patient-q-error")).to_contain_text("10 digits")
    expect(page.locator("#patient-results-status")).to_have_text("Check what you entered.")
