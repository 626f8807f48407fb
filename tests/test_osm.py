"""Tests for siting._osm (pyosmium reader, walkable filter, cache) and WalkNetwork.from_osm."""

from __future__ import annotations

import bz2
import os
from pathlib import Path

import numpy as np
import pytest

from siting import _osm
from siting._errors import InputError
from siting.network import WalkNetwork

# Nodes on a line of latitude 31.2 N, 0.001 degree of longitude apart (about 95 m).
#
#   1 --- 2 --- 3 --- 4 --- 5        residential 1-2-3 (oneway=yes), footway 3-4, service 4-5
#         |           |
#         6           7              building ring 2-6-... ; foot=no path 4-7
#   8 --- 9                          access=private road 5-8? no: 8-9 is an island (kept apart)
#   10-11-12-10                      area=yes pedestrian square (closed ring)
#   13 -- 14                         highway=construction, 14 -- 15 access=private, foot=yes
_NODES = {
    1: (121.400, 31.200),
    2: (121.401, 31.200),
    3: (121.402, 31.200),
    4: (121.403, 31.200),
    5: (121.404, 31.200),
    6: (121.401, 31.199),
    7: (121.403, 31.199),
    8: (121.500, 31.300),
    9: (121.501, 31.300),
    10: (121.401, 31.201),
    11: (121.402, 31.201),
    12: (121.402, 31.202),
    13: (121.404, 31.201),
    14: (121.405, 31.201),
    15: (121.405, 31.202),
    16: (121.404, 31.199),
}
_WAYS = [
    (101, [1, 2, 3], {"highway": "residential", "oneway": "yes"}),
    (102, [3, 4], {"highway": "footway"}),
    (103, [4, 5], {"highway": "service"}),
    (104, [2, 6, 7, 4], {"building": "yes"}),
    (105, [4, 7], {"highway": "path", "foot": "no"}),
    (106, [8, 9], {"highway": "residential"}),  # a disconnected island
    (107, [3, 10, 11, 12, 3], {"highway": "pedestrian", "area": "yes"}),
    (108, [5, 13], {"highway": "construction"}),
    (109, [5, 16], {"highway": "service", "access": "private"}),
    (110, [5, 14], {"highway": "service", "access": "private", "foot": "yes"}),
    (111, [14, 15], {"highway": "motorway"}),
]


def write_osm(path: Path, nodes=_NODES, ways=_WAYS) -> Path:
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for k, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{k}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs, tags in ways:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'  <way id="{wid}" version="1">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("SITING_CACHE_DIR", str(d))
    return d


def _ids(raw: _osm.RawNetwork) -> np.ndarray:
    """The test's node ids of the network's nodes (nodes are keyed by their location)."""
    by_key = {int(_osm.node_key(lon, lat)): k for k, (lon, lat) in _NODES.items()}
    return np.array([by_key[int(k)] for k in raw.osmid])


def _edges(raw: _osm.RawNetwork) -> set[tuple[int, int]]:
    ids = _ids(raw)
    return {tuple(sorted((int(ids[a]), int(ids[b])))) for a, b in zip(raw.u, raw.v, strict=True)}


def test_walkable_filter_and_largest_component(tmp_path: Path) -> None:
    raw = _osm.read_osm(write_osm(tmp_path / "t.osm"))
    # kept: residential (oneway ignored), footway, service, private with foot=yes
    assert _edges(raw) == {(1, 2), (2, 3), (3, 4), (4, 5), (5, 14)}
    assert sorted(_ids(raw).tolist()) == [1, 2, 3, 4, 5, 14]
    rep = raw.report
    assert rep["ways_total"] == 11
    assert rep["ways_dropped"] == {
        "access=private/no": 1,
        "area=yes": 1,
        "foot=no": 1,
        "highway=construction": 1,
        "motorway": 1,
        "not highway": 1,
    }
    assert rep["nodes_dropped_outside_largest_component"] == 2  # the island 8-9
    # great-circle length of 0.001 degree of longitude at 31.2 N
    one = raw.length[0]
    assert one == pytest.approx(95.1, abs=0.2)


