"""The ``next`` parameter only ever leads to a path on this console (no open redirect)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.auth.redirects import safe_next_path
from tests.support.auth import post_form
from tests.support.users import DEFAULT_PASSWORD, csrf_token, make_user

ATTACKS = [
    "//evil.example",
    "///evil.example",
    "////evil.example/path",
    "https://evil.example/",
    "http://evil.example",
    "HTTPS://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "https:///evil.example",
    "ftp://evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\x00//evil.example",
    " //evil.example",
    "evil.example",
    "evil.example/path",
    "%2F%2Fevil.example",
    "\u2215\u2215evil.example",
    "//",
    "@evil.example",
]
SAFE = ["/", "/patients?q=smith", "/auth/account#sessions", "/admin/users?page=2&sort=name"]


@pytest.mark.parametrize("target", ATTACKS)
def test_off_site_and_ambiguous_targets_fall_back_to_the_default(target: str) -> None:
    assert safe_next_path(target, "/home") == "/home"


@pytest.mark.parametrize("target", SAFE)
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next_path(target, "/home") == target


def test_missing_next_gives_the_default() -> None:
    assert safe_next_path(None, "/home") == "/home"
    assert safe_next_path("", "/home") == "/home"


@pytest.mark.parametrize("target", ATTACKS[:16])
def test_sign_in_never_redirects_off_site(app: Flask, target: str) -> None:
    make_user(app, "alice")
    client = app.test_client()
    response = client.post(
        "/auth/login",
        query_string={"next": target},
        data={"csrf_token": csrf_token(client), "username": "alice", "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_a_local_page_with_its_query(app: Flask, client: FlaskClient) -> None:
    make_user(app, "alice")
    response = client.post(
        "/auth/login",
        query_string={"next": "/auth/account?tab=sessions"},
        data={"csrf_token": csrf_token(client), "username": "alice", "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/auth/account?tab=sessions"


def test_the_sign_in_form_does_not_echo_an_off_site_next(client: FlaskClient) -> None:
    page = client.get("/auth/login", query_string={"next": "https://evil.example/"}).get_data(
        as_text=True
    )
    assert "evil.example" not in page


def test_password_change_next_is_checked_too(app: Flask, client: FlaskClient) -> None:
    make_user(app, "nina", must_change_password=True)
    client.post(
        "/auth/login",
        data={"csrf_token": csrf_token(client), "username": "nina", "password": DEFAULT_PASSWORD},
    )
    response = post_form(
        client,
        "/auth/password?next=//evil.example",
        {"new_password": "violet kettle harbour 9", "confirm_password": "violet kettle harbour 9"},
        token_from="/auth/password",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
