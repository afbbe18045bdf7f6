"""Feed formats and division codes (pure)."""

from __future__ import annotations

import pytest

from app.areas.divisions import division_prefix, normalise_division
from app.feeds.formats import FeedFormatError, parse_feed
from tests.feeds.test_feeds import real

BASE = "http://feeds.example/cap/"


def test_rss_items_link_their_cap_documents() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><guid>a1</guid><pubDate>Tue, 01 Dec 2026 08:00:00 +0800</pubDate>
        <link>https://example.org/page</link>
        <enclosure url="a1.xml" type="application/cap+xml" length="1"/></item>
      <item><link>/b2.xml</link></item><item><title>no link</title></item>
    </channel></rss>"""

    entries = parse_feed("rss", body, BASE)

    assert [(e.key, e.link) for e in entries] == [
        ("a1|Tue, 01 Dec 2026 08:00:00 +0800", "http://feeds.example/cap/a1.xml"),
        ("http://feeds.example/b2.xml|", "http://feeds.example/b2.xml")]


def test_an_index_is_inline_alerts_or_a_list_of_urls() -> None:
    wrapper = real("36")  # SMHI's <alerts> dump of 17 alerts
    assert len(parse_feed("cap_index", wrapper, BASE)) == 17
    listed = parse_feed("cap_index", b'["1.xml", "https://x.example/2.xml"]', BASE)
    assert [e.link for e in listed] == [BASE + "1.xml", "https://x.example/2.xml"]
    lines = parse_feed("cap_index", b"# alerts\n1.xml\n\n2.xml\n", BASE)
    assert [e.link for e in lines] == [BASE + "1.xml", BASE + "2.xml"]


@pytest.mark.parametrize(("kind", "body", "reason"), [
    ("atom", b"<feed><entry>", "not well-formed"),
    ("atom", b"<rss/>", "expected an Atom"),
    ("rss", b'<feed xmlns="http://www.w3.org/2005/Atom"/>', "expected an RSS"),
    ("cap_index", b"[1, 2]", "URLs"),
    ("cap_index", b"<feed/>", "expected an <alerts>"),
    ("atom", "31", "not well-formed"),  # the real document 31: a DOCTYPE with external entities
    ("atom", b"  ", "empty"),
])
def test_unreadable_feeds_say_why(kind: str, body: bytes | str, reason: str) -> None:
    if isinstance(body, str):  # a real document, read when the test runs (skipped if absent)
        body = real(body)
    with pytest.raises(FeedFormatError, match=reason):
        parse_feed(kind, body, BASE)


def test_division_codes_match_by_their_significant_digits() -> None:
    assert normalise_division("130132") == "130132000000"
    assert division_prefix("130132000000") == "130132"
    assert division_prefix("130132100000") == "130132100"
    assert division_prefix("130132100201") == "130132100201"
    assert division_prefix("130000000000") == "13"
    for bad in ("1301321", "13013210020A", ""):
        with pytest.raises(ValueError):
            normalise_division(bad)
