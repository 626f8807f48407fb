"""Tests of the synthetic demo district (siting.demo) and the OSM XML writer (siting._osmxml)."""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from scipy import sparse
from scipy.sparse import csgraph

from siting import schema, settings
from siting._osmxml import ways_from_lines, write_osm_xml
from siting.demo import LAT0, LON0, M_PER_DEG_LAT, M_PER_DEG_LON, make_demo, render_preview

GPKG = ("communities", "sites", "candidates")
TEXT = ("sites.csv", "water.geojson", "estate.geojson", "estate_site.geojson", "README.md")
METRIC = "EPSG:32651"  # UTM 51N, the district's metric CRS


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def comm(demo: dict[str, Path]) -> gpd.GeoDataFrame:
    c = gpd.read_file(demo["communities"])
    c["km2"] = c.to_crs(METRIC).area / 1e6
    return c


@pytest.fixture(scope="module")
def sites(demo: dict[str, Path]) -> gpd.GeoDataFrame:
    return gpd.read_file(demo["sites"])


class _Ways(osmium.SimpleHandler):
    """Collects every way (tags, node refs) and node (coordinates, tags) of an OSM file."""

    def __init__(self) -> None:
        super().__init__()
        self.ways: list[tuple[int, list[int], dict[str, str]]] = []
        self.nodes: dict[int, tuple[float, float]] = {}
        self.node_tags: dict[int, dict[str, str]] = {}

    def node(self, n: osmium.osm.Node) -> None:
        self.nodes[n.id] = (n.location.lon, n.location.lat)
        if len(n.tags):
            self.node_tags[n.id] = dict(n.tags)

    def way(self, w: osmium.osm.Way) -> None:
        self.ways.append((w.id, [r.ref for r in w.nodes], dict(w.tags)))


@pytest.fixture(scope="module")
def osm(demo: dict[str, Path]) -> _Ways:
    h = _Ways()
    h.apply_file(str(demo["roads"]))
    return h


def _walkable(t: dict[str, str]) -> bool:
    return (
        "highway" in t
        and t.get("area") != "yes"
        and t.get("foot") != "no"
        and t["highway"] not in ("motorway", "motorway_link")
    )


def _metres(lonlat: np.ndarray) -> np.ndarray:
    return np.c_[(lonlat[:, 0] - LON0) * M_PER_DEG_LON, (lonlat[:, 1] - LAT0) * M_PER_DEG_LAT]


# --- determinism and staleness ---------------------------------------------------------------


def _same_outputs(a: dict[str, Path], b: dict[str, Path]) -> None:
    assert sorted(a) == sorted(b)
    for name in TEXT:
        assert (a["readme"].parent / name).read_bytes() == (
            b["readme"].parent / name
        ).read_bytes(), name
    # compare the XML itself: gzip bytes also depend on the zlib build
    assert gzip.decompress(a["roads"].read_bytes()) == gzip.decompress(b["roads"].read_bytes())
    for layer in GPKG:
        assert_geodataframe_equal(
            gpd.read_file(a[layer]), gpd.read_file(b[layer]), check_less_precise=False
        )


def test_two_runs_give_the_same_files(demo: dict[str, Path], tmp_path: Path) -> None:
    again = make_demo(tmp_path / "again")
    _same_outputs(demo, again)
    assert demo["roads"].read_bytes() == again["roads"].read_bytes()  # mtime=0: same gzip bytes


def test_another_seed_gives_another_district(demo: dict[str, Path], tmp_path: Path) -> None:
    other = make_demo(tmp_path / "other", seed=7)
    assert other["sites_csv"].read_bytes() != demo["sites_csv"].read_bytes()
    n = len(gpd.read_file(other["communities"]))
    assert 120 <= n <= 250


def test_committed_demo_is_up_to_date(demo: dict[str, Path]) -> None:
    committed = settings.demo_dir()
    paths = {k: committed / v.name for k, v in demo.items()}
    missing = [p.name for p in paths.values() if not p.exists()]
    assert not missing, f"data/demo lacks {missing}: run `siting demo --out data/demo`"
    _same_outputs(paths, demo)


# --- the district ----------------------------------------------------------------------------