def test_walkable_rules() -> None:
    assert _osm.walkable({"highway": "trunk"}) == ""
    assert _osm.walkable({"highway": "trunk", "foot": "no"}) == "foot=no"
    assert _osm.walkable({"highway": "primary", "motorroad": "yes"}) == "motorway"
    assert _osm.walkable({"highway": "motorway", "foot": "yes"}) == ""
    assert _osm.walkable({"highway": "service", "access": "no", "foot": "designated"}) == ""
    assert _osm.walkable({"building": "yes"}) == "not highway"


def test_from_osm_network_and_oneway_ignored(tmp_path: Path) -> None:
    net = WalkNetwork.from_osm(write_osm(tmp_path / "t.osm"))
    assert net.crs.to_epsg() == 32651
    assert net.n_nodes == 6 and net.n_edges == 5
    x, y = net.x, net.y
    # node order follows OSM id: 1..5, 14; walking against the oneway 3 -> 1 works
    d = net.distances([[x[2], y[2]]], [[x[0], y[0]]], 1000).toarray()[0, 0]
    assert d == pytest.approx(net.length[0] + net.length[1])
    assert net.report["cached"] is False


def test_compressed_xml(tmp_path: Path) -> None:
    plain = write_osm(tmp_path / "t.osm")
    comp = tmp_path / "t.osm.bz2"
    comp.write_bytes(bz2.compress(plain.read_bytes()))
    assert WalkNetwork.from_osm(comp, cache=False).n_edges == 5


def test_cache_reused_and_invalidated(tmp_path: Path, _cache: Path) -> None:
    path = write_osm(tmp_path / "t.osm")
    first = WalkNetwork.from_osm(path)
    files = list((_cache / "networks").glob("*.npz"))
    assert len(files) == 1
    second = WalkNetwork.from_osm(path)
    assert second.report["cached"] is True
    np.testing.assert_array_equal(first.x, second.x)
    np.testing.assert_array_equal(first.length, second.length)
    # the file changes (the footway 3-4 is now a building): parsed again, new cache entry
    ways = [(w, r, {"building": "yes"} if w == 102 else t) for w, r, t in _WAYS]
    write_osm(path, ways=ways)
    os.utime(path, (1, 1))  # even with an old mtime, the content hash differs
    third = WalkNetwork.from_osm(path)
    assert third.report["cached"] is False
    assert third.n_nodes == 3  # 1-2-3 is now the largest component
    assert len(list((_cache / "networks").glob("*.npz"))) == 2


def test_crs_option(tmp_path: Path) -> None:
    net = WalkNetwork.from_osm(write_osm(tmp_path / "t.osm"), crs="EPSG:4547")
    assert net.crs.to_epsg() == 4547
    with pytest.raises(ValueError, match="metric CRS"):
        WalkNetwork.from_osm(tmp_path / "t.osm", crs="EPSG:4326")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("this is not xml at all", "cannot read it as OpenStreetMap"),
        ('<?xml version="1.0"?><osm version="0.6"></osm>', "no OSM ways"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.osm"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        WalkNetwork.from_osm(path)


def test_no_walkable_ways(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "b.osm", ways=[(1, [1, 2, 3, 1], {"building": "yes"})])
    with pytest.raises(InputError, match=r"b\.osm: highway: none of its 1 ways"):
        WalkNetwork.from_osm(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        WalkNetwork.from_osm(tmp_path / "nope.osm")


def test_osmnx_engine_agrees(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "t.osm")
    a = WalkNetwork.from_osm(path, cache=False)
    b = WalkNetwork.from_osm(path, engine="osmnx", cache=False)
    # osmnx does not keep the foot tag: its foot=no path 4-7 survives and the private
    # service 5-14 with foot=yes is dropped; the street 1-2-3-4-5 is the same in both
    assert b.n_edges == a.n_edges
    pa = np.column_stack([a.x, a.y])[:5]
    m1 = a.distances(pa, pa, 2000).toarray()
    m2 = b.distances(pa, pa, 2000).toarray()
    np.testing.assert_allclose(m1, m2, rtol=1e-9)


def test_graphml_round_trip(tmp_path: Path) -> None:
    import osmnx as ox

    G = ox.graph_from_xml(write_osm(tmp_path / "t.osm"), simplify=False)
    ox.save_graphml(G, tmp_path / "g.graphml")
    net = WalkNetwork.from_file(tmp_path / "g.graphml")
    assert net.crs.to_epsg() == 32651 and net.n_nodes >= 6
    bad = tmp_path / "bad.graphml"
    bad.write_text("nonsense", encoding="utf-8")
    with pytest.raises(InputError, match="GraphML"):
        WalkNetwork.from_file(bad)


def test_way_with_node_missing_from_extract_is_split(tmp_path: Path) -> None:
    nodes = {k: v for k, v in _NODES.items() if k != 3}  # node 3 cut off by the extract's bbox
    path = write_osm(
        tmp_path / "clip.osm", nodes=nodes, ways=[(1, [1, 2, 3, 4, 5], {"highway": "residential"})]
    )
    raw = _osm.read_osm(path)
    assert raw.report["nodes_missing_from_extract"] == 1
    # 1-2 and 4-5 are two pieces of equal size; one is kept, no edge jumps over node 3
    assert _edges(raw) in ({(1, 2)}, {(4, 5)})


def test_linestring_decoder_matches_shapely() -> None:
    import shapely
    from hypothesis import given, settings
    from hypothesis import strategies as st

    coord = st.floats(-180, 180, allow_nan=False)

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.lists(st.tuples(coord, coord), min_size=2, max_size=6), min_size=1, max_size=5)
    )
    def check(lines: list[list[tuple[float, float]]]) -> None:
        hexes = [shapely.to_wkb(shapely.linestrings(c), hex=True) for c in lines]
        xy, idx = _osm._linestring_coords(hexes)
        ref_xy, ref_idx = shapely.get_coordinates(shapely.from_wkb(hexes), return_index=True)
        np.testing.assert_array_equal(xy, ref_xy)
        np.testing.assert_array_equal(idx, ref_idx)

    check()


