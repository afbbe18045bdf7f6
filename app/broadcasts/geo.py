"""Plane geometry on WGS 84 coordinates for alert areas: polygons and circles (pure).

Coordinates are (latitude, longitude) in degrees, as CAP writes them. Polygons are
tested in the latitude/longitude plane, which is exact enough for the size of a
township; polygons crossing the antimeridian are not supported (none of our
districts does). A point on a polygon's edge or a circle's rim counts as inside:
a loudspeaker on the boundary line should rather hear the alert than miss it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "EARTH_RADIUS_KM",
    "Circle",
    "LatLon",
    "Polygon",
    "distance_km",
    "point_in_circle",
    "point_in_polygon",
]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius

# About 0.1 mm on the ground: absorbs float noise when a point lies on an edge.
_EDGE_TOLERANCE_DEG = 1e-9
_RIM_TOLERANCE_KM = 1e-9

LatLon = tuple[float, float]
Polygon = list[LatLon]


class Circle(NamedTuple):
    """A CAP circle: centre latitude and longitude in degrees, radius in kilometres."""

    lat: float
    lon: float
    radius_km: float


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance between two points, in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def point_in_circle(lat: float, lon: float, circle: Sequence[float]) -> bool:
    """Whether the point lies within the circle ``(lat, lon, radius_km)``, rim included."""
    centre_lat, centre_lon, radius_km = circle
    return distance_km(lat, lon, centre_lat, centre_lon) <= radius_km + _RIM_TOLERANCE_KM


def point_in_polygon(lat: float, lon: float, polygon: Sequence[LatLon]) -> bool:
    """Whether the point lies inside the polygon (even-odd ray casting), edges included."""
    edges = list(_edges(polygon))
    if any(_on_segment(lat, lon, start, end) for start, end in edges):
        return True
    inside = False
    for (lat_a, lon_a), (lat_b, lon_b) in edges:
        # Half-open test on latitude so a ray through a vertex is counted once.
        if (lat_a > lat) != (lat_b > lat):
            crossing_lon = lon_a + (lat - lat_a) * (lon_b - lon_a) / (lat_b - lat_a)
            if lon < crossing_lon:
                inside = not inside
    return inside


def _edges(polygon: Sequence[LatLon]) -> list[tuple[LatLon, LatLon]]:
    """The polygon's edges, closing the ring whether or not it repeats its first point."""
    points = list(polygon)
    if len(points) < 2:
        return []
    return list(zip(points, points[1:] + points[:1], strict=True))


def _on_segment(lat: float, lon: float, start: LatLon, end: LatLon) -> bool:
    """Whether the point lies on the segment from ``start`` to ``end``."""
    (lat_a, lon_a), (lat_b, lon_b) = start, end
    cross = (lat_b - lat_a) * (lon - lon_a) - (lon_b - lon_a) * (lat - lat_a)
    length = math.hypot(lat_b - lat_a, lon_b - lon_a)
    if abs(cross) > _EDGE_TOLERANCE_DEG * max(length, 1.0):
        return False
    return (
        min(lat_a, lat_b) - _EDGE_TOLERANCE_DEG <= lat <= max(lat_a, lat_b) + _EDGE_TOLERANCE_DEG
        and min(lon_a, lon_b) - _EDGE_TOLERANCE_DEG
        <= lon
        <= max(lon_a, lon_b) + _EDGE_TOLERANCE_DEG
    )
