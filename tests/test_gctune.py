"""The server's collector: what exists at start-up is frozen, young objects collected rarely."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app.gctune import THRESHOLDS, tune_collector


@pytest.fixture
def collector() -> Iterator[None]:
    """Give the test process its own collector settings back afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_serving_freezes_what_exists_and_collects_young_objects_rarely(collector: None) -> None:
    cycle: list[object] = []
    cycle.append(cycle)  # a reference cycle alive at start-up
    tune_collector()
    assert gc.get_threshold() == THRESHOLDS and THRESHOLDS[0] > 700
    assert gc.get_freeze_count() > 0
    assert all(o is not cycle for o in gc.get_objects())  # frozen: no collection scans it
