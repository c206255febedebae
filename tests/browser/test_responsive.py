"""Every main page on a phone (390 px), a ward tablet (768 px) and a desktop (1366 px): nothing
wider than the screen, tables scroll inside their own region, identifiers never break mid-word,
axe-core stays clean, and a screenshot of each is kept in test-artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import url_for
from sqlalchemy import select

from console.auth import clock
from console.db import db
from console.db.models import User
from console.sandbox.patients import nhs_number_of
from tests.support.browser import LiveConsole, axe_violations, create_user, screenshot, sign_in
from tests.support.users import DEFAULT_PASSWORD

WIDTHS = (390, 768, 1366)

# Text that must stay on one line wherever it appears: NHS numbers, dates and times, badges,
# usernames, and a table heading with its sort arrow.
UNBROKEN = (
    ".nhs-number, time, .badge, .username, .data-table th a, "
    ".patient-results td:nth-child(2), .letters-table td:nth-child(2), "
    ".record-viewers td:first-child"
)

_MEASURE = """(selector) => {
    const doc = document.documentElement;
    const broken = [];
    for (const el of document.querySelectorAll(selector)) {
        if (!el.getClientRects().length || !el.textContent.trim()) { continue; }
        const range = document.createRange();
        range.selectNodeContents(el);
        const tops = new Set([...range.getClientRects()]
            .filter(r => r.width > 1 && r.height > 1).map(r => Math.round(r.bottom)));
        if (tops.size > 1) { broken.push(el.textContent.trim().replace(/\\s+/g, ' ')); }
    }
    return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, broken: broken};
}"""


def _paths(live: LiveConsole, admin_id: int) -> dict[str, str]:
    """The main pages, by screenshot name (only those this build has)."""
    endpoints: dict[str, tuple[str, dict[str, Any]]] = {
        "dashboard": ("home.dashboard", {}),
        "users": ("admin.users", {}),
        "user-detail": ("admin.user_detail", {"user_id": admin_id}),
        "user-create": ("admin.user_create", {}),
        "roles": ("admin.roles", {}),
        "sessions": ("admin.sessions", {}),
        "settings": ("admin.settings", {}),
        "audit": ("admin.audit", {}),
        "templates": ("letters.templates", {}),
        "status": ("ops.status", {}),
        "account": ("auth.account", {}),
    }
    paths: dict[str, str] = {}
    with live.app.test_request_context():
        for name, (endpoint, values) in endpoints.items():
            if endpoint in live.app.view_functions:
                paths[name] = url_for(endpoint, **values)
        if live.hapi is not None and "patients.search" in live.app.view_functions:
            patient = next(p for p in live.data["patients"] if nhs_number_of(p))
            family = patient["name"][0]["family"]
            paths["patient-search"] = url_for("patients.search", q=family)
            paths["patient"] = url_for("patients.patient", patient_id=patient["id"])
    return paths


def _letter_path(live: LiveConsole) -> str | None:
    """A letter of a synthetic patient who has some (None without EHRbase)."""
    if live.ehrbase is None or "letters.letter" not in live.app.view_functions:
        return None
    from console.sandbox.letters import SandboxPatient, generate_letters
    from tests.browser.emulators import SEED

    for patient in live.data["patients"]:
        person = SandboxPatient.from_fhir(patient, patient["id"])
        if nhs_number_of(patient) and generate_letters(person, seed=SEED):
            with live.app.test_request_context():
                return url_for("patients.patient", patient_id=patient["id"])
    return None


@contextmanager
def _letters_of_another_patient(live: LiveConsole, patient_id: str) -> Iterator[None]:
    """While inside, EHRbase answers every letter query with ``patient_id``'s letters alone (a
    server bug the console must refuse, never show)."""
    from console.sandbox.ehrbase import emulator_of

    assert live.ehrbase is not None
    emulator = emulator_of(live.ehrbase)
    emulator.foreign_subject, emulator.foreign_only = patient_id, True
    try:
        yield
    finally:
        emulator.foreign_subject, emulator.foreign_only = None, False


def _not_this_patients_letter(live: LiveConsole, page: Any) -> tuple[str, str] | None:
    """The address of one patient's letter under another patient, and the first patient's id
    (None without EHRbase): with EHRbase answering with the first patient's letters, it is the
    "not this patient's letter" page."""
    with_letters = _letter_path(live)
    if with_letters is None:
        return None
    page.goto(with_letters)
    href = page.locator(".letters-table a").first.get_attribute("href")
    found = re.fullmatch(r"/patients/([^/]+)/letters/([^/?]+)", href or "")
    assert found, f"not a letter link: {href}"
    owner, uid = found.groups()
    other = next(p["id"] for p in live.data["patients"] if nhs_number_of(p) and p["id"] != owner)
    with live.app.test_request_context():
        return url_for("letters.letter", patient_id=other, uid=uid), owner


def _user_id(live: LiveConsole, username: str) -> int:
    with live.app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == username))
    assert user_id is not None
    return int(user_id)


def _check(page: Any, width: int, name: str, artifacts: Path, found: dict[str, Any]) -> None:
    measured = page.evaluate(_MEASURE, UNBROKEN)
    problems: dict[str, Any] = {}
    if measured["scrollWidth"] > measured["clientWidth"]:
        problems["overflow"] = f"{measured['scrollWidth']} px wide in {measured['clientWidth']}"
    if measured["broken"]:
        problems["broken across lines"] = measured["broken"][:5]
    violations = axe_violations(page)
    if violations:
        problems["axe"] = violations
    if problems:
        found[f"{name} at {width} px ({page.url})"] = problems
    screenshot(page, artifacts, f"{name}-{width}")


@pytest.fixture
def visit(
    live: LiveConsole, context_factory: Callable[[str], Any]
) -> Callable[[int], tuple[Any, dict[str, str]]]:
    """A signed-in page of the given width, and the main pages' paths."""

    def open_at(width: int) -> tuple[Any, dict[str, str]]:
        admin_id = create_user(
            live.app,
            "wide.administrator",
            ("System administrator", "Clinical administrator", "Clinician", "Auditor"),
            full_name="Alexandra Wide-Administrator",
        )
        for n in range(3):
            create_user(live.app, f"ward.nurse{n}", ("Clinician",), full_name=f"Ward Nurse {n}")
        page = context_factory(live.url).new_page()
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/auth/login")
        return page, _paths(live, admin_id)

    return open_at


