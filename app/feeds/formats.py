"""Feed documents → the CAP messages they carry (pure: no DB, no HTTP).

- ``atom``: an Atom feed; each ``<entry>`` carries its CAP alert inline in ``<content>`` or
  links to it (a ``<link>`` of type ``application/cap+xml``, else its ``alternate`` link).
- ``rss``: an RSS 2.0 channel; each ``<item>`` links to its CAP alert (``<enclosure>`` of type
  ``application/cap+xml``, else ``<link>``).
- ``cap_index``: a list of alerts — an XML ``<alerts>`` document holding the ``<alert>``
  elements themselves, or a list of CAP document URLs (a JSON array, or one per line).

Each entry has a key (its id or link and its update time): an entry seen before is not
fetched again. Feeds are untrusted: parsed with defusedxml, DTDs forbidden.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError, tostring

import defusedxml
import defusedxml.ElementTree as safe_xml

from app.broadcasts.cap import CAP_NAMESPACE

__all__ = ["Entry", "FeedFormatError", "parse_feed", "MAX_ENTRIES"]

ATOM = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
MAX_ENTRIES = 5000


class FeedFormatError(ValueError):
    """The feed document cannot be read; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One alert of a feed: inline bytes or a link to fetch."""

    key: str
    link: str | None = None
    inline: bytes | None = None


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _xml(body: bytes) -> Element:
    try:
        return safe_xml.fromstring(body, forbid_dtd=True)
    except (defusedxml.DefusedXmlException, ParseError, ValueError) as exc:
        raise FeedFormatError(f"not well-formed XML: {exc}") from None


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _capped(entries: list[Entry]) -> list[Entry]:
    if len(entries) > MAX_ENTRIES:
        raise FeedFormatError(f"the feed lists {len(entries)} entries; at most {MAX_ENTRIES}")
    return entries


def _inline(alert: Element) -> Entry:
    data = tostring(alert, encoding="utf-8")
    return Entry(key="inline:" + hashlib.sha256(data).hexdigest(), inline=data)


def _atom(root: Element, base: str) -> list[Entry]:
    if _local(root.tag) != (ATOM, "feed"):
        raise FeedFormatError(f"expected an Atom <feed>, found <{_local(root.tag)[1]}>")
    entries = []
    for entry in root.findall(f"{{{ATOM}}}entry"):
        alert = next((child for child in entry.iter() if _local(child.tag) ==
                      (CAP_NAMESPACE, "alert")), None)
        if alert is not None:
            entries.append(_inline(alert))
            continue
        links = entry.findall(f"{{{ATOM}}}link")
        chosen = (next((link for link in links if link.get("type") == CAP_TYPE), None)
                  or next((link for link in links if link.get("rel", "alternate")
                           == "alternate"), None))
        if chosen is None or not chosen.get("href"):
            continue  # an entry without an alert: nothing to do
        href = urljoin(base, str(chosen.get("href")))
        stamp = _text(entry.find(f"{{{ATOM}}}updated"))
        key = f"{_text(entry.find(f'{{{ATOM}}}id')) or href}|{stamp}"
        entries.append(Entry(key=key, link=href))
    return _capped(entries)


def _rss(root: Element, base: str) -> list[Entry]:
    if _local(root.tag)[1] != "rss" or root.find("channel") is None:
        raise FeedFormatError(f"expected an RSS <rss><channel>, found <{_local(root.tag)[1]}>")
    entries = []
    for item in root.iter("item"):
        enclosure = next((e for e in item.findall("enclosure") if e.get("type") == CAP_TYPE),
                         None)
        href = enclosure.get("url") if enclosure is not None else _text(item.find("link"))
        if not href:
            continue
        href = urljoin(base, str(href))
        guid = _text(item.find("guid")) or href
        entries.append(Entry(key=f"{guid}|{_text(item.find('pubDate'))}", link=href))
    return _capped(entries)


def _index(body: bytes, base: str) -> list[Entry]:
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("<"):
        root = _xml(body)
        if _local(root.tag)[1] != "alerts":
            raise FeedFormatError(f"expected an <alerts> index, found <{_local(root.tag)[1]}>")
        return _capped([_inline(child) for child in root
                        if _local(child.tag) == (CAP_NAMESPACE, "alert")])
    if text.startswith("["):
        try:
            urls = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FeedFormatError(f"not a JSON list of URLs: {exc}") from None
        if not all(isinstance(u, str) for u in urls):
            raise FeedFormatError("a JSON index lists URLs (strings)")
    else:
        urls = [line.strip() for line in text.splitlines()
                if line.strip() and not line.startswith("#")]
    return _capped([Entry(key=urljoin(base, u), link=urljoin(base, u)) for u in urls])


def parse_feed(kind: str, body: bytes, base_url: str) -> list[Entry]:
    """The entries of a feed document of ``kind``; FeedFormatError when it is not one."""
    if not body.strip():
        raise FeedFormatError("the feed is empty")
    if kind == "atom":
        return _atom(_xml(body), base_url)
    if kind == "rss":
        return _rss(_xml(body), base_url)
    if kind == "cap_index":
        return _index(body, base_url)
    raise FeedFormatError(f"unknown feed kind {kind!r}")
