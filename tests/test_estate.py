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

import json
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from siting import io as sio
from siting._errors import InputError, SitingWarning
from siting.estate import PERSONS_PER_HOUSEHOLD, check_estate, lonlat_text
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
    with pytest.raises(InputError, match="households must be a positive whole number"):
        _check(net, bad)


@pytest.mark.parametrize("bad", [2400.5, 0.3, np.float64(99.99)])
def test_households_must_be_whole(net, bad):
    """2400.5 households was accepted (required area 720.15 m2 computed from it)."""
    with pytest.raises(InputError) as err:
        _check(net, bad)
    (p,) = err.value.problems
    assert (p.file, p.where, p.field) == ("", "", "--households")
    assert p.what == f"{bad!r}: households must be a whole number"
    # from the estate file: the file, the feature and its field are named
    with pytest.raises(InputError) as err:
        _check(net, bad, files={"households": "estate.gpkg"})
    (p,) = err.value.problems
    assert (p.file, p.where, p.field) == ("estate.gpkg", "feature 1 (id=E)", "households")
    assert p.what == f"{bad!r}: must be a whole number" and "households field" in p.fix
    # whole numbers of any numeric type are fine
    assert _check(net, np.int64(2400)).households == 2400.0
    assert _check(net, 2400.0).required_floor_area_m2 == pytest.approx(1000.0)


