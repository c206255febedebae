"""What it takes to start one server of the platform: command, environment, readiness."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".stack"
"""Data directories, logs and built applications (git-ignored)."""

DEFAULT_PORTS = {
    "postgres": 54329,
    "ehrbase": 18081,
    "hapi": 18082,
    "keycloak": 18083,
    "keycloak_management": 19083,
}


def port(name: str) -> int:
    """The loopback port of server ``name``: ``STACK_<NAME>_PORT`` or the default."""
    raw = os.environ.get(f"STACK_{name.upper()}_PORT", "")
    if not raw:
        return DEFAULT_PORTS[name]
    if not raw.isascii() or not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        raise ValueError(f"STACK_{name.upper()}_PORT must be a port number from 1024 to 65535")
    return int(raw)


@dataclass(frozen=True)
class ServerSpec:
    """One server process: how to start it and how to tell that it is ready."""

    name: str
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_url: str = ""
    ready_auth: tuple[str, str] | None = None
    ready_timeout_seconds: float = 300.0
