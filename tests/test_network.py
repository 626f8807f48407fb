"""Tests for siting.network: snapping rule, bulk distances, nearest, service areas."""

from __future__ import annotations

import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting._errors import InputError, SitingWarning
from siting.network import EuclideanNetwork, WalkNetwork, check_covers

CRS = "EPSG:32651"


@pytest.fixture
def diamond() -> WalkNetwork:
    """A diamond with a tail; edge lengths are longer than the straight lines on purpose.

    ::

              B (100, 100)
            /   \\
       120 /     \\ 100
          /       \\
     A (0, 0)     D (200, 0) --- 50 --- E (250, 0)
          \\       /
       100 \\     / 150
            \\   /
              C (100, -100)

    A-B-D = 220, A-C-D = 250, so A to D is 220; A to E is 270; B to C is 200 (via A).
    """
    G = nx.Graph(crs=CRS)
    for n, (x, y) in {
        "A": (0, 0),
        "B": (100, 100),
        "C": (100, -100),
        "D": (200, 0),
        "E": (250, 0),
    }.items():
        G.add_node(n, x=float(x), y=float(y))
    G.add_edge("A", "B", length=120.0)
    G.add_edge("B", "D", length=100.0)
    G.add_edge("A", "C", length=100.0)
    G.add_edge("C", "D", length=150.0)
    G.add_edge("D", "E", length=50.0)
    return WalkNetwork.from_graph(G)


def test_diamond_distances_by_hand(diamond: WalkNetwork) -> None:
    # origins: 10 m below A, exactly on B; destinations: on D, 5 m right of E
    o = np.array([[0.0, -10.0], [100.0, 100.0]])
    d = np.array([[200.0, 0.0], [255.0, 0.0]])
    m = diamond.distances(o, d, 1000.0).toarray()
    assert m == pytest.approx(np.array([[10 + 220, 10 + 270 + 5], [100, 150 + 5]]))
    # cutoff drops the long pairs but keeps one exactly at the cutoff
    m2 = diamond.distances(o, d, 230.0)
    assert m2.shape == (2, 2)
    assert m2.toarray() == pytest.approx(np.array([[230.0, 0.0], [100.0, 155.0]]))
    assert m2.nnz == 3


def test_same_node_distance_is_sum_of_snaps(diamond: WalkNetwork) -> None:
    # both points snap to A: distance is snap_a + snap_b, even though they are 20 m apart
    m = diamond.distances([[0.0, 10.0]], [[0.0, -10.0]], 100.0)
    assert m.toarray() == pytest.approx(np.array([[20.0]]))
    # a point exactly on a node, paired with itself: stored zero
    z = diamond.distances([[100.0, 100.0]], [[100.0, 100.0]], 50.0)
    assert z.nnz == 1 and z.data[0] == 0.0


def test_snap_records_distance_and_warns_far(diamond: WalkNetwork) -> None:
    node, dist = diamond.snap(np.array([[1.0, 1.0], [250.0, 3.0]]))
    assert node.tolist() == [0, 4]
    assert dist == pytest.approx([np.sqrt(2), 3.0])
    with pytest.warns(SitingWarning, match=r"1 of 2 points are more than 300 m.*#1 \(1000 m\)"):
        diamond.snap(np.array([[0.0, 0.0], [1250.0, 0.0]]))


def test_nearest_by_hand(diamond: WalkNetwork) -> None:
    o = np.array([[100.0, 95.0], [100.0, -95.0], [260.0, 0.0]])
    sites = np.array([[0.0, 0.0], [250.0, 0.0]])
    idx, dist = diamond.nearest(o, sites)
    # B: to A 5+120=125, to E 5+150=155; C: to A 105; E-ish: to E 10
    assert idx.tolist() == [0, 0, 1]
    assert dist == pytest.approx([125.0, 105.0, 10.0])
    idx, dist = diamond.nearest(o, sites, cutoff=110.0)
    assert idx.tolist() == [-1, 0, 1]
    assert np.isinf(dist[0])


