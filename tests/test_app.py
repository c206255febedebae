"""The app: sign-in reaches the dashboard, anonymous users are sent to sign-in, error pages."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.permissions import AUTHENTICATED, PERMISSIONS, PUBLIC, require_permission
from tests.support.users import csrf_token, make_user, sign_in


def test_admin_signs_in_and_reaches_the_dashboard(app: Flask, client: FlaskClient) -> None:
    make_user(app, "root", roles=("System administrator",), full_name="Rita Root")
    response = sign_in(client, "ROOT")  # usernames are case-insensitive
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Welcome, Rita Root" in page
    assert "Sign out" in page


def test_wrong_password_keeps_the_user_on_the_form_with_a_message(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, "root", roles=("System administrator",))
    response = sign_in(client, "root", "not the password at all")
    assert response.status_code == 400
    assert "The username or password is not right." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message_as_a_wrong_password(client: FlaskClient) -> None:
    response = sign_in(client, "nobody", "whatever whatever")
    assert response.status_code == 400
    assert "The username or password is not right." in response.get_data(as_text=True)


def test_disabled_user_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    make_user(app, "gone", active=False)
    assert sign_in(client, "gone").status_code == 400
    assert client.get("/").status_code == 302


def test_unauthenticated_requests_are_redirected_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/"


def test_htmx_requests_without_a_session_get_a_client_redirect(client: FlaskClient) -> None:
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login")


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, "root", roles=("Clinician",))
    token = csrf_token(client)
    for target, expected in (("/?tab=1", "/?tab=1"), ("//evil.example/x", "/"),
                             ("https://evil.example/", "/"), ("/\\evil.example", "/")):  # fmt: skip
        response = client.post(
            "/auth/login?next=" + target,
            data={
                "csrf_token": token,
                "username": "root",
                "password": "correct horse battery staple 42",
            },
        )
        assert response.headers["Location"] == expected, target
        client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
        token = csrf_token(client)


def test_sign_in_without_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    make_user(app, "root")
    response = client.post(
        "/auth/login", data={"username": "root", "password": "correct horse battery staple 42"}
    )
    assert response.status_code == 400
    assert "The form had expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_route_gives_the_console_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "Quill Console" in page


def test_wrong_method_gives_405_page_with_allow_header(client: FlaskClient) -> None:
    response = client.get("/auth/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "Not allowed here" in response.get_data(as_text=True)


def test_every_route_declares_a_permission(app: Flask) -> None:
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and getattr(app.view_functions[rule.endpoint], "required_permission", None)
        not in (*PERMISSIONS, AUTHENTICATED, PUBLIC)
    ]
    assert missing == []


def test_a_route_without_a_declared_permission_is_refused(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()

    @app.route("/undeclared")
    def undeclared() -> str:
        return "secret"

    assert app.test_client().get("/undeclared").status_code == 403


def test_a_user_without_the_permission_gets_403_not_the_page(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()

    @app.route("/audit-only")
    @require_permission("audit.view")
    def audit_only() -> str:
        return "audit data"

    make_user(app, "clin", roles=("Clinician",))
    make_user(app, "aud", roles=("Auditor",))
    client = app.test_client()
    sign_in(client, "clin")
    response = client.get("/audit-only")
    assert response.status_code == 403 and "audit data" not in response.get_data(as_text=True)
    other = app.test_client()
    sign_in(other, "aud")
    assert other.get("/audit-only").get_data(as_text=True) == "audit data"


def test_navigation_shows_only_what_the_roles_allow(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory()

    @app.route("/admin-users-probe")
    @require_permission("users.manage")
    def probe() -> str:
        return "ok"

    from console import navigation

    original = navigation.SECTIONS
    navigation.SECTIONS = (navigation.Section("Users", "probe", "users.manage", "Manage users."),)
    try:
        make_user(app, "clin", roles=("Clinician",))
        make_user(app, "root", roles=("System administrator",))
        clinician, admin = app.test_client(), app.test_client()
        sign_in(clinician, "clin")
        sign_in(admin, "root")
        assert 'href="/admin-users-probe"' not in clinician.get("/").get_data(as_text=True)
        assert 'href="/admin-users-probe"' in admin.get("/").get_data(as_text=True)
    finally:
        navigation.SECTIONS = original


def test_sign_in_and_failures_are_audited(app: Flask, client: FlaskClient) -> None:
    from sqlalchemy import select

    from console.db import db
    from console.db.models import AuditEvent

    user_id = make_user(app, "root")
    sign_in(client, "root", "wrong wrong wrong")
    sign_in(client, "root")
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.sign_in").order_by(AuditEvent.id)
        ).all()
        assert [(e.outcome, e.target_id) for e in events] == [
            ("failure", str(user_id)),
            ("success", str(user_id)),
        ]
        assert events[0].details["reason"] == "wrong password"
        assert events[1].actor_username == "root"


@pytest.mark.parametrize(("hops", "recorded"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_client_address_comes_from_the_proxy_only_when_one_is_declared(
    app_factory, hops: int, recorded: str
) -> None:  # type: ignore[no-untyped-def]
    """Behind CONSOLE_PROXY_HOPS proxies the audit trail (and the rate limit) see the real
    client; without one, a forged X-Forwarded-For changes nothing."""
    from sqlalchemy import select

    from console.db import db
    from console.db.models import AuditEvent

    app = app_factory(PROXY_HOPS=hops)
    client = app.test_client()
    make_user(app, "root")
    token = csrf_token(client)
    client.post(
        "/auth/login",
        data={"csrf_token": token, "username": "root", "password": "wrong wrong wrong"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.sign_in")
        ).one()
        assert event.client_address == recorded


def test_a_database_outage_gets_a_page_that_says_so(tmp_path, migrated_sqlite_template) -> None:  # type: ignore[no-untyped-def]
    """Signed in, then the auth database goes away: every page answers 503 saying the database
    is not answering (not a generic error, not a sign-in form that cannot work); when it is
    back, the same session works again."""
    import shutil

    from console.db import db
    from tests.support.environment import base_config

    folder = tmp_path / "db"
    folder.mkdir()
    shutil.copy(migrated_sqlite_template, folder / "auth.sqlite3")
    from console import create_app

    app = create_app(
        base_config(tmp_path, f"sqlite:///{folder / 'auth.sqlite3'}")
        | {"PROPAGATE_EXCEPTIONS": False}
    )
    make_user(app, "root", roles=("System administrator",))
    client = app.test_client()
    sign_in(client, "root")
    assert client.get("/").status_code == 200

    with app.app_context():
        db.engine.dispose()
    folder.rename(tmp_path / "moved")
    for path in ("/", "/admin/users", "/auth/login"):
        response = client.get(path, follow_redirects=True)
        page = response.get_data(as_text=True)
        assert response.status_code == 503
        assert "database is not answering" in page and "Nothing was changed" in page
        assert "Traceback" not in page and "sqlite" not in page.lower()

    (tmp_path / "moved").rename(folder)
    assert client.get("/").status_code == 200, "the session survives the outage"


def test_an_unreachable_postgresql_gets_the_database_page_not_a_500(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console import create_app
    from tests.support.environment import base_config

    app = create_app(
        base_config(tmp_path, "postgresql+psycopg://auth_user@127.0.0.1:9/quill_auth")
        | {"PROPAGATE_EXCEPTIONS": False}
    )
    client = app.test_client()
    # The sign-in page itself needs no database (nothing is stored before sign-in); signing in does.
    response = client.post(
        "/auth/login", data={"csrf_token": csrf_token(client), "username": "a", "password": "b"}
    )
    assert response.status_code == 503
    assert "database is not answering" in response.get_data(as_text=True)
    assert app.test_client().get("/health/ready").status_code == 503
