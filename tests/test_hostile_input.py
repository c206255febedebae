"""Hostile input on every page and form: a clear answer, never a 500, never a script echoed.

Signed in with every role, against both emulators, the walker visits each GET route (with
real ids, so the pages do their full work) carrying odd query strings, then submits every
form those pages show with each field replaced by odd values (keeping the CSRF token, so the
handlers themselves are reached). Routes added later are walked too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import count
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from tests.support.fhir import hapi, hapi_server  # noqa: F401  (fixtures)
from tests.support.letters import World, a_letter, world  # noqa: F401  (fixtures)
from tests.support.openehr import ehrbase, ehrbase_server  # noqa: F401  (fixtures)
from tests.support.users import DEFAULT_PASSWORD, csrf_token, make_user, sign_in

ALL_ROLES = ("System administrator", "Clinician", "Clinical administrator", "Auditor")
SCRIPT = "<script>alert(1)</script>"
# Values as they arrive in a query string (already percent-encoded where it matters).
QUERY_VALUES = (
    "",
    "%00",
    "%ff%fe",
    "x" * 3000,
    "-1",
    "99999999999999999999999999",
    "1e309",
    "%D9%A3",  # ARABIC-INDIC DIGIT THREE
    quote(SCRIPT),
    quote("' OR 1=1 --"),
    "..%2F..%2Fetc%2Fpasswd",
    "2026-02-30",
    "nan",
)
FORM_VALUES = ("", "\x00", "\ufffd" * 3, "x" * 3000, "-1", "9" * 30, "٣", "nan", SCRIPT)
# Query parameters the console's pages read, besides those their own forms name.
KNOWN_PARAMETERS = ("page", "cursor", "after", "before", "sort", "dir", "size", "next", "count")
# Valid values for the forms that start empty, so that one odd field is what the handler meets.
BASELINES = {
    "/admin/users/new": {
        "username": "walk.new",
        "full_name": "Walk New",
        "email": "walk.new@example.org",
        "password_mode": "generate",
        "roles": "2",
    },
    "/admin/roles/new": {"name": "walk role", "description": "Made by the walk"},
    "/auth/password": {"current_password": DEFAULT_PASSWORD},
}
# Forms the walker leaves alone: they would end its own session.
SKIPPED_ACTIONS = ("/auth/logout", "/auth/login", "/auth/account/sessions", "/admin/sessions/end")


@dataclass
class Form:
    """A form found on a page: where it posts and its fields' names and values."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class FormParser(HTMLParser):
    """The forms of a page and every field name used on it."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.names: set[str] = set()
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(attributes.get("action", ""), attributes.get("method", "get"))
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea") and attributes.get("name"):
            self.names.add(attributes["name"])
            if self._current is not None and attributes.get("type") not in ("submit", "button"):
                self._current.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


@dataclass
class Walk:
    """The signed-in client, the app and the ids that make routes reach real records."""

    app: Flask
    client: FlaskClient
    ids: dict[str, object]
    problems: list[str] = field(default_factory=list)

    def check(self, what: str, response: object) -> None:
        status = response.status_code  # type: ignore[attr-defined]
        body = response.get_data(as_text=True)  # type: ignore[attr-defined]
        if status >= 500 and status not in (502, 503, 504):
            self.problems.append(f"{what}: {status}")
        if "Traceback (most recent call last)" in body:
            self.problems.append(f"{what}: a stack trace in the page")
        if SCRIPT in body:
            self.problems.append(f"{what}: the script came back unescaped")


# Single sign-on is configured (its provider does not answer), so its routes and the
# administrators' link page do their full work rather than answer 404.
SSO_CONFIG = {
    "OIDC_ISSUER": f"http://127.0.0.1:{os.environ.get('SSO_TEST_DEAD_PORT', '18185')}/realm",
    "OIDC_CLIENT_ID": "quill-console",
    "OIDC_CLIENT_SECRET": "walk-secret",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_factory(
    request: pytest.FixtureRequest, app_factory: Callable[..., Flask]
) -> Callable[..., Flask]:
    """The walk on both auth databases: PostgreSQL refuses what SQLite stores (NUL bytes)."""
    factory = (
        app_factory if request.param == "sqlite" else request.getfixturevalue("pg_app_factory")
    )
    return lambda **overrides: factory(**SSO_CONFIG, **overrides)


@pytest.fixture
def walk(world: World) -> Walk:  # noqa: F811
    """Signed in with every role; a patient with a letter, a role and a user to point at."""
    patient_id = world.patient("Hostile", "Ann")
    [letter_id] = world.letters(patient_id, [a_letter(1)])
    make_user(world.app, "walker", roles=ALL_ROLES)
    user_id = make_user(world.app, "target.user")
    client = world.app.test_client()
    assert sign_in(client, "walker").status_code == 302
    ids = {"patient_id": patient_id, "uid": letter_id, "user_id": user_id, "role_id": 1}
    return Walk(world.app, client, ids)


def _page_paths(walk: Walk) -> Iterator[str]:
    """The path of every GET page, with real ids where the route takes one."""
    for rule in walk.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        if rule.rule.startswith("/health") or rule.endpoint == "auth.login":
            continue
        values = {
            arg: walk.ids.get(arg, next(iter(getattr(conv, "items", ["x1"]))))
            for arg, conv in rule._converters.items()  # type: ignore[attr-defined]
        }
        if rule.endpoint == "admin.user_action":
            values["action"] = "unlock"
        with walk.app.test_request_context():
            yield url_for(rule.endpoint, **values)


def test_odd_address_parts_get_an_answer(walk: Walk) -> None:
    walked = 0
    for rule in walk.app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/health"):
            continue
        texts = [a for a, c in rule._converters.items() if type(c).__name__ == "UnicodeConverter"]  # type: ignore[attr-defined]
        for arg in texts:
            for value in QUERY_VALUES[1:]:
                values = {a: walk.ids.get(a, "x1") for a in rule.arguments} | {arg: "PLACEHOLDER"}
                with walk.app.test_request_context():
                    path = url_for(rule.endpoint, **values).replace("PLACEHOLDER", value)
                for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                    response = walk.client.open(path, method=method, data={})
                    walk.check(f"{method} {path[:160]}", response)
                    walked += 1
    assert walked >= 50, "the walker reached too few address parts"
    assert not walk.problems, "\n".join(walk.problems[:40])


def test_odd_query_strings_get_an_answer_on_every_page(walk: Walk) -> None:
    visited = 0
    for path in _page_paths(walk):
        page = walk.client.get(path)
        walk.check(f"GET {path}", page)
        parser = FormParser()
        parser.feed(page.get_data(as_text=True))
        names = sorted(parser.names | set(KNOWN_PARAMETERS) - {"csrf_token"})
        for value in QUERY_VALUES:
            everything = "&".join(f"{name}={value}" for name in names)
            walk.check(f"GET {path}?{everything[:120]}", walk.client.get(f"{path}?{everything}"))
            fragment = walk.client.get(f"{path}?{everything}", headers={"HX-Request": "true"})
            walk.check(f"GET (htmx) {path}?{everything[:120]}", fragment)
            for name in names:
                response = walk.client.get(path, query_string=f"{name}={value}&{name}=again")
                walk.check(f"GET {path}?{name}={value[:40]}", response)
        visited += 1
    assert visited >= 20, "the walker reached too few pages"
    assert not walk.problems, "\n".join(walk.problems[:40])


def test_odd_values_in_every_form_get_an_answer(walk: Walk) -> None:
    forms: dict[tuple[str, tuple[str, ...]], Form] = {}
    for path in _page_paths(walk):
        parser = FormParser()
        parser.feed(walk.client.get(path).get_data(as_text=True))
        for form in parser.forms:
            action = urlsplit(form.action).path or path
            if form.method.lower() != "post" or action.startswith(SKIPPED_ACTIONS):
                continue
            form.action = action
            forms.setdefault((action, tuple(sorted(form.fields))), form)
    assert len(forms) >= 8, f"the walker found too few forms: {sorted(forms)}"
    walked_actions = {action for action, _ in forms}
    assert f"/admin/users/{walk.ids['user_id']}/sign-in" in walked_actions, "no single sign-on link"
    serial = count()
    for form in forms.values():
        for name in form.fields:
            if name == "csrf_token":
                continue
            for value in FORM_VALUES:
                n = next(serial)  # a baseline accepted once must not clash with itself later
                baseline = {
                    key: text.replace("walk", f"walk{n}")
                    for key, text in BASELINES.get(form.action, {}).items()
                }
                data = form.fields | baseline | {name: value}
                response = walk.client.post(form.action, data=data)
                walk.check(f"POST {form.action} {name}={value[:40]!r}", response)
    assert not walk.problems, "\n".join(walk.problems[:40])


def _without_csrf_tokens(page: str) -> str:
    """The page without its CSRF tokens, which carry the second they were made in."""
    return re.sub(r'"[\w-]+\.[\w-]{6}\.[\w-]{27}"', '"csrf-token"', page)


def test_a_nul_character_is_refused_with_a_clear_message(walk: Walk) -> None:
    message = "contains a NUL character, which the console does not accept"
    for path, query in (("/admin/users", "q=a%00b"), ("/patients/", "q=smith%00"), ("/", "x%00=1")):
        response = walk.client.get(path, query_string=query)
        assert response.status_code == 400, path
        assert message in response.get_data(as_text=True), path
    roles_before = _without_csrf_tokens(walk.client.get("/admin/roles").get_data(as_text=True))
    form = {"csrf_token": csrf_token(walk.client, "/admin/roles/new"), "name": "Ward\x00clerk"}
    response = walk.client.post("/admin/roles/new", data=form | {"description": "d"})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    roles_after = _without_csrf_tokens(walk.client.get("/admin/roles").get_data(as_text=True))
    assert roles_after == roles_before, "the refused role was not created"
    response = walk.client.get("/", headers={"User-Agent": "probe\x00"})
    assert response.status_code == 400


def test_the_single_sign_on_routes_answer_odd_input_when_signed_out(walk: Walk) -> None:
    anonymous = walk.app.test_client()
    walked = Walk(walk.app, anonymous, walk.ids)
    page = anonymous.get("/auth/login").get_data(as_text=True)
    assert 'id="sso-sign-in"' in page, "the sign-in page shows no single sign-on button"
    for value in QUERY_VALUES:
        for path, names in (
            ("/auth/login", ("next",)),
            ("/auth/sso/login", ("next",)),
            ("/auth/sso/callback", ("code", "state", "error", "error_description")),
        ):
            query = "&".join(f"{name}={value}" for name in names)
            walked.check(f"GET {path}?{query[:120]}", anonymous.get(f"{path}?{query}"))
    for value in FORM_VALUES:
        response = anonymous.post("/auth/sso/backchannel-logout", data={"logout_token": value})
        walked.check(f"POST back-channel logout {value[:40]!r}", response)
        assert response.status_code == 400
    assert not walked.problems, "\n".join(walked.problems[:40])