def test_nearest_ties_on_one_node_go_to_the_lowest_index(diamond: WalkNetwork) -> None:
    """Sites sharing a node: the smaller snap distance wins, equal snaps the first listed."""
    o = np.array([[0.0, 10.0], [250.0, 0.0]])
    sites = np.array([[250.0, 3.0], [0.0, 5.0], [0.0, -5.0], [0.0, 2.0], [0.0, 2.0]])
    idx, dist = diamond.nearest(o, sites)
    assert idx.tolist() == [3, 0]  # A: 10 + 2 via site 3 (site 4 ties, listed later)
    assert dist == pytest.approx([12.0, 3.0])


def test_empty_inputs(diamond: WalkNetwork) -> None:
    assert diamond.distances(np.empty((0, 2)), [[0.0, 0.0]], 100).shape == (0, 1)
    idx, dist = diamond.nearest([[0.0, 0.0]], np.empty((0, 2)))
    assert idx.tolist() == [-1] and np.isinf(dist).all()


def test_accepts_geoseries_and_reports_metadata(diamond: WalkNetwork) -> None:
    pts = gpd.GeoSeries(shapely.points([[0, 0], [200, 0]]), crs=CRS)
    m = diamond.distances(pts, pts, 500)
    assert m.toarray() == pytest.approx(np.array([[0, 220], [220, 0]]))
    assert diamond.kind == "network"
    assert diamond.bounds == (0.0, -100.0, 250.0, 100.0)
    assert diamond.crs.to_epsg() == 32651


def _random_network(seed: int, n: int) -> tuple[nx.Graph, WalkNetwork]:
    rng = np.random.default_rng(seed)
    G = nx.gnm_random_graph(n, int(n * 1.5), seed=seed)
    G.graph["crs"] = CRS
    xy = rng.uniform(0, 1000, (n, 2))
    for k in G.nodes:
        G.nodes[k]["x"], G.nodes[k]["y"] = float(xy[k, 0]), float(xy[k, 1])
    for a, b in G.edges:
        G.edges[a, b]["length"] = float(np.hypot(*(xy[a] - xy[b])) * rng.uniform(1.0, 1.5))
    return G, WalkNetwork.from_graph(G)


def _reference(G: nx.Graph, net: WalkNetwork, o: np.ndarray, d: np.ndarray, cutoff: float):
    """Brute force with networkx over the snapping rule."""
    nodes = list(G.nodes)
    on, osn = net.snap(o)
    dn, dsn = net.snap(d)
    ref = np.full((len(o), len(d)), np.inf)
    for j in range(len(d)):
        lengths = nx.single_source_dijkstra_path_length(G, nodes[dn[j]], weight="length")
        for i in range(len(o)):
            p = lengths.get(nodes[on[i]])
            if p is not None:
                ref[i, j] = osn[i] + p + dsn[j]
    ref[ref > cutoff] = np.inf
    return ref


ENGINES = {"csgraph": 10**12, "numba": 0}  # siting.network.CSGRAPH_MAX_WORK for each engine


