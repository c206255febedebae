"""README "Running the full stack": the steps an operator follows, checked against the project.

Every ``flask --app console ...`` command the section shows must exist with the options it
uses, every compose service it names must be in compose.dev.yml, and the Alembic output it
quotes must be that of a real revision.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "migrations" / "versions"


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Running the full stack\n")
    end = text.index("\n## ", start + 1)
    return text[start:end].replace("\\\n", " ")


def flask_commands() -> list[list[str]]:
    """The argument lists after ``flask --app console`` (code blocks and inline code)."""
    found = re.findall(r"flask --app console ([^`\n#]+)", section())
    return [shlex.split(command) for command in found]


def test_the_section_gives_the_steps_in_order() -> None:
    text = section()
    steps = [
        "docker compose -f compose.dev.yml down -v",
        "cp .env.example .env",
        "docker compose -f compose.dev.yml up -d",
        "docker compose -f compose.dev.yml ps",
        "flask --app console db upgrade",
        "flask --app console ehrbase upload-templates",
        "flask --app console sandbox seed --patients",
        "### Troubleshooting",
    ]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    for topic in ("Connection errors", "Health", "Logs", "Legacy variables"):
        assert f"**{topic}" in text


def test_the_section_replaces_the_old_document() -> None:
    assert not (ROOT / "docs").exists()
    assert (ROOT / "README.md").read_text().count("## Running the full stack") == 1


@pytest.mark.parametrize("args", flask_commands(), ids=lambda a: " ".join(a[:2]))
def test_every_flask_command_shown_exists_with_its_options(
    app: Flask, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command: click.Command = app.cli
    names: list[str] = []
    remaining = list(args)
    while isinstance(command, click.Group) and remaining and not remaining[0].startswith("-"):
        name = remaining.pop(0)
        names.append(name)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"no command `flask --app console {' '.join(names)}`"
        command = found
    # Parsing without running: unknown options, bad values and missing arguments raise.
    # Values the command would prompt for (a password) are left unset instead.
    for param in command.params:
        if isinstance(param, click.Option) and param.prompt:
            monkeypatch.setattr(param, "prompt", None)
    with click.Context(app.cli, info_name="flask") as parent:
        command.make_context(" ".join(names), remaining, parent=parent, resilient_parsing=False)


def test_the_seed_command_loads_real_servers_with_a_patient_count() -> None:
    (seed,) = [a for a in flask_commands() if a[:2] == ["sandbox", "seed"]]
    assert "--patients" in seed and "--fhir-url" in seed and "--ehrbase-url" in seed
    assert seed[seed.index("--fhir-url") + 1] == "http://fhir:8080/fhir"
    assert seed[seed.index("--ehrbase-url") + 1] == "http://ehrbase:8080/ehrbase"
    # The compose console runs in production, where demo data is refused.
    assert "exec -e CONSOLE_ENV=development console" in section()


def test_the_quoted_alembic_message_is_a_real_revision() -> None:
    match = re.search(r"Running upgrade (\w+) -> (\w+), (.+)", section())
    assert match, "the section shows what Alembic prints for a new revision"
    down, revision, message = match.groups()
    (script,) = MIGRATIONS.glob(f"{revision}_*.py")
    source = script.read_text()
    assert f'down_revision = "{down}"' in source or f"down_revision = '{down}'" in source
    assert source.lstrip('"').startswith(message.strip())


def services_named() -> set[str]:
    """Services in the section's ``docker compose`` commands and its table."""
    named: set[str] = set()
    for line in re.findall(r"docker compose -f compose\.dev\.yml ([^`\n#]+)", section()):
        subcommand, *rest = shlex.split(line)
        words = [
            w
            for i, w in enumerate(rest)
            if not w.startswith("-") and not (i and rest[i - 1] == "-e")
        ]
        if subcommand == "exec":
            named.add(words[0])
        elif subcommand in ("logs", "up", "ps"):
            named.update(words)
    named |= set(re.findall(r"^\| `([a-z-]+)` \|", section(), re.MULTILINE))
    return named


def test_every_service_the_section_names_is_in_the_stack() -> None:
    services = set(yaml.safe_load((ROOT / "compose.dev.yml").read_text())["services"])
    named = services_named()
    assert {"console", "fhir", "ehrbase", "postgres-auth"} <= named
    assert named <= services, named - services
