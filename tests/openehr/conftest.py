"""Fixtures for the EHRbase client suites: the emulator, or a real EHRbase for ``live`` runs.

The contract suite (``test_contract.py``) runs once against the emulator and once, marked
``live``, against the real EHRbase of the live tier (``tests/support/live.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.live import live_ehrbase
from tests.support.openehr import Target, ehrbase, ehrbase_server  # noqa: F401  (fixtures)


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The emulator, then (marked ``live``) the real EHRbase of the live tier."""
    if request.param == "emulator":
        yield request.getfixturevalue("ehrbase")
        return
    real = live_ehrbase()
    yield Target(real.url, real.user, real.password, real.admin_user, real.admin_password)