def test_implausibly_many_households_warn_naming_the_value(net):
    """10,000,000 households was accepted silently (a 3,000,000 m2 requirement). Above
    10,000 households (about 26,000 residents, more than a 10-minute living circle) the check
    warns, naming the figure and what to check, and goes on."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        _check(net, 10_000)  # at the bound: no warning
    with pytest.warns(SitingWarning) as rec:
        res = _check(net, 10_000_000)
    assert res.required_floor_area_m2 == pytest.approx(3_000_000.0)  # 30 m2 per 100
    (msg,) = [str(w.message) for w in rec if "households" in str(w.message)]
    assert msg.startswith("--households 10,000,000: more than 10,000 households for one estate")
    assert "not its residents" in msg
    with pytest.warns(SitingWarning, match=r"^estate.gpkg: households 10,001: more than"):
        _check(net, 10_001, files={"households": "estate.gpkg"})


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


# --- input checks and messages (findings of the new-user trial) -------------------------------


def _stations(*rows):
    """Existing stations ``(id, x, y, floor_area_m2)``."""
    return gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "level": ["station"] * len(rows),
            "floor_area_m2": [float(r[3]) for r in rows],
            "status": ["existing"] * len(rows),
        },
        geometry=[shapely.Point(r[1], r[2]) for r in rows],
        crs=CRS,
    )


def _district():
    return gpd.GeoDataFrame({"id": ["C1"]}, geometry=[shapely.box(0, 0, 1000, 1000)], crs=CRS)


def _estate_at(poly, eid="E"):
    return gpd.GeoDataFrame({"id": [eid]}, geometry=[poly], crs=CRS)


def test_estate_far_from_the_district_is_an_error(net):
    # 1,500 m east of the district's only community (x 0-1000): beyond the 1,000 m allowed
    far = _estate_at(shapely.box(2500, 200, 2900, 600))
    with pytest.raises(InputError) as err:
        check_estate(
            far, 2400, sites=_sites(), network=net, communities=_district(),
            files={"estate": "est.geojson"},
        )  # fmt: skip
    (p,) = err.value.problems
    assert (p.file, p.where, p.field) == ("est.geojson", "feature 1 (id=E)", "geometry")
    assert "outside the district, 1.5 km from its nearest community C1" in p.what
    assert "--communities" in p.fix


def test_estate_just_outside_the_district_warns(net):
    # 300 m east of the district (x 1300-1500): accepted, with a warning naming the distance
    near = _estate_at(shapely.box(1300, 200, 1500, 600))
    with pytest.warns(
        SitingWarning, match=r"est.geojson: feature 1 \(id=E\): the estate lies 300 m outside"
    ):
        check_estate(
            near, 2400, sites=_sites(), network=EuclideanNetwork(CRS), communities=_district(),
            files={"estate": "est.geojson"},
        )  # fmt: skip


@pytest.mark.parametrize(
    ("columns", "named"),
    [
        ({}, "row 2"),
        ({"name": ["北社区", "东社区"]}, "东社区"),
        ({"id": ["C1", np.nan], "name": ["北社区", "东社区"]}, "东社区"),
        ({"id": ["C1", "C2"]}, "C2"),
    ],
)
def test_nearest_community_is_named_without_an_id(net, columns, named):
    # two communities without ids: the estate (x 1300-1500) is 300 m east of the second one
    comm = gpd.GeoDataFrame(
        columns,
        geometry=[shapely.box(0, 2000, 1000, 3000), shapely.box(0, 0, 1000, 1000)],
        crs=CRS,
    )
    near = _estate_at(shapely.box(1300, 200, 1500, 600))
    with pytest.warns(SitingWarning) as rec:
        check_estate(
            near, 2400, sites=_sites(), network=EuclideanNetwork(CRS), communities=comm,
            files={"estate": "est.geojson"},
        )  # fmt: skip
    (msg,) = [str(w.message) for w in rec if "outside the district" in str(w.message)]
    assert f"(nearest: {named})" in msg and "nan" not in msg
    far = _estate_at(shapely.box(2500, 200, 2900, 600))
    with pytest.raises(InputError, match=f"from its nearest community {named};"):
        check_estate(far, 2400, sites=_sites(), network=EuclideanNetwork(CRS), communities=comm)


def test_estate_inside_the_district_is_quiet(net, recwarn):
    _check(net, communities=_district())
    assert not [w for w in recwarn if issubclass(w.category, SitingWarning)]


def test_proposed_site_must_be_one_feature(net):
    three = gpd.GeoDataFrame(
        {"id": ["B1", "B2", "B3"], "floor_area_m2": [100.0] * 3},
        geometry=[shapely.Point(400, 400)] * 3,
        crs=CRS,
    )
    with pytest.raises(InputError) as err:
        _check(net, proposed_site=three, files={"proposed_site": "cand.csv"})
    (p,) = err.value.problems
    assert (p.file, p.where, p.field) == ("cand.csv", "", "geometry")
    assert "holds 3 features, expected one proposed site" in p.what
    assert str(err.value).startswith("cand.csv: geometry: holds 3 features")


def test_proposed_site_without_area_names_file_and_feature(net):
    site = _site(400, 400, np.nan, 100.0).assign(id=["P1"])
    with pytest.raises(InputError) as err:
        _check(net, proposed_site=site, files={"proposed_site": "site.geojson"})
    assert str(err.value).startswith(
        "site.geojson: feature 1 (id=P1): floor_area_m2: the proposed site has no floor area"
    )


def _no_nan(c):
    raise ValueError(f"bare {c} in JSON")


def test_json_has_null_not_nan(net):
    res = _check(net, proposed_site=_site(400, 400, 1000.0, np.nan))
    text = json.dumps(res.as_dict(), allow_nan=False, default=str)
    d = json.loads(text, parse_constant=_no_nan)
    assert d["proposed"]["ground_floor_area_m2"] is None
    assert d["proposed"]["floor_area_m2"] == 1000.0


def test_lonlat_text_is_lon_first():
    assert lonlat_text(121.265719, 30.886242) == "121.265719E 30.886242N"
    assert lonlat_text(-70.5, -33.25) == "70.500000W 33.250000S"


def test_undersized_station_next_to_the_suggestion_is_named(net):
    # S9 at (400, 450) snaps to the node (400, 400), the suggestion: 50 m walking; 640 m2 is
    # below the station minimum of 1,000 m2. S1 at (400, 1000) is 600 m away: not named.
    sites = _stations(("S9", 400, 450, 640), ("S1", 400, 1000, 1200))
    res = check_estate(_estate(), 2400, sites=sites, network=net)
    pt = res.suggested.geometry.iat[0]
    assert (pt.x, pt.y) == (400.0, 400.0)  # not moved
    assert [s["id"] for s in res.nearby_sites] == ["S9"]
    s = res.nearby_sites[0]
    assert s["walk_m"] == pytest.approx(50.0) and s["below_standard"] is True
    assert s["floor_area_m2"] == 640.0 and s["min_floor_area_m2"] == 1000.0
    (en,) = res.advice_en
    assert "50 m from the existing station S9 (640 m2, below the 1,000 m2 standard)" in en
    # sharing it: the estate's 1,000 m2 comes on top of the station's 640 m2
    assert "adding at least 1,000 m2 to it (to at least 1,640 m2" in en
    assert "增加不少于 1,000 m²（扩建至不少于 1,640 m²" in res.advice[0]
    assert s["shared_floor_area_m2"] == 1640.0
    assert "S9" in res.advice[0] and res.advice[0] in res.notes


def test_shared_station_needs_the_estate_area_on_top_of_its_own(net):
    # 5,000 households: 1,500 m2 required (30 m2 per 100 households); S9 has 900 m2 -> 2,400 m2
    sites = _stations(("S9", 400, 450, 900))
    res = check_estate(_estate(), 5000, sites=sites, network=net)
    assert res.nearby_sites[0]["shared_floor_area_m2"] == 2400.0
    assert "adding at least 1,500 m2 to it (to at least 2,400 m2" in res.advice_en[0]
    # a station meeting the standard is told the same figures
    ok = check_estate(_estate(), 2400, sites=_stations(("S9", 400, 450, 1200)), network=net)
    assert ok.nearby_sites[0]["shared_floor_area_m2"] == 2200.0
    assert "adding at least 1,000 m2 to it, to at least 2,200 m2" in ok.advice_en[0]
    assert "增加不少于 1,000 m²，至不少于 2,200 m²" in ok.advice[0]


def test_shared_street_center_keeps_its_level_minimum(net):
    # a street center (1,500 m2 minimum) of 300 m2: 300 + 1,000 = 1,300 < 1,500 -> 1,500 m2
    sites = _stations(("J1", 400, 450, 300)).assign(level=["street_center"])
    res = check_estate(_estate(), 2400, sites=sites, network=net)
    s = res.nearby_sites[0]
    assert s["min_floor_area_m2"] == 1500.0 and s["below_standard"] is True
    assert s["shared_floor_area_m2"] == 1500.0
    assert "adding at least 1,000 m2 to it (to at least 1,500 m2" in res.advice_en[0]


def test_station_of_unknown_area_next_to_the_suggestion(net):
    # S9's floor area is missing: neither "meets" nor "below" the standard, and no nan anywhere
    sites = _stations(("S9", 400, 450, np.nan))
    res = check_estate(_estate(), 2400, sites=sites, network=net)
    s = res.nearby_sites[0]
    assert s["below_standard"] is None and s["shared_floor_area_m2"] is None
    (zh,) = res.advice
    (en,) = res.advice_en
    assert "floor area unknown" in en and "check its floor area" in en
    assert "meets the standard" not in en and "below the" not in en
    assert "面积不详" in zh and "核实" in zh and "已达标" not in zh
    assert "add at least 1,000 m2 to it" in en
    text = json.dumps(res.as_dict(), ensure_ascii=False, allow_nan=False, default=str)
    d = json.loads(text, parse_constant=_no_nan)
    assert d["nearby_sites"][0]["floor_area_m2"] is None
    for t in [*res.advice, *res.advice_en, *res.notes, text]:
        assert "nan" not in t.lower(), t


def test_standard_station_next_to_the_suggestion_is_named_as_such(net):
    res = check_estate(_estate(), 2400, sites=_stations(("S9", 400, 450, 1200)), network=net)
    assert res.nearby_sites[0]["below_standard"] is False
    assert "meets the standard" in res.advice_en[0]


def test_no_station_near_the_suggestion_gives_no_advice(net):
    res = _check(net)
    assert res.nearby_sites == [] and res.advice == [] and res.advice_en == []


def test_far_from_streets_warnings_name_file_and_feature(net):
    # estate x 600-1400: the grid's streets end at x 1000, so its points east of x 1300 are
    # more than 300 m from every street node; S7 at (1000, 1350) is 350 m from node (1000, 1000)
    est = _estate_at(shapely.box(600, 600, 1400, 1000))
    sites = _stations(("S7", 1000, 1350, 1200))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_estate(
            est, 2400, sites=sites, network=net,
            files={"estate": "est.geojson", "sites": "sites.gpkg"},
        )  # fmt: skip
    texts = [str(w.message) for w in caught if issubclass(w.category, SitingWarning)]
    assert not [t for t in texts if "origins" in t or "destinations" in t or "#" in t]
    est_msg = [t for t in texts if t.startswith("est.geojson: feature 1 (id=E): ")]
    assert len(est_msg) == 1 and "points of the estate lie more than 300 m" in est_msg[0]
    site_msg = [t for t in texts if t.startswith("sites.gpkg: ")]
    assert len(site_msg) == 1 and "id=S7 (350 m)" in site_msg[0]


_OPEN_RING = (
    '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
    '{"id": "E1", "population": 100, "households": 2400}, "geometry": {"type": "Polygon", '
    '"coordinates": [[[121.2663, 30.8836], [121.2656, 30.8870], [121.2611, 30.8864], '
    "[121.2617, 30.8830]]]}}]}"
)


def test_unclosed_ring_is_an_input_error(tmp_path):
    path = tmp_path / "open.geojson"
    path.write_text(_OPEN_RING, encoding="utf-8")
    for load in (sio.load_estate, sio.load_communities):
        with pytest.raises(InputError) as err:
            load(str(path))
        (p,) = err.value.problems
        assert (p.file, p.where, p.field) == (str(path), "feature 1 (id=E1)", "geometry")
        assert "ring is not closed" in p.what and "close the ring" in p.fix


def test_household_size_is_the_districts_own_ratio() -> None:
    from siting.estate import household_size

    # communities giving both figures: (500 + 700) / (200 + 280) = 2.5; C3 has no households,
    # C4 no residents: both left out of the ratio
    comm = gpd.GeoDataFrame(
        {
            "id": ["C1", "C2", "C3", "C4"],
            "population": [500.0, 700.0, 90.0, 0.0],
            "households": [200.0, 280.0, np.nan, 10.0],
        },
        geometry=[shapely.box(0, 0, 1, 1)] * 4,
        crs=CRS,
    )
    size = household_size(comm)
    assert (size.persons, size.source, size.communities) == (2.5, "district", 2)
    assert "2.50 persons per household (the district's own" in size.describe()
    assert "of 2 communities" in size.describe()
    # no households anywhere: the national fallback, and the text says so
    none = household_size(comm.assign(households=np.nan))
    assert (none.persons, none.source) == (PERSONS_PER_HOUSEHOLD, "default")
    assert "2.62 persons per household (national average" in none.describe()
    assert household_size(comm.drop(columns="households")).source == "default"
    assert household_size(None).persons == PERSONS_PER_HOUSEHOLD


def test_household_size_implausible_ratio_warns_and_falls_back() -> None:
    from siting.estate import household_size

    # 10 persons a household: a households column holding something else
    comm = gpd.GeoDataFrame(
        {"id": ["C1"], "population": [1000.0], "households": [100.0]},
        geometry=[shapely.box(0, 0, 1, 1)],
        crs=CRS,
    )
    with pytest.warns(SitingWarning, match=r"population / households is 10.00 persons"):
        size = household_size(comm)
    assert (size.persons, size.source) == (PERSONS_PER_HOUSEHOLD, "default")


def test_estate_residents_use_the_districts_ratio(net):
    # the district's communities: 5,000 residents in 2,000 households = 2.5 a household
    district = _district().assign(population=[5000.0], households=[2000.0])
    res = check_estate(_estate(), 2400, sites=_sites(), network=net, communities=district)
    assert res.population == pytest.approx(2400 * 2.5)  # was 2400 x 2.62 = 6,288
    assert res.persons_per_household == 2.5
    assert "the district's own" in res.persons_per_household_source
    d = res.as_dict()
    assert d["persons_per_household"] == 2.5 and d["population"] == pytest.approx(6000.0)
    assert any("每户 2.50 人（本区 1 个社区人口/户数）" in n for n in res.notes)
    # the floor area rule is per household, whatever the ratio
    assert res.required_by_households_m2 == pytest.approx(720.0)
    # without the communities' households: 2.62, named as the national average
    plain = check_estate(_estate(), 2400, sites=_sites(), network=net, communities=_district())
    assert plain.population == pytest.approx(2400 * PERSONS_PER_HOUSEHOLD)
    assert "national average" in plain.persons_per_household_source
