"""The real CAP corpus (``../shared/cap-real``, 40 documents): a district to post it to, and
the answer each document must get. Used by ``test_cap_corpus.py`` and ``bench/cap_geometry.py``.

The district makes every kind of targeting meaningful: a village (``g02`` …) with a speaker
inside each document's first polygon or circle, villages whose codes are the geocodes some
documents carry (``006037`` is Los Angeles County's SAME code, ``NSW_PW003`` a BoM AMOC area,
``2642`` a postcode…), and a ``decoy`` village whose speakers sit inside the shapes' bounding
boxes but outside every shape (the bounding box is never the answer). Positions were picked
once (a representative point of each shape) and are written here as plain numbers.

Why each document gets its answer is said next to it; ``SOURCES.md`` beside the corpus says
what each document is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["CORPUS_VILLAGES", "CORPUS_SPEAKERS", "DECOYS", "EXPECTED", "SEED_05", "Expected",
           "sent_of"]  # fmt: skip

# (code, parent): the town of villages reached by shapes, and of villages named by geocodes.
CORPUS_VILLAGES = [
    *((f"g{n}", "cx-shape") for n in
      ("02", "03", "07", "11", "12", "13", "14", "14-ended", "15", "17", "18", "19", "21", "23",
       "27", "28", "29", "35")),
    *((code, "cx-code") for code in
      ("006109", "006037", "072115", "026000", "2642", "NSW_PW003", "1000512", "c-nv")),
    ("decoy", "cx-shape"),
]  # fmt: skip

# village → (lat, lon) of its speaker: a point inside the document's first shape.
CORPUS_SPEAKERS = {
    "g02": (38.495, -119.93375),
    "g03": (32.9525, -115.5527),  # exactly at the centre of a radius-0 circle
    "g07": (39.08563, -77.14941),
    "g11": (41.99885, -82.7274),
    "g12": (55.47085, -105.4765),
    "g13": (47.75715, -58.96544),
    "g14": (46.44355, -81.16695),
    "g14-ended": (46.6948, -82.94329),  # in info[3]'s area only ("heat warning ended")
    "g15": (-35.3888, 147.0598),
    "g17": (30.092, -92.6235),
    "g18": (64.12, -21.89438),
    "g19": (16.78504, -94.47601),
    "g21": (12.25, 121.5),
    "g23": (-9.5192, 46.37184),
    "g27": (7.49598, 1.09528),
    "g28": (12.24791, -1.18804),
    "g29": (38.8963, -121.0784),
    "g35": (39.96557, -7.45852),
}

# Speakers of the decoy village: inside a shape's bounding box (or just past a circle's
# rim), outside every shape of every document.
DECOYS = [
    (38.56798, -120.10323), (32.9543, -115.5527), (39.06241, -77.13149), (55.3018, -134.9),
    (41.80729, -82.37742), (53.57571, -105.38192), (47.51133, -58.48177),
    (46.14356, -82.05066), (-35.15051, 147.0598), (30.09354, -92.62403),
    (64.18547, -21.85007), (15.70803, -97.68222), (16.35682, 114.51466), (12.7488, -88.783),
    (-9.88751, 46.03091), (7.99487, 0.81759), (14.24333, 1.49593), (38.90756, -121.0784),
    (41.02152, -6.86424),
]  # fmt: skip

# Document 05 cancels an alert the corpus does not hold: it is sent first, built by hand.
SEED_05 = {
    "identifier": "AS-NV-e18921c7-1b35-4a81-9705-42d25c265ddd",
    "sender": "bbrundage@dps.state.nv.us",
    "sent": "2019-04-18T12:02:32-06:00",
    "expires": "2019-04-21T12:00:00-06:00",
    "area_codes": ("c-nv",),
}


@dataclass(frozen=True)
class Expected:
    """The answer to one document: its status, and what the body must show."""

    status: int
    why: str
    error: str | None = None  # a 4xx's error code
    detail: str | None = None  # a part of a 4xx's detail
    villages: tuple[str, ...] = ()
    level: int | None = None
    mode: str = "actual"
    content: str = "text"
    text: str | None = None  # a part of the spoken text
    not_text: str | None = None  # what the text must not hold (another translation)
    warnings: tuple[str, ...] = ()  # a part of each warning, in order
    result: str | None = None  # 200/202 outcomes: cancelled, not_broadcast
    same_as: str | None = None  # 200 replayed: the document whose broadcast comes back


REFS = "in <references> were never broadcast here"

EXPECTED: dict[str, Expected] = {
    "01": Expected(422, "areaDesc only: a person must choose the villages", "no_villages",
                   "only in words ('U.S. nationwide and interests worldwide')"),
    "02": Expected(201, "polygon and SAME geocodes: both reach", villages=("006109", "g02"),
                   level=2, text="SEVERE THUNDERSTORM WARNING."),
    "03": Expected(201, "Update of an unknown alert: broadcast as new; radius 0 is its centre",
                   villages=("g03",), level=4, warnings=(REFS,)),
    "04": Expected(201, "en-US and es-US: the first language only", villages=("006037",),
                   level=2, text="Amber Alert in Los Angeles County.", not_text="Alerta Amber"),
    "05": Expected(200, "a Cancel without info still cancels", result="cancelled"),
    "06": Expected(201, "digest and size do not match the re-encoded audio: warnings",
                   villages=("072115",), level=2, content="cap_audio",
                   warnings=("<digest> of the inline audio", "<size> of the inline audio")),
    "07": Expected(201, "41-point polygon; the JPEG resource is not audio", villages=("g07",),
                   level=1, text="Police Searching for Suspicious Person"),
    "08": Expected(201, "a 459 KB alert with inline MP3", villages=("026000",), level=1,
                   content="cap_audio"),
    "09": Expected(404, "a Cancel of an alert never broadcast here", "unknown_reference",
                   "AtHoc,1017033100951096-517189320160225203219800"),
    "10": Expected(422, "expires when sent, and it replaces nothing here", "already_expired"),
    "11": Expected(201, "en-CA and fr-CA: English polygons", villages=("g11",), level=4,
                   warnings=(REFS,)),
    "12": Expected(201, "two signatures (not verified: callers are authenticated by token)",
                   villages=("g12",), level=3, warnings=(REFS,)),
    "13": Expected(201, "en/fr, two signatures", villages=("g13",), level=4),
    "14": Expected(201, "4 infos: 'in effect' is played, 'ended' (info[3]) is not",
                   villages=("g14",), level=3,
                   warnings=("alert/info[3] (en-CA, 'heat warning ended'", REFS)),
    "15": Expected(201, "two en-AU infos differing in geocode scheme are one message",
                   villages=("2642", "g15"), level=4, text="Yerong Creek Structure Fire."),
    "16": Expected(201, "AMOC geocodes alone", villages=("NSW_PW003",), level=4),
    "17": Expected(201, "5,134 characters: shortened, not refused", villages=("g17",),
                   level=1, warnings=(REFS, "the text was shortened")),
    "18": Expected(201, "is-IS first, en-US a translation", villages=("g18",), level=3,
                   text="Hvöss suðaustanátt", not_text="Southeast gales"),
    "19": Expected(201, "es-419 Update", villages=("g19",), level=4, warnings=(REFS,)),
    "20": Expected(201, "Chinese text into speech", villages=("1000512",), level=3,
                   text="明德水庫:洩洪中。水利署訊"),
    "21": Expected(201, "status Test: delivered, never played aloud", villages=("g21",),
                   level=4, mode="test"),
    "22": Expected(422, "ISO-8859-1; a radius-0 circle with no speaker at its centre",
                   "no_villages", "in its 0 polygon(s) and 1 circle(s)"),
    "23": Expected(201, "signature not verified", villages=("g23",), level=3),
    "24": Expected(200, "the same alert unsigned: received before", same_as="23"),
    "25": Expected(200, "the same alert, base64 variant: received before", same_as="23"),
    "26": Expected(200, "the same alert, base64 variant: received before", same_as="23"),
    "27": Expected(201, "762- and 565-point polygons", villages=("g27",), level=2),
    "28": Expected(201, "one polygon of 41,009 points", villages=("g28",), level=3),
    "29": Expected(201, "1 km circle", villages=("g29",), level=3),
    "30": Expected(400, "scope is required", "invalid_cap", "required element <scope>"),
    "31": Expected(400, "DOCTYPE, external entities, XInclude", "invalid_cap", "DOCTYPE"),
    "32": Expected(400, "Update with empty references", "invalid_cap", "<references>"),
    "33": Expected(400, "<Type> and <Polygon> are not CAP: a misspelt target is refused",
                   "invalid_cap", "<Type> is not a CAP 1.2 element"),
    "34": Expected(400, "not the CAP namespace", "invalid_cap", "not a CAP 1.2 document"),
    "35": Expected(201, "stray '+' in a geocode: ignored with a warning", villages=("g35",),
                   level=2, warnings=("text '+' between the elements",)),
    "36": Expected(400, "a feed of 17 alerts, not an alert", "invalid_cap", "root element"),
    "37": Expected(400, "wrapped in EDXL-DE", "invalid_cap", "EDXLDistribution"),
    "38": Expected(400, "CAP 1.1", "invalid_cap", "CAP 1.1"),
    "39": Expected(400, "CAP 1.1 with an empty polygon", "invalid_cap", "CAP 1.1"),
    "40": Expected(400, "CAP 1.0", "invalid_cap", "CAP 1.0"),
}  # fmt: skip

_SENT = re.compile(rb"<(?:\w+:)?sent>\s*([^<\s]+)\s*<")


def sent_of(path: Path) -> datetime | None:
    """The document's first ``<sent>`` (when the alert went out), if it has one."""
    found = _SENT.search(path.read_bytes())
    if found is None:
        return None
    try:
        return datetime.fromisoformat(found.group(1).decode("ascii").replace("Z", "+00:00"))
    except ValueError:
        return None
