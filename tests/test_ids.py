"""Identifiers: one at a time or thousands at once, the same shape, unique, sorted by time."""

from __future__ import annotations

import re
import time

from app.ids import new_id, new_ids

SHAPE = re.compile(r"^ord_[0-9a-hjkmnp-tv-z]{22}$")  # Crockford base32, lower case


def test_ids_made_in_bulk_look_like_single_ones_and_never_repeat() -> None:
    earlier = new_id("ord")
    time.sleep(0.002)
    many = new_ids("ord", 20_000)
    assert len(set(many)) == 20_000
    assert all(SHAPE.match(i) for i in [earlier, *many])
    assert earlier < min(many)  # made later, sorted later
    assert new_ids("ord", 0) == []
    noise = "".join(i[-12:] for i in many)  # every digit turns up, none favoured
    counts = [noise.count(digit) for digit in set(noise)]
    assert len(counts) == 32 and max(counts) < 1.2 * min(counts)
