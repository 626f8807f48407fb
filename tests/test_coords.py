"""GCJ-02 / BD-09 conversions against published sample points, round trips and geometries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from siting import coords

# Metres per degree of latitude; longitude degrees are scaled by cos(lat).
M_PER_DEG = 111_320.0


def metres(lon1, lat1, lon2, lat2):
    """Local planar distance in metres (good to < 0.5 % over a few km)."""
    lat = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2)
    dx = (np.asarray(lon1) - np.asarray(lon2)) * np.cos(lat) * M_PER_DEG
    dy = (np.asarray(lat1) - np.asarray(lat2)) * M_PER_DEG
    return np.hypot(dx, dy)


# wandergis/coordtransform test/app.js: input (116.404, 39.915) for each function.
def test_published_coordtransform_forward():
    assert np.allclose(
        coords.wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), atol=1e-12
    )
    assert np.allclose(
        coords.gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), atol=1e-12
    )


def test_published_coordtransform_inverse_within_5cm_of_the_one_step_formula():
    # the published inverses are one-step approximations; ours is exact, and close to theirs
    assert (
        metres(*coords.bd09_to_gcj02(116.404, 39.915), 116.39762729119315, 39.90865673957631) < 0.05
    )
    assert (
        metres(*coords.gcj02_to_wgs84(116.404, 39.915), 116.39775550083061, 39.91359571849836) < 0.1
    )


# googollee/eviltransform tests: (wgsLat, wgsLng, gcjLat, gcjLng)
EVIL = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVIL)
def test_published_eviltransform_pairs(wlat, wlon, glat, glon):
    lon, lat = coords.wgs84_to_gcj02(wlon, wlat)
    assert metres(lon, lat, glon, glat) < 1e-3
    back = coords.gcj02_to_wgs84(glon, glat)
    assert metres(*back, wlon, wlat) < 0.01


def test_vectorised_matches_scalar_and_keeps_shape():
    wlat, wlon, glat, glon = (np.array(c) for c in zip(*EVIL, strict=True))
    lon, lat = coords.wgs84_to_gcj02(wlon, wlat)
    assert lon.shape == (3,)
    assert np.allclose(lon, glon, atol=1e-9) and np.allclose(lat, glat, atol=1e-9)
    grid_lon, grid_lat = coords.gcj02_to_wgs84(np.full((2, 3), 121.5), np.full((2, 3), 31.2))
    assert grid_lon.shape == grid_lat.shape == (2, 3)
    scalar = coords.gcj02_to_wgs84(121.5, 31.2)
    assert np.ndim(scalar[0]) == 0 and np.isclose(scalar[0], grid_lon[0, 0])


def test_offset_is_a_few_hundred_metres_in_china():
    lon, lat = coords.wgs84_to_gcj02(121.47, 31.23)
    assert 100 < metres(lon, lat, 121.47, 31.23) < 800


def test_identity_outside_china():
    lon = np.array([2.35, -74.0, 151.2])
    lat = np.array([48.85, 40.7, -33.9])
    for func in (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84):
        out = func(lon, lat)
        assert np.array_equal(out[0], lon) and np.array_equal(out[1], lat)
    assert not coords.in_china(lon, lat).any()
    assert coords.in_china(121.47, 31.23)


china = st.tuples(st.floats(73.7, 134.9), st.floats(18.2, 53.5))


@settings(max_examples=200, deadline=None)
@given(china)
def test_round_trip_gcj_within_1m(p):
    lon, lat = p
    back = coords.gcj02_to_wgs84(*coords.wgs84_to_gcj02(lon, lat))
    assert metres(*back, lon, lat) < 1.0
    # and the inverse is exact: forward of the inverse returns the input
    fwd = coords.wgs84_to_gcj02(*coords.gcj02_to_wgs84(lon, lat))
    assert metres(*fwd, lon, lat) < 1e-3


@settings(max_examples=200, deadline=None)
@given(china)
def test_round_trip_bd_within_1m(p):
    lon, lat = p
    assert metres(*coords.bd09_to_wgs84(*coords.wgs84_to_bd09(lon, lat)), lon, lat) < 1.0
    assert metres(*coords.bd09_to_gcj02(*coords.gcj02_to_bd09(lon, lat)), lon, lat) < 1e-3
    assert metres(*coords.wgs84_to_bd09(*coords.bd09_to_wgs84(lon, lat)), lon, lat) < 1e-3


def test_bd09_is_gcj02_then_baidu_offset():
    lon, lat = 121.47, 31.23
    assert np.allclose(
        coords.wgs84_to_bd09(lon, lat), coords.gcj02_to_bd09(*coords.wgs84_to_gcj02(lon, lat))
    )


def test_convert_geometries_any_type_keeps_index_and_crs():
    poly = Polygon([(121.40, 31.20), (121.41, 31.20), (121.41, 31.21), (121.40, 31.20)])
    gs = gpd.GeoSeries([Point(121.405, 31.205), poly, None], index=[10, 20, 30], crs="EPSG:4326")
    out = coords.convert_geometries(gs, "gcj02")
    assert list(out.index) == [10, 20, 30] and out.crs == gs.crs and out.iloc[2] is None
    expected = coords.gcj02_to_wgs84(121.405, 31.205)
    assert np.allclose([out.iloc[0].x, out.iloc[0].y], expected)
    ring = np.asarray(out.iloc[1].exterior.coords)
    assert np.allclose(
        ring, np.column_stack(coords.gcj02_to_wgs84(*np.asarray(poly.exterior.coords).T))
    )
    assert gs.iloc[0].x == 121.405  # the input is not mutated
    bd = coords.convert_geometries(gs, "bd09")
    assert np.allclose([bd.iloc[0].x, bd.iloc[0].y], coords.bd09_to_wgs84(121.405, 31.205))


@pytest.mark.parametrize("system", ["wgs84", "cgcs2000"])
def test_convert_geometries_no_op(system):
    gs = gpd.GeoSeries([Point(121.4, 31.2)], crs="EPSG:4326")
    assert coords.convert_geometries(gs, system).geom_equals(gs).all()


def test_convert_geometries_rejects_unknown_system():
    with pytest.raises(ValueError, match="unknown coords 'amap'"):
        coords.convert_geometries(gpd.GeoSeries([Point(1, 2)]), "amap")
