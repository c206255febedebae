"""``flask users create-admin`` and ``ensure-demo-admin``."""

from __future__ import annotations

from flask import Flask

from console.admin.users.cli import create_admin, ensure_demo_admin
from tests.support.users import sign_in


def test_create_admin_with_options_creates_a_system_administrator(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        create_admin,
        ["--username", "Ops.Admin", "--email", "Ops@Example.org", "--full-name", "Ops Admin",
         "--password", "a long and unusual passphrase"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created administrator ops.admin." in result.output
    assert "unusual passphrase" not in result.output
    client = app.test_client()
    signed_in = sign_in(client, "ops.admin", "a long and unusual passphrase")
    # Administrators need two-factor by default: the first stop is setting it up.
    assert signed_in.headers["Location"] == "/auth/two-factor/set-up?next=/"
    assert "Set up two-factor" in client.get("/auth/two-factor/set-up").get_data(as_text=True)


def test_create_admin_prompts_for_what_is_missing_with_the_password_twice(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        create_admin,
        input="prompted\nprompted@example.org\nPrompted Person\n"
        "another long passphrase\nanother long passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert "another long passphrase" not in result.output


def test_create_admin_refuses_a_weak_password_and_creates_nothing(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        create_admin,
        [
            "--username",
            "weak",
            "--email",
            "weak@example.org",
            "--full-name",
            "W",
            "--password",
            "short",
        ],
    )
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    retry = runner.invoke(
        create_admin,
        ["--username", "weak", "--email", "weak@example.org", "--full-name", "W",
         "--password", "weak-but-long-enough-not"],
    )  # fmt: skip
    assert "must not contain your username" in retry.output and retry.exit_code == 2


def test_create_admin_refuses_a_duplicate_username_whatever_its_case(app: Flask) -> None:
    runner = app.test_cli_runner()
    args = [
        "--email",
        "a@example.org",
        "--full-name",
        "A",
        "--password",
        "a long and unusual passphrase",
    ]
    assert runner.invoke(create_admin, ["--username", "dup", *args]).exit_code == 0
    again = runner.invoke(create_admin, ["--username", "DUP", "--email", "b@example.org",
                                         *args[2:]])  # fmt: skip
    assert again.exit_code == 2 and "already taken" in again.output


def test_demo_admin_prints_working_credentials_each_time(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(ensure_demo_admin)
    second = runner.invoke(ensure_demo_admin)
    assert first.exit_code == second.exit_code == 0
    lines = second.output.splitlines()
    assert lines[0] == "username: admin"
    password = lines[1].removeprefix("password: ")
    assert password != first.output.splitlines()[1].removeprefix("password: ")
    client = app.test_client()
    assert sign_in(client, "admin", password).status_code == 302


def test_demo_admin_is_refused_in_production(app_factory) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    app = app_factory()
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], CONSOLE_ENV="production")
    result = app.test_cli_runner().invoke(ensure_demo_admin)
    assert result.exit_code == 2 and "refused in production" in result.output
