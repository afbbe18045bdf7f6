"""Background jobs of schedules: the database lease and the APScheduler runtime."""
