"""Urgent broadcasts: cut-in announcements, idempotency and CAP 1.2 alerts."""
