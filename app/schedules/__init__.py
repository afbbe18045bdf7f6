"""Schedules: rules → occurrences (pure), issuing orders, APScheduler jobs, leader lease."""
