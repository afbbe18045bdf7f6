"""Tests of the pure schedule rules."""
