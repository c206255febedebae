"""How the real HAPI FHIR server is built and started (``stack/hapi.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stack import hapi


def test_database_urls_become_jdbc_urls_without_credentials() -> None:
    assert hapi.jdbc_url("postgresql://127.0.0.1:54329/hapi") == (
        "jdbc:postgresql://127.0.0.1:54329/hapi"
    )
    assert hapi.jdbc_url("jdbc:postgresql://h:5432/hapi") == "jdbc:postgresql://h:5432/hapi"
    with pytest.raises(ValueError, match="separately"):
        hapi.jdbc_url("postgresql://hapi_user:secret@127.0.0.1/hapi")
    with pytest.raises(ValueError, match="must start with"):
        hapi.jdbc_url("mysql://127.0.0.1/hapi")


def test_spec_starts_hapi_on_loopback_with_its_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(hapi, "STATE_DIR", tmp_path)
    monkeypatch.setattr(hapi, "java_executable", lambda: "/opt/jdk/bin/java")
    spec = hapi.spec("postgresql://127.0.0.1:54329/hapi", "hapi_user", "s3cret-pass", 18082)
    assert spec.command[0] == "/opt/jdk/bin/java" and "-Xmx1g" in spec.command
    assert spec.command[-2:] == ("-jar", str(hapi.JAR))
    assert spec.env["HAPI_DB_URL"] == "jdbc:postgresql://127.0.0.1:54329/hapi"
    assert (spec.env["HAPI_DB_USER"], spec.env["HAPI_DB_PASSWORD"]) == ("hapi_user", "s3cret-pass")
    assert (spec.env["SERVER_ADDRESS"], spec.env["SERVER_PORT"]) == ("127.0.0.1", "18082")
    assert spec.ready_url == "http://127.0.0.1:18082/fhir/metadata"
    assert spec.cwd == tmp_path / "hapi" and spec.cwd.is_dir()
    assert "s3cret-pass" not in " ".join(spec.command), "the password stays out of the process list"


def test_build_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hapi, "JAR", tmp_path / "missing.jar")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(hapi.HapiBuildError, match="Java 17 or newer is needed"):
        hapi.build()
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    with pytest.raises(hapi.HapiBuildError, match="Maven is needed"):
        hapi.build()


def test_an_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_402\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(hapi.HapiBuildError, match="is Java 8"):
        hapi.java_executable()


def test_the_jar_is_rebuilt_only_when_a_source_is_newer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "src" / "main" / "App.java"
    source.parent.mkdir(parents=True)
    source.write_text("class App {}")
    (tmp_path / "pom.xml").write_text("<project/>")
    jar = tmp_path / "target" / "app.jar"
    jar.parent.mkdir()
    jar.write_bytes(b"jar")
    monkeypatch.setattr(hapi, "SOURCE_DIR", tmp_path)
    monkeypatch.setattr(hapi, "JAR", jar)
    os.utime(source, (1_000, 1_000))
    os.utime(tmp_path / "pom.xml", (1_000, 1_000))
    os.utime(jar, (2_000, 2_000))
    assert hapi.is_built()
    hapi.build()  # up to date: neither Java nor Maven is looked for
    os.utime(source, (3_000, 3_000))
    assert not hapi.is_built()