def test_communities_schema_and_counts(comm: gpd.GeoDataFrame) -> None:
    assert comm.crs.to_epsg() == 4326
    assert list(comm.columns[:7]) == [
        "id",
        "name",
        "kind",
        "street",
        "population",
        "households",
        "party_members",
    ]
    assert 120 <= len(comm) <= 250
    assert comm["id"].is_unique and comm["name"].is_unique
    assert set(comm["kind"]) == set(schema.KINDS)
    assert 5 <= comm["street"].nunique() <= 8
    assert comm["street"].str.endswith(("街道", "镇")).all()
    assert comm["name"].str.endswith(("社区", "居委", "村", "园区")).all()
    assert 60 <= comm["km2"].sum() <= 150
    x0, y0, x1, y1 = comm.total_bounds
    assert 121.2 <= x0 < x1 <= 121.4 and 30.8 <= y0 < y1 <= 31.0
    ratio = comm["population"] / comm["households"]
    assert ratio.between(2.3, 2.9).all()
    share = comm["party_members"] / comm["population"]
    assert share.between(0.029, 0.061).all()


def test_communities_tile_without_overlap(comm: gpd.GeoDataFrame) -> None:
    g = comm.to_crs(METRIC).geometry.values
    assert shapely.is_valid(g).all()
    pairs = shapely.STRtree(g).query(g, predicate="overlaps")
    assert pairs.shape[1] == 0
    union = shapely.union_all(g)
    assert abs(shapely.area(g).sum() - union.area) < 1.0  # m2
    # one district: communities touch each other across streets (the river separates banks)
    assert shapely.get_num_geometries(union) <= 2


