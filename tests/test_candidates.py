"""Tests of candidate sites: street-node thinning, OSM gathering places, exclusion."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely

from siting._errors import InputError
from siting.candidates import CANDIDATE_COLUMNS, exclude, osm_features, street_nodes
from siting.network import EuclideanNetwork, WalkNetwork

CRS = "EPSG:32651"


def _graph() -> WalkNetwork:
    """Two 200 m cells::

    cell (0, 0)                    cell (1, 0)
    A (10, 10) degree 4            C (250, 10) degree 3
    B (50, 50) degree 3            leaves elsewhere (degree 1, never candidates)
    """
    G = nx.Graph(crs=CRS)
    pts = {
        "A": (10, 10), "B": (50, 50), "C": (250, 10),
        "a1": (10, 150), "a2": (-150, 10), "a3": (10, -150),
        "b1": (50, 190), "b2": (190, 190),
        "c1": (250, 150), "c2": (250, -150), "c3": (390, 10),
    }  # fmt: skip
    for k, (x, y) in pts.items():
        G.add_node(k, x=float(x), y=float(y))
    for u, v in [("A", "a1"), ("A", "a2"), ("A", "a3"), ("A", "B"), ("B", "b1"), ("B", "b2")]:
        G.add_edge(u, v)
    for v in ("c1", "c2", "c3"):
        G.add_edge("C", v)
    return WalkNetwork.from_graph(G, crs=CRS)


def test_street_nodes_one_per_cell_highest_degree():
    cands = street_nodes(_graph(), spacing=200.0)
    xy = sorted(map(tuple, shapely.get_coordinates(cands.geometry.values).tolist()))
    assert xy == [(10.0, 10.0), (250.0, 10.0)]
    assert list(cands.columns) == CANDIDATE_COLUMNS
    assert (cands["source"] == "street").all()
    assert cands["id"].str.startswith("N").all()
    # a finer grid keeps B too (its own cell)
    fine = street_nodes(_graph(), spacing=30.0)
    assert len(fine) == 3


def test_street_nodes_need_a_network():
    with pytest.raises(InputError, match="need a road network"):
        street_nodes(EuclideanNetwork(CRS))


def _cands(xy):
    return gpd.GeoDataFrame(
        {
            "id": [f"K{i}" for i in range(len(xy))],
            "name": [""] * len(xy),
            "source": ["file"] * len(xy),
            "floor_area_m2": np.nan,
            "ground_floor_area_m2": np.nan,
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )


def test_exclude_drops_water_and_outside():
    district = shapely.box(0, 0, 1000, 1000)
    water = gpd.GeoSeries([shapely.box(400, 400, 600, 600)], crs=CRS)
    c = _cands([[100, 100], [500, 500], [1500, 100], [1000, 500], [700, 700]])
    out = exclude(c, district=district, water=water)
    # K1 in the lake, K2 outside; K3 on the district edge is kept
    assert out["id"].tolist() == ["K0", "K3", "K4"]
    assert len(c) == 5  # the caller's frame is untouched
    assert exclude(c)["id"].tolist() == c["id"].tolist()


OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
{nodes}
  <node id="100" lat="{slat}" lon="{slon}"><tag k="place" v="square"/><tag k="name" v="人民广场"/></node>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="leisure" v="park"/><tag k="name" v="滨河公园"/></way>
  <way id="11"><nd ref="5"/><nd ref="6"/><tag k="highway" v="pedestrian"/><tag k="name" v="步行街"/></way>
  <way id="12"><nd ref="7"/><nd ref="8"/><nd ref="9"/><nd ref="10"/><nd ref="7"/>
    <tag k="natural" v="water"/></way>
  <way id="13"><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="14"/><nd ref="11"/>
    <tag k="highway" v="pedestrian"/><tag k="area" v="yes"/><tag k="name" v="文化广场"/></way>
</osm>
"""


def _osm_file(tmp_path):
    t = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    ox, oy = 350000.0, 3450000.0  # about 121.4E 31.2N

    def ll(x, y):
        lon, lat = t.transform(ox + x, oy + y)
        return lon, lat

    coords = {
        1: (0, 0), 2: (200, 0), 3: (200, 200), 4: (0, 200),          # park
        5: (300, 0), 6: (300, 300),                                  # pedestrian street
        7: (500, 0), 8: (700, 0), 9: (700, 200), 10: (500, 200),     # lake
        11: (0, 400), 12: (100, 400), 13: (100, 500), 14: (0, 500),  # pedestrian area
    }  # fmt: skip
    nodes = "\n".join(
        f'  <node id="{i}" lat="{ll(*xy)[1]:.8f}" lon="{ll(*xy)[0]:.8f}"/>'
        for i, xy in coords.items()
    )
    slon, slat = ll(600, 600)
    path = tmp_path / "roads.osm"
    path.write_text(OSM.format(nodes=nodes, slat=f"{slat:.8f}", slon=f"{slon:.8f}"), "utf-8")
    return path, (ox, oy)


def test_osm_features_gathering_places_and_water(tmp_path):
    path, (ox, oy) = _osm_file(tmp_path)
    cands, water = osm_features(path, crs=CRS)
    got = dict(zip(cands["name"], cands["source"], strict=True))
    # the pedestrian street (not an area) is no square; the pedestrian area is
    assert got == {"人民广场": "square", "滨河公园": "park", "文化广场": "square"}
    assert list(cands.columns) == CANDIDATE_COLUMNS
    ids = dict(zip(cands["name"], cands["id"], strict=True))
    assert ids["人民广场"] == "OSMn100" and ids["滨河公园"] == "OSMw10"
    # each point lies in its feature (metres from the local origin)
    xy = {
        n: shapely.get_coordinates(g)[0] - (ox, oy)
        for n, g in zip(cands["name"], cands.geometry, strict=True)
    }
    assert 0 < xy["滨河公园"][0] < 200 and 0 < xy["滨河公园"][1] < 200
    assert xy["人民广场"] == pytest.approx([600, 600], abs=0.5)
    # one lake, about 200 x 200 m
    assert len(water) == 1
    assert water.area.iat[0] == pytest.approx(40000, rel=0.01)
    assert str(water.crs) == str(cands.crs)


def test_osm_features_bad_file(tmp_path):
    bad = tmp_path / "bad.osm"
    bad.write_text("this is not osm", "utf-8")
    with pytest.raises(InputError, match="cannot read OSM features"):
        osm_features(bad, crs=CRS)


def test_default_candidates_without_a_road_network() -> None:
    """`--candidates auto` (and the app's auto choice) without a road network: the demo falls
    back on its vacant buildings and says so; other inputs get an error naming the option."""
    import warnings

    from siting import pipeline
    from siting.candidates import default_candidates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        demo = pipeline.load_inputs()
    flat = EuclideanNetwork(crs=demo.communities.crs)
    cands, note = default_candidates(demo, flat)
    assert len(cands) == 52 and list(cands.columns) == CANDIDATE_COLUMNS
    assert note is not None and "52 vacant buildings" in note
    mine = pipeline.Inputs(demo.communities, demo.sites, None, is_demo=False)
    with pytest.raises(InputError) as err:
        default_candidates(mine, flat)
    (pb,) = err.value.problems
    assert pb.field == "--candidates" and "--roads PATH" in pb.fix
