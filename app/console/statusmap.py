"""The status map, drawn on the server as SVG from speakers' coordinates (no tiles, offline).

Speakers sit where their lat/lon put them, coloured by state; a village sits at the centroid
of its speakers, ringed in the colour of what its residents hear (all, some or none of its
speakers online); a town is the outline around its villages and speakers, labelled with its
online rate. Shapes live in an inner SVG scaled with the page; dots and labels are placed
in percent with pixel sizes, so text keeps its size on a phone. Labels that would collide
on a 360 px phone are kept for wide screens only (the lists under the map name them all).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["MapSpeaker", "MapVillage", "MapTown", "MapFrame", "village_state", "status_map",
           "SPEAKER_COLOURS", "VILLAGE_COLOURS", "VILLAGE_STATES"]

SPEAKER_COLOURS = {"online": "#2e7d32", "offline": "#b3261e", "fault": "#b26a00",
                   "maintenance": "#6b7280"}
VILLAGE_COLOURS = {"online": "#2e7d32", "partial": "#b26a00", "silent": "#b3261e"}
VILLAGE_STATES = {"online": "全部在线", "partial": "部分在线", "silent": "听不到"}
TOWN_COLOURS = ("#1f5fa8", "#6a1b9a", "#00838f", "#5d4037", "#c2185b", "#2e7d32")
KM_PER_DEGREE = 111.32
PHONE_WIDTH, DESK_WIDTH = 336.0, 700.0  # the map's width in px on a 360 px phone and at 1280
FONT_PX, LINE_PX = 13.0, 16.0


@dataclass(frozen=True)
class MapSpeaker:
    """A speaker with a position."""

    id: str
    label: str
    village: str
    lat: float
    lon: float
    status: str


@dataclass(frozen=True)
class MapVillage:
    """A village and how many of its speakers are online."""

    code: str
    name: str
    town: str
    online: int
    total: int

    @property
    def state(self) -> str:
        """``online`` (all), ``partial`` (some) or ``silent`` (none, or no speaker)."""
        return village_state(self.online, self.total)


@dataclass(frozen=True)
class MapTown:
    """A town and its current online rate."""

    code: str
    name: str
    speakers: int
    online: int

    @property
    def rate(self) -> float | None:
        """Share of its speakers online (None without speakers)."""
        return self.online / self.speakers if self.speakers else None


def village_state(online: int, total: int) -> str:
    """What a village's residents hear: every speaker, some, or none."""
    if total and online == total:
        return "online"
    return "partial" if online else "silent"


@dataclass(frozen=True)
class MapFrame:
    """The area shown: an equirectangular projection fitted to the points, padded.

    x is longitude scaled by cos(latitude), so distances look alike in both directions.
    """

    west: float
    north: float
    width: float  # in projected degrees
    height: float
    cos_lat: float

    @classmethod
    def around(cls, points: Sequence[tuple[float, float]]) -> MapFrame:
        """A frame holding every (lat, lon), with an aspect between 3:4 and 16:10."""
        lats = [p[0] for p in points]
        cos_lat = math.cos(math.radians((min(lats) + max(lats)) / 2))
        xs = [p[1] * cos_lat for p in points]
        width = max(max(xs) - min(xs), 0.004)  # at least ~450 m across
        height = max(max(lats) - min(lats), 0.004)
        width, height = max(width, height * 0.75), max(height, width / 1.6)
        pad = 0.14 * max(width, height)
        centre_x, centre_y = (max(xs) + min(xs)) / 2, (max(lats) + min(lats)) / 2
        return cls(west=centre_x - width / 2 - pad, north=centre_y + height / 2 + pad,
                   width=width + 2 * pad, height=height + 2 * pad, cos_lat=cos_lat)

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.width / self.height

    def place(self, lat: float, lon: float) -> tuple[float, float]:
        """(x, y) in percent of the map's width and height, y down."""
        return ((lon * self.cos_lat - self.west) / self.width * 100,
                (self.north - lat) / self.height * 100)