@pytest.mark.parametrize("width", WIDTHS)
def test_every_main_page_fits_the_screen(
    live: LiveConsole, visit: Callable[[int], tuple[Any, dict[str, str]]], artifacts: Path,
    width: int,
) -> None:  # fmt: skip
    page, paths = visit(width)
    found: dict[str, Any] = {}
    _check(page, width, "sign-in", artifacts, found)
    page.get_by_label("Username").fill("wide.administrator")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code", exact=True).wait_for()
    _check(page, width, "two-factor-code", artifacts, found)
    sign_in(page, "wide.administrator")
    for name, path in paths.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path} answered {response}"
        if name == "patient-search":
            page.locator(".patient-results").first.wait_for()
        _check(page, width, name, artifacts, found)
    patient_with_letters = _letter_path(live)
    if patient_with_letters is not None:
        page.goto(patient_with_letters)
        page.locator(".letters-table a").first.click()
        page.locator(".letter-meta").wait_for()
        _check(page, width, "letter", artifacts, found)
    _check_recent_pages(live, page, width, artifacts, found)
    assert not found, "pages that do not fit:\n" + json.dumps(found, indent=2)


def _open(page: Any, path: str, status: int = 200) -> None:
    response = page.goto(path)
    assert response is not None and response.status == status, f"{path} answered {response}"


