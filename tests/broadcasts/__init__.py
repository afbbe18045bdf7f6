"""Tests of urgent broadcasts and CAP 1.2 alerts."""
