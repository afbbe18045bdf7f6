"""Alert areas matched against every speaker position at once: prepared polygons, numpy circles.

``geo`` says what "inside" means for one point (edges and rims count, a hair of float noise
included); this module gives the same answers for thousands of points in one go, cheaply
enough that a 41,009-point polygon against 10,000 speakers takes milliseconds, not minutes:

- each polygon is built once as shapely (GEOS) geometry, repaired if it crosses itself
  (``make_valid``), and *prepared* (indexed), so a point test no longer walks every edge;
- the points are first cut down to the shape's bounding box with numpy, and only those
  are tested, in one vectorised call;
- circles are a vectorised haversine on the points inside the circle's bounding box.

Coordinates are (latitude, longitude) in degrees as CAP writes them; shapely wants (x, y),
i.e. (longitude, latitude), and gets it here only. Pure: no database, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from app.broadcasts.geo import EARTH_RADIUS_KM, Circle, LatLon

__all__ = ["AlertArea", "BoolArray", "FloatArray"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# The same tolerances as ``geo``: a point within ~0.1 mm of an edge or a rim is inside.
_EDGE_TOLERANCE_DEG = 1e-9
_RIM_TOLERANCE_KM = 1e-9
_KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180  # ~111.2 km along a meridian


@dataclass(frozen=True, slots=True)
class _Box:
    """A bounding box in degrees, widened by the edge tolerance."""

    south: float
    west: float
    north: float
    east: float

    def mask(self, lats: FloatArray, lons: FloatArray) -> BoolArray:
        """Which points lie in the box."""
        return (
            (lats >= self.south) & (lats <= self.north) & (lons >= self.west) & (lons <= self.east)
        )


class _Polygon:
    """One CAP polygon as prepared geometry, with its bounding box."""

    def __init__(self, points: Sequence[LatLon]) -> None:
        self.geometry = _repaired(points)
        shapely.prepare(self.geometry)
        west, south, east, north = self.geometry.bounds
        tol = _EDGE_TOLERANCE_DEG
        self.box = _Box(south - tol, west - tol, north + tol, east + tol)

    def covers(self, lats: FloatArray, lons: FloatArray) -> BoolArray:
        """Which points lie inside or on the edge (within the tolerance)."""
        result = np.zeros(lats.shape, dtype=bool)
        near = np.flatnonzero(self.box.mask(lats, lons))
        if near.size == 0:
            return result
        inside = shapely.intersects_xy(self.geometry, lons[near], lats[near])
        result[near[inside]] = True
        edge = near[~inside]  # outside by a hair of float noise still counts
        if edge.size:
            close = shapely.dwithin(
                self.geometry, shapely.points(lons[edge], lats[edge]), _EDGE_TOLERANCE_DEG
            )
            result[edge[close]] = True
        return result


def _repaired(points: Sequence[LatLon]) -> BaseGeometry:
    """Shapely geometry of the ring; one that crosses itself is split the even-odd way."""
    coords = np.asarray(points, dtype=np.float64)[:, ::-1]  # (lat, lon) → (x=lon, y=lat)
    if len(coords) < 3:  # a point or a line: inside means on it
        return shapely.linestrings(coords) if len(coords) == 2 else shapely.points(coords[0])
    polygon = shapely.polygons(coords)  # closes the ring if the sender did not
    # make_valid also turns a flat ring (no area) into the line it runs along.
    return polygon if shapely.is_valid(polygon) else shapely.make_valid(polygon)


class _Circle:
    """One CAP circle (radius in km) with the bounding box of its rim."""

    def __init__(self, circle: Circle | Sequence[float]) -> None:
        self.lat, self.lon, self.radius_km = (float(value) for value in circle)
        reach = (self.radius_km + _RIM_TOLERANCE_KM) / _KM_PER_DEGREE_LAT * 1.01 + 1e-9
        widest = min(abs(self.lat) + reach, 90.0)
        squeeze = math.cos(math.radians(widest))
        # Near a pole, or wide enough to wrap, every longitude may be in reach.
        lon_reach = 360.0 if squeeze < 1e-6 else reach / squeeze
        self.box = _Box(
            self.lat - reach, self.lon - lon_reach, self.lat + reach, self.lon + lon_reach
        )
        self.wraps = lon_reach >= 180 or self.box.west < -180 or self.box.east > 180

    def covers(self, lats: FloatArray, lons: FloatArray) -> BoolArray:
        """Which points lie within the radius (great-circle distance), rim included."""
        near = (lats >= self.box.south) & (lats <= self.box.north)
        if not self.wraps:
            near &= (lons >= self.box.west) & (lons <= self.box.east)
        result = np.zeros(lats.shape, dtype=bool)
        index = np.flatnonzero(near)
        if index.size:
            distance = _haversine_km(lats[index], lons[index], self.lat, self.lon)
            result[index[distance <= self.radius_km + _RIM_TOLERANCE_KM]] = True
        return result


def _haversine_km(lats: FloatArray, lons: FloatArray, lat: float, lon: float) -> FloatArray:
    """Great-circle distances from many points to one, the formula of ``geo.distance_km``."""
    phi1, phi2 = np.radians(lats), math.radians(lat)
    d_phi = phi2 - phi1
    d_lambda = np.radians(lon - lons)
    h = np.sin(d_phi / 2) ** 2 + np.cos(phi1) * math.cos(phi2) * np.sin(d_lambda / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))))


class AlertArea:
    """The union of an alert's polygons and circles, ready to test many positions at once."""

    def __init__(self, polygons: Sequence[Sequence[LatLon]], circles: Sequence[Circle]) -> None:
        self._shapes: list[_Polygon | _Circle] = [_Polygon(p) for p in polygons if p]
        self._shapes += [_Circle(c) for c in circles]

    def __bool__(self) -> bool:
        return bool(self._shapes)

    def covers(
        self, lats: Sequence[float] | FloatArray, lons: Sequence[float] | FloatArray
    ) -> BoolArray:
        """For each (lat, lon) position, whether it lies in any of the shapes."""
        lat_array = np.asarray(lats, dtype=np.float64)
        lon_array = np.asarray(lons, dtype=np.float64)
        found = np.zeros(lat_array.shape, dtype=bool)
        for shape in self._shapes:
            pending = np.flatnonzero(~found)  # a point already inside needs no more tests
            if pending.size == 0:
                break
            found[pending[shape.covers(lat_array[pending], lon_array[pending])]] = True
        return found