def _hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull (monotone chain), counter-clockwise."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _outline(points: Sequence[tuple[float, float]], aspect: float) -> list[tuple[float, float]]:
    """A rounded outline around points given in percent, in viewBox units (1000 wide)."""
    radius = 4.5  # percent of the width
    ring = []
    for x, y in points:
        for k in range(12):
            angle = k * math.pi / 6
            ring.append((x * 10 + radius * 10 * math.cos(angle),
                         (y + radius * aspect * math.sin(angle)) * 10 / aspect))
    return _hull(ring)


@dataclass
class _Labels:
    """Greedy label placement: boxes in px at one width, checked against dots and labels."""

    width: float
    aspect: float
    boxes: list[tuple[float, float, float, float]]

    def at(self, x: float, y: float) -> tuple[float, float]:
        return x * self.width / 100, y * self.width / self.aspect / 100

    def fits(self, box: tuple[float, float, float, float]) -> bool:
        height = self.width / self.aspect
        if box[0] < 0 or box[2] > self.width or box[1] < 0 or box[3] > height:
            return False
        return not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                       for b in self.boxes)


def _text_width(text: str) -> float:
    return sum(FONT_PX if ord(ch) > 0x2E80 else FONT_PX * 0.6 for ch in text)


# (text-anchor, dx, dy) and the box they give, relative to the point, for a label w px wide.
_PLACES = (("start", 14, 4), ("end", -14, 4), ("middle", 0, -15), ("middle", 0, 26))
_TOWN_PLACES = (("middle", 0, -6), ("middle", 0, 18))  # above its outline, or just inside


def _box(place: tuple[str, int, int], px: float, py: float,
         w: float) -> tuple[float, float, float, float]:
    anchor, dx, dy = place
    left = px + dx if anchor == "start" else px + dx - w if anchor == "end" else px - w / 2
    return (left, py + dy - LINE_PX + 3, left + w, py + dy + 3)


def _place_label(layouts: Sequence[_Labels], x: float, y: float, text: str,
                 places: Sequence[tuple[str, int, int]] = _PLACES,
                 ) -> tuple[tuple[str, int, int], bool] | None:
    """Where the label goes and whether phones show it; None when it fits nowhere."""
    w = _text_width(text)
    for phone_too, layout in ((True, layouts[0]), (False, layouts[1])):
        px, py = layout.at(x, y)
        for place in places:
            box = _box(place, px, py, w)
            if layout.fits(box):
                chosen = [(lay, _box(place, *lay.at(x, y), w))
                          for lay in (layouts if phone_too else layouts[1:])]
                for lay, b in chosen:
                    lay.boxes.append(b)
                return place, phone_too
    return None


def _text(x: float, y: float, place: tuple[str, int, int], text: str, cls: str,
          phone: bool) -> str:
    anchor, dx, dy = place
    extra = "" if phone else " wide-only"
    return (f'<text x="{x:.3f}%" y="{y:.3f}%" dx="{dx}" dy="{dy}" text-anchor="{anchor}" '
            f'class="{cls}{extra}">{escape(text)}</text>')


def _scale_bar(frame: MapFrame) -> str:
    """A bar of a round distance, at most a quarter of the map's width, bottom left."""
    width_km = frame.width * KM_PER_DEGREE
    steps = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200)
    km = max((s for s in steps if s <= width_km / 4), default=steps[0])
    share = km / width_km * 100
    label = f"{km:g} 公里" if km >= 1 else f"{km * 1000:g} 米"
    return (f'<g class="map-scale"><line x1="3%" x2="{3 + share:.3f}%" y1="96%" y2="96%" '
            f'stroke="#1d2329" stroke-width="3"/><text x="3%" y="96%" dy="-6" '
            f'class="map-note">{label}</text></g>'
            '<text x="97%" y="4%" dy="10" text-anchor="end" class="map-note">北 ↑</text>')