def test_parallel_edges_keep_the_shortest() -> None:
    from siting._euclidean import _csr_keep_zeros

    m = _csr_keep_zeros([0, 0, 1, 0], [1, 1, 0, 2], [5.0, 3.0, 0.0, 7.0], (3, 3))
    assert m[0, 1] == 3.0 and m[0, 2] == 7.0
    assert m.nnz == 3 and m[1, 0] == 0.0  # the zero is stored


def test_pbf_extract_gives_the_same_network(tmp_path: Path) -> None:
    import osmium

    xml = write_osm(tmp_path / "t.osm")
    pbf = tmp_path / "t.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    a, b = _osm.read_osm(xml), _osm.read_osm(pbf)
    assert _edges(b) == _edges(a) == {(1, 2), (2, 3), (3, 4), (4, 5), (5, 14)}
    np.testing.assert_allclose(np.sort(b.length), np.sort(a.length))
    assert WalkNetwork.from_osm(pbf, cache=False).n_edges == 5


def _grid_ways(n: int, kind: str) -> tuple[dict, list]:
    """``n`` ways of ``kind`` in a row along one street (nodes 1..n+1)."""
    nodes = {k: (121.40 + 0.001 * k, 31.20) for k in range(1, n + 2)}
    ways = [(1000 + k, [k, k + 1], {"highway": kind}) for k in range(1, n + 1)]
    return nodes, ways


def test_drive_only_extract_warns_every_time_it_is_read(tmp_path: Path) -> None:
    """60 residential/primary ways and no footway, path or service road: a drive extract
    (osmnx network_type='drive'); the warning comes on the first read and from the cache."""
    from siting._errors import SitingWarning

    nodes, ways = _grid_ways(60, "primary")
    path = write_osm(tmp_path / "drive.osm", nodes, ways)
    for _ in range(2):  # read, then from the cache
        with pytest.warns(SitingWarning, match=r"drive\.osm: highway: none of its 60 walkable"):
            raw = _osm.read_osm_cached(path)
    assert raw.report["cached"] is True and raw.report["ways_walk_only"] == 0
    # one footway among them: a walking extract, no warning
    nodes, ways = _grid_ways(60, "primary")
    ways[0] = (1001, [1, 2], {"highway": "footway"})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        raw = _osm.read_osm_cached(write_osm(tmp_path / "walk.osm", nodes, ways))
    assert raw.report["ways_walk_only"] == 1
    # a small file (the tests' own) is too small to judge
    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        _osm.read_osm_cached(write_osm(tmp_path / "small.osm", *_grid_ways(10, "primary")))
