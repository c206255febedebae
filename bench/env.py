"""What the benchmarks run against: migrated databases, signed-in clients, gunicorn, emulators."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyotp
import requests
from flask import Flask
from flask_migrate import upgrade

from bench.core import NotRun
from console import create_app

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get(
    "BENCH_PG_DSN", os.environ.get("TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
)
PASSWORD = "bench password that is long enough 7"  # noqa: S105 (bench users only)
TOTP_SECRET = "KRUGKIDCMVXGG2BAONSWG4TFOQQGC5LU"  # noqa: S105 (bench administrators only)
"""The authenticator of bench users whose roles make them administrators: two-factor is
required of administrators, so signing them in completes the code step with it."""
CODE_PAGE = "/auth/login/code"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')


def base_config(instance: Path, database_url: str, **overrides: Any) -> dict[str, Any]:
    """Console config for a bench run: testing mode, no rate limits, its own instance folder."""
    config: dict[str, Any] = {
        "ENVIRON": {"CONSOLE_ENV": "testing"},
        "INSTANCE_PATH": str(instance),
        "AUTH_DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": False,
    }
    config.update(overrides)
    return config


def build_app(config: dict[str, Any]) -> Flask:
    """``create_app`` on a copy of ``config`` (it is consumed)."""
    return create_app(json.loads(json.dumps(config)))


def migrate(config: dict[str, Any]) -> None:
    """Bring the database in ``config`` to the latest revision."""
    app = build_app(config)
    with app.app_context():
        upgrade()


@dataclass
class Workspace:
    """Scratch space of one bench run, removed at the end."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="quill-bench-")))
    databases: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)

    def sqlite_url(self, name: str = "auth") -> str:
        """A fresh, migrated SQLite database."""
        url = f"sqlite:///{self.folder / f'{name}-{uuid.uuid4().hex[:6]}.sqlite3'}"
        migrate(base_config(self.folder / "instance", url))
        return url

    def postgres_url(self) -> str:
        """A fresh, migrated throw-away PostgreSQL database (dropped at the end)."""
        name = f"quill_bench_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            raise NotRun(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}") from exc
        self.databases.append(name)
        host = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{host}/{name}"
        migrate(base_config(self.folder / "instance", url))
        return url

    def config(self, database_url: str, **overrides: Any) -> dict[str, Any]:
        """Console config on ``database_url``."""
        return base_config(self.folder / "instance", database_url, **overrides)

    def close(self) -> None:
        """Stop what was started and drop what was created."""
        for process in self.processes:
            stop_process(process)
        for name in self.databases:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.folder, ignore_errors=True)


def make_user(app: Flask, username: str, roles: tuple[str, ...]) -> int:
    """A user who can sign in straight away with ``PASSWORD``."""
    from console.admin.users.accounts import create_user
    from console.db import db
    from console.permissions import ADMIN_PERMISSIONS

    with app.app_context():
        user = create_user(
            username=username,
            email=f"{username}@example.org",
            full_name=username.replace(".", " ").title(),
            password=PASSWORD,
            role_names=list(roles),
            must_change_password=False,
        )
        if user.permissions & ADMIN_PERMISSIONS:
            user.totp_secret, user.totp_enabled = TOTP_SECRET, True
        db.session.commit()
        return user.id


def _past_code_step(status: int, location: str | None) -> bool:
    """True when the code page let the user in (a redirect elsewhere, not the form again)."""
    return status == 302 and location != CODE_PAGE


def _codes() -> list[str]:
    """This time step's code and the next one's (accepted too): a user signed in twice within
    one step cannot use the same code again."""
    totp = pyotp.TOTP(TOTP_SECRET)
    now = time.time()
    return [totp.at(now), totp.at(now + totp.interval)]


def _token(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise NotRun("no CSRF token on the sign-in page")
    return next(g for g in match.groups() if g)


def signed_in_client(app: Flask, username: str) -> Any:
    """A Flask test client signed in as ``username`` through the real form."""
    client = app.test_client()
    token = _token(client.get("/auth/login").get_data(as_text=True))
    response = client.post(
        "/auth/login", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    if response.status_code != 302:
        raise NotRun(f"sign-in as {username} answered {response.status_code}")
    if response.headers.get("Location") != CODE_PAGE:
        return client
    for code in _codes():
        token = _token(client.get(CODE_PAGE).get_data(as_text=True))
        response = client.post(CODE_PAGE, data={"csrf_token": token, "code": code})
        if _past_code_step(response.status_code, response.headers.get("Location")):
            return client
    raise NotRun(f"the two-factor step for {username} answered {response.status_code}")


def signed_in_session(base_url: str, username: str) -> requests.Session:
    """A ``requests`` session signed in to a served console."""
    session = requests.Session()
    token = _token(session.get(f"{base_url}/auth/login", timeout=10).text)
    response = session.post(
        f"{base_url}/auth/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302:
        raise NotRun(f"sign-in as {username} answered {response.status_code}")
    if response.headers.get("Location") != CODE_PAGE:
        return session
    for code in _codes():
        token = _token(session.get(base_url + CODE_PAGE, timeout=10).text)
        response = session.post(
            base_url + CODE_PAGE,
            data={"csrf_token": token, "code": code},
            allow_redirects=False,
            timeout=30,
        )
        if _past_code_step(response.status_code, response.headers.get("Location")):
            return session
    raise NotRun(f"the two-factor step for {username} answered {response.status_code}")


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    """Wait until ``url`` answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise NotRun(f"{url} did not answer within {seconds:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this bench started."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def gunicorn(
    workspace: Workspace, config: dict[str, Any], workers: int = 1, threads: int = 8
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The console under gunicorn (gthread) on loopback; yields (base URL, master process)."""
    port = free_port()
    env = dict(os.environ, BENCH_APP_CONFIG=json.dumps(config))
    process = subprocess.Popen(  # noqa: S603 (fixed argument list)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--backlog",
            "256",
            "bench.wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    workspace.processes.append(process)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/auth/login")
        yield url, process
    finally:
        stop_process(process)
        workspace.processes.remove(process)


def worker_pids(master: subprocess.Popen[bytes]) -> list[int]:
    """The gunicorn worker processes of a master."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def endpoint_url(app: Flask, endpoint: str, **values: Any) -> str:
    """The path of an endpoint, or ``NotRun`` when this build has no such page."""
    from flask import url_for

    if endpoint not in app.view_functions:
        raise NotRun(f"this build has no {endpoint} page")
    with app.test_request_context():
        return url_for(endpoint, **values)


def patient_page_path(app: Flask, patient_id: str) -> str:
    """The path of a patient's page: the ``patients.*`` route taking one id."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("patients.") and len(rule.arguments) == 1:
            (name,) = rule.arguments
            return endpoint_url(app, rule.endpoint, **{name: patient_id})
    raise NotRun("this build has no patient page")


def letter_page_path(app: Flask, patient_id: str, letter_id: str) -> str:
    """The path of a letter's page: the ``letters.*`` route taking a patient and a letter id."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("letters.") and len(rule.arguments) == 2:
            patient_arg = next((a for a in rule.arguments if "patient" in a), None)
            other = next((a for a in rule.arguments if a != patient_arg), None)
            if patient_arg and other:
                return endpoint_url(
                    app, rule.endpoint, **{patient_arg: patient_id, other: letter_id}
                )
    raise NotRun("this build has no letter page")
