"""Choice of the metric CRS and the way back to lon/lat."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import Point

from siting import projection


def test_utm_zone_from_lonlat_bounds():
    # Shanghai is in UTM zone 51N, Beijing (116.4) in 50N, Urumqi (87.6) in 45N
    assert projection.metric_crs((121.3, 31.1, 121.5, 31.3)).to_epsg() == 32651
    assert projection.metric_crs((116.3, 39.8, 116.5, 40.0)).to_epsg() == 32650
    assert projection.metric_crs((87.5, 43.7, 87.7, 43.9)).to_epsg() == 32645
    assert projection.metric_crs((-58.5, -34.7, -58.3, -34.5)).to_epsg() == 32721  # south


def test_metric_projected_input_is_kept():
    gdf = gpd.GeoDataFrame(
        geometry=[Point(39_500_000, 3_450_000)], crs="EPSG:4527"
    )  # CGCS2000 GK zone 39
    assert projection.metric_crs(gdf) == pyproj.CRS("EPSG:4527")
    assert projection.is_metric("EPSG:4547") and projection.is_metric(32651)


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:2263", "EPSG:4326", "EPSG:4490"])
def test_not_metric_is_replaced_by_utm(crs):
    # Web Mercator stretches distances by 1/cos(lat); US feet are not metres; degrees are not
    gdf = gpd.GeoDataFrame(geometry=[Point(121.4, 31.2)], crs="EPSG:4326").to_crs(crs)
    assert not projection.is_metric(crs)
    assert projection.metric_crs(gdf).to_epsg() == 32651


def test_frame_without_crs_or_geometry_is_a_bug():
    with pytest.raises(ValueError, match="needs a frame with a CRS"):
        projection.metric_crs(gpd.GeoDataFrame(geometry=[Point(1, 2)]))
    with pytest.raises(ValueError, match="non-empty geometry"):
        projection.metric_crs(gpd.GeoDataFrame(geometry=[None], crs=4326))
    with pytest.raises(ValueError, match="bounds"):
        projection.metric_crs((1.0, 2.0))


def test_to_metric_keeps_distances_and_round_trips():
    # two points 0.01 degree of latitude apart: about 1109 m (geodesic)
    gdf = gpd.GeoDataFrame(
        {"a": [1, 2]}, geometry=[Point(121.4, 31.2), Point(121.4, 31.21)], crs=4326
    )
    geod = pyproj.Geod(ellps="WGS84")
    expected = geod.inv(121.4, 31.2, 121.4, 31.21)[2]
    metric = projection.to_metric(gdf)
    assert metric.crs.to_epsg() == 32651
    assert (
        abs(metric.geometry.iloc[0].distance(metric.geometry.iloc[1]) - expected) / expected < 1e-3
    )
    back = projection.to_lonlat(metric)
    assert back.crs.to_epsg() == 4326
    assert np.allclose(
        back.get_coordinates().to_numpy(), gdf.get_coordinates().to_numpy(), atol=1e-9
    )
    assert gdf.crs.to_epsg() == 4326  # not mutated
    assert projection.to_metric(gdf, crs="EPSG:4547").crs.to_epsg() == 4547
