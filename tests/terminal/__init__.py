"""Tests of the reference terminal."""
