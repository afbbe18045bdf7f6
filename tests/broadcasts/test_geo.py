"""Alert-area geometry: which speaker positions lie inside a polygon or a circle."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.broadcasts.geo import Circle, distance_km, point_in_circle, point_in_polygon

# A town-sized square, closed as CAP writes it.
SQUARE = [(30.0, 120.0), (30.0, 120.1), (30.1, 120.1), (30.1, 120.0), (30.0, 120.0)]
# A "U": two arms joined along the south; the notch between the arms is outside.
U_SHAPE = [
    (30.0, 120.0), (30.0, 120.3), (30.3, 120.3), (30.3, 120.2),
    (30.1, 120.2), (30.1, 120.1), (30.3, 120.1), (30.3, 120.0), (30.0, 120.0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (30.05, 120.05, True),
        (30.099, 120.001, True),
        (30.15, 120.05, False),  # north
        (29.95, 120.05, False),  # south
        (30.05, 119.99, False),  # west
        (30.05, 120.11, False),  # east
        (30.1, 120.2, False),  # level with the north edge, beyond it
    ],
)
def test_points_in_and_out_of_a_square(lat: float, lon: float, inside: bool) -> None:
    assert point_in_polygon(lat, lon, SQUARE) is inside


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (30.2, 120.05, True),  # west arm
        (30.2, 120.25, True),  # east arm
        (30.05, 120.15, True),  # the base
        (30.2, 120.15, False),  # the notch
        (30.35, 120.15, False),  # above the notch
    ],
)
def test_a_concave_polygon_leaves_its_notch_out(lat: float, lon: float, inside: bool) -> None:
    assert point_in_polygon(lat, lon, U_SHAPE) is inside


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(30.0, 120.05), (30.1, 120.05), (30.05, 120.0), (30.05, 120.1), (30.0, 120.0), (30.1, 120.1)],
)
def test_points_on_an_edge_or_a_corner_count_as_inside(lat: float, lon: float) -> None:
    assert point_in_polygon(lat, lon, SQUARE)


def test_a_ray_through_a_vertex_is_counted_once() -> None:
    diamond = [(30.0, 120.1), (30.1, 120.2), (30.2, 120.1), (30.1, 120.0), (30.0, 120.1)]

    assert point_in_polygon(30.1, 120.05, diamond)  # level with the east and west vertices
    assert not point_in_polygon(30.1, 119.95, diamond)
    assert not point_in_polygon(30.1, 120.25, diamond)


def test_an_open_ring_is_closed_implicitly() -> None:
    open_square = SQUARE[:-1]

    assert point_in_polygon(30.05, 120.05, open_square)
    assert not point_in_polygon(30.15, 120.05, open_square)


@pytest.mark.parametrize("polygon", [[], [(30.0, 120.0)], [(30.0, 120.0), (30.1, 120.1)]])
def test_a_degenerate_polygon_contains_only_its_own_line(
    polygon: list[tuple[float, float]],
) -> None:
    assert not point_in_polygon(30.05, 120.0, polygon)
    if len(polygon) == 2:
        assert point_in_polygon(30.05, 120.05, polygon)


@given(
    lat=st.floats(min_value=29.9, max_value=30.2, allow_nan=False),
    lon=st.floats(min_value=119.9, max_value=120.2, allow_nan=False),
)
def test_a_rectangle_contains_exactly_the_points_between_its_bounds(lat: float, lon: float) -> None:
    # Within a hair of an edge the tolerance decides, deliberately in favour of "inside".
    assume(min(abs(lat - 30.0), abs(lat - 30.1), abs(lon - 120.0), abs(lon - 120.1)) > 1e-8)
    between = 30.0 <= lat <= 30.1 and 120.0 <= lon <= 120.1

    assert point_in_polygon(lat, lon, SQUARE) is between


def test_distances_match_known_figures() -> None:
    one_degree_of_latitude = distance_km(30.0, 120.0, 31.0, 120.0)
    beijing_to_shanghai = distance_km(39.9042, 116.4074, 31.2304, 121.4737)

    assert one_degree_of_latitude == pytest.approx(111.195, abs=0.01)
    assert beijing_to_shanghai == pytest.approx(1067, abs=5)
    assert distance_km(30.0, 120.0, 30.0, 120.0) == 0


def test_a_circle_holds_points_within_its_radius() -> None:
    circle = Circle(30.0, 120.0, 5.0)
    km_per_degree = 111.195

    assert point_in_circle(30.0 + 4.9 / km_per_degree, 120.0, circle)
    assert not point_in_circle(30.0 + 5.1 / km_per_degree, 120.0, circle)
    assert point_in_circle(30.0, 120.0, circle)


def test_a_circle_shrinks_in_longitude_degrees_away_from_the_equator() -> None:
    circle = (60.0, 10.0, 100.0)  # a plain tuple works too

    # At 60°N a degree of longitude is about 55.6 km: 1.5° east is ~83 km, 2° is ~111 km.
    assert point_in_circle(60.0, 11.5, circle)
    assert not point_in_circle(60.0, 12.0, circle)


def test_a_zero_radius_circle_holds_only_its_centre() -> None:
    circle = Circle(30.0, 120.0, 0.0)

    assert point_in_circle(30.0, 120.0, circle)
    assert not point_in_circle(30.0001, 120.0, circle)
