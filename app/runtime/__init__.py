"""The plumbing floor, beneath every part of the domain: what runs in the background and how.

- :mod:`app.runtime.events` — domain events and after-commit hooks;
- :mod:`app.runtime.jobs`, :mod:`app.runtime.lease`, :mod:`app.runtime.scheduler` — periodic
  jobs run by the one process holding the database lease;
- :mod:`app.runtime.services` — background services (plain objects with ``start()`` and
  ``stop()``), periodic tasks and flush loops;
- :mod:`app.runtime.worker` — a worker claiming rows of a queue table (render jobs, webhook
  deliveries);
- :mod:`app.runtime.signals` — chaining a handler in front of the server's own.

Nothing here knows FastAPI or any part of the domain: the parts are given what to run by
:mod:`app.wiring`, which :mod:`app.main` and the command line call.
"""
