"""Announcements: scripts with immutable revisions, the review workflow, recordings and renders."""
