"""The cyclic garbage collector of a server process, tuned for thousands of waiting long-polls.

A node holding 10,000 long-polls keeps over a million objects alive (every connection's
task, futures, request scope, transport…). When an urgent broadcast wakes them all, each
answer allocates and each terminal's next long-poll leaves new long-lived objects behind;
with CPython's default thresholds (700, 10, 10) that burst sets off full collections, each
walking every live object. In ``bench/scale.py``'s fan-out to 10,000 terminals they were
half of the node's CPU (4.1 s of collector time of about 8 s; tuned as below: 1.5 s).

Reference counting frees nearly everything a request makes; the collector is there for
cycles (an exception and its traceback), which die young and are found in the young
generations. So the youngest generation is collected every 50,000 allocations rather than
700, a full collection waits for 100 middle ones, and what exists once the application is
imported (modules, classes, routes) is frozen out of every collection.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "tune_collector"]

THRESHOLDS = (50_000, 20, 100)


def tune_collector() -> None:
    """Freeze what exists now and collect less often (``cunxiang serve``, once the
    application's modules are imported)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
