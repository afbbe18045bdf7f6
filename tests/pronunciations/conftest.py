"""Fixtures of the pronunciation tests: the announcement tests' people and event recorder."""

from tests.announcements.conftest import events, people

__all__ = ["events", "people"]
