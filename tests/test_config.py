"""Configuration: parsing, computed URLs, deprecations, production refusals, no secrets shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import DEPRECATED_VARIABLES, ConfigError, Secret, load_settings

STRONG_KEY = "k" * 20 + "9f8e7d6c5b4a3f2e1d0c"
PG_ENV = {
    "AUTH_DB_NAME": "quill_auth",
    "AUTH_DB_USER": "auth_user",
    "AUTH_DB_PASSWORD": "p@ss:w/rd%?#&=",
    "AUTH_DB_HOST": "postgres-auth",
    "AUTH_DB_PORT": "5433",
}


def load(env: dict[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(env, instance_path=tmp_path)


def test_no_auth_database_variables_means_sqlite_under_instance(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert settings.AUTH_DATABASE_URL.reveal() == f"sqlite:///{tmp_path / 'quill_auth.sqlite3'}"
    assert settings.uses_sqlite
    assert settings.CONSOLE_ENV == "development"


def test_every_variable_is_parsed(tmp_path: Path) -> None:
    env = {
        **PG_ENV,
        "FHIR_DB_NAME": "hapi",
        "FHIR_DB_USER": "hapi_user",
        "FHIR_DB_PASSWORD": "fhir-secret",
        "FHIR_DB_HOST": "postgres-fhir",
        "EHRBASE_DB_NAME": "ehrbase",
        "EHRBASE_DB_USER": "ehrbase_user",
        "EHRBASE_DB_PASSWORD": "ehr secret",
        "EHRBASE_DB_HOST": "postgres-ehrbase",
        "EHRBASE_DB_PORT": "5434",
        "FHIR_SERVER_URL": "http://fhir:8080/fhir/",
        "EHRBASE_URL": "http://ehrbase:8080/ehrbase",
        "EHRBASE_API_USER": "ehrbase-user",
        "EHRBASE_API_PASSWORD": "user-secret",
        "EHRBASE_API_ADMIN_USER": "ehrbase-admin",
        "EHRBASE_API_ADMIN_PASSWORD": "admin-secret",
        "SECRET_KEY": STRONG_KEY,
        "CONSOLE_ENV": "production",
        "CONSOLE_HTTPS": "true",
        "CONSOLE_PROXY_HOPS": "1",
        "LOG_LEVEL": "warning",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    }
    s = load(env, tmp_path)
    assert s.AUTH_DATABASE_URL.reveal() == (
        "postgresql+psycopg://auth_user:p%40ss%3Aw%2Frd%25%3F%23%26%3D@postgres-auth:5433/quill_auth"
    )
    assert s.FHIR_DATABASE_URL.reveal() == (
        "postgresql+psycopg://hapi_user:fhir-secret@postgres-fhir:5432/hapi"
    )
    assert s.EHRBASE_DATABASE_URL.reveal() == (
        "postgresql+psycopg://ehrbase_user:ehr%20secret@postgres-ehrbase:5434/ehrbase"
    )
    assert s.FHIR_SERVER_URL == "http://fhir:8080/fhir"
    assert s.EHRBASE_URL == "http://ehrbase:8080/ehrbase"
    assert s.EHRBASE_API_USER == "ehrbase-user"
    assert s.EHRBASE_API_PASSWORD.reveal() == "user-secret"
    assert s.EHRBASE_API_ADMIN_USER == "ehrbase-admin"
    assert s.EHRBASE_API_ADMIN_PASSWORD.reveal() == "admin-secret"
    assert s.is_production and s.HTTPS and s.LOG_LEVEL == "WARNING"
    assert s.PROXY_HOPS == 1
    assert s.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"
    assert not s.deprecations


def test_password_with_special_characters_round_trips_through_sqlalchemy(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(load(PG_ENV, tmp_path).AUTH_DATABASE_URL.reveal())
    assert url.password == PG_ENV["AUTH_DB_PASSWORD"]
    assert (url.username, url.host, url.port, url.database) == (
        "auth_user",
        "postgres-auth",
        5433,
        "quill_auth",
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AUTH_DB_NAME": "quill_auth"}, "AUTH_DB_USER"),
        ({**PG_ENV, "AUTH_DB_PORT": "54x"}, "AUTH_DB_PORT"),
        ({**PG_ENV, "AUTH_DB_PORT": "70000"}, "AUTH_DB_PORT"),
        ({"FHIR_SERVER_URL": "fhir:8080"}, "FHIR_SERVER_URL"),
        ({"EHRBASE_URL": "http://user:pw@ehrbase/ehrbase"}, "EHRBASE_URL"),
        ({"CONSOLE_HTTPS": "maybe"}, "CONSOLE_HTTPS"),
        ({"CONSOLE_PROXY_HOPS": "-1"}, "CONSOLE_PROXY_HOPS"),
        ({"CONSOLE_PROXY_HOPS": "9"}, "CONSOLE_PROXY_HOPS"),
        ({"CONSOLE_ENV": "staging"}, "CONSOLE_ENV"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"FHIR_DB_HOST": "db"}, "FHIR_DB_NAME"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=named):
        load(env, tmp_path)


@pytest.mark.parametrize("name", sorted(DEPRECATED_VARIABLES))
def test_each_deprecated_variable_is_reported_with_its_replacement(
    name: str, tmp_path: Path
) -> None:
    settings = load({name: "legacy-value"}, tmp_path)
    [deprecation] = settings.deprecations
    assert deprecation.name == name
    assert DEPRECATED_VARIABLES[name] in deprecation.message
    assert "no longer read" in deprecation.message


def test_deprecated_variables_are_never_used(tmp_path: Path) -> None:
    settings = load(
        {
            "DATABASE_URL": "postgresql://legacy:legacy@legacy/legacy",
            "EHRBASE_USER": "legacy-user",
            "EHRBASE_PASSWORD": "legacy-password",
        },
        tmp_path,
    )
    assert settings.uses_sqlite
    assert settings.EHRBASE_API_USER is None
    assert not settings.EHRBASE_API_PASSWORD


def test_production_refuses_a_deprecated_variable_without_its_replacement(tmp_path: Path) -> None:
    env = {**PG_ENV, "CONSOLE_ENV": "production", "SECRET_KEY": STRONG_KEY, "EHRBASE_USER": "x"}
    with pytest.raises(ConfigError, match="EHRBASE_API_USER is not set"):
        load(env, tmp_path)
    env["EHRBASE_API_USER"] = "ehrbase-user"
    assert [d.name for d in load(env, tmp_path).deprecations] == ["EHRBASE_USER"]


@pytest.mark.parametrize("key", ["", "secret", "changeme", "short-key"])
def test_production_refuses_a_missing_or_weak_secret_key(key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load({**PG_ENV, "CONSOLE_ENV": "production", "SECRET_KEY": key}, tmp_path)


def test_production_refuses_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SQLite"):
        load({"CONSOLE_ENV": "production", "SECRET_KEY": STRONG_KEY}, tmp_path)


def test_development_keeps_a_generated_secret_key_under_instance(tmp_path: Path) -> None:
    first = load({}, tmp_path).SECRET_KEY
    second = load({}, tmp_path).SECRET_KEY
    assert first == second and len(first.reveal()) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secrets_are_absent_from_repr_and_redacted_view(tmp_path: Path) -> None:
    env = {
        **PG_ENV,
        "EHRBASE_API_PASSWORD": "user-secret-value",
        "EHRBASE_API_ADMIN_PASSWORD": "admin-secret-value",
        "FHIR_AUTH_TOKEN": "bearer-secret-value",
        "SECRET_KEY": STRONG_KEY,
    }
    settings = load(env, tmp_path)
    shown = repr(settings) + str(settings.redacted()) + f"{settings.SECRET_KEY}"
    for secret in (PG_ENV["AUTH_DB_PASSWORD"], "user-secret-value", "admin-secret-value",
                   "bearer-secret-value", STRONG_KEY, "p%40ss"):  # fmt: skip
        assert secret not in shown
    assert settings.redacted()["AUTH_DATABASE_URL"] == (
        "postgresql://auth_user:********@postgres-auth:5433/quill_auth"
    )
    assert settings.redacted()["EHRBASE_API_PASSWORD"] == "********"


def test_secret_never_formats_its_value() -> None:
    secret = Secret("hunter2-hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {[secret]}"
    assert secret.reveal() == "hunter2-hunter2"


def test_dotenv_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.config import read_environment

    dotenv = tmp_path / ".env"
    dotenv.write_text("FHIR_SERVER_URL=http://from-dotenv/fhir\nEHRBASE_API_USER=dotenv-user\n")
    monkeypatch.setenv("EHRBASE_API_USER", "env-user")
    monkeypatch.delenv("FHIR_SERVER_URL", raising=False)
    settings = load_settings(read_environment(dotenv), instance_path=tmp_path)
    assert settings.FHIR_SERVER_URL == "http://from-dotenv/fhir"
    assert settings.EHRBASE_API_USER == "env-user"


def test_fhir_credentials_are_offered_only_when_configured(tmp_path: Path) -> None:
    none = load({}, tmp_path)
    assert none.fhir_bearer_token is None and none.fhir_basic_auth is None
    bearer = load({"FHIR_AUTH_TOKEN": "t0ken"}, tmp_path)
    assert bearer.fhir_bearer_token == "t0ken" and bearer.fhir_basic_auth is None
    basic = load({"FHIR_AUTH_USER": "proxy", "FHIR_AUTH_PASSWORD": "pa ss"}, tmp_path)
    assert basic.fhir_basic_auth == ("proxy", "pa ss") and basic.fhir_bearer_token is None
