"""Tests of the pure playout rule."""
