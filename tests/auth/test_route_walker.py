"""Walk every route in ``app.url_map`` (including routes added later by any part of the console):
anonymous requests are sent to sign-in or refused, every response carries the security
headers, and every state-changing request without a CSRF token is rejected."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from console.permissions import AUTHENTICATED, PERMISSIONS, PUBLIC, declared_permission
from console.security_headers import CONTENT_SECURITY_POLICY
from tests.support.users import csrf_token, make_user, sign_in

# The only endpoints anyone may reach without signing in (besides /health/* and static files).
# Adding a public page means adding it here, on purpose.
PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.login_code",
    "auth.cancel_login",
    "sso.login",
    "sso.callback",
    "sso.backchannel_logout",
}
# Authenticated by a signed token instead of a session, so without a CSRF token (its own tests
# check that it refuses anything else: tests/sso/test_logout.py).
CSRF_EXEMPT_ENDPOINTS = {"sso.backchannel_logout"}
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
WALKED_METHODS = ("GET", *UNSAFE_METHODS)
ALL_ROLES = ("System administrator", "Clinician", "Clinical administrator", "Auditor")


def _is_health(rule: Rule) -> bool:
    return rule.rule.startswith("/health/") or rule.rule == "/health"


def _dummy(converter: Any) -> Any:
    name = type(converter).__name__
    if name == "IntegerConverter":
        return 1
    if name == "FloatConverter":
        return 1.0
    if name == "UUIDConverter":
        return uuid.UUID(int=1)
    if name == "AnyConverter":
        items = getattr(converter, "items", None)
        if items:
            return next(iter(items))
    return "x1"


def _url(app: Flask, rule: Rule, method: str) -> str:
    values = {arg: _dummy(conv) for arg, conv in rule._converters.items()}  # type: ignore[attr-defined]
    values.update({k: v for k, v in (rule.defaults or {}).items() if k not in values})
    with app.test_request_context():
        return url_for(rule.endpoint, _method=method, **values)


def _routes(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    for rule in app.url_map.iter_rules():
        for method in WALKED_METHODS:
            if method in (rule.methods or ()):
                yield rule, method, _url(app, rule, method)


def _assert_security_headers(response: Any, where: str, *, static: bool = False) -> None:
    headers = response.headers
    assert headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, where
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in (
        CONTENT_SECURITY_POLICY
    )
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    if not static:
        assert headers.get("Cache-Control") == "no-store", where


def test_the_csp_is_exactly_the_strict_policy() -> None:
    assert CONTENT_SECURITY_POLICY == (
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    )


def test_only_the_named_endpoints_are_public(app: Flask) -> None:
    with app.test_request_context():
        public = {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if declared_permission(rule.endpoint) == PUBLIC and not _is_health(rule)
        }
    assert public == PUBLIC_ENDPOINTS


def test_every_route_refuses_anonymous_requests_and_sends_the_headers(db_app: Flask) -> None:
    _walk_anonymously(db_app)


def test_with_single_sign_on_configured_every_route_still_refuses_anonymous_requests(
    app_factory: Callable[..., Flask],
) -> None:
    """Its routes then do their full work (the provider does not answer) instead of 404."""
    dead = os.environ.get("SSO_TEST_DEAD_PORT", "18185")
    app = app_factory(
        OIDC_ISSUER=f"http://127.0.0.1:{dead}/realms/quill",
        OIDC_CLIENT_ID="quill-console",
        OIDC_CLIENT_SECRET="walker-secret",
    )
    _walk_anonymously(app)
    client = app.test_client()
    assert client.get("/auth/sso/login").status_code == 302
    assert client.post("/auth/sso/backchannel-logout").status_code == 400


def _walk_anonymously(app: Flask) -> None:
    client = app.test_client()
    token = csrf_token(client)  # a valid token, so the refusal comes from the sign-in check
    walked = 0
    for rule, method, url in _routes(app):
        where = f"{method} {rule.rule} ({rule.endpoint})"
        kwargs: dict[str, Any] = {}
        if method in UNSAFE_METHODS:
            kwargs = {"data": {"csrf_token": token}, "headers": {"X-CSRFToken": token}}
        response = client.open(url, method=method, **kwargs)
        walked += 1
        if rule.endpoint == "static":
            _assert_security_headers(response, where, static=True)
            continue
        _assert_security_headers(response, where)
        if rule.endpoint in PUBLIC_ENDPOINTS or _is_health(rule):
            assert response.status_code < 500, where
            continue
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/auth/login"), where
        else:
            assert response.status_code in (401, 403), where
        assert "Welcome" not in response.get_data(as_text=True), where
    assert walked >= 10


def test_htmx_requests_get_a_client_redirect_to_sign_in(app: Flask) -> None:
    client = app.test_client()
    for rule, method, url in _routes(app):
        if method != "GET" or rule.endpoint in PUBLIC_ENDPOINTS or _is_health(rule):
            continue
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code in (401, 403), rule.endpoint
        if response.status_code == 401:
            assert response.headers["HX-Redirect"].startswith("/auth/login"), rule.endpoint


def _everything_user(app: Flask) -> FlaskClient:
    """A client signed in as a user holding every role (so every permission)."""
    make_user(app, "omni", roles=ALL_ROLES)
    client = app.test_client()
    assert sign_in(client, "omni").status_code == 302
    return client


@pytest.fixture
def everything_user(app: Flask) -> FlaskClient:
    """A client on ``app`` signed in with every permission."""
    return _everything_user(app)


def test_every_state_changing_request_without_a_csrf_token_is_rejected(db_app: Flask) -> None:
    app = db_app
    everything_user = _everything_user(app)
    anonymous = app.test_client()
    checked = 0
    for rule, method, url in _routes(app):
        if method not in UNSAFE_METHODS or rule.endpoint == "static":
            continue
        if rule.endpoint in CSRF_EXEMPT_ENDPOINTS:
            assert anonymous.open(url, method=method, data={"note": "x"}).status_code in (400, 404)
            continue
        for who, client in (("anonymous", anonymous), ("signed in", everything_user)):
            response = client.open(url, method=method, data={"note": "x"})
            where = f"{who}: {method} {rule.rule}"
            assert response.status_code == 400, where
            assert "The form had expired" in response.get_data(as_text=True), where
            _assert_security_headers(response, where)
            checked += 1
    assert checked >= 8
    assert everything_user.get("/").status_code == 200  # nothing above signed the user out


def test_a_signed_in_user_without_roles_is_refused_every_protected_page(app: Flask) -> None:
    make_user(app, "nobody", roles=())
    client = app.test_client()
    sign_in(client, "nobody")
    for rule, method, url in _routes(app):
        if method != "GET" or rule.endpoint == "static":
            continue
        permission = app.view_functions[rule.endpoint].required_permission  # type: ignore[attr-defined]
        if permission in ("public", "authenticated"):
            continue
        response = client.get(url)
        assert response.status_code == 403, rule.endpoint
        _assert_security_headers(response, rule.endpoint)


def test_every_route_declares_a_known_permission(app: Flask) -> None:
    known = {*PERMISSIONS, PUBLIC, AUTHENTICATED}
    with app.test_request_context():
        declared = {
            rule.endpoint: declared_permission(rule.endpoint) for rule in app.url_map.iter_rules()
        }
    undeclared = sorted(endpoint for endpoint, permission in declared.items() if permission is None)
    assert undeclared == []
    assert {permission for permission in declared.values()} <= known
    assert len(declared) >= 10


def test_a_route_that_declares_nothing_is_refused_even_to_a_signed_in_user(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory()
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret page")
    make_user(app, "omni", roles=ALL_ROLES)
    client = app.test_client()
    sign_in(client, "omni")
    response = client.get("/forgotten")
    assert response.status_code == 403
    assert "secret page" not in response.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_htmx_is_configured_for_the_strict_csp_and_sends_the_csrf_token_in_a_header(
    app: Flask, everything_user: FlaskClient
) -> None:
    html = everything_user.get("/").get_data(as_text=True)
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert match, "no htmx-config meta element"
    config = json.loads(match.group(1))
    assert config["includeIndicatorStyles"] is False and config["allowEval"] is False
    assert config["allowScriptTags"] is False and config["historyCacheSize"] == 0
    # The token travels in the X-CSRFToken header (as console.js sends it), with no form field.
    token = csrf_token(everything_user, "/")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    accepted = everything_user.post("/auth/account/sessions/end-others", headers=headers)
    assert accepted.status_code == 302
    refused = everything_user.post(
        "/auth/account/sessions/end-others", headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400
