"""The HAPI FHIR container healthcheck: a compiled Java probe run by the image's own ``java``.

The HAPI image is distroless (no shell, curl or wget; a Java runtime that cannot compile
source), so compose.dev.yml mounts ``docker/hapi`` and runs ``HapiHealthCheck``. These tests run
the committed class file exactly as the healthcheck does, against the HAPI emulator.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from console.sandbox.hapi import start_hapi_emulator
from console.sandbox.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
PROBE_DIR = ROOT / "docker" / "hapi"
SOURCE = PROBE_DIR / "HapiHealthCheck.java"
CLASS = PROBE_DIR / "HapiHealthCheck.class"
IN_CI = os.environ.get("CI", "").lower() == "true"
JAVA_17_CLASS_FILE = 61


def _tool(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        message = f"{name} is not installed (apt-get install default-jdk-headless)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="module")
def fhir_service() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.dev.yml").read_text())["services"]["fhir"]


@pytest.fixture
def hapi() -> Iterator[tuple[EmulatorServer, str]]:
    server, url = start_hapi_emulator()
    yield server, url
    server.stop()


def _run_healthcheck(fhir_service: dict[str, Any], base_url: str, classes: Path = PROBE_DIR) -> int:
    """The compose healthcheck command, with the mount and HAPI's address replaced."""
    java = _tool("java")
    kind, program, *args = fhir_service["healthcheck"]["test"]
    assert (kind, program) == ("CMD", "java")
    args = [str(classes) if a == "/opt/quill/healthcheck" else a for a in args]
    args = [base_url if a == "http://127.0.0.1:8080/fhir" else a for a in args]
    return subprocess.run([java, *args], capture_output=True, timeout=60, check=False).returncode


def test_the_probe_is_mounted_read_only_and_is_all_the_healthcheck_runs(fhir_service) -> None:
    assert "./docker/hapi:/opt/quill/healthcheck:ro" in fhir_service["volumes"]
    test = fhir_service["healthcheck"]["test"]
    assert test[:2] == ["CMD", "java"], "no shell: exec form, the image's java"
    assert test[-2:] == ["HapiHealthCheck", "http://127.0.0.1:8080/fhir"]
    assert "disable" not in fhir_service["healthcheck"]
    assert fhir_service["healthcheck"]["start_period"] in ("300s", "5m")


def test_the_class_file_runs_on_java_17() -> None:
    header = CLASS.read_bytes()[:8]
    assert header[:4] == b"\xca\xfe\xba\xbe"
    assert int.from_bytes(header[6:8], "big") == JAVA_17_CLASS_FILE


def test_the_class_file_is_compiled_from_the_committed_source(tmp_path: Path) -> None:
    """A changed .java without a rebuilt .class would ship the old probe."""
    javac, javap = _tool("javac"), _tool("javap")
    subprocess.run(
        [javac, "--release", "17", "-d", str(tmp_path), str(SOURCE)], check=True, timeout=120
    )

    def disassembled(folder: Path) -> str:
        out = subprocess.run(
            [javap, "-c", "-p", "-constants", "-cp", str(folder), "HapiHealthCheck"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        # Constant-pool indices (#12) may differ between javac versions; the code may not.
        lines = (line for line in out.splitlines() if not line.startswith("Compiled from"))
        return "\n".join(re.sub(r"#\d+(:#\d+)?", "#", line) for line in lines)

    assert disassembled(PROBE_DIR) == disassembled(tmp_path), (
        "rebuild it: make docker/hapi/HapiHealthCheck.class"
    )


def test_the_probe_needs_nothing_beyond_java_base() -> None:
    jdeps = _tool("jdeps")
    out = subprocess.run(
        [jdeps, "-summary", str(CLASS)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.split() == ["HapiHealthCheck.class", "->", "java.base"]


def test_healthy_when_hapi_serves_its_capability_statement(fhir_service, hapi) -> None:
    server, url = hapi
    assert _run_healthcheck(fhir_service, url) == 0
    assert server.injector.requests == [("GET", "/fhir/metadata")]


def test_unhealthy_while_hapi_does_not_listen(fhir_service, hapi) -> None:
    server, url = hapi
    server.refuse_connections()
    assert _run_healthcheck(fhir_service, url) == 1


def test_unhealthy_while_hapi_answers_errors(fhir_service, hapi) -> None:
    server, url = hapi
    server.set_faults(status=503, only_paths=["/fhir/metadata"])
    assert _run_healthcheck(fhir_service, url) == 1


def test_unhealthy_when_the_answer_is_not_a_capability_statement(fhir_service, hapi) -> None:
    server, url = hapi
    outcome = '{"resourceType":"OperationOutcome","issue":[]}'
    server.set_faults(status=200, body=outcome, only_paths=["/fhir/metadata"])
    assert _run_healthcheck(fhir_service, url) == 1
