"""Hexagon aggregation of uncovered residents and the ranking of sites far from the standard."""

from __future__ import annotations

import math
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from siting.gaps import (
    GAP_MIN_DENSITY_PER_KM2,
    hex_area_m2,
    hex_cells,
    hex_polygons,
    min_gap_population,
    ranked_sites,
    uncovered_hexagons,
)

CRS = "EPSG:32651"

coords = st.lists(
    st.tuples(st.floats(-5e5, 5e5, allow_nan=False), st.floats(3e6, 4e6, allow_nan=False)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(pts=coords, size=st.sampled_from([50.0, 250.0, 1000.0]))
def test_each_point_lies_in_its_hexagon(pts, size):
    xy = np.array(pts)
    q, r = hex_cells(xy, size)
    polys = hex_polygons(q, r, size)
    # shapely works in doubles: allow a micrometre at the shared edges
    dist = shapely.distance(polys, shapely.points(xy))
    assert (dist < 1e-6).all()
    assert np.allclose(shapely.area(polys), 1.5 * math.sqrt(3) * size**2)


@settings(max_examples=60, deadline=None)
@given(
    pts=coords,
    data=st.data(),
)
def test_population_sums_preserved(pts, data):
    n = len(pts)
    pop = data.draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n))
    covered = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    cid = data.draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    dem = gpd.GeoDataFrame(
        {"community_id": cid, "population": np.array(pop, float), "covered": covered},
        geometry=gpd.points_from_xy(*np.array(pts).T),
        crs=CRS,
    )
    out = uncovered_hexagons(dem, size=250.0, min_density=0.0)
    expect = sum(p for p, c in zip(pop, covered, strict=True) if not c)
    assert out["population_uncovered"].sum() == pytest.approx(expect)
    assert (out["population_uncovered"] > 0).all()
    assert out["hex_id"].is_unique
    assert list(out["rank"]) == list(range(1, len(out) + 1))
    assert out["population_uncovered"].is_monotonic_decreasing
    # with the default floor: exactly the hexagons of the unfiltered list that reach it, same
    # figures, ranks renumbered
    gaps = uncovered_hexagons(dem, size=250.0)
    floor = min_gap_population(250.0)
    keep = out[out["population_uncovered"] >= floor]
    assert gaps["hex_id"].tolist() == keep["hex_id"].tolist()
    assert gaps["population_uncovered"].tolist() == keep["population_uncovered"].tolist()
    assert gaps["communities"].tolist() == keep["communities"].tolist()
    assert list(gaps["rank"]) == list(range(1, len(gaps) + 1))


def test_gap_floor_by_hand():
    """250 m hexagons, 1,500 residents/km²: a hexagon needs 243.57 uncovered residents."""
    assert hex_area_m2(250.0) == pytest.approx(162_379.76, abs=0.01)
    assert GAP_MIN_DENSITY_PER_KM2 == 1500.0
    assert min_gap_population() == pytest.approx(243.5696, abs=1e-4)
    assert min_gap_population(100.0, 1000.0) == pytest.approx(25.98076, abs=1e-5)
    dem = gpd.GeoDataFrame(
        {
            "community_id": ["A", "B", "C", "C", "D", "E"],
            # hexagon (0, 0): 200 + 50 uncovered -> 250 >= 243.57: a gap
            # hexagon near (1000, 0): 240 uncovered (+ 5,000 covered, not counted): no gap
            # hexagon near (0, 1000): 1,000 uncovered: the largest gap
            # hexagon near (2000, 2000): 243 uncovered, just below the floor: no gap
            "population": [200.0, 50.0, 240.0, 5000.0, 1000.0, 243.0],
            "covered": [False, False, False, True, False, False],
        },
        geometry=[
            Point(0, 0),
            Point(20, 0),
            Point(1000, 0),
            Point(1000, 10),
            Point(0, 1000),
            Point(2000, 2000),
        ],
        crs=CRS,
    )
    out = uncovered_hexagons(dem)
    assert out["population_uncovered"].tolist() == [1000.0, 250.0]
    assert out["communities"].tolist() == ["D", "A, B"]
    assert out["rank"].tolist() == [1, 2]
    assert out.geometry.iloc[1].contains(Point(0, 0))
    # without the floor every hexagon with an uncovered resident is listed
    everything = uncovered_hexagons(dem, min_density=0.0)
    assert everything["population_uncovered"].tolist() == [1000.0, 250.0, 243.0, 240.0]
    # a floor nobody reaches gives the empty frame with the columns
    none = uncovered_hexagons(dem, min_density=1e6)
    assert len(none) == 0 and {"hex_id", "population_uncovered", "rank"} <= set(none.columns)
    assert none.crs == CRS
    with pytest.raises(ValueError, match="min_density"):
        uncovered_hexagons(dem, min_density=float("nan"))


