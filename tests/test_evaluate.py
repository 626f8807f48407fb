"""Evaluation on a hand-checked fixture, in network and straight-line mode.

The road graph (metres, EPSG:32651; edge lengths on the edges)::

    y=300               E(800,300) ----600---- F(1400,300)
                          [S2]                    |
                                                 300
                                                  |
    y=0   A(0,0) --400-- B(400,0) --400-- C(800,0) --600-- D(1400,0)
          d0             d1 [S1]          d2               d3

Communities (boxes, y from -200 to 400): C1 residential x -100..600 (street 东街),
C2 village x 600..1100 (东街), C3 hollow village x 1100..1700 (西街).
Demand points: d0 1,000 residents (C1), d1 2,000 (C1), d2 2,000 (C2), d3 1,000 (C3).
Sites: S1 station at B, 1,200 m2 (700 on the ground floor); S2 station at E, 420 m2 (126).

Network distances: S1 -> d0 400, d1 0, d2 400, d3 1,000; S2 -> d0 2,300, d1 1,900,
d2 1,500 (C-D-F-E), d3 900 (D-F-E). Station radius 500 m (default profile).
So the catchment of S1 is d0, d1, d2 (5,000 residents), of S2 d3 (1,000); S1 has 5,000 within
500 m, S2 nobody; d0-d2 are covered, d3 is not: C1 and C2 covered, C3 a gap.
"""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from siting._errors import InputError, SitingWarning
from siting.evaluate import (
    Evaluation,
    compliance_trajectory,
    evaluate,
    site_compliance,
    trajectory_from_snapshots,
)
from siting.network import EuclideanNetwork, WalkNetwork
from siting.standards import load_standard

CRS = "EPSG:32651"


def _graph() -> nx.Graph:
    G = nx.Graph(crs=CRS)
    nodes = {"A": (0, 0), "B": (400, 0), "C": (800, 0), "D": (1400, 0)}
    nodes |= {"E": (800, 300), "F": (1400, 300)}
    for n, (x, y) in nodes.items():
        G.add_node(n, x=float(x), y=float(y))
    for u, v, length in [
        ("A", "B", 400),
        ("B", "C", 400),
        ("C", "D", 600),
        ("D", "F", 300),
        ("F", "E", 600),
    ]:
        G.add_edge(u, v, length=float(length))
    return G


@pytest.fixture
def net() -> WalkNetwork:
    return WalkNetwork.from_graph(_graph())


@pytest.fixture
def comms() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["C1", "C2", "C3"],
            "name": ["东一社区", "西村", "空村"],
            "kind": ["residential", "village", "hollow_village"],
            "street": ["东街", "东街", "西街"],
            "population": [3000.0, 2000.0, 1000.0],
            "households": [1000.0, 800.0, 400.0],
            "party_members": [100.0, 50.0, 20.0],
        },
        geometry=[box(-100, -200, 600, 400), box(600, -200, 1100, 400), box(1100, -200, 1700, 400)],
        crs=CRS,
    )


def _sites(extra: list[dict] | None = None) -> gpd.GeoDataFrame:
    rows = [
        dict(id="S1", name="一站", level="station", floor_area_m2=1200.0,
             ground_floor_area_m2=700.0, community_id="C1", status="existing",
             upgrade_year=np.nan, geometry=Point(400, 0)),
        dict(id="S2", name="二站", level="station", floor_area_m2=420.0,
             ground_floor_area_m2=126.0, community_id="C2", status="existing",
             upgrade_year=2.0, geometry=Point(800, 300)),
    ]  # fmt: skip
    return gpd.GeoDataFrame(rows + (extra or []), geometry="geometry", crs=CRS)


@pytest.fixture
def sites() -> gpd.GeoDataFrame:
    return _sites()


@pytest.fixture
def demand() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "community_id": ["C1", "C1", "C2", "C3"],
            "population": [1000.0, 2000.0, 2000.0, 1000.0],
            "households": [300.0, 700.0, 800.0, 400.0],
            "party_members": [30.0, 70.0, 50.0, 20.0],
        },
        geometry=[Point(0, 0), Point(400, 0), Point(800, 0), Point(1400, 0)],
        crs=CRS,
    )


