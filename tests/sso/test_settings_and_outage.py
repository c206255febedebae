"""The single sign-on settings (validated, audited), "test connection", the sign-in page's
button, and a provider that cannot be reached."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from markupsafe import escape

from console.config import ConfigError, load_settings
from console.sso.signin import UNREACHABLE
from tests.sso.fake_idp import FakeIdp
from tests.support.admin import form_values, setting, signed_in
from tests.support.audit import audit_rows
from tests.support.sso import DEAD_PORT, sso_environ
from tests.support.users import make_user, sign_in


def test_oidc_variables_come_all_together_and_the_secret_is_never_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**sso_environ("https://idp.example.org/realms/x"), "OIDC_CLIENT_SECRET": "s3cr3t-value"}
    settings = load_settings(env, instance_path=tmp_path)
    assert settings.sso_enabled and settings.OIDC_CLIENT_SECRET.reveal() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings) + str(settings.redacted())
    assert settings.redacted()["OIDC_CLIENT_SECRET"] == "********"
    try:
        load_settings({"OIDC_ISSUER": "https://idp.example.org"}, instance_path=tmp_path)
    except ConfigError as exc:
        assert "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET must be set" in str(exc)
    else:
        raise AssertionError("a lone OIDC_ISSUER was accepted")


def test_the_role_mapping_is_validated_saved_and_audited(sso_app: Flask) -> None:
    admin = signed_in(sso_app, "root", ("System administrator",))
    bad = form_values(admin) | {"sso.role_mapping": "clinicians = Surgeon General"}
    response = admin.post("/admin/settings", bad)
    assert response.status_code == 400
    assert "There is no role called “Surgeon General”." in response.get_data(as_text=True)
    malformed = form_values(admin) | {"sso.role_mapping": "clinicians Clinician"}
    assert "is not of the form" in admin.post("/admin/settings", malformed).get_data(as_text=True)

    good = form_values(admin) | {"sso.role_mapping": "docs = Clinician, Auditor"}
    assert admin.post("/admin/settings", good).status_code == 302
    assert setting(sso_app, "sso.role_mapping") == "docs = Clinician, Auditor"
    row = audit_rows(sso_app, "setting.update")[-1]
    assert row.after == {"sso.role_mapping": "docs = Clinician, Auditor"}


def test_test_connection_fetches_discovery_and_keys(sso_app: Flask, fake_idp: FakeIdp) -> None:
    admin = signed_in(sso_app, "root", ("System administrator",))
    html = admin.post("/admin/settings/test/oidc", htmx=True).get_data(as_text=True)
    assert "Identity provider: connected." in html and "1 signing key" in html
    assert fake_idp.jwks_requests == 1


def test_test_connection_reports_an_unreachable_provider(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(ENVIRON=sso_environ(f"http://127.0.0.1:{DEAD_PORT}"))
    admin = signed_in(app, "root", ("System administrator",))
    html = admin.post("/admin/settings/test/oidc", htmx=True).get_data(as_text=True)
    assert "The server could not be reached." in html


def test_the_sign_in_page_shows_the_button_only_when_configured(app: Flask, sso_app: Flask) -> None:
    assert "sso-sign-in" not in app.test_client().get("/auth/login").get_data(as_text=True)
    assert app.test_client().get("/auth/sso/login").status_code == 404
    page = sso_app.test_client().get("/auth/login").get_data(as_text=True)
    assert "Sign in with your organisation account" in page


def test_an_unreachable_provider_gets_a_clear_message_and_passwords_still_work(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(ENVIRON=sso_environ(f"http://127.0.0.1:{DEAD_PORT}"))
    client = app.test_client()
    response = client.get("/auth/sso/login")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    assert str(escape(UNREACHABLE)) in client.get("/auth/login").get_data(as_text=True)
    make_user(app, "alice")
    assert sign_in(client, "alice").status_code == 302
    assert client.get("/auth/account").status_code == 200


def test_the_callback_is_rate_limited_like_the_sign_in_form(
    app_factory: Callable[..., Flask], fake_idp: FakeIdp
) -> None:
    app = app_factory(
        ENVIRON=sso_environ(fake_idp.issuer), RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per hour"
    )
    client = app.test_client()
    statuses = [client.get("/auth/sso/callback?code=x&state=y").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
