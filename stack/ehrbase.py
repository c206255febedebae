"""EHRbase from its Maven Central modules, run on loopback against the project cluster.

``build()`` resolves the class path with Maven (``stack/ehrbase/pom.xml``, cached in ``~/.m2``)
into ``.stack/ehrbase/lib`` and compiles the small main class beside the pom; both are redone
only when the pom or the class changes. ``spec()`` gives the server the environment
``compose.dev.yml`` gives its ``ehrbase`` service.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from stack.spec import ROOT, STATE_DIR, ServerSpec

SOURCE_DIR = ROOT / "stack" / "ehrbase"
POM = SOURCE_DIR / "pom.xml"
MAIN_SOURCE = SOURCE_DIR / "EhrbaseServer.java"
MAIN_CLASS = "quill.stack.EhrbaseServer"
BUILD_DIR = STATE_DIR / "ehrbase"
LIB_DIR = BUILD_DIR / "lib"
CLASSES_DIR = BUILD_DIR / "classes"
STAMP = BUILD_DIR / "built-from.sha256"
JAVA_HOME = Path(os.environ.get("STACK_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"))
READY_TIMEOUT_SECONDS = 600.0
"""First start migrates the schema (Flyway); on a busy two-core machine that takes minutes."""


class BuildFailed(RuntimeError):
    """Java, Maven or the network is missing, or the build failed; the message says which."""


def _version() -> str:
    text = POM.read_text()
    return text.split("<ehrbase.version>", 1)[1].split("<", 1)[0]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (POM, MAIN_SOURCE):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _tool(path: Path, name: str) -> str:
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise BuildFailed(f"{name} is not installed (looked for {path} and on the PATH)")
    return found


def build() -> None:
    """Resolve EHRbase's class path and compile its main class, unless already done."""
    if STAMP.exists() and STAMP.read_text().strip() == _fingerprint():
        return
    javac = _tool(JAVA_HOME / "bin" / "javac", "javac")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BuildFailed("Maven (mvn) is not installed; install Debian's 'maven' package")
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    BUILD_DIR.mkdir(parents=True)
    resolved = subprocess.run(
        [
            mvn,
            "--batch-mode",
            "--quiet",
            "--file",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={LIB_DIR}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "JAVA_HOME": str(JAVA_HOME)},
    )
    if resolved.returncode != 0:
        raise BuildFailed(f"Maven could not resolve EHRbase:\n{resolved.stdout[-3000:]}")
    compiled = subprocess.run(
        [javac, "--release", "21", "-cp", f"{LIB_DIR}/*", "-d", str(CLASSES_DIR), MAIN_SOURCE],
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        raise BuildFailed(f"javac failed:\n{compiled.stderr[-3000:]}")
    # EHRbase's status service reports the build it runs; its own jar would carry this file.
    info = CLASSES_DIR / "META-INF" / "build-info.properties"
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text(
        "build.group=org.ehrbase.openehr\nbuild.artifact=ehrbase\nbuild.name=EHRbase\n"
        f"build.version={_version()}\n"
    )
    STAMP.write_text(_fingerprint() + "\n")


def spec(values: dict[str, str], db_port: int, port: int) -> ServerSpec:
    """EHRbase on ``127.0.0.1:port`` (context path ``/ehrbase``) against the ``ehrbase`` database.

    ``values`` holds the ``.env`` names and passwords (``stack.platform.settings()``)."""
    java = _tool(JAVA_HOME / "bin" / "java", "java")
    env = {
        "SPRING_PROFILES_ACTIVE": "docker",
        "DB_URL": f"jdbc:postgresql://127.0.0.1:{db_port}/{values['EHRBASE_DB_NAME']}",
        "DB_USER": values["EHRBASE_DB_USER"],
        "DB_PASS": values["EHRBASE_DB_PASSWORD"],
        "DB_USER_ADMIN": values["EHRBASE_DB_OWNER_USER"],
        "DB_PASS_ADMIN": values["EHRBASE_DB_OWNER_PASSWORD"],
        "SECURITY_AUTHTYPE": "BASIC",
        "SECURITY_AUTHUSER": values["EHRBASE_API_USER"],
        "SECURITY_AUTHPASSWORD": values["EHRBASE_API_PASSWORD"],
        "SECURITY_AUTHADMINUSER": values["EHRBASE_API_ADMIN_USER"],
        "SECURITY_AUTHADMINPASSWORD": values["EHRBASE_API_ADMIN_PASSWORD"],
        "SERVER_NODENAME": "quill.ehrbase.node",
        # What the image sets: its port, its context path; here on loopback only.
        "SERVER_ADDRESS": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_SERVLET_CONTEXTPATH": "/ehrbase",
        # Two small pools are plenty for tests on a two-core machine.
        "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE": "10",
        "SPRING_DATASOURCE_HIKARI_MINIMUMIDLE": "2",
    }
    command = (
        java,
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-Xmx768m",
        "--enable-native-access=ALL-UNNAMED",
        "-cp",
        f"{CLASSES_DIR}{os.pathsep}{LIB_DIR}/*",
        MAIN_CLASS,
    )
    return ServerSpec(
        name="ehrbase",
        command=command,
        env=env,
        cwd=BUILD_DIR,
        ready_url=f"http://127.0.0.1:{port}/ehrbase/rest/status",
        ready_auth=(values["EHRBASE_API_USER"], values["EHRBASE_API_PASSWORD"]),
        ready_timeout_seconds=READY_TIMEOUT_SECONDS,
    )