@pytest.fixture
def ev(comms, sites, net, demand) -> Evaluation:
    return evaluate(comms, sites, net, demand=demand, start_year=2025)


SITE_COLUMNS = (
    "site_id, name, level, status, floor_area_m2, ground_floor_area_m2, ground_floor_share, "
    "compliant, reasons, shortfall_m2, population_served, households_served, "
    "party_members_served, population_in_radius, radius_m, max_population, overloaded, "
    "m2_per_100_households, required_funding_yuan, street, community_id, geometry"
).split(", ")
COMMUNITY_COLUMNS = (
    "community_id, name, kind, street, population, households, party_members, nearest_site_id, "
    "nearest_site_distance_m, nearest_station_id, nearest_station_distance_m, covered_share, "
    "covered_share_any, has_compliant_station, coverage_status, placement_rule, missing, geometry"
).split(", ")
STREET_COLUMNS = (
    "street, population, population_covered, coverage_rate, sites_total, sites_compliant, "
    "compliance_rate, stations, stations_compliant, population_per_site_mean, "
    "population_per_site_max, sites_overloaded, floor_area_per_100_households"
).split(", ")


def test_contract_columns(ev):
    assert set(SITE_COLUMNS) <= set(ev.sites.columns)
    assert set(COMMUNITY_COLUMNS) <= set(ev.communities.columns)
    assert list(ev.streets.columns) == STREET_COLUMNS
    assert {"hex_id", "population_uncovered", "communities", "community_names", "rank"} <= set(
        ev.gaps.columns
    )
    assert list(ev.trajectory.columns)[:1] == ["year"]
    assert {"community_id", "population", "covered", "covered_any", "nearest_site"} <= set(
        ev.demand.columns
    )
    assert ev.sites["compliant"].dtype == bool and ev.sites["overloaded"].dtype == bool
    assert ev.sites["population_served"].dtype == np.float64
    assert ev.communities["has_compliant_station"].dtype == bool
    assert ev.demand["nearest_site"].dtype == np.int64
    for frame in (ev.sites, ev.communities, ev.demand, ev.gaps):
        assert frame.crs == CRS


def test_sites_network(ev):
    s = ev.sites.set_index("site_id")
    assert s.loc["S1", "population_served"] == 5000
    assert s.loc["S2", "population_served"] == 1000
    assert s.loc["S1", "households_served"] == 1800
    assert s.loc["S1", "party_members_served"] == 150
    assert s.loc["S1", "population_in_radius"] == 5000
    assert s.loc["S2", "population_in_radius"] == 0
    assert s.loc["S1", "radius_m"] == 500
    assert s.loc["S1", "m2_per_100_households"] == pytest.approx(1200 / 1800 * 100)
    assert s.loc["S1", "required_funding_yuan"] == 300_000 + 200 * 150
    assert s.loc["S2", "required_funding_yuan"] == 300_000 + 200 * 20
    assert bool(s.loc["S1", "compliant"]) and s.loc["S1", "reasons"] == ""
    assert not bool(s.loc["S2", "compliant"])
    assert s.loc["S2", "reasons"] == "建筑面积 420 m² < 1,000 m²; 一层面积占比 30% < 50%"
    assert s.loc["S2", "reasons_en"] == "floor area 420 m2 < 1,000 m2; ground floor 30% < 50%"
    assert s.loc["S2", "shortfall_m2"] == 580
    assert s.loc["S2", "ground_floor_share"] == pytest.approx(0.3)
    assert not s["overloaded"].any()
    assert list(s["street"]) == ["东街", "东街"]