@pytest.mark.parametrize("engine", sorted(ENGINES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 25),
    n_o=st.integers(1, 8),
    n_d=st.integers(1, 6),
    cutoff=st.floats(50, 3000),
)
def test_random_graphs_match_networkx(
    engine: str, seed: int, n: int, n_o: int, n_d: int, cutoff: float
) -> None:
    G, net = _random_network(seed, n)
    rng = np.random.default_rng(seed + 1)
    o = rng.uniform(0, 1000, (n_o, 2))
    d = rng.uniform(0, 1000, (n_d, 2))
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        mp.setattr("siting.network.CSGRAPH_MAX_WORK", ENGINES[engine])
        warnings.simplefilter("ignore", SitingWarning)  # far snaps are fine here
        ref = _reference(G, net, o, d, cutoff)
        full = _reference(G, net, o, d, np.inf)
        m = net.distances(o, d, cutoff)
        idx, dist = net.nearest(o, d)
        idx_c, dist_c = net.nearest(o, d, cutoff=cutoff)
    dense = np.full(m.shape, np.inf)
    coo = m.tocoo()
    dense[coo.row, coo.col] = coo.data
    assert m.nnz == np.isfinite(ref).sum()
    np.testing.assert_allclose(dense, ref, rtol=1e-9)
    best = full.min(axis=1)
    np.testing.assert_allclose(dist, best, rtol=1e-9)
    ok = np.isfinite(best)
    # index may differ on ties, but must achieve the minimum
    assert np.all(idx[~ok] == -1)
    np.testing.assert_allclose(full[np.flatnonzero(ok), idx[ok]], best[ok], rtol=1e-9)
    within = best <= cutoff
    assert np.array_equal(idx_c >= 0, within)
    np.testing.assert_allclose(dist_c[within], best[within], rtol=1e-9)


def test_parallel_tiles_equal_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    from siting import _graphsearch

    _, net = _random_network(3, 400)
    rng = np.random.default_rng(0)
    o, d = rng.uniform(0, 1000, (300, 2)), rng.uniform(0, 1000, (200, 2))
    monkeypatch.setattr("siting.network.CSGRAPH_MAX_WORK", 0)  # the numba kernels
    a = net.distances(o, d, 400.0)
    monkeypatch.setenv("SITING_THREADS", "1")
    b = net.distances(o, d, 400.0)
    assert _graphsearch._threads() == 1  # settings.threads(), read at each call
    assert (a != b).nnz == 0 and a.nnz == b.nnz > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engines_agree_on_a_larger_graph(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """csgraph blocks (several, forced small) and the numba kernels give the same pairs, the
    same distances and the same reached sets; origins and destinations share nodes."""
    from siting import _csgraph

    _, net = _random_network(seed, 600)
    rng = np.random.default_rng(seed)
    o = rng.uniform(0, 1000, (250, 2))
    d = np.vstack([rng.uniform(0, 1000, (120, 2)), o[:30]])  # co-located points
    monkeypatch.setattr(_csgraph, "BLOCK_CELLS", 5_000)  # many blocks
    out = {}
    for engine, limit in ENGINES.items():
        monkeypatch.setattr("siting.network.CSGRAPH_MAX_WORK", limit)
        out[engine] = (net.distances(o, d, 350.0), net.distances(d, o, 350.0), net.reached(d, 300))
    for a, b in zip(out["csgraph"], out["numba"], strict=True):
        assert a.shape == b.shape and a.nnz == b.nnz > 0
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_service_areas_follow_streets(diamond: WalkNetwork) -> None:
    sa = diamond.service_areas(np.array([[0.0, 0.0]]), [110.0, 300.0], width=10.0)
    assert list(sa.columns) == ["point_index", "cutoff_m", "geometry"]
    assert sa["point_index"].tolist() == [0, 0]
    assert sa["cutoff_m"].tolist() == [110.0, 300.0]
    small, big = sa.geometry.iloc[0], sa.geometry.iloc[1]
    # 110 m: C (100 m away) is reached, B (120 m) and D are not
    assert small.contains(shapely.Point(100, -100))
    assert not small.intersects(shapely.Point(100, 100))
    assert not small.intersects(shapely.Point(200, 0))
    # 300 m reaches every node (E at 270 m), but not a point 100 m off the streets
    for p in [(100, 100), (100, -100), (200, 0), (250, 0)]:
        assert big.contains(shapely.Point(p))
    assert not big.intersects(shapely.Point(100, 0))
    assert small.area < big.area


def test_service_areas_contain_reached_points_only() -> None:
    _, net = _random_network(7, 60)
    rng = np.random.default_rng(1)
    sites = rng.uniform(0, 1000, (3, 2))
    nodes = np.column_stack([net.x, net.y])
    sa = net.service_areas(sites, [300.0], width=5.0)
    reached = net.reached(sites, 300.0).toarray()
    _, snap = net.snap(sites)
    for p in range(3):
        geom = sa.geometry.iloc[p]
        inside = shapely.contains_xy(geom, nodes[:, 0], nodes[:, 1])
        hit = reached[p] > 0
        hit[net.snap(sites[p : p + 1])[0][0]] = snap[p] <= 300
        # every reached node is inside; unreached nodes farther than the buffer are outside
        assert inside[hit].all()
        far = ~hit & (shapely.distance(geom.boundary, shapely.points(nodes)) > 6)
        assert not inside[far].any()


def test_from_graph_projects_lonlat() -> None:
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, x=121.40, y=31.20)
    G.add_node(2, x=121.41, y=31.20)
    G.add_edge(1, 2, length=951.0)
    G.add_edge(2, 1, length=951.0)
    G.add_edge(1, 2, length=2000.0)  # a longer parallel edge is ignored
    net = WalkNetwork.from_graph(G)
    assert net.crs.to_epsg() == 32651
    assert net.n_nodes == 2
    assert (
        net.distances([[net.x[0], net.y[0]]], [[net.x[1], net.y[1]]], 5000).toarray()[0, 0] == 951.0
    )
    # lengths missing: great-circle metres
    H = nx.Graph(crs="EPSG:4326")
    H.add_node(1, x=121.40, y=31.20)
    H.add_node(2, x=121.41, y=31.20)
    H.add_edge(1, 2)
    assert WalkNetwork.from_graph(H).length[0] == pytest.approx(951.4, abs=1.0)


