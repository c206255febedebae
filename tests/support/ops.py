"""Test support for ops: helpers and fixtures shared by its tests."""

from __future__ import annotations

import json
from typing import Any

API_PASSWORD = "ehrbase-user-pw-7f3a9c"
ADMIN_PASSWORD = "ehrbase-admin-pw-2b8e1d"


def request_lines(text: str) -> list[dict[str, Any]]:
    """The request log lines (JSON) in captured stderr."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request":
                lines.append(entry)
    return lines