def test_communities_network(ev):
    c = ev.communities.set_index("community_id")
    assert list(c["covered_share"]) == [1.0, 1.0, 0.0]
    assert list(c["coverage_status"]) == ["covered", "covered", "gap"]
    assert list(c["has_compliant_station"]) == [True, False, False]
    # centre of C1 is (250, 100): snapped to B at hypot(150, 100), S1 stands on B
    assert c.loc["C1", "nearest_site_id"] == "S1"
    assert c.loc["C1", "nearest_site_distance_m"] == pytest.approx(np.hypot(150, 100))
    # centre of C3 is (1400, 100): snapped to D (100 m), then D-F-E 900 m to S2
    assert c.loc["C3", "nearest_station_id"] == "S2"
    assert c.loc["C3", "nearest_station_distance_m"] == pytest.approx(1000)
    assert c.loc["C1", "missing"] == ""
    assert c.loc["C2", "missing"] == "服务站未达标；缺党群服务点"
    assert c.loc["C3", "missing"] == "缺党群服务点（优先）；100% 居民不在任何站点服务半径内"
    assert c.loc["C3", "placement_rule"].startswith("空心村点为主")
    assert c.loc["C2", "placement_rule"].startswith("纯农村站点并举")


def test_streets(ev):
    st = ev.streets.set_index("street")
    east, west = st.loc["东街"], st.loc["西街"]
    assert east["population"] == 5000 and east["population_covered"] == 5000
    assert east["coverage_rate"] == 1.0
    assert east["sites_total"] == 2 and east["sites_compliant"] == 1
    assert east["compliance_rate"] == 0.5
    assert east["stations"] == 2 and east["stations_compliant"] == 1
    assert east["population_per_site_mean"] == 3000 and east["population_per_site_max"] == 5000
    assert east["floor_area_per_100_households"] == pytest.approx((1200 + 420) / 1800 * 100)
    assert west["coverage_rate"] == 0.0 and west["sites_total"] == 0
    assert np.isnan(west["compliance_rate"])


def test_summary_json_ready(ev):
    s = ev.summary
    assert s["population_total"] == 6000 and s["population_covered"] == 5000
    assert s["coverage_rate"] == pytest.approx(5 / 6)
    assert s["sites_total"] == 2 and s["sites_compliant"] == 1 and s["compliance_rate"] == 0.5
    assert s["by_level"]["station"]["sites_compliant"] == 1
    assert s["by_level"]["point"]["compliance_rate"] is None
    assert s["by_street"]["西街"]["coverage_rate"] == 0.0
    assert s["distance_mode"] == "network" and s["standard"] == "default"
    assert s["demand_method"] == "custom"
    back = json.loads(ev.to_json_summary())
    assert back == s
    json.dumps(s, allow_nan=False)  # no NaN/inf, no numpy scalars


def test_gaps_and_trajectory(ev):
    assert len(ev.gaps) == 1
    g = ev.gaps.iloc[0]
    assert g["population_uncovered"] == 1000 and g["communities"] == "C3"
    assert g["community_names"] == "空村" and g["rank"] == 1
    assert g.geometry.contains(Point(1400, 0))
    t = ev.trajectory
    assert list(t["year"]) == [0, 1, 2, 3]
    assert list(t["calendar_year"]) == [2024, 2025, 2026, 2027]
    assert list(t["target_rate"]) == [0.6, 0.6, 0.8, 1.0]
    assert list(t["compliance_rate"]) == [0.5, 0.5, 1.0, 1.0]  # S2 upgraded in year 2
    assert list(t["met"]) == [False, False, True, True]


def test_euclidean_mode(comms, sites, demand):
    ev = evaluate(comms, sites, EuclideanNetwork(CRS), demand=demand, start_year=2025)
    s = ev.sites.set_index("site_id")
    # straight lines: d2 is 300 m from S2 (400 from S1), d3 670.8 m from S2 (1,000 from S1)
    assert s.loc["S1", "population_served"] == 3000
    assert s.loc["S2", "population_served"] == 3000
    # S2 reaches d1 (exactly 500 m) and d2 (300 m)
    assert s.loc["S2", "population_in_radius"] == 4000
    assert ev.summary["distance_mode"] == "euclidean"
    assert ev.summary["population_covered"] == 5000