def status_map(speakers: Sequence[MapSpeaker], villages: Sequence[MapVillage],
               towns: Sequence[MapTown]) -> Markup:
    """The map as an SVG element, or a note when no speaker has a position."""
    if not speakers:
        return Markup('<p class="muted" id="map-empty">'
                      '还没有登记了经纬度的音柱，无法绘制地图。</p>')
    frame = MapFrame.around([(s.lat, s.lon) for s in speakers])
    aspect = frame.aspect
    at = {s.id: frame.place(s.lat, s.lon) for s in speakers}
    by_village: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in speakers:
        by_village[s.village].append(at[s.id])
    centre = {code: (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
              for code, pts in by_village.items()}
    shown = [v for v in villages if v.code in centre]
    layouts = [_Labels(PHONE_WIDTH, aspect, []), _Labels(DESK_WIDTH, aspect, [])]
    for layout in layouts:  # labels keep clear of every dot and village ring
        for x, y in list(at.values()) + list(centre.values()):
            px, py = layout.at(x, y)
            layout.boxes.append((px - 9, py - 9, px + 9, py + 9))
    view_h = 1000 / aspect
    parts = [f'<svg class="statusmap" id="status-map" width="100%" role="img" '
             f'aria-label="音柱状态地图" style="aspect-ratio:{aspect:.4f}">'
             f'<svg width="100%" height="100%" viewBox="0 0 1000 {view_h:.2f}" '
             f'preserveAspectRatio="none"><rect width="1000" height="{view_h:.2f}" '
             f'fill="#eef3f7"/>']
    labels: list[str] = []
    for i, town in enumerate(towns):
        points = [centre[v.code] for v in shown if v.town == town.code]
        if not points:
            continue
        colour = TOWN_COLOURS[i % len(TOWN_COLOURS)]
        outline = _outline(points, aspect)
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)
        rate = "无音柱" if town.rate is None else f"在线 {round(town.rate * 100)}%"
        parts.append(f'<polygon points="{path}" fill="{colour}" fill-opacity="0.07" '
                     f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4" '
                     f'vector-effect="non-scaling-stroke" data-town="{escape(town.code)}">'
                     f'<title>{escape(town.name)} · {rate}</title></polygon>')
        top = min(outline, key=lambda p: p[1])
        tx, ty = top[0] / 10, top[1] * aspect / 10
        spot = _place_label(layouts, tx, ty, f"{town.name} {rate}", _TOWN_PLACES)
        if spot:
            labels.append(_text(tx, ty, spot[0], f"{town.name} {rate}", "map-town", spot[1]))
    parts.append("</svg>")
    for v in shown:
        x, y = centre[v.code]
        colour = VILLAGE_COLOURS[v.state]
        parts.append(f'<circle cx="{x:.3f}%" cy="{y:.3f}%" r="12" fill="none" '
                     f'stroke="{colour}" stroke-width="3" data-village="{escape(v.code)}" '
                     f'data-state="{v.state}"><title>{escape(v.name)} · '
                     f'{VILLAGE_STATES[v.state]}（{v.online}/{v.total} 在线）</title></circle>')
    for s in speakers:
        x, y = at[s.id]
        parts.append(f'<circle cx="{x:.3f}%" cy="{y:.3f}%" r="5" '
                     f'fill="{SPEAKER_COLOURS.get(s.status, "#1f5fa8")}" stroke="#fff" '
                     f'stroke-width="1.5" data-speaker="{escape(s.id)}" data-status="{s.status}">'
                     f'<title>{escape(s.label)}</title></circle>')
    for v in shown:
        x, y = centre[v.code]
        text = f"{v.name} {v.online}/{v.total}"
        spot = _place_label(layouts, x, y, text)
        if spot:
            labels.append(_text(x, y, spot[0], text, f"map-village {v.state}", spot[1]))
    parts += labels
    parts.append(_scale_bar(frame))
    parts.append("</svg>")
    return Markup("".join(parts))
