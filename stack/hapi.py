"""HAPI FHIR 8.8 (R4, JPA on PostgreSQL): the small Spring Boot app in ``stack/hapi-server/``.

``build()`` packages it with Maven (cached in ``~/.m2``) when its sources are newer than the
jar; ``spec()`` says how to start it on a loopback port against one PostgreSQL database.

    python -m stack.hapi build      # what ``make hapi-server`` runs
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from stack.spec import ROOT, STATE_DIR, ServerSpec

SOURCE_DIR = ROOT / "stack" / "hapi-server"
JAR = SOURCE_DIR / "target" / "quill-hapi-server.jar"
MINIMUM_JAVA = 17
HEAP = "-Xmx1g"
"""Enough for the console's searches and a 200-patient seed; the CI machine runs EHRbase too."""
READY_TIMEOUT_SECONDS = 1200.0
"""HAPI parses every R4 StructureDefinition on start and builds its CapabilityStatement on the
first ``/fhir/metadata`` (which may take minutes to answer): ready after 17 minutes on a two-core
machine with a load average of 20, a small part of that on a quiet one."""


class HapiBuildError(RuntimeError):
    """HAPI's server cannot be built or started here (no Java or Maven, or Maven failed)."""


def _sources() -> list[Path]:
    return [SOURCE_DIR / "pom.xml", *(p for p in (SOURCE_DIR / "src").rglob("*") if p.is_file())]


def is_built() -> bool:
    """Whether the jar exists and is newer than the pom and every source file."""
    if not JAR.is_file():
        return False
    built = JAR.stat().st_mtime
    return all(source.stat().st_mtime <= built for source in _sources())


def java_executable() -> str:
    """The ``java`` to run HAPI with: ``$JAVA_HOME/bin/java`` or the first on ``PATH``."""
    home = os.environ.get("JAVA_HOME", "")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not Path(found).is_file():
        raise HapiBuildError(
            f"Java {MINIMUM_JAVA} or newer is needed to run HAPI FHIR: install a JDK "
            "(Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME."
        )
    version = _java_major_version(found)
    if version < MINIMUM_JAVA:
        raise HapiBuildError(f"{found} is Java {version}; HAPI FHIR 8.8 needs {MINIMUM_JAVA}+.")
    return found


def _java_major_version(java: str) -> int:
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False, timeout=60
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not match:
        raise HapiBuildError(f"Cannot tell the version of {java}: {result.stderr.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def build() -> None:
    """Package ``quill-hapi-server.jar`` with Maven unless it is already newer than its sources."""
    if is_built():
        return
    java_executable()
    maven = shutil.which("mvn")
    if maven is None:
        raise HapiBuildError(
            "Maven is needed to build HAPI FHIR's server (Debian: apt-get install maven)."
        )
    result = subprocess.run(
        [maven, "-q", "-B", "-DskipTests", "package"],
        cwd=SOURCE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not JAR.is_file():
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise HapiBuildError(
            f"Maven could not build {JAR.name} (exit {result.returncode}):\n{output}"
        )
    JAR.touch()  # Maven leaves an unchanged jar's time alone; the jar must read as up to date.


def jdbc_url(db_url: str) -> str:
    """A JDBC URL from ``jdbc:postgresql://…`` or ``postgresql://host:port/db`` (no credentials)."""
    if db_url.startswith("jdbc:postgresql://"):
        return db_url
    for scheme in ("postgresql://", "postgres://"):
        if db_url.startswith(scheme):
            rest = db_url[len(scheme) :]
            if "@" in rest.split("/", 1)[0]:
                raise ValueError("Give the database user and password separately, not in the URL.")
            return "jdbc:postgresql://" + rest
    raise ValueError("The HAPI database URL must start with jdbc:postgresql:// or postgresql://")


def spec(db_url: str, db_user: str, db_password: str, port: int) -> ServerSpec:
    """How to start HAPI FHIR on ``http://127.0.0.1:<port>/fhir`` against one database.

    ``db_url`` is a JDBC (``jdbc:postgresql://…``) or libpq (``postgresql://…``) URL without
    credentials. HAPI creates its schema on first start; ready once ``/fhir/metadata`` answers.
    """
    state = STATE_DIR / "hapi"
    state.mkdir(parents=True, exist_ok=True)
    command = (
        java_executable(),
        HEAP,
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        f"-Djava.io.tmpdir={state}",
        "-jar",
        str(JAR),
    )
    env = {
        "HAPI_DB_URL": jdbc_url(db_url),
        "HAPI_DB_USER": db_user,
        "HAPI_DB_PASSWORD": db_password,
        "SERVER_ADDRESS": "127.0.0.1",
        "SERVER_PORT": str(port),
        "LOGGING_FILE_NAME": str(state / "hapi.log"),
    }
    return ServerSpec(
        name="hapi",
        command=command,
        env=env,
        cwd=state,
        ready_url=f"http://127.0.0.1:{port}/fhir/metadata",
        ready_timeout_seconds=READY_TIMEOUT_SECONDS,
    )


def main(argv: list[str]) -> int:
    """``python -m stack.hapi build``: build the jar if it is out of date."""
    if argv != ["build"]:
        print("usage: python -m stack.hapi build", file=sys.stderr)
        return 2
    try:
        build()
    except HapiBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(JAR.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
