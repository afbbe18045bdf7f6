"""Tests of the speaker registry, heartbeats and health."""