def test_point_tier_does_not_take_station_residents(comms, net, demand):
    point = dict(id="P1", name="一点", level="point", floor_area_m2=20.0,
                 ground_floor_area_m2=np.nan, community_id="C2", status="existing",
                 upgrade_year=np.nan, geometry=Point(800, 0))  # fmt: skip
    std = load_standard("default").with_overrides(point_max_population=1500)
    ev = evaluate(comms, _sites([point]), net, demand=demand, standard=std)
    s = ev.sites.set_index("site_id")
    assert s.loc["S1", "population_served"] == 5000  # unchanged by the point
    # the point serves the residents within its 300 m only: d2 (d1 and d3 are 400/600 m away)
    assert s.loc["P1", "population_served"] == 2000
    assert s.loc["P1", "households_served"] == 800
    assert bool(s.loc["P1", "overloaded"])  # 2,000 > 1,500
    assert bool(s.loc["P1", "compliant"])  # points have no area minimum
    assert s.loc["P1", "required_funding_yuan"] == 2000
    assert s.loc["P1", "population_in_radius"] == 2000  # 300 m: d2 only
    c = ev.communities.set_index("community_id")
    assert c.loc["C2", "missing"] == "服务站未达标"  # the village now has its point
    d = ev.demand
    assert list(d["point_site"]) == [-1, -1, 2, -1]
    assert list(d["nearest_site"]) == [0, 0, 2, 1]  # the point stands on d2
    assert list(d["covered_any"]) == [True, True, True, False]


def test_planned_site_evaluated_as_it_will_be(comms, net, demand):
    planned = dict(id="S3", name="规划站", level="station", floor_area_m2=1000.0,
                   ground_floor_area_m2=600.0, community_id="C3", status="planned",
                   upgrade_year=2026.0, geometry=Point(1400, 0))  # fmt: skip
    ev = evaluate(comms, _sites([planned]), net, demand=demand, start_year=2025)
    s = ev.sites.set_index("site_id")
    assert s.loc["S3", "population_served"] == 1000  # d3, once it is built
    assert s.loc["S2", "population_served"] == 1000  # today: d3 still goes to S2
    assert ev.summary["population_covered"] == 5000  # coverage is today's
    assert ev.summary["sites_total"] == 2 and ev.summary["sites_planned"] == 1
    t = ev.trajectory
    assert list(t["sites_total"]) == [2, 2, 3, 3]  # S3 built in 2026 = year 2
    assert list(t["sites_compliant"]) == [1, 1, 3, 3]
    after = evaluate(comms, _sites([planned]), net, demand=demand, include_planned=True)
    assert after.summary["coverage_rate"] == 1.0
    assert after.sites.set_index("site_id").loc["S2", "population_served"] == 0


def test_overloaded_with_override(comms, sites, net, demand):
    std = load_standard("default").with_overrides(station_max_population=4000)
    ev = evaluate(comms, sites, net, demand=demand, standard=std)
    s = ev.sites.set_index("site_id")
    assert bool(s.loc["S1", "overloaded"]) and not bool(s.loc["S2", "overloaded"])
    assert ev.streets.set_index("street").loc["东街", "sites_overloaded"] == 1


def test_households_criterion_and_gb_profile(comms, sites, net, demand):
    # gb50180: station 600 m2, no ground-floor share, 300 m radius
    ev = evaluate(comms, sites, net, demand=demand, standard="gb50180")
    s = ev.sites.set_index("site_id")
    assert s.loc["S2", "reasons"] == "建筑面积 420 m² < 600 m²"
    assert s.loc["S1", "radius_m"] == 300
    assert s.loc["S1", "population_in_radius"] == 2000  # only d1 within 300 m
    std = load_standard("default").with_overrides(station_min_m2_per_100_households=70)
    ev = evaluate(comms, sites, net, demand=demand, standard=std)
    s = ev.sites.set_index("site_id")
    assert s.loc["S1", "reasons"] == "每百户面积 66.7 m² < 70 m²（服务 1,800 户）"
    assert s.loc["S1", "shortfall_m2"] == pytest.approx(1800 * 0.7 - 1200)


def test_grid_demand_preserves_population(comms, sites, net):
    ev = evaluate(comms, sites, EuclideanNetwork(CRS), demand="grid", spacing=100.0)
    assert ev.demand["population"].sum() == pytest.approx(6000)
    assert ev.summary["demand_method"] == "grid"
    shares = ev.communities["covered_share"]
    assert ((shares >= 0) & (shares <= 1)).all()
    # every resident is in exactly one station catchment
    assert ev.sites["population_served"].sum() == pytest.approx(6000)