def test_ranking_and_community_names():
    # hexagons of edge 100 m: (0,0) and (1000,0) are far apart
    dem = gpd.GeoDataFrame(
        {
            "community_id": ["B", "A", "A", "C", "C"],
            "population": [100.0, 50.0, 70.0, 300.0, 999.0],
            "covered": [False, False, False, False, True],
        },
        geometry=[Point(0, 0), Point(10, 0), Point(0, 10), Point(1000, 0), Point(1000, 5)],
        crs=CRS,
    )
    comm = gpd.GeoDataFrame(
        {"id": ["A", "B", "C"], "name": ["甲", "乙", "丙"]},
        geometry=[box(0, 0, 1, 1)] * 3,
        crs=CRS,
    )
    out = uncovered_hexagons(dem, communities=comm, size=100.0)
    assert out["population_uncovered"].tolist() == [300.0, 220.0]  # covered 999 left out
    assert out["communities"].tolist() == ["C", "A, B"]
    assert out["community_names"].tolist() == ["丙", "甲, 乙"]
    assert out["rank"].tolist() == [1, 2]
    assert out.crs == CRS
    assert out.geometry.iloc[1].contains(Point(0, 0))


def test_no_gaps_gives_empty_frame():
    dem = gpd.GeoDataFrame(
        {"community_id": ["A"], "population": [10.0], "covered": [True]},
        geometry=[Point(0, 0)],
        crs=CRS,
    )
    out = uncovered_hexagons(dem)
    assert len(out) == 0
    assert {"hex_id", "population_uncovered", "rank"} <= set(out.columns)


def test_hex_ids_stable_and_neighbours_distinct():
    q, r = hex_cells(np.array([[0.0, 0.0], [1.0, 1.0], [400.0, 0.0], [0.0, 440.0]]), 250.0)
    assert (q[0], r[0]) == (q[1], r[1]) == (0, 0)
    assert len({(a, b) for a, b in zip(q, r, strict=True)}) == 3


def test_ranked_sites_order():
    sites = pd.DataFrame(
        {
            "site_id": ["a", "b", "c", "d"],
            "name": ["A", "B", "C", "D"],
            "level": ["station"] * 4,
            "status": ["existing"] * 4,
            "street": [""] * 4,
            # a: fine; b: 50% overloaded; c: 60% of required area missing; d: ground floor short
            "population_served": [100.0, 30000.0, 100.0, 100.0],
            "max_population": [20000.0, 20000.0, 20000.0, np.inf],
            "floor_area_m2": [1000.0, 1000.0, 400.0, 1000.0],
            "required_floor_area_m2": [1000.0] * 4,
            "shortfall_m2": [0.0, 0.0, 600.0, 0.0],
            "ground_floor_share": [0.6, 0.6, 0.6, 0.4],
            "min_ground_floor_share": [0.5] * 4,
            "reasons": ["", "", "建筑面积 400 m² < 1,000 m²", "一层面积占比 40% < 50%"],
        }
    )
    out = ranked_sites(SimpleNamespace(sites=sites))
    assert out["site_id"].tolist() == ["c", "b", "d"]
    assert out["severity"].tolist() == pytest.approx([0.6, 0.5, 0.2])
    assert out["problem"].tolist() == ["面积不足", "超负荷", "面积不足"]
    assert out["rank"].tolist() == [1, 2, 3]
    assert ranked_sites(SimpleNamespace(sites=sites), top=1)["site_id"].tolist() == ["c"]
