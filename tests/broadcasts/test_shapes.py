"""Alert areas against many positions at once: the answers of the one-point rules in ``geo``."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.broadcasts.cap import parse_cap
from app.broadcasts.geo import point_in_circle, point_in_polygon
from app.broadcasts.shapes import AlertArea

from .cap_factory import cap_corpus_dir

SQUARE = [(30.0, 120.0), (30.0, 120.1), (30.1, 120.1), (30.1, 120.0), (30.0, 120.0)]

vertex = st.tuples(
    st.floats(min_value=30.0, max_value=30.1, allow_nan=False),
    st.floats(min_value=120.0, max_value=120.1, allow_nan=False),
)
position = st.tuples(
    st.floats(min_value=29.99, max_value=30.11, allow_nan=False),
    st.floats(min_value=119.99, max_value=120.11, allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(corners=st.lists(vertex, min_size=3, max_size=9), points=st.lists(position, max_size=40))
def test_any_polygon_even_one_crossing_itself_agrees_with_the_one_point_rule(
    corners: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    polygon = [*corners, corners[0]]
    area = AlertArea([polygon], [])

    got = area.covers([lat for lat, _ in points], [lon for _, lon in points]).tolist()

    assert got == [point_in_polygon(lat, lon, polygon) for lat, lon in points]


@settings(max_examples=100, deadline=None)
@given(
    centre=st.tuples(
        st.floats(min_value=-89.0, max_value=89.0, allow_nan=False),
        st.floats(min_value=-180.0, max_value=180.0, allow_nan=False),
    ),
    radius_km=st.floats(min_value=0.0, max_value=300.0, allow_nan=False),
    offsets=st.lists(
        st.tuples(
            st.floats(min_value=-4.0, max_value=4.0, allow_nan=False),
            st.floats(min_value=-8.0, max_value=8.0, allow_nan=False),
        ),
        max_size=40,
    ),
)
def test_any_circle_agrees_with_the_one_point_rule_even_across_the_antimeridian(
    centre: tuple[float, float], radius_km: float, offsets: list[tuple[float, float]]
) -> None:
    circle = (*centre, radius_km)
    points = [
        (max(-90.0, min(90.0, centre[0] + d_lat)), (centre[1] + d_lon + 540.0) % 360.0 - 180.0)
        for d_lat, d_lon in offsets
    ]
    area = AlertArea([], [circle])

    got = area.covers([lat for lat, _ in points], [lon for _, lon in points]).tolist()

    assert got == [point_in_circle(lat, lon, circle) for lat, lon in points]


def test_edges_and_corners_count_as_inside_and_the_outside_does_not() -> None:
    on_edges = [(30.0, 120.05), (30.1, 120.05), (30.05, 120.0), (30.05, 120.1), (30.1, 120.1)]
    outside = [(30.1000001, 120.05), (29.95, 120.05), (30.05, 120.11)]
    points = on_edges + outside

    got = AlertArea([SQUARE], []).covers([p[0] for p in points], [p[1] for p in points])

    assert got.tolist() == [True] * len(on_edges) + [False] * len(outside)


def test_a_position_in_any_of_several_shapes_is_inside() -> None:
    far_square = [(lat + 1, lon + 1) for lat, lon in SQUARE]
    area = AlertArea([SQUARE, far_square], [(32.0, 122.0, 1.0)])

    got = area.covers([30.05, 31.05, 32.005, 35.0], [120.05, 121.05, 122.0, 125.0])

    assert got.tolist() == [True, True, True, False]


def test_an_area_without_shapes_holds_nothing() -> None:
    area = AlertArea([], [])

    assert not area
    assert area.covers([30.05], [120.05]).tolist() == [False]
    assert AlertArea([SQUARE], []).covers([], []).tolist() == []


def test_the_41009_point_polygon_agrees_with_the_one_point_rule() -> None:
    document = (cap_corpus_dir() / "28-burkina-fr-41009-point-polygon-signed.xml").read_bytes()
    [polygon] = parse_cap(document, max_bytes=len(document)).polygons
    lats, lons = [lat for lat, _ in polygon], [lon for _, lon in polygon]
    rng = random.Random(28)
    points = [
        (rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))) for _ in range(12)
    ]
    points += [polygon[100], polygon[20_000]]  # vertices: on the boundary

    got = AlertArea([polygon], []).covers([p[0] for p in points], [p[1] for p in points])

    expected = [point_in_polygon(lat, lon, polygon) for lat, lon in points]
    assert got.tolist() == expected
    assert 0 < sum(expected) < len(expected)  # the sample has points inside and outside


def test_the_polygons_of_the_real_corpus_all_parse_into_areas() -> None:
    for path in sorted(cap_corpus_dir().glob("[0-9]*")):
        if not re.search(rb"<(\w+:)?polygon>[^<]", path.read_bytes()):
            continue
        try:
            alert = parse_cap(path.read_bytes(), max_bytes=4 * 1024 * 1024)
        except ValueError:
            continue  # refused for other reasons (the corpus test pins which)
        assert AlertArea(alert.polygons, alert.circles), path.name


@pytest.mark.parametrize(
    ("points", "shapes", "reason"),
    [
        (200_001, 1, "200,001 points in all; at most 200,000"),
        (4, 1_001, "1,001 polygons and circles; at most 1,000"),
    ],
)
def test_geometry_beyond_the_limits_is_refused(points: int, shapes: int, reason: str) -> None:
    from app.broadcasts.cap import CapError

    from .cap_factory import build_cap_xml

    middle = [
        f"{30 + (i % 7 + 1) / 1000:.3f},{120 + (i % 5 + 1) / 1000:.3f}" for i in range(points - 2)
    ]
    polygon = f"<polygon>30,120 {' '.join(middle)} 30,120</polygon>"
    extra = "<circle>30,120 1</circle>" * (shapes - 1)
    document = build_cap_xml().replace(b"</areaDesc>", f"</areaDesc>{polygon}{extra}".encode(), 1)

    with pytest.raises(CapError) as caught:
        parse_cap(document, max_bytes=len(document))
    assert reason in str(caught.value)