def test_old_core_and_sparse_villages(comm: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> None:
    core = comm[comm["population"].between(10_000, 25_000) & comm["km2"].between(0.18, 0.53)]
    assert len(core) >= 12
    stations = sites[(sites["level"] == "station") & sites["community_id"].isin(core["id"])]
    assert (stations["floor_area_m2"] <= 600).mean() > 0.7
    assert stations["floor_area_m2"].between(150, 600).sum() >= 10
    villages = comm[comm["kind"].isin(["village", "hollow_village"])]
    assert (villages["population"] / villages["km2"]).median() < 4000
    hollow = comm[comm["kind"] == "hollow_village"]
    assert (hollow["population"] < villages["population"].median()).all()


def test_sites_levels_and_standards(sites: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> None:
    assert list(sites.columns[:8]) == [
        "id",
        "name",
        "level",
        "floor_area_m2",
        "ground_floor_area_m2",
        "community_id",
        "status",
        "upgrade_year",
    ]
    assert sites["id"].is_unique
    n = sites["level"].value_counts()
    assert n["district_center"] == 1
    assert sites.loc[sites["level"] == "district_center", "floor_area_m2"].iloc[0] >= 1500
    centers = sites[sites["level"] == "street_center"]
    assert sorted(centers["name"].str.removesuffix("党群服务中心")) == sorted(
        comm["street"].unique()
    )
    assert 1 <= (centers["floor_area_m2"] < 1500).sum() <= 2
    assert 200 <= n["point"] <= 900
    assert sites.loc[sites["level"] == "point", "floor_area_m2"].between(20, 200).all()
    assert (sites["ground_floor_area_m2"] <= sites["floor_area_m2"]).all()
    st = sites[(sites["level"] == "station") & (sites["status"] == "existing")]
    ok = (st["floor_area_m2"] >= 1000) & (st["ground_floor_area_m2"] >= 0.5 * st["floor_area_m2"])
    assert 0.35 <= ok.mean() <= 0.65
    upper = (st["floor_area_m2"] >= 1000) & (st["ground_floor_area_m2"] < 0.5 * st["floor_area_m2"])
    assert upper.sum() >= 3  # big enough, but mostly on upper floors
    without = ~comm["id"].isin(st["community_id"])
    assert 0.7 <= 1 - without.mean() < 1.0  # stations in most communities, some gaps
    planned = sites[sites["status"] == "planned"]
    assert 1 <= len(planned) <= 10
    assert set(sites["upgrade_year"].dropna()) == {2027.0, 2028.0}
    assert sites["upgrade_year"].notna().sum() >= 10


def test_sites_lie_in_their_community(sites: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> None:
    j = gpd.sjoin(sites, comm[["id", "geometry"]].rename(columns={"id": "cid"}), predicate="within")
    assert len(j) == len(sites)
    assert (j["cid"] == j["community_id"]).all()


def test_sites_csv_matches_the_geopackage(demo: dict[str, Path], sites: gpd.GeoDataFrame) -> None:
    t = pd.read_csv(demo["sites_csv"], dtype={"所属社区": str})
    assert list(t.columns) == [
        "编号",
        "名称",
        "层级",
        "建筑面积",
        "一层面积",
        "所属社区",
        "状态",
        "提升年份",
        "经度",
        "纬度",
    ]
    assert (t["编号"] == sites["id"]).all()
    assert (t["层级"].map(schema.LEVEL_ALIASES) == sites["level"]).all()
    assert (t["状态"].map(schema.STATUS_ALIASES) == sites["status"]).all()
    assert np.allclose(t["建筑面积"], sites["floor_area_m2"])
    assert np.allclose(t["经度"], sites.geometry.x, atol=1e-7)
    assert np.allclose(t["纬度"], sites.geometry.y, atol=1e-7)


def test_candidates_estate_and_labels(demo: dict[str, Path], comm: gpd.GeoDataFrame) -> None:
    k = gpd.read_file(demo["candidates"])
    assert 30 <= len(k) <= 80
    assert list(k.columns[:5]) == ["id", "name", "source", "floor_area_m2", "ground_floor_area_m2"]
    assert (k["source"] == "vacant_building").all()
    assert (k["ground_floor_area_m2"] <= k["floor_area_m2"]).all()
    assert k.within(shapely.union_all(comm.geometry.values)).all()
    estate = gpd.read_file(demo["estate"])
    assert len(estate) == 1 and estate["households"].iloc[0] == 2400
    site = gpd.read_file(demo["estate_site"])
    assert site.within(estate.geometry.iloc[0]).all()
    assert site["ground_floor_area_m2"].iloc[0] < site["floor_area_m2"].iloc[0]
    water = gpd.read_file(demo["water"])
    assert water.crs.to_epsg() == 4326 and water.geometry.iloc[0].area > 0
    assert "SYNTHETIC" in demo["readme"].read_text(encoding="utf-8")
    assert "SYNTHETIC" in pyogrio.read_info(demo["communities"])["layer_metadata"]["DESCRIPTION"]


# --- the road network ------------------------------------------------------------------------


def test_osm_is_valid_and_holds_the_ways_to_ignore(osm: _Ways) -> None:
    assert min(osm.nodes) > 0
    refs = {r for _, nodes, _ in osm.ways for r in nodes}
    assert refs <= set(osm.nodes)
    tags = [t for _, _, t in osm.ways]
    hw = {t.get("highway") for t in tags}
    assert {
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "service",
        "footway",
        "path",
        "track",
    } <= hw
    assert any(t.get("oneway") == "yes" for t in tags)
    assert any(t.get("building") == "yes" for t in tags)
    assert sum(t.get("leisure") == "park" for t in tags) >= 2
    assert any(t.get("area") == "yes" and t.get("highway") == "pedestrian" for t in tags)
    assert any(t.get("highway") == "motorway" for t in tags)
    assert any(t.get("foot") == "no" for t in tags)
    assert any(t.get("place") == "square" for t in tags)
    assert sum(t.get("amenity") == "community_centre" for t in osm.node_tags.values()) >= 2
    walk_nodes = {r for _, nodes, t in osm.ways if _walkable(t) for r in nodes}
    assert 5_000 <= len(walk_nodes) <= 20_000


def test_river_is_crossed_only_by_few_bridges(osm: _Ways, demo: dict[str, Path]) -> None:
    water = shapely.Polygon(
        _metres(np.array(gpd.read_file(demo["water"]).geometry.iloc[0].exterior.coords))
    )
    bridges = [t for _, _, t in osm.ways if t.get("bridge") == "yes" and _walkable(t)]
    assert 2 <= len(bridges) <= 4
    lines = [
        shapely.LineString(_metres(np.array([osm.nodes[r] for r in nodes])))
        for _, nodes, t in osm.ways
        if _walkable(t) and t.get("bridge") != "yes"
    ]
    wet = shapely.length(shapely.intersection(np.array(lines), water)).sum()
    assert wet < 1.0  # metres of street over water outside the bridges


def test_walking_across_the_river_is_a_detour(osm: _Ways, demo: dict[str, Path]) -> None:
    ids = np.array(sorted(osm.nodes))
    pos = {i: k for k, i in enumerate(ids)}
    xy = _metres(np.array([osm.nodes[i] for i in ids]))
    u, v = [], []
    for _, nodes, t in osm.ways:
        if _walkable(t):
            k = [pos[r] for r in nodes]
            u += k[:-1]
            v += k[1:]
    u_a, v_a = np.array(u), np.array(v)
    w = np.hypot(*(xy[u_a] - xy[v_a]).T)
    g = sparse.coo_matrix((w, (u_a, v_a)), shape=(len(ids), len(ids))).tocsr()
    water = gpd.read_file(demo["water"]).geometry.iloc[0]
    river = shapely.Polygon(_metres(np.array(water.exterior.coords)))
    # node pairs 150-400 m apart on opposite banks: most need a long walk to a bridge
    used = np.unique(np.r_[u_a, v_a])
    d_river = shapely.distance(river, shapely.points(xy[used]))
    bank = used[(d_river > 40) & (d_river < 200)]
    sample = bank[:: max(1, len(bank) // 60)]
    dist = csgraph.dijkstra(g, directed=False, indices=sample)
    straight = np.hypot(*(xy[sample][:, None, :] - xy[sample][None, :, :]).transpose(2, 0, 1))
    crosses = shapely.intersects(
        shapely.linestrings(
            np.stack(
                [np.repeat(xy[sample], len(sample), 0), np.tile(xy[sample], (len(sample), 1))],
                axis=1,
            )
        ),
        river,
    ).reshape(len(sample), len(sample))
    pair = crosses & (straight > 150) & (straight < 400)
    assert pair.sum() >= 10
    ratio = dist[:, sample][pair] / straight[pair]
    assert np.isfinite(ratio).all()  # one connected network
    assert np.median(ratio) > 2.0


@pytest.mark.slow
def test_osmnx_reads_the_roads(demo: dict[str, Path]) -> None:
    ox = pytest.importorskip("osmnx")
    g = ox.graph_from_xml(demo["roads"], simplify=False, retain_all=True)
    assert 5_000 <= len(g) <= 25_000


@pytest.mark.slow
def test_render_preview_draws_a_small_png(demo: dict[str, Path], tmp_path: Path) -> None:
    png = render_preview(demo["roads"].parent, tmp_path / "p.png", dpi=40)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < len(data) < 300_000


# --- the OSM writer on a hand-checkable case -------------------------------------------------
#
#          (0,10)
#            |          a vertical street crossing a horizontal one at (0,0)
#   ~~~~~~~~~|~~~~~~~~  water between y=3 and y=5 (a bridge when allowed)
#            |
#  (-10,0)---+---(10,0)
#            |
#          (0,-10)


def _cross(bridge: dict[str, str] | None):
    lines = np.array(
        [
            shapely.LineString([(-10, 0), (10, 0)]),
            shapely.LineString([(0, -10), (0, 10)]),
        ]
    )
    tags = [{"highway": "residential"}, {"highway": "footway"}]
    water = shapely.box(-20, 3, 20, 5)
    return ways_from_lines(lines, tags, bridge_tags=[None, bridge], water=water)


def test_ways_from_lines_nodes_crossings_and_bridges() -> None:
    net = _cross({"name": "小桥"})
    assert len(net.xy) == 7  # 4 ends, the crossing, 2 banks
    kinds = sorted((w.tags["highway"], w.tags.get("bridge", ""), len(w.nodes)) for w in net.ways)
    assert kinds == [
        ("footway", "", 2),
        ("footway", "", 3),
        ("footway", "yes", 2),
        ("residential", "", 3),
    ]
    bridge = next(w for w in net.ways if w.tags.get("bridge"))
    assert bridge.tags["name"] == "小桥" and bridge.tags["layer"] == "1"
    assert np.allclose(sorted(net.xy[bridge.nodes][:, 1]), [3, 5])
    road = next(w for w in net.ways if w.tags["highway"] == "residential")
    assert np.allclose(net.xy[road.nodes[1]], [0, 0])  # shared with the footway


def test_ways_from_lines_without_bridge_keeps_the_largest_part() -> None:
    net = _cross(None)
    assert net.xy[:, 1].max() <= 3.0  # the part beyond the water is cut off
    assert not any("bridge" in w.tags for w in net.ways)


def test_write_osm_xml_is_deterministic_and_checks_ids(tmp_path: Path) -> None:
    kw = {
        "lon": np.array([121.3, 121.31]),
        "lat": np.array([30.9, 30.91]),
        "ways": [(1, [1, 2], {"highway": "footway", "name": "A&B"})],
        "node_tags": {2: {"amenity": "community_centre"}},
    }
    a = write_osm_xml(tmp_path / "a.osm.gz", node_ids=np.array([1, 2]), **kw)
    b = write_osm_xml(tmp_path / "b.osm.gz", node_ids=np.array([1, 2]), **kw)
    assert a.read_bytes() == b.read_bytes()
    text = gzip.decompress(a.read_bytes()).decode()
    assert 'v="A&amp;B"' in text and 'lat="30.9100000"' in text
    h = _Ways()
    h.apply_file(str(a))
    assert h.ways == [(1, [1, 2], {"highway": "footway", "name": "A&B"})]
    with pytest.raises(ValueError, match="positive"):
        write_osm_xml(tmp_path / "c.osm", node_ids=np.array([0, 1]), **kw)