def test_site_without_community_is_placed(comms, net, demand):
    s = _sites()
    s.loc[1, "community_id"] = ""
    ev = evaluate(comms, s, net, demand=demand)
    assert ev.sites["community_id"].tolist() == ["C1", "C2"]
    assert ev.communities["has_compliant_station"].tolist() == [True, False, False]


def test_community_without_residents_uses_its_centre(comms, sites, net, demand):
    c = comms.copy()
    c.loc[2, "population"] = 0.0
    d = demand[demand["community_id"] != "C3"]
    ev = evaluate(c, sites, net, demand=d)
    # C3's centre is 1,000 m from S2 (radius 500): a gap
    assert ev.communities["coverage_status"].tolist() == ["covered", "covered", "gap"]


def test_crs_mismatch(comms, sites, demand):
    with pytest.raises(InputError, match="same metric CRS"):
        evaluate(comms, sites, EuclideanNetwork("EPSG:32650"), demand=demand)


def test_no_sites(comms, net, demand):
    ev = evaluate(comms, _sites().iloc[:0], net, demand=demand)
    assert ev.summary["coverage_rate"] == 0.0 and ev.summary["compliance_rate"] is None
    assert ev.gaps["population_uncovered"].sum() == 6000
    assert (ev.communities["coverage_status"] == "gap").all()


def test_matches_brute_force_euclidean():
    """Catchments and radius counts against a plain numpy reference on random points."""
    rng = np.random.default_rng(7)
    comm = gpd.GeoDataFrame(
        {"id": ["A"], "population": [1.0], "households": [1.0]},
        geometry=[box(0, 0, 3000, 3000)],
        crs=CRS,
    )
    dxy = rng.uniform(0, 3000, (400, 2))
    pop = rng.integers(1, 50, 400).astype(float)
    dem = gpd.GeoDataFrame(
        {"community_id": "A", "population": pop}, geometry=gpd.points_from_xy(*dxy.T), crs=CRS
    )
    sxy = rng.uniform(0, 3000, (12, 2))
    levels = np.array(["station", "point", "street_center"] * 4)
    st = gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(12)], "level": levels, "floor_area_m2": 1000.0},
        geometry=gpd.points_from_xy(*sxy.T),
        crs=CRS,
    )
    ev = evaluate(comm, st, EuclideanNetwork(CRS), demand=dem)
    d = np.hypot(*(dxy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1))
    radius = np.select([levels == "point", levels == "station"], [300.0, 500.0], 1000.0)
    soh = levels != "point"
    ref_in = ((d <= radius) * pop[:, None]).sum(axis=0)
    np.testing.assert_allclose(ev.sites["population_in_radius"], ref_in)
    near_soh = np.flatnonzero(soh)[d[:, soh].argmin(axis=1)]
    near_pt = np.flatnonzero(~soh)[d[:, ~soh].argmin(axis=1)]
    reach = d[np.arange(len(d)), near_pt] <= 300.0  # points serve only within their radius
    ref_served = np.bincount(near_soh, pop, 12) + np.bincount(near_pt[reach], pop[reach], 12)
    np.testing.assert_allclose(ev.sites["population_served"], ref_served)
    ref_cov = ((d <= radius) & soh).any(axis=1)
    np.testing.assert_array_equal(ev.demand["covered"], ref_cov)
    assert ev.summary["population_covered"] == pytest.approx(pop[ref_cov].sum())


def test_site_compliance_unknown_ground_floor_not_judged():
    df = pd.DataFrame(
        {"level": ["station", "station"], "floor_area_m2": [1500.0, np.nan],
         "ground_floor_area_m2": [np.nan, 100.0]}
    )  # fmt: skip
    out = site_compliance(df, "default")
    assert out["compliant"].tolist() == [True, False]
    assert out["reasons"].iloc[1] == "建筑面积 ? m² < 1,000 m²"


