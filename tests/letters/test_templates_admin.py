"""The templates admin page and ``flask ehrbase upload-templates``."""

from __future__ import annotations

import html
import io
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.openehr import letter_template as lt
from console.sandbox.ehrbase import DEFAULT_ADMIN, DEFAULT_USER, emulator_of, start_ehrbase_emulator
from tests.support.audit import audit_rows
from tests.support.letters import World
from tests.support.users import csrf_token

TEMPLATES = "/letters/templates"


def opt_with_id(template_id: str) -> bytes:
    """The shipped OPT under another template id (a template the server has not seen)."""
    return lt.letter_opt().replace(lt.TEMPLATE_ID.encode(), template_id.encode())


def post_file(client: FlaskClient, data: bytes, filename: str = "letter.opt") -> object:
    return client.post(
        TEMPLATES,
        data={
            "csrf_token": csrf_token(client, TEMPLATES),
            "opt_file": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def body(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def upload_requests(world: World) -> int:
    assert world.ehrbase.server is not None
    return sum(
        1
        for method, path in world.ehrbase.server.injector.requests
        if method == "POST" and path.endswith("/definition/template/adl1.4")
    )


@pytest.fixture
def manager(signed_in: Callable[..., FlaskClient]) -> FlaskClient:
    """A Clinical administrator (templates.manage)."""
    return signed_in(("Clinical administrator",))


def test_only_template_managers_reach_the_page(
    world: World, signed_in: Callable[..., FlaskClient]
) -> None:
    clinician = signed_in(("Clinician",))
    before = upload_requests(world)
    assert clinician.get(TEMPLATES).status_code == 403
    token = csrf_token(clinician, "/")
    refused = clinician.post(
        TEMPLATES, data={"csrf_token": token}, content_type="multipart/form-data"
    )
    assert refused.status_code == 403
    assert clinician.post(f"{TEMPLATES}/shipped", data={"csrf_token": token}).status_code == 403
    assert upload_requests(world) == before
    assert signed_in(("System administrator",)).get(TEMPLATES).status_code == 200


def test_the_page_lists_the_templates_on_the_server(world: World, manager: FlaskClient) -> None:
    response = manager.get(TEMPLATES)
    assert response.status_code == 200
    page = body(response)
    assert lt.TEMPLATE_ID in page and "Quill letter" in page and lt.COMPOSITION_ARCHETYPE in page
    assert ">Letters</span>" in page  # the configured letter template is marked


def test_upload_happy_path_is_audited(world: World, manager: FlaskClient) -> None:
    template_id = f"Ward letter {uuid.uuid4().hex[:6]}.v1"
    response = post_file(manager, opt_with_id(template_id))
    assert response.status_code == 302
    listing = body(manager.get(response.headers["Location"]))
    assert f"The template “{template_id}” was uploaded." in listing
    assert template_id in listing
    [row] = audit_rows(world.app, "template.upload")
    assert (row.outcome, row.target_type, row.target_id) == ("success", "Template", template_id)
    assert row.details and row.details["filename"] == "letter.opt"
    assert world.ehrbase.emulator is not None
    upload = [
        c for c in world.ehrbase.emulator.calls if c.method == "POST" and c.path.endswith("adl1.4")
    ][-1]
    assert upload.user == DEFAULT_ADMIN[0]


def test_a_template_already_on_the_server_is_reported_as_such(
    world: World, manager: FlaskClient
) -> None:
    response = post_file(manager, lt.letter_opt())
    assert response.status_code == 422
    page = body(response)
    assert "There is a problem" in page
    assert f"The template “{lt.TEMPLATE_ID}” is already on the server." in page
    assert f"Operational template with this template ID already exists: {lt.TEMPLATE_ID}" in page
    [row] = audit_rows(world.app, "template.upload")
    assert (
        row.outcome == "failure" and row.details and row.details["error"] == "TemplateAlreadyExists"
    )


def test_invalid_xml_is_refused_before_it_reaches_the_server(
    world: World, manager: FlaskClient
) -> None:
    before = upload_requests(world)
    response = post_file(manager, b"<template><definition></template>")
    assert response.status_code == 422
    page = body(response)
    assert "not a valid openEHR operational template" in page
    assert "not well-formed XML" in page
    assert upload_requests(world) == before


def test_a_template_lacking_structure_lists_each_problem(
    world: World, manager: FlaskClient
) -> None:
    broken = (
        lt.letter_opt()
        .replace(b"<concept>Quill letter</concept>", b"")
        .replace(b'<term_definitions code="at0003">', b'<term_definitions code="at0099">')
    )
    page = body(post_file(manager, broken))
    assert "The template has no concept." in page
    assert "uses at0003" in page


def test_the_servers_diagnostics_are_shown_verbatim(world: World, manager: FlaskClient) -> None:
    server = world.ehrbase.server
    assert server is not None
    words = "Invalid template: cvc-complex-type.2.4.a: Invalid content was found starting with element 'x'."
    server.set_faults(
        status=400,
        body=f"<Map><error>Bad Request</error><message>{words}</message></Map>",
        content_type="application/xml",
        only_paths=["/ehrbase/rest/openehr/v1/definition/template/adl1.4"],
    )
    page = body(post_file(manager, opt_with_id(f"Refused {uuid.uuid4().hex[:6]}.v1")))
    assert words in page
    assert "What EHRbase said (HTTP 400)" in page


def test_a_missing_or_wrong_file_is_a_form_error(world: World, manager: FlaskClient) -> None:
    token = csrf_token(manager, TEMPLATES)
    missing = manager.post(
        TEMPLATES, data={"csrf_token": token}, content_type="multipart/form-data"
    )
    assert missing.status_code == 400
    assert "Choose an .opt file to upload." in body(missing)
    wrong = post_file(manager, b"%PDF-1.4", filename="letter.pdf")
    assert wrong.status_code == 400
    assert "must be an .opt" in body(wrong)


def test_a_post_without_csrf_is_refused(world: World, manager: FlaskClient) -> None:
    before = upload_requests(world)
    response = manager.post(
        TEMPLATES,
        data={"opt_file": (io.BytesIO(lt.letter_opt()), "letter.opt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert upload_requests(world) == before


def test_ehrbase_down_shows_a_message_not_an_empty_list(world: World, manager: FlaskClient) -> None:
    assert world.ehrbase.server is not None
    world.ehrbase.server.refuse_connections()
    page = body(manager.get(TEMPLATES))
    assert "The templates cannot be listed" in page and "cannot be reached" in page
    assert "EHRbase holds no templates yet." not in page


# -- a fresh EHRbase: the shipped template button and the CLI ------------------------------------


@pytest.fixture
def fresh_ehrbase() -> Iterator[tuple[object, str]]:
    server, url = start_ehrbase_emulator()
    yield server, url
    server.stop()


def console_on(app_factory: Callable[..., Flask], url: str, **extra: object) -> Flask:
    config: dict[str, object] = {
        "EHRBASE_URL": url,
        "EHRBASE_API_USER": DEFAULT_USER[0],
        "EHRBASE_API_PASSWORD": DEFAULT_USER[1],
        "EHRBASE_API_ADMIN_USER": DEFAULT_ADMIN[0],
        "EHRBASE_API_ADMIN_PASSWORD": DEFAULT_ADMIN[1],
        "EHRBASE_RETRIES": 0,
    }
    return app_factory(**(config | extra))


def test_the_shipped_template_can_be_uploaded_from_the_page(
    app_factory: Callable[..., Flask], fresh_ehrbase: tuple[object, str]
) -> None:
    from tests.support.users import make_user, sign_in

    server, url = fresh_ehrbase
    app = console_on(app_factory, url)
    make_user(app, "templater", roles=("Clinical administrator",))
    client = app.test_client()
    sign_in(client, "templater")
    page = body(client.get(TEMPLATES))
    assert "EHRbase holds no templates yet." in page
    assert "The console's letter template is missing" in page
    response = client.post(
        f"{TEMPLATES}/shipped", data={"csrf_token": csrf_token(client, TEMPLATES)}
    )
    assert response.status_code == 302
    after = body(client.get(TEMPLATES))
    assert f"The console's letter template “{lt.TEMPLATE_ID}” is on the server." in after
    assert "is missing" not in after
    assert lt.TEMPLATE_ID in emulator_of(server).templates  # type: ignore[arg-type]


def test_cli_uploads_the_shipped_templates_idempotently(
    app_factory: Callable[..., Flask], fresh_ehrbase: tuple[object, str]
) -> None:
    _, url = fresh_ehrbase
    runner = console_on(app_factory, url).test_cli_runner()
    first = runner.invoke(args=["ehrbase", "upload-templates"])
    assert first.exit_code == 0, first.output
    assert f"uploaded: {lt.TEMPLATE_ID} ({lt.TEMPLATE_FILE})" in first.output
    second = runner.invoke(args=["ehrbase", "upload-templates"])
    assert second.exit_code == 0, second.output
    assert f"already on the server: {lt.TEMPLATE_ID}" in second.output


def test_cli_fails_clearly_when_ehrbase_is_down(
    app_factory: Callable[..., Flask], fresh_ehrbase: tuple[object, str]
) -> None:
    server, url = fresh_ehrbase
    server.refuse_connections()  # type: ignore[attr-defined]
    result = (
        console_on(app_factory, url).test_cli_runner().invoke(args=["ehrbase", "upload-templates"])
    )
    assert result.exit_code == 1
    assert f"failed: {lt.TEMPLATE_FILE}" in result.output and "cannot be reached" in result.output


def test_cli_fails_clearly_with_wrong_or_missing_admin_credentials(
    app_factory: Callable[..., Flask], fresh_ehrbase: tuple[object, str]
) -> None:
    _, url = fresh_ehrbase
    wrong = console_on(app_factory, url, EHRBASE_API_ADMIN_PASSWORD="nope").test_cli_runner()
    result = wrong.invoke(args=["ehrbase", "upload-templates"])
    assert result.exit_code == 1 and "refused the console's credentials" in result.output
    missing = console_on(app_factory, url, EHRBASE_API_ADMIN_USER=None).test_cli_runner()
    result = missing.invoke(args=["ehrbase", "upload-templates"])
    assert result.exit_code != 0 and "EHRBASE_API_ADMIN_USER" in result.output


def test_a_utf16_template_with_an_internal_entity_is_refused(
    world: World, manager: FlaskClient
) -> None:
    before = upload_requests(world)
    opt = lt.letter_opt().decode("utf-8").split("\n", 1)[1]  # without the XML declaration
    marker = lt.TEMPLATE_ID
    hostile = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE template [<!ENTITY tid "Evil.v1">]>\n'
        + opt.replace(marker, "&tid;", 1)
    )
    response = post_file(manager, hostile.encode("utf-16"))
    assert response.status_code == 422
    page = body(response)
    assert "declares a DTD or entities" in page
    assert "Evil.v1" not in page
    assert upload_requests(world) == before
