"""``flask users ...``: create administrators from the command line (scriptable for ops)."""

from __future__ import annotations

import secrets
import string

import click
from flask import current_app
from flask.cli import AppGroup

from console.admin.users.accounts import AccountError, create_user, reset_password
from console.auth import totp
from console.auth.password_policy import password_problems
from console.auth.services import find_user
from console.db import db

users_cli = AppGroup("users", help="Manage console users.")

DEMO_ADMIN_USERNAME = "admin"


def generate_password(length: int = 20) -> str:
    """A random password from letters and digits, easy to copy from a terminal."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@users_cli.command("create-admin")
@click.option("--username", prompt=True, help="Sign-in name (stored lower-case).")
@click.option("--email", prompt=True, help="E-mail address.")
@click.option("--full-name", prompt="Full name", help="Name shown in the console.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="CONSOLE_ADMIN_PASSWORD",
    help="Password (prompted twice, hidden, when not given; or CONSOLE_ADMIN_PASSWORD).",
)
def create_admin(username: str, email: str, full_name: str, password: str) -> None:
    """Create a System administrator."""
    problems = password_problems(password, username=username, email=email)
    if problems:
        raise click.UsageError(" ".join(problems))
    try:
        user = create_user(
            username=username,
            email=email,
            full_name=full_name,
            password=password,
            role_names=["System administrator"],
            must_change_password=False,
            audit_action="user.create_admin_cli",
        )
    except AccountError as exc:
        raise click.UsageError(str(exc)) from None
    db.session.commit()
    click.echo(f"Created administrator {user.username}.")


@users_cli.command("ensure-demo-admin")
def ensure_demo_admin() -> None:
    """Sandbox only: create (or re-key) the demo administrator and print its credentials."""
    if current_app.config["SETTINGS"].is_production:
        raise click.UsageError("The demo administrator is for the sandbox; refused in production.")
    password = generate_password()
    user = find_user(DEMO_ADMIN_USERNAME)
    if user is None:
        create_user(
            username=DEMO_ADMIN_USERNAME,
            email="admin@example.org",
            full_name="Demo Administrator",
            password=password,
            role_names=["System administrator", "Clinician"],
            must_change_password=False,
            audit_action="user.create_demo_admin",
        )
    else:
        reset_password(user, password, must_change=False, audit_action="user.reset_demo_admin")
    # Administrators sign in with two-factor by default: enrol a fresh authenticator key too.
    user = find_user(DEMO_ADMIN_USERNAME)
    assert user is not None
    secret = totp.new_secret()
    user.totp_secret, user.totp_enabled, user.totp_last_used_step = secret, True, None
    user.must_enrol_totp = False
    db.session.commit()
    click.echo(f"username: {DEMO_ADMIN_USERNAME}")
    click.echo(f"password: {password}")
    click.echo(f"two-factor key: {secret}")
    click.echo(f"two-factor URI: {totp.provisioning_uri(secret, DEMO_ADMIN_USERNAME)}")
    click.echo("  (add the key or URI to an authenticator app; sign-in asks for its code)")