def test_from_graph_bad_inputs() -> None:
    with pytest.raises(InputError, match="empty"):
        WalkNetwork.from_graph(nx.Graph(crs=CRS))
    G = nx.Graph()
    G.add_node(1, x=0.0, y=0.0)
    with pytest.raises(InputError, match="no CRS"):
        WalkNetwork.from_graph(G)
    H = nx.Graph(crs=CRS)
    H.add_node(1)
    with pytest.raises(InputError, match="x/y"):
        WalkNetwork.from_graph(H)


def test_from_place_offline_gives_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import osmnx as ox

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    with pytest.raises(InputError, match=r"cannot download.*internet"):
        WalkNetwork.from_place("Baoshan, Shanghai")


def test_check_covers(diamond: WalkNetwork) -> None:
    here = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 50, 50)], crs=CRS)
    check_covers(diamond, here, "communities")
    away = gpd.GeoDataFrame(geometry=[shapely.box(50_000, 0, 50_100, 50)] * 3, crs=CRS)
    with pytest.raises(InputError, match=r"0 of 3 features of communities.*different place"):
        check_covers(diamond, away, "communities")
    check_covers(EuclideanNetwork(CRS), away, "communities")  # no extent: passes


def test_euclidean_network() -> None:
    e = EuclideanNetwork(CRS)
    o = np.array([[0.0, 0.0], [300.0, 400.0]])
    d = np.array([[0.0, 0.0], [0.0, 100.0]])
    m = e.distances(o, d, 500.0)
    assert m.toarray() == pytest.approx(np.array([[0.0, 100.0], [500.0, np.hypot(300, 300)]]))
    assert m.nnz == 4  # the 0 distance is stored
    idx, dist = e.nearest(o, d, cutoff=450)
    assert idx.tolist() == [0, 1] and dist == pytest.approx([0.0, np.hypot(300, 300)])
    idx, dist = e.nearest(o, d, cutoff=100)
    assert idx.tolist() == [0, -1] and np.isinf(dist[1])
    sa = e.service_areas(d, [100.0, 300.0])
    assert len(sa) == 4 and sa.crs.to_epsg() == 32651
    assert sa.area.iloc[0] == pytest.approx(np.pi * 100**2, rel=0.01)
    assert e.kind == "euclidean"
