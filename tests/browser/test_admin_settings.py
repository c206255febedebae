"""The settings page in a real browser: Save stays disabled until something changed, a change
can be saved and reverted, and a connection test reports back in place."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from console.appsettings import get_setting
from tests.support.browser import LiveConsole, create_user, sign_in


def _stored(live: LiveConsole, key: str) -> Any:
    with live.app.app_context():
        return get_setting(key)


def test_save_is_enabled_only_by_a_change_and_a_saved_change_can_be_reverted(
    live: LiveConsole, page: Any
) -> None:
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto("/admin/settings")
    save = page.get_by_role("button", name="Save changes")
    status = page.locator("#settings-changes")
    expect(save).to_be_disabled()
    expect(status).to_have_text("No changes yet.")

    size = page.get_by_label("Patients per results page")
    size.fill("35")
    expect(save).to_be_enabled()
    expect(status).to_have_text("1 setting changed, not saved yet.")
    size.fill("20")  # back to what was loaded: nothing to save again
    expect(save).to_be_disabled()
    assert _stored(live, "clinical.fhir_page_size") == 20

    size.fill("35")
    save.click()
    expect(page.get_by_text("Saved: Patients per results page.")).to_be_visible()
    assert _stored(live, "clinical.fhir_page_size") == 35
    expect(page.get_by_role("button", name="Save changes")).to_be_disabled()

    revert = re.compile(r"^Revert to default\W+Patients per results page$")
    page.get_by_role("button", name=revert).click()
    expect(page.get_by_text("Patients per results page is back to its default.")).to_be_visible()
    expect(page.get_by_label("Patients per results page")).to_have_value("20")
    assert _stored(live, "clinical.fhir_page_size") == 20


def test_an_invalid_value_is_explained_next_to_its_field(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto("/admin/settings")
    page.get_by_label("Idle timeout (minutes)").fill("0")
    page.get_by_role("button", name="Save changes").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Idle timeout (minutes)")
    expect(page.get_by_label("Idle timeout (minutes)")).to_have_attribute("aria-invalid", "true")
    # The form keeps the typed value, and Save stays usable to correct it.
    expect(page.get_by_role("button", name="Save changes")).to_be_enabled()
    assert _stored(live, "security.idle_timeout_minutes") == 15


def test_a_connection_test_reports_in_place(live: LiveConsole, page: Any) -> None:
    if live.hapi is None:
        raise AssertionError("the HAPI FHIR emulator did not start")
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto("/admin/settings")
    page.get_by_role("button", name="Test HAPI FHIR").click()
    result = page.locator("#test-fhir-result")
    expect(result).to_contain_text("HAPI FHIR: connected.")
    expect(result).to_contain_text(re.compile(r"Time taken\s*\d+ ms"))
    expect(result).to_contain_text("Server version")
    assert page.url.endswith("/admin/settings")  # answered by htmx, no page load


_CONTRAST = """(el) => {
    const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const style = getComputedStyle(el);
    const fg = lum(rgb(style.color)), bg = lum(rgb(style.backgroundColor));
    return {ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05), opacity: style.opacity};
}"""


def test_the_disabled_save_button_is_readable(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto("/admin/settings")
    save = page.get_by_role("button", name="Save changes")
    expect(save).to_be_disabled()
    seen = save.evaluate(_CONTRAST)
    assert seen["opacity"] == "1" and seen["ratio"] >= 4.5, seen


def test_durations_read_out_in_hours_and_minutes(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto("/admin/settings")
    reset = page.get_by_label("Forget failures after (seconds)")
    reading = page.locator("#" + reset.get_attribute("id") + "-reading")
    expect(reading).to_have_text("= 12 hours")  # stored as 43200 seconds
    assert reset.input_value() == "43200"
    reset.fill("5400")
    expect(reading).to_have_text("= 1 hour 30 minutes")
    idle = page.get_by_label("Idle timeout (minutes)")
    expect(page.locator("#" + idle.get_attribute("id") + "-reading")).to_have_text("= 15 minutes")
    idle.fill("1440")
    expect(page.locator("#" + idle.get_attribute("id") + "-reading")).to_have_text("= 1 day")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash-success")).to_be_visible()
    assert _stored(live, "security.lockout_failure_reset_seconds") == 5400


def test_leaving_with_unsaved_changes_asks_first(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "settings.admin", ("System administrator",))
    sign_in(page, "settings.admin")
    page.goto("/admin/settings")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    page.get_by_label("Patients per results page").fill("35")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_label("Patients per results page")).to_have_value("35")
    assert asked == ["beforeunload"]
    assert page.url.endswith("/admin/settings")

    page.get_by_role("button", name="Save changes").click()  # saving is not leaving
    expect(page.locator(".flash-success")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    assert asked == ["beforeunload"]