def _check_recent_pages(
    live: LiveConsole, page: Any, width: int, artifacts: Path, found: dict[str, Any]
) -> None:
    """Step-up, the one-time password pages, an action's confirmation, the single sign-on link
    page, the "not this patient's letter" page and the two-factor pages."""
    nurse = _user_id(live, "ward.nurse0")
    _open(page, "/admin/users")  # the bulk panel opened by a tick, then its review dialog
    page.get_by_label("Select ward.nurse0").check()
    page.get_by_label("Action").select_option(label="Disable")
    _check(page, width, "users-bulk-panel", artifacts, found)
    page.get_by_role("button", name=re.compile("Review the change")).click()
    page.get_by_role("dialog").wait_for()
    _check(page, width, "users-bulk-review", artifacts, found)
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    _open(page, "/auth/confirm")
    _check(page, width, "step-up", artifacts, found)

    _open(page, f"/admin/users/{nurse}/actions/reset-password")
    _check(page, width, "user-action-confirm", artifacts, found)
    page.get_by_label("Generate a temporary password (shown to you once)").check()
    page.get_by_role("button", name="Reset password").click()
    page.locator("#temporary-password").wait_for()
    assert page.url.endswith(f"/admin/users/{nurse}/new-password")
    _check(page, width, "user-password-reset", artifacts, found)

    _open(page, "/admin/users/new")
    page.get_by_label("Username").fill("new.starter")
    page.get_by_label("Full name").fill("Bartholomew Newstarter-Fotheringham")
    page.get_by_label("E-mail address").fill("bartholomew.newstarter@example.org")
    page.get_by_role("button", name="Create user").click()
    page.locator("#temporary-password").wait_for()
    assert re.search(r"/admin/users/\d+/created$", page.url)
    _check(page, width, "user-created", artifacts, found)

    if "sso_admin.user_sign_in" in live.app.view_functions:  # reachable without an IdP set up
        with live.app.test_request_context():
            _open(page, url_for("sso_admin.user_sign_in", user_id=nurse))
        _check(page, width, "user-sso-link", artifacts, found)

    foreign = _not_this_patients_letter(live, page)
    if foreign is not None:
        path, owner = foreign
        with _letters_of_another_patient(live, owner):
            _open(page, path, status=409)
            page.get_by_text("This is not this patient's letter").wait_for()
            _check(page, width, "letter-not-this-patients", artifacts, found)

    _open(page, "/auth/two-factor/set-up")  # moving two-factor to a new app: last, as it does
    _check(page, width, "two-factor-set-up", artifacts, found)
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    code = pyotp.TOTP(secret).at(clock.now())
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Confirm and turn on").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    _check(page, width, "two-factor-recovery-codes", artifacts, found)


def test_a_wide_table_scrolls_in_its_own_region_with_its_first_column_fixed(
    live: LiveConsole, visit: Callable[[int], tuple[Any, dict[str, str]]]
) -> None:
    page, paths = visit(390)
    sign_in(page, "wide.administrator")
    page.goto(paths["users"])
    region = page.locator(".table-region").first
    assert region.get_attribute("tabindex") == "0", "a keyboard user cannot scroll the table"
    assert region.get_attribute("role") == "region" and region.get_attribute("aria-label")
    sizes = region.evaluate("r => ({scroll: r.scrollWidth, client: r.clientWidth})")
    assert sizes["scroll"] > sizes["client"], "the users table should be wider than a phone"
    username = page.get_by_role("link", name="wide.administrator")
    before = username.bounding_box()
    region.evaluate("r => { r.scrollLeft = r.scrollWidth; }")
    page.wait_for_function(
        "() => document.querySelector('.table-region').scrollLeft > 0", timeout=5_000
    )
    after = username.bounding_box()
    assert before is not None and after is not None
    assert after["x"] == pytest.approx(before["x"], abs=1), "the username column scrolled away"
