"""``flask sandbox seed`` and the quick start's sandbox: synthetic data into HAPI and EHRbase."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pyotp
import pytest
import requests
from flask import Flask

from console.sandbox.cli import seed_command, seed_sandbox
from console.sandbox.ehrbase import DEFAULT_ADMIN, DEFAULT_USER, emulator_of, start_ehrbase_emulator
from console.sandbox.hapi import start_hapi_emulator
from console.sandbox.letters import PAEDIATRICIANS, SandboxPatient, generate_letters
from console.sandbox.patients import generate_patients
from console.sandbox.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def upstreams() -> Iterator[tuple[EmulatorServer, str, EmulatorServer, str]]:
    hapi, fhir_url = start_hapi_emulator()
    ehrbase, ehrbase_url = start_ehrbase_emulator()
    try:
        yield hapi, fhir_url, ehrbase, ehrbase_url
    finally:
        hapi.stop()
        ehrbase.stop()


@pytest.fixture
def seed_app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(
        EHRBASE_API_USER=DEFAULT_USER[0],
        EHRBASE_API_PASSWORD=DEFAULT_USER[1],
        EHRBASE_API_ADMIN_USER=DEFAULT_ADMIN[0],
        EHRBASE_API_ADMIN_PASSWORD=DEFAULT_ADMIN[1],
    )


def _seed(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(seed_command, list(args))


def _compositions(ehrbase: EmulatorServer) -> int:
    return len(emulator_of(ehrbase).compositions)


def test_seed_loads_patients_and_their_letters_and_is_idempotent(
    seed_app: Flask, upstreams: tuple[EmulatorServer, str, EmulatorServer, str]
) -> None:
    hapi, fhir_url, ehrbase, ehrbase_url = upstreams
    args = ("--patients", "12", "--fhir-url", fhir_url, "--ehrbase-url", ehrbase_url)

    first = _seed(seed_app, *args)

    assert first.exit_code == 0, first.output
    assert hapi.injector.app.count() == 12
    letters = _compositions(ehrbase)
    assert letters > 0
    assert f"letters: {letters} written for 12 patients" in first.output
    assert "letter template uploaded" in first.output

    again = _seed(seed_app, *args)

    assert again.exit_code == 0, again.output
    assert hapi.injector.app.count() == 12, "a second run must not duplicate patients"
    assert _compositions(ehrbase) == letters, "a second run must not duplicate letters"
    assert "letters: 0 written for 12 patients" in again.output


def test_the_letters_match_the_generator_for_each_patient(
    seed_app: Flask, upstreams: tuple[EmulatorServer, str, EmulatorServer, str]
) -> None:
    _, fhir_url, ehrbase, ehrbase_url = upstreams
    with seed_app.app_context():
        ids = seed_sandbox(
            seed_app.config["SETTINGS"], fhir_url=fhir_url, ehrbase_url=ehrbase_url, count=6
        )
    people = [
        SandboxPatient.from_fhir(resource, pid)
        for resource, pid in zip(generate_patients(6, seed=42), ids, strict=True)
    ]
    expected = sum(len(generate_letters(person, seed=42)) for person in people)
    assert expected == _compositions(ehrbase) > 0


def test_children_see_paediatricians_and_letters_stay_within_a_life() -> None:
    paediatricians = {c.name for c in PAEDIATRICIANS}
    child = [
        letter
        for n in range(40)
        for letter in generate_letters(SandboxPatient(f"c{n}", birth_date=date(2018, 3, 1)))
    ]
    assert child and {letter.author for letter in child} <= paediatricians
    adult = [
        letter
        for n in range(40)
        for letter in generate_letters(SandboxPatient(f"a{n}", birth_date=date(1950, 3, 1)))
    ]
    assert adult and not {letter.author for letter in adult} & paediatricians
    born = date(2025, 11, 2)
    baby = [
        letter
        for n in range(40)
        for letter in generate_letters(SandboxPatient(f"b{n}", birth_date=born))
    ]
    assert baby and all(letter.date.date() >= born for letter in baby)
    died = date(2024, 2, 10)
    late = [
        letter
        for n in range(40)
        for letter in generate_letters(
            SandboxPatient(f"d{n}", birth_date=date(1940, 1, 1), died=died)
        )
    ]
    assert late and all(letter.date.date() <= died for letter in late)
    assert generate_letters(SandboxPatient("unborn", birth_date=date(2027, 1, 1))) == []


def test_no_letters_leaves_ehrbase_alone(
    seed_app: Flask, upstreams: tuple[EmulatorServer, str, EmulatorServer, str]
) -> None:
    hapi, fhir_url, ehrbase, _ = upstreams
    result = _seed(seed_app, "--patients", "3", "--fhir-url", fhir_url, "--no-letters")
    assert result.exit_code == 0, result.output
    assert hapi.injector.app.count() == 3
    assert _compositions(ehrbase) == 0
    assert not emulator_of(ehrbase).templates


def test_the_configured_servers_are_the_default(
    app_factory: Callable[..., Flask], upstreams: tuple[EmulatorServer, str, EmulatorServer, str]
) -> None:
    hapi, fhir_url, _, ehrbase_url = upstreams
    app = app_factory(
        FHIR_SERVER_URL=fhir_url,
        EHRBASE_URL=ehrbase_url,
        EHRBASE_API_USER=DEFAULT_USER[0],
        EHRBASE_API_PASSWORD=DEFAULT_USER[1],
        EHRBASE_API_ADMIN_USER=DEFAULT_ADMIN[0],
        EHRBASE_API_ADMIN_PASSWORD=DEFAULT_ADMIN[1],
    )
    result = _seed(app, "--patients", "4")
    assert result.exit_code == 0, result.output
    assert hapi.injector.app.count() == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--patients", "3"), "--fhir-url or set FHIR_SERVER_URL"),
        (("--fhir-url", "http://127.0.0.1:9/fhir"), "--ehrbase-url or set EHRBASE_URL"),
        (("--fhir-url", "file:///etc/passwd", "--no-letters"), "must be an http:// or https://"),
        (("--patients", "-1", "--fhir-url", "http://x/fhir"), "-1 is not in the range"),
    ],
)
def test_bad_arguments_get_a_clear_message(
    seed_app: Flask, args: tuple[str, ...], message: str
) -> None:
    result = _seed(seed_app, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_refused_in_production(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(CONSOLE_ENV="production")
    result = _seed(app, "--fhir-url", "http://127.0.0.1:9/fhir", "--no-letters")
    assert result.exit_code == 2
    assert "refused in production" in result.output


def test_a_dead_fhir_server_is_reported_not_a_traceback(
    seed_app: Flask, upstreams: tuple[EmulatorServer, str, EmulatorServer, str]
) -> None:
    hapi, fhir_url, _, ehrbase_url = upstreams
    hapi.refuse_connections()
    result = _seed(
        seed_app, "--patients", "2", "--fhir-url", fhir_url, "--ehrbase-url", ehrbase_url
    )
    assert result.exit_code == 1
    assert f"loading patients into {fhir_url} failed" in result.output
    assert "Traceback" not in result.output


def test_an_ehrbase_error_is_reported_with_its_diagnostics(
    seed_app: Flask, upstreams: tuple[EmulatorServer, str, EmulatorServer, str]
) -> None:
    _, fhir_url, ehrbase, ehrbase_url = upstreams
    ehrbase.set_faults(status=500)
    result = _seed(
        seed_app, "--patients", "2", "--fhir-url", fhir_url, "--ehrbase-url", ehrbase_url
    )
    assert result.exit_code == 1
    assert f"loading letters into {ehrbase_url} failed" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_quick_start_serves_synthetic_patients_to_the_demo_admin(tmp_path: Path) -> None:
    """``make run``'s sandbox: credentials printed, sign-in works, patients and letters shown."""
    port = _free_port()
    env = {**os.environ, "CONSOLE_INSTANCE_PATH": str(tmp_path / "instance")}
    for name in list(env):
        if name.startswith(("FHIR_", "EHRBASE_", "AUTH_DB_")) or name == "CONSOLE_ENV":
            env.pop(name)
    process = subprocess.Popen(
        [sys.executable, "-m", "console.sandbox.runner", "--port", str(port), "--patients", "40"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = _read_until(process, "url: ", timeout=120)
        username = re.search(r"^username: (\S+)$", printed, re.M)
        password = re.search(r"^password: (\S+)$", printed, re.M)
        assert username and password, printed
        assert f"url: http://127.0.0.1:{port}/" in printed
        assert "patients: 40 on http://127.0.0.1:" in printed
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        login = _get_when_up(session, f"{base}/auth/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.text)
        assert token, login.text
        signed_in = session.post(
            f"{base}/auth/login",
            data={
                "csrf_token": token.group(1),
                "username": username.group(1),
                "password": password.group(1),
            },
            timeout=30,
        )
        assert signed_in.status_code == 200
        assert signed_in.url == f"{base}/auth/login/code", "administrators use two-factor"
        key = re.search(r"^two-factor key: ([A-Z2-7]+)$", printed, re.M)
        uri = re.search(r"^two-factor URI: (otpauth://\S+)$", printed, re.M)
        assert key and uri and key.group(1) in uri.group(1), printed
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', signed_in.text)
        assert token, signed_in.text
        signed_in = session.post(
            f"{base}/auth/login/code",
            data={"csrf_token": token.group(1), "code": pyotp.TOTP(key.group(1)).now()},
            timeout=30,
        )
        assert signed_in.status_code == 200
        assert signed_in.url.rstrip("/") == base, "the demo admin lands on the dashboard"
        family = generate_patients(40, seed=42)[0]["name"][0]["family"]
        found = session.get(f"{base}/patients/", params={"q": family}, timeout=30)
        links = re.findall(r'href="(/patients/[^"?/]+)"', found.text)
        assert links, "the sandbox's patients are searchable"
        pages = [session.get(base + link, timeout=30) for link in links[:15]]
        assert all(page.status_code == 200 for page in pages)
        assert any("/letters/" in page.text for page in pages), "some patients have letters"
    finally:
        process.terminate()
        process.wait(timeout=15)


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise AssertionError("the sandbox stopped:\n" + "".join(lines))
            continue
        lines.append(line)
        if line.startswith(marker):
            return "".join(lines)
    raise AssertionError("the sandbox printed no URL in time:\n" + "".join(lines))


def _get_when_up(session: requests.Session, url: str) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return session.get(url, timeout=10)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
