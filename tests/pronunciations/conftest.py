"""Fixtures of the pronunciation tests: the district's people (as for announcements)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.announcements.helpers import People, record_events
from tests.conftest import District


@pytest.fixture
def people(district: District) -> People:
    """Staff and reviewers of towns t1 and t2, of the district, and admins (made on first use)."""
    return People(district)


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Events emitted while the test runs."""
    yield from record_events()
