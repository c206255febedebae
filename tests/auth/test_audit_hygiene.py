"""What failed sign-ins record of the typed username, the settings page's mandatory concurrency
check, and the safe bounds of the security settings."""

from __future__ import annotations

from flask import Flask

from console.appsettings import CATALOGUE
from tests.support.admin import signed_in
from tests.support.audit import audit_rows
from tests.support.auth import login_form
from tests.support.users import DEFAULT_PASSWORD, make_user


def test_a_failed_sign_in_records_the_username_only_when_it_could_be_one(app: Flask) -> None:
    make_user(app, "alice")
    client = app.test_client()
    login_form(client, "Alice", "wrong password here")
    login_form(client, "no.such.person", "wrong password here")
    login_form(client, DEFAULT_PASSWORD, "wrong password here")  # a password in the wrong box
    login_form(client, "p@ss w0rd!", "x")
    recorded = [e.details["username"] for e in audit_rows(app, "auth.sign_in")]
    assert recorded == ["alice", "no.such.person", "unknown account", "unknown account"]


def test_a_settings_post_without_the_values_the_page_showed_is_stale(app: Flask) -> None:
    admin = signed_in(app, "root", ("System administrator",))
    response = admin.post("/admin/settings", {"clinical.fhir_page_size": "50"})
    assert response.status_code == 400
    assert "did not say what value the page showed" in response.get_data(as_text=True)
    with app.test_request_context():
        from console.appsettings import get_setting

        assert get_setting("clinical.fhir_page_size") == 20
    assert audit_rows(app, "setting.update") == []


def test_security_settings_keep_to_safe_bounds_and_name_their_sources(app: Flask) -> None:
    admin = signed_in(app, "root", ("System administrator",))
    page = admin.get("/admin/settings").get_data(as_text=True)
    original = {f"original:{key}": str(CATALOGUE[key].default) for key in CATALOGUE}
    for key, unsafe, message in (
        ("security.absolute_timeout_hours", "25", "at most 24"),
        ("security.lockout_failures", "11", "at most 10"),
        ("security.lockout_wait_increment_seconds", "59", "at least 60"),
        ("security.lockout_max_wait_seconds", "30", "at least 60"),
    ):
        response = admin.post("/admin/settings", original | {key: unsafe})
        assert response.status_code == 400, key
        assert f"Enter a number of {message}." in response.get_data(as_text=True), key
        assert "ASVS 5.0" in CATALOGUE[key].help or key == "security.lockout_max_wait_seconds"
    assert "NIST SP 800-63B" in page and "ASVS 5.0 V7.3.2" in page
    assert audit_rows(app, "setting.update") == []
