"""Fixtures for the administration pages: a signed-in administrator, bulk users, sessions."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.admin import Admin, signed_in


@pytest.fixture
def admin(app: Flask) -> Admin:
    """A signed-in System administrator on a fresh SQLite database."""
    return signed_in(app, "root", ("System administrator",))
