"""Maintenance: speaker outages, repair crews, tickets, reports, retention and webhooks."""