def test_trajectory_calendar_and_programme_years():
    sites = pd.DataFrame(
        {
            "status": ["existing"] * 4 + ["planned"],
            "compliant": [True, False, False, False, True],
            "upgrade_year": [np.nan, 1, 2027, np.nan, np.nan],
        }
    )
    t = compliance_trajectory(sites, targets=(0.6, 0.8, 1.0), start_year=2025)
    # the planned site has no year: left out; 4 existing sites
    assert list(t["sites_total"]) == [4, 4, 4, 4]
    assert list(t["sites_compliant"]) == [1, 2, 2, 3]
    assert list(t["met"]) == [False, False, False, False]


def test_trajectory_from_snapshots():
    snap0 = pd.DataFrame({"level": ["station", "station"], "floor_area_m2": [1200.0, 400.0],
                          "ground_floor_area_m2": [np.nan, np.nan]})  # fmt: skip
    snap1 = snap0.assign(floor_area_m2=[1200.0, 1000.0])
    t = trajectory_from_snapshots([snap0, snap1], standard="default", start_year=2025)
    assert list(t["compliance_rate"]) == [0.5, 1.0]
    assert list(t["met"]) == [False, True]
    assert list(t["calendar_year"]) == [2024, 2025]


def test_far_points_warned_once(comms, sites, net, demand):
    far = gpd.GeoDataFrame(
        {"community_id": ["C3"], "population": [10.0]}, geometry=[Point(1400, 700)], crs=CRS
    )  # 400 m north of F
    dem = pd.concat([demand, far], ignore_index=True)
    with pytest.warns(SitingWarning) as rec:
        ev = evaluate(comms, sites, net, demand=dem)
    msgs = [str(r.message) for r in rec if issubclass(r.category, SitingWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("1 of 5 demand points are more than 300 m")
    assert ev.summary["population_total"] == 6000  # the communities' declared total
    assert ev.demand["population"].sum() == 6010
    assert ev.summary["coverage_rate"] == pytest.approx(5000 / 6010)  # on the demand base


def test_far_from_road_warning_names_sites_by_id() -> None:
    import networkx as nx

    from siting.network import WalkNetwork

    g = nx.Graph(crs="EPSG:32651")
    g.add_node(0, x=0.0, y=0.0)
    g.add_node(1, x=100.0, y=0.0)
    g.add_edge(0, 1, length=100.0)
    net = WalkNetwork.from_graph(g)
    pts = gpd.GeoSeries(shapely.points([[0.0, 1000.0], [0.0, 0.0]]), index=["S9", "S1"])
    with pytest.warns(SitingWarning, match=r"1 of 2 sites .* farthest: S9 \(1000 m\)"):
        net.snap(pts, label="sites")


def test_unknown_households_are_estimated_from_population_with_a_warning():
    """A community without households (户数) gets population / the district's persons per
    household, so its station's floor area per 100 households is judged (it used to pass that
    rule unseen)."""
    from siting._errors import SitingWarning

    comm = gpd.GeoDataFrame(
        {"id": ["A", "B"], "population": [5000.0, 6000.0], "households": [2000.0, np.nan]},
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
        crs=CRS,
    )
    # B's station: 1,000 m2 (the minimum) for 6,000 / 2.5 = 2,400 households is 41.7 m2 per
    # 100 households (>= 30); 600 m2 would be 25 < 30, and below the 1,000 m2 minimum anyway
    st = gpd.GeoDataFrame(
        {"id": ["SA", "SB"], "level": ["station", "station"], "floor_area_m2": [1000.0, 700.0],
         "community_id": ["A", "B"]},
        geometry=gpd.points_from_xy([500.0, 1500.0], [500.0, 500.0]),
        crs=CRS,
    )  # fmt: skip
    with pytest.warns(SitingWarning, match=r"households \(户数\) unknown for 1 of 2 \(B\)") as rec:
        ev = evaluate(comm, st, EuclideanNetwork(CRS), demand="centroid")
    assert "2.50 persons per household (the district's own" in str(rec[0].message)
    sb = ev.sites.set_index("site_id").loc["SB"]
    assert sb["households_served"] == pytest.approx(2400.0)
    assert sb["m2_per_100_households"] == pytest.approx(700.0 / 2400.0 * 100.0)
    assert "每百户面积 29.2 m² < 30 m²" in sb["reasons"]
