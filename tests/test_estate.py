"""Tests of the new-estate check on a hand-made street grid.

Streets every 200 m over 0-1000 m; the estate is the square 200-600 m (its streets at 200, 400
and 600 m run through it); an existing station S1 at (400, 1000)::

    1000 +----+----S1---+----+
         |    |    |    |    |
     600 +----E====E====E----+     E estate boundary (200..600)
         |    E    |    E    |
     400 +----E----*----E----+     * (400, 400): the 1-median of the estate's residents
         |    E    |    E    |
     200 +----E====E====E----+
         |    |    |    |    |
       0 +----+----+----+----+
         0   200  400  600  1000
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from siting._errors import InputError
from siting.estate import PERSONS_PER_HOUSEHOLD, check_estate
from siting.network import EuclideanNetwork, WalkNetwork

CRS = "EPSG:32651"
BOX = shapely.box(200, 200, 600, 600)


@pytest.fixture(scope="module")
def net():
    G = nx.Graph(crs=CRS)
    xs = np.arange(0, 1001, 200)
    for i, x in enumerate(xs):
        for j, y in enumerate(xs):
            G.add_node(i * 10 + j, x=float(x), y=float(y))
            if i:
                G.add_edge((i - 1) * 10 + j, i * 10 + j, length=200.0)
            if j:
                G.add_edge(i * 10 + j - 1, i * 10 + j, length=200.0)
    return WalkNetwork.from_graph(G, crs=CRS)


def _estate():
    return gpd.GeoDataFrame({"id": ["E"]}, geometry=[BOX], crs=CRS)


def _sites(xy=(400.0, 1000.0)):
    return gpd.GeoDataFrame(
        {
            "id": ["S1"],
            "name": ["北站"],
            "level": ["station"],
            "floor_area_m2": [1200.0],
            "ground_floor_area_m2": [800.0],
            "community_id": ["C1"],
            "status": ["existing"],
            "upgrade_year": [np.nan],
        },
        geometry=[shapely.Point(*xy)],
        crs=CRS,
    )


def _site(x, y, area, ground):
    return gpd.GeoDataFrame(
        {"floor_area_m2": [area], "ground_floor_area_m2": [ground]},
        geometry=[shapely.Point(x, y)],
        crs=CRS,
    )


def _check(net, households=2400, **kw):
    return check_estate(_estate(), households, sites=_sites(), network=net, **kw)


@pytest.mark.parametrize(
    ("households", "by_hh", "required"),
    [(2400, 720.0, 1000.0), (5000, 1500.0, 1500.0), (np.int64(4000), 1200.0, 1200.0)],
)
def test_required_area_is_the_larger_of_households_and_station_minimum(
    net, households, by_hh, required
):
    res = _check(net, households)
    # 30 m2 per 100 households vs the station minimum of 1,000 m2
    assert res.required_by_households_m2 == pytest.approx(by_hh)
    assert res.station_minimum_m2 == 1000.0
    assert res.required_floor_area_m2 == pytest.approx(required)
    assert res.population == pytest.approx(float(households) * PERSONS_PER_HOUSEHOLD)
    assert res.passed is None and res.proposed is None


def test_passing_site(net):
    res = _check(net, proposed_site=_site(400, 400, 1000.0, 600.0))
    assert res.passed is True
    assert res.reasons == [] and res.reasons_en == []
    assert res.checks["passed"].tolist() == [True, True, True, True]
    assert res.proposed["inside_estate"] is True


@pytest.mark.parametrize(
    ("site", "check", "reason"),
    [
        ((400, 400, 650.0, 400.0), "floor_area", "建筑面积 650 m² < 应配建 1,000 m²"),
        ((400, 400, 1000.0, 300.0), "ground_floor_share", "一层面积占比 30% < 50%"),
        ((300, 300, 1000.0, 600.0), "fronts_street", "距最近道路 100 m"),
        ((1000, 1000, 1000.0, 600.0), "placement", "站点不在小区内"),
    ],
)
def test_each_failed_rule_gives_its_reason(net, site, check, reason):
    res = _check(net, proposed_site=_site(*site))
    assert res.passed is False
    failed = res.checks.loc[res.checks["passed"].eq(False), "check"].tolist()
    assert failed == [check]
    assert len(res.reasons) == 1 and reason in res.reasons[0]
    assert len(res.reasons_en) == 1


def test_unknown_ground_floor_is_unchecked_not_failed(net):
    res = _check(net, proposed_site=_site(400, 400, 1000.0, np.nan))
    row = res.checks.set_index("check").loc["ground_floor_share"]
    assert row["passed"] is None and row["value"] == "unknown"
    assert res.passed is True
    assert any("未提供一层面积" in r for r in res.reasons)


@pytest.mark.parametrize("bad", [0, -10, float("nan"), float("inf"), "2400", True])
def test_households_must_be_positive(net, bad):
    with pytest.raises(InputError, match="households must be a positive number"):
        _check(net, bad)


def test_proposed_site_without_area(net):
    with pytest.raises(InputError, match="no floor area"):
        _check(net, proposed_site=_site(400, 400, np.nan, 100.0))


def test_existing_coverage(net):
    res = _check(net)
    assert res.covering_sites == ["S1"]
    assert 0 < res.covered_share_existing < 1
    far = check_estate(_estate(), 2400, sites=_sites((1000.0, 0.0)), network=net)
    assert far.covering_sites == [] and far.covered_share_existing == 0


def test_suggested_site_is_the_one_median_inside(net):
    res = _check(net)
    pt = res.suggested.geometry.iat[0]
    assert (pt.x, pt.y) == (400.0, 400.0)
    assert shapely.covers(BOX, pt)
    # every other node on or inside the estate walks farther in total
    assert np.isfinite(res.suggested["total_walk_m"].iat[0])


def test_euclidean_mode_leaves_fronting_unchecked():
    res = check_estate(
        _estate(),
        2400,
        sites=_sites(),
        network=EuclideanNetwork(CRS),
        proposed_site=_site(300, 300, 1000.0, 600.0),
    )
    row = res.checks.set_index("check").loc["fronts_street"]
    assert row["passed"] is None and row["value"] == "no road network"
    assert res.passed is True
    assert res.distance_mode == "euclidean"
    assert shapely.covers(BOX, res.suggested.geometry.iat[0])
    assert res.as_dict()["suggested"][0]["lon"] > 100
