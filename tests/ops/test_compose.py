"""compose.dev.yml: the three-database stack, checked as an operator would read it.

The file is parsed with PyYAML and checked structurally; when Debian's ``docker-compose`` is
installed it also validates the file against the Compose schema (``config``, no engine needed).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.sandbox.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.dev.yml"
ENV_EXAMPLE = ROOT / ".env.example"
IN_CI = os.environ.get("CI", "").lower() == "true"

DATABASES = {
    # service: (database network, service that uses it, cpus, memory)
    "postgres-auth": ("auth-db", "console", "1", "1G"),
    "postgres-fhir": ("fhir-db", "fhir", "2", "2G"),
    "postgres-ehrbase": ("ehrbase-db", "ehrbase", "2", "3G"),
}
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:[:?\-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def documented_variables() -> set[str]:
    """Variables .env.example sets or shows (commented out for the optional ones)."""
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def active_assignments() -> dict[str, str]:
    """Variables .env.example actually sets, with their values."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def test_the_stack_is_the_console_two_servers_and_three_databases(services) -> None:
    assert set(services) == {
        "postgres-auth",
        "postgres-fhir",
        "postgres-ehrbase",
        "fhir",
        "ehrbase",
        "console",
    }


def test_images_are_pinned_to_versions(services) -> None:
    for name, service in services.items():
        if name == "console":
            assert service["build"]["dockerfile"] == "Dockerfile"
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name} has no tag: {image}"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name} is not pinned: {image}"
    assert services["fhir"]["image"] == "hapiproject/hapi:v8.8.0-1"
    assert services["ehrbase"]["image"].startswith("ehrbase/ehrbase:2.")


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_each_database_has_its_own_volume_credentials_healthcheck_and_limits(
    services, compose, name
) -> None:
    service = services[name]
    network, _, cpus, memory = DATABASES[name]
    data_volumes = [v for v in service["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert len(data_volumes) == 1
    volume = data_volumes[0].split(":")[0]
    assert volume in compose["volumes"], "data lives in a named volume"
    others = [n for n in DATABASES if n != name]
    for other in others:
        assert not any(v.startswith(f"{volume}:") for v in services[other]["volumes"])

    check = healthcheck_text(service)
    assert check.startswith("CMD pg_isready")
    assert "-h 127.0.0.1" in check, "TCP, so the socket-only first-start server never counts"
    assert service["deploy"]["resources"]["limits"] == {"cpus": cpus, "memory": memory}
    assert service["networks"] == [network]


def test_each_database_is_initialised_with_its_own_role_from_env(services) -> None:
    auth = services["postgres-auth"]["environment"]
    assert auth["APP_DB_NAME"].startswith("${AUTH_DB_NAME")
    assert auth["APP_DB_USER"].startswith("${AUTH_DB_USER")
    assert auth["APP_DB_PASSWORD"].startswith("${AUTH_DB_PASSWORD")
    fhir = services["postgres-fhir"]["environment"]
    assert fhir["APP_DB_USER"].startswith("${FHIR_DB_USER")
    assert fhir["APP_DB_PASSWORD"].startswith("${FHIR_DB_PASSWORD")
    ehrbase = services["postgres-ehrbase"]["environment"]
    for key in (
        "EHRBASE_DB_NAME",
        "EHRBASE_DB_USER",
        "EHRBASE_DB_PASSWORD",
        "EHRBASE_DB_OWNER_USER",
        "EHRBASE_DB_OWNER_PASSWORD",
    ):
        assert ehrbase[key].startswith("${" + key)
    for name in DATABASES:
        mounts = services[name]["volumes"]
        assert any("/docker-entrypoint-initdb.d/" in m and m.endswith(":ro") for m in mounts)
        for mount in mounts:
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts a missing {source}"


def test_databases_are_on_internal_networks_shared_only_with_their_service(
    services, compose
) -> None:
    networks = compose["networks"]
    for name, (network, consumer, _, _) in DATABASES.items():
        assert networks[network].get("internal") is True
        members = {s for s, svc in services.items() if network in svc.get("networks", [])}
        assert members == {name, consumer}, f"only {consumer} may reach {name}"


def test_only_the_console_is_published_and_only_on_loopback(services, compose) -> None:
    for name, service in services.items():
        if name != "console":
            assert "ports" not in service, f"{name} must not be published to the host"
    (port,) = services["console"]["ports"]
    assert port.startswith("127.0.0.1:") and port.endswith(":8000")
    public = [n for n, net in compose["networks"].items() if not (net or {}).get("internal")]
    assert public == ["frontend"]
    members = {s for s, svc in services.items() if "frontend" in svc["networks"]}
    assert members == {"console"}


def test_servers_start_once_their_own_database_is_healthy(services) -> None:
    assert services["fhir"]["depends_on"] == {"postgres-fhir": {"condition": "service_healthy"}}
    assert services["ehrbase"]["depends_on"] == {
        "postgres-ehrbase": {"condition": "service_healthy"}
    }


def test_console_waits_for_the_three_databases_but_not_for_hapi_or_ehrbase(services) -> None:
    depends = services["console"]["depends_on"]
    assert depends == {name: {"condition": "service_healthy"} for name in DATABASES}


def test_hapi_healthcheck_needs_no_tool_the_image_lacks(services) -> None:
    """The HAPI image is distroless: no shell, curl or wget, only java (see
    test_hapi_healthcheck.py, which runs the probe)."""
    test = services["fhir"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "java"]
    assert not {"curl", "wget", "sh", "CMD-SHELL"} & set(test)
    for mount in services["fhir"]["volumes"]:
        source = mount.split(":")[0]
        assert (ROOT / source).exists(), f"fhir mounts a missing {source}"


def test_hapi_uses_its_postgresql_database_in_r4(services) -> None:
    env = services["fhir"]["environment"]
    assert env["SPRING_DATASOURCE_URL"] == "jdbc:postgresql://postgres-fhir:5432/${FHIR_DB_NAME}"
    assert env["SPRING_DATASOURCE_USERNAME"] == "${FHIR_DB_USER}"
    assert env["SPRING_DATASOURCE_PASSWORD"] == "${FHIR_DB_PASSWORD}"
    assert env["SPRING_DATASOURCE_DRIVERCLASSNAME"] == "org.postgresql.Driver"
    assert env["hapi.fhir.fhir_version"] == "R4"


def test_ehrbase_runs_basic_auth_with_a_restricted_database_role(services) -> None:
    env = services["ehrbase"]["environment"]
    assert env["SECURITY_AUTHTYPE"] == "BASIC"
    assert env["SECURITY_AUTHUSER"].startswith("${EHRBASE_API_USER")
    assert env["SECURITY_AUTHPASSWORD"].startswith("${EHRBASE_API_PASSWORD")
    assert env["SECURITY_AUTHADMINUSER"].startswith("${EHRBASE_API_ADMIN_USER")
    assert env["SECURITY_AUTHADMINPASSWORD"].startswith("${EHRBASE_API_ADMIN_PASSWORD")
    assert env["DB_URL"] == "jdbc:postgresql://postgres-ehrbase:5432/${EHRBASE_DB_NAME}"
    assert env["DB_USER"] == "${EHRBASE_DB_USER}"
    assert env["DB_USER_ADMIN"] == "${EHRBASE_DB_OWNER_USER}"


def test_ehrbase_healthcheck_sends_credentials_and_asks_for_json(services) -> None:
    check = healthcheck_text(services["ehrbase"])
    assert check.startswith("CMD-SHELL wget")
    assert "/ehrbase/rest/status" in check
    assert "Authorization: Basic" in check
    assert "$$SECURITY_AUTHUSER" in check and "$$SECURITY_AUTHPASSWORD" in check
    assert "Accept: application/json" in check
    assert services["ehrbase"]["healthcheck"]["start_period"] in ("180s", "3m")


class _StatusEndpoint:
    """A stand-in for EHRbase's /rest/status under BASIC auth."""

    def __init__(self, user: str, password: str) -> None:
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.seen: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.seen.append(
            {
                "path": environ["PATH_INFO"],
                "authorization": environ.get("HTTP_AUTHORIZATION", ""),
                "accept": environ.get("HTTP_ACCEPT", ""),
            }
        )
        if environ.get("HTTP_AUTHORIZATION") != self.expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="Realm"')])
            return [b'{"status":401,"error":"Unauthorized"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ehrbase_version":"2.30.0"}']


@pytest.fixture
def status_endpoint() -> Iterator[tuple[_StatusEndpoint, str]]:
    endpoint = _StatusEndpoint("quill-console", "pa$$ w:rd/with@odd&chars")
    server = EmulatorServer(endpoint)
    url = server.start()
    yield endpoint, url
    server.stop()


def _run_ehrbase_healthcheck(services, url: str, user: str, password: str) -> int:
    """Run the compose healthcheck command the way the container's shell would."""
    if shutil.which("wget") is None:
        pytest.skip("wget is not installed here (the EHRbase image has busybox wget)")
    command = services["ehrbase"]["healthcheck"]["test"][1]
    command = command.replace("$$", "$").replace("http://127.0.0.1:8080", url)
    env = {"PATH": os.environ["PATH"], "SECURITY_AUTHUSER": user, "SECURITY_AUTHPASSWORD": password}
    return subprocess.run(["sh", "-c", command], env=env, timeout=20, check=False).returncode


def test_ehrbase_healthcheck_passes_with_the_api_credentials(services, status_endpoint) -> None:
    endpoint, url = status_endpoint
    assert _run_ehrbase_healthcheck(services, url, "quill-console", "pa$$ w:rd/with@odd&chars") == 0
    (request,) = endpoint.seen
    assert request["path"] == "/ehrbase/rest/status"
    assert request["accept"] == "application/json"


def test_ehrbase_healthcheck_fails_when_ehrbase_refuses_the_credentials(
    services, status_endpoint
) -> None:
    _, url = status_endpoint
    assert _run_ehrbase_healthcheck(services, url, "quill-console", "wrong") != 0


def test_console_healthcheck_probes_readiness(services) -> None:
    check = services["console"]["healthcheck"]["test"]
    assert check == ["CMD", "python", "/app/docker/healthcheck.py"]
    script = (ROOT / "docker" / "healthcheck.py").read_text()
    assert "/health/ready" in script


def test_console_gets_no_password_for_the_other_databases(services) -> None:
    env = services["console"]["environment"]
    assert env["AUTH_DB_HOST"] == "postgres-auth"
    assert env["AUTH_DB_PASSWORD"] == "${AUTH_DB_PASSWORD}"
    for key in env:
        assert not (key.endswith("PASSWORD") and key.startswith(("FHIR_DB", "EHRBASE_DB")))
    assert "env_file" not in services["console"], "only the listed variables reach the console"
    assert env["FHIR_SERVER_URL"] == "http://fhir:8080/fhir"
    assert env["EHRBASE_URL"] == "http://ehrbase:8080/ehrbase"


def test_console_runs_read_only_without_capabilities(services) -> None:
    console = services["console"]
    assert console["read_only"] is True
    assert console["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in console["security_opt"]


def test_every_variable_compose_reads_is_documented_in_env_example() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    assert used, "the stack reads its values from .env"
    missing = used - documented_variables()
    assert not missing, f"undocumented in .env.example: {sorted(missing)}"


def test_env_example_documents_every_configuration_variable() -> None:
    documented = documented_variables()
    for prefix in ("AUTH", "FHIR", "EHRBASE"):
        for part in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
            assert f"{prefix}_DB_{part}" in documented
    for name in (
        "FHIR_SERVER_URL",
        "EHRBASE_URL",
        "EHRBASE_API_USER",
        "EHRBASE_API_PASSWORD",
        "EHRBASE_API_ADMIN_USER",
        "EHRBASE_API_ADMIN_PASSWORD",
        "SECRET_KEY",
        "CONSOLE_ENV",
        "LOG_LEVEL",
    ):
        assert name in documented


def test_env_example_commits_no_secret_values() -> None:
    values = active_assignments()
    secrets = [name for name in values if name.endswith(("PASSWORD", "SECRET_KEY", "TOKEN"))]
    assert "SECRET_KEY" in secrets and "AUTH_DB_PASSWORD" in secrets
    for name in secrets:
        assert values[name] == "", f"{name} must be left empty in .env.example"


def test_env_example_lists_deprecated_variables_with_replacements_but_never_sets_them() -> None:
    text = ENV_EXAMPLE.read_text()
    values = active_assignments()
    replacements = {
        "POSTGRES_USER": "AUTH_DB_USER",
        "POSTGRES_PASSWORD": "AUTH_DB_PASSWORD",
        "POSTGRES_DB": "AUTH_DB_NAME",
        "DATABASE_URL": "AUTH_DB_NAME",
        "EHRBASE_USER": "EHRBASE_API_USER",
        "EHRBASE_PASSWORD": "EHRBASE_API_PASSWORD",
    }
    for old, new in replacements.items():
        assert old not in values
        assert re.search(rf"^#\s+{old}\s+->\s+{new}", text, re.MULTILINE), old
    assert "Deprecated" in text


def test_compose_reads_no_deprecated_variable() -> None:
    used = set(VARIABLE.findall(COMPOSE.read_text()))
    assert not used & {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        "DATABASE_URL",
        "EHRBASE_USER",
        "EHRBASE_PASSWORD",
    }


def _env_file(tmp_path: Path) -> Path:
    values = {
        name: (value or f"test-{name.lower()}") for name, value in active_assignments().items()
    }
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """Validated by a real Compose implementation (Debian's docker-compose), no engine needed."""
    binary = shutil.which("docker-compose")
    if binary is None:
        message = "docker-compose is not installed (apt-get install docker-compose)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [binary, "--env-file", str(_env_file(tmp_path)), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == {
        "postgres-auth",
        "postgres-fhir",
        "postgres-ehrbase",
        "fhir",
        "ehrbase",
        "console",
    }
    auth_check = rendered["services"]["postgres-auth"]["healthcheck"]["test"]
    assert auth_check[-4:] == ["-U", "auth_user", "-d", "quill_auth"]


def test_docker_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed")
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text())
    result = subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "in .env" in result.stderr
