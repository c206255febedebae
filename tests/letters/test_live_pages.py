"""The console's letter pages against the real EHRbase of the live tier (patients from the
HAPI emulator): date filters across midnight and the clock changes, the letter page, the
template upload, and the status page's EHRbase row."""

from __future__ import annotations

import html
import io
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.openehr import letter_template as lt
from tests.support.fhir import Hapi
from tests.support.letters import World, a_letter, build_world
from tests.support.live import live_ehrbase
from tests.support.openehr import Target
from tests.support.users import csrf_token, make_user, sign_in

pytestmark = pytest.mark.live

ROW = re.compile(r'<a href="(/patients/[^"/]+/letters/[^"]+)">([^<]*)</a>')
PLUS_ONE = timezone(timedelta(hours=1))


@pytest.fixture
def live_world(app_factory: Callable[..., Flask], hapi: Hapi) -> Iterator[World]:
    """A console on the HAPI emulator and the real EHRbase, in a namespace of its own."""
    real = live_ehrbase()
    target = Target(real.url, real.user, real.password, real.admin_user, real.admin_password)
    world = build_world(app_factory, hapi, target, namespace_prefix="live", read_timeout=30)
    yield world
    world.client.close()


def signed_in(world: World, roles: tuple[str, ...]) -> FlaskClient:
    username = f"user-{uuid.uuid4().hex[:8]}"
    make_user(world.app, username, roles=roles)
    client = world.app.test_client()
    assert sign_in(client, username).status_code in (302, 303)
    return client


def titles(response: object) -> list[str]:
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    return [html.unescape(title) for _, title in ROW.findall(text)]


def letter_at(title: str, when: datetime) -> lt.LetterInput:
    return a_letter(0, title=title, date=when)


def test_letters_fall_on_their_london_day_across_midnight_and_both_clock_changes(
    live_world: World,
) -> None:
    patient = live_world.patient()
    live_world.letters(
        patient,
        [
            letter_at("March, 23:45 GMT", datetime(2025, 3, 29, 23, 45, tzinfo=UTC)),
            letter_at("March, 00:30 +01:00", datetime(2025, 3, 30, 0, 30, tzinfo=PLUS_ONE)),
            letter_at("March, 09:00 BST", datetime(2025, 3, 30, 9, 0, tzinfo=PLUS_ONE)),
            letter_at("October, 23:50 UTC", datetime(2025, 10, 25, 23, 50, tzinfo=UTC)),
            letter_at("October, 22:30 UTC", datetime(2025, 10, 25, 22, 30, tzinfo=UTC)),
        ],
    )
    clinician = signed_in(live_world, ("Clinician",))

    def listed(query: str) -> list[str]:
        return titles(clinician.get(f"/patients/{patient}?{query}"))

    assert listed("letters_from=2025-03-29&letters_to=2025-03-29") == [
        "March, 23:45 GMT",
        "March, 00:30 +01:00",
    ]
    assert listed("letters_from=2025-03-30&letters_to=2025-03-30") == ["March, 09:00 BST"]
    # 23:50 UTC on 25 October is 00:50 BST on the 26th; 22:30 UTC is 23:30 BST on the 25th.
    assert listed("letters_from=2025-10-26") == ["October, 23:50 UTC"]
    assert listed("letters_from=2025-10-25&letters_to=2025-10-25") == ["October, 22:30 UTC"]
    assert listed("") == [
        "October, 23:50 UTC",
        "October, 22:30 UTC",
        "March, 09:00 BST",
        "March, 23:45 GMT",
        "March, 00:30 +01:00",
    ]


def test_the_letter_page_reads_the_letter_from_the_real_server(live_world: World) -> None:
    patient = live_world.patient()
    [uid] = live_world.letters(patient, [a_letter(3, title="Heart failure review")])
    clinician = signed_in(live_world, ("Clinician",))
    [(href, title)] = ROW.findall(clinician.get(f"/patients/{patient}").get_data(as_text=True))
    assert title == "Heart failure review"
    response = clinician.get(href)
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "Heart failure review" in page
    assert "Review in clinic. Letter number 3." in page
    assert "Dr Priya Raman" in page
    other = live_world.patient("Smith", "John")
    assert clinician.get(f"/patients/{other}/letters/{uid}").status_code == 404


def test_a_template_uploads_once_and_the_second_time_is_already_there(live_world: World) -> None:
    manager = signed_in(live_world, ("Clinical administrator",))
    template_id = f"Ward letter {uuid.uuid4().hex[:6]}.v1"
    opt = lt.letter_opt().replace(lt.TEMPLATE_ID.encode(), template_id.encode())

    def upload() -> object:
        return manager.post(
            "/letters/templates",
            data={
                "csrf_token": csrf_token(manager, "/letters/templates"),
                "opt_file": (io.BytesIO(opt), "ward.opt"),
            },
            content_type="multipart/form-data",
        )

    first = upload()
    assert first.status_code == 302  # type: ignore[attr-defined]
    listing = html.unescape(manager.get("/letters/templates").get_data(as_text=True))
    assert template_id in listing
    second = upload()
    assert second.status_code == 422  # type: ignore[attr-defined]
    page = html.unescape(second.get_data(as_text=True))  # type: ignore[attr-defined]
    assert f"The template “{template_id}” is already on the server." in page


def test_the_status_page_shows_the_real_ehrbase_up(live_world: World) -> None:
    admin = signed_in(live_world, ("System administrator",))
    page = admin.get("/status").get_data(as_text=True)
    row = re.search(r'<tr id="check-ehrbase">(.*?)</tr>', page, re.DOTALL)
    assert row, "no EHRbase row"
    assert 'data-state="up"' in row.group(1)
    assert re.search(r"EHRbase 2\.\d+\.\d+", row.group(1))
