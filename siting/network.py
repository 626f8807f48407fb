"""Distance providers: walking distance over a street network, or straight lines.

Both :class:`WalkNetwork` and :class:`EuclideanNetwork` share one interface (see
``docs/ARCHITECTURE.md``, "Distance providers"); points are GeoSeries or ``(n, 2)`` arrays in
the provider's metric CRS.

Snapping rule (the default): the network distance between points ``a`` and ``b`` is
``|a - n(a)| + shortest_path(n(a), n(b)) + |n(b) - b|`` where ``n(x)`` is the network node
nearest to ``x`` in a straight line in the metric CRS. Two points snapped to the same node are
``|a - n| + |n - b|`` apart. Edge lengths are great-circle metres.

:class:`EuclideanNetwork` and the shared array helpers live in :mod:`siting._euclidean` and are
re-exported here.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.spatial import cKDTree

if TYPE_CHECKING:  # networkx is imported only by from_graph (start-up time)
    import networkx as nx

from siting import _csgraph, settings
from siting._errors import InputError, warn
from siting._euclidean import EuclideanNetwork, _csr_keep_zeros, as_xy

__all__ = [
    "EuclideanNetwork",
    "WalkNetwork",
    "as_xy",
    "check_covers",
    "quiet_snapping",
    "snap_warnings_once",
]

log = logging.getLogger(__name__)

# set by quiet_snapping(): per thread (each app session runs in its own), unlike a warnings filter
_QUIET_SNAP: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "siting_quiet_snap", default=False
)


# set by snap_warnings_once(): the far points already reported in the block, per network
_SNAP_SEEN: contextvars.ContextVar[dict[int, set[bytes]] | None] = contextvars.ContextVar(
    "siting_snap_seen", default=None
)
_NET_UIDS = itertools.count(1)

#: Distinct ids named in a far-from-road warning (the rest are counted).
SNAP_WARN_MAX_IDS = 10


@contextmanager
def quiet_snapping() -> Iterator[None]:
    """Within the block, in this thread only, :meth:`WalkNetwork.snap` does not warn about
    points far from the streets: for callers that report those themselves, by file and id."""
    token = _QUIET_SNAP.set(True)
    try:
        yield
    finally:
        _QUIET_SNAP.reset(token)


@contextmanager
def snap_warnings_once() -> Iterator[None]:
    """Within the block (one command), in this thread only, each point far from the streets is
    reported once: a later snap of the same points (the same layer again, a subset of it, or a
    layer that adds points to it, such as the sites with a proposal's new ones) names only the
    far points not reported yet, and is silent when there are none.

    Points are told apart by their coordinates on each network. Outside such a block every
    :meth:`WalkNetwork.snap` reports all its far points (a library call, or an app result that
    keeps its own warnings). A nested block shares the outer block's record.
    """
    if _SNAP_SEEN.get() is not None:
        yield
        return
    token = _SNAP_SEEN.set({})
    try:
        yield
    finally:
        _SNAP_SEEN.reset(token)


#: Sources per tile in bulk searches (bounds the memory of the pair lists).
_TILE = 4096
#: Searches x nodes up to which bulk distances use scipy's csgraph (dense blocks, nothing to
#: compile); above it the numba kernels, which touch only each search's ball, are faster. On the
#: demo district (15,000 nodes, 700 sites) csgraph takes about 0.1 s where importing numba and
#: loading its cached kernels alone takes 0.6-1 s; at 5,000 searches on 100,000 nodes the numba
#: kernels take 0.1 s and csgraph several seconds.
CSGRAPH_MAX_WORK = 40_000_000


def _numba() -> Any:
    from siting import _graphsearch  # imports numba: only for searches too big for csgraph

    return _graphsearch


#: Road files read as GraphML; everything else goes to the OSM reader.
_GRAPHML_SUFFIXES = (".graphml", ".xml.graphml")


class WalkNetwork:
    """An undirected walking network as compact arrays (node coordinates + CSR adjacency).

    Build with :meth:`from_osm`, :meth:`from_file`, :meth:`from_graph`, :meth:`from_graphml`
    or :meth:`from_place`. Distances follow the snapping rule of this module.

    Parameters
    ----------
    x, y
        Node coordinates in the metric ``crs``.
    u, v, length
        Undirected edges (node positions) and their lengths in metres.
    crs
        The metric CRS.
    source
        Label of where the network came from (for messages).
    report
        What loading kept and dropped (ways by reason, components), for the user.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.Graph(crs="EPSG:32651")
    >>> G.add_node(0, x=0.0, y=0.0); G.add_node(1, x=100.0, y=0.0)
    >>> G.add_edge(0, 1, length=100.0)
    >>> net = WalkNetwork.from_graph(G)
    >>> net.distances([[0.0, 10.0]], [[100.0, 0.0]], 1000).toarray()
    array([[110.]])
    """

    kind = "network"

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        length: np.ndarray,
        crs: Any,
        *,
        source: str = "",
        report: dict[str, Any] | None = None,
    ) -> None:
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.u = np.ascontiguousarray(u, dtype=np.int64)
        self.v = np.ascontiguousarray(v, dtype=np.int64)
        self.length = np.ascontiguousarray(length, dtype=np.float64)
        self.crs = CRS.from_user_input(crs)
        self.source = source
        self.report: dict[str, Any] = dict(report or {})
        n = len(self.x)
        if n == 0:
            raise InputError.one(
                source,
                "",
                "",
                "the road network has no nodes",
                "use a road file covering the district",
            )
        if np.any(self.length < 0) or not np.all(np.isfinite(self.length)):
            raise InputError.one(
                source, "", "length", "edge lengths must be finite and >= 0", "fix the edge lengths"
            )
        both_u = np.concatenate([self.u, self.v])
        both_v = np.concatenate([self.v, self.u])
        both_w = np.concatenate([self.length, self.length])
        adj = _csr_keep_zeros(both_u, both_v, both_w, (n, n))  # parallel edges keep the shortest
        self.indptr = adj.indptr.astype(np.int64)
        self.indices = adj.indices.astype(np.int64)
        self.weights = adj.data.astype(np.float64)
        # the nearest-node index is part of the network (every query snaps points to it)
        self._tree: cKDTree = cKDTree(np.column_stack([self.x, self.y]))

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return len(self.u)

    @property
    def graph(self) -> sparse.csr_matrix:
        """The symmetric adjacency as a scipy CSR matrix (explicit zeros are edges)."""
        n = self.n_nodes
        return sparse.csr_matrix((self.weights, self.indices, self.indptr), shape=(n, n))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the nodes in the metric CRS."""
        return (float(self.x.min()), float(self.y.min()), float(self.x.max()), float(self.y.max()))

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"crs={self.crs.to_string()}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_lonlat(
        cls,
        lon: np.ndarray,
        lat: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        length: np.ndarray,
        *,
        crs: Any = None,
        source: str = "",
        report: dict[str, Any] | None = None,
    ) -> WalkNetwork:
        """Build from WGS-84 node coordinates, projected to ``crs`` (default: the UTM zone)."""
        from pyproj import Transformer

        from siting.projection import metric_crs

        if crs is None:
            crs = metric_crs(
                (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
            )
        crs = CRS.from_user_input(crs)
        if crs.is_geographic:
            raise ValueError(f"crs must be a metric CRS, not {crs.to_string()} (lon/lat)")
        tr = Transformer.from_crs(settings.DEFAULT_GEOGRAPHIC_CRS, crs, always_xy=True)
        x, y = tr.transform(lon, lat)
        return cls(x, y, u, v, length, crs, source=source, report=report)

    @classmethod
    def from_osm(
        cls,
        path: str | Path,
        *,
        crs: Any = None,
        engine: str = "pyosmium",
        cache: bool = True,
    ) -> WalkNetwork:
        """Load the walking network of an OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) or PBF file.

        Parameters
        ----------
        path
            The road file.
        crs
            Metric CRS to project to (pass the communities' CRS); default: its UTM zone.
        engine
            ``"pyosmium"`` (fast, default) or ``"osmnx"`` (``osmnx.graph_from_xml``, XML only).
        cache
            Reuse/write the parsed network in ``settings.cache_dir()/networks``, keyed by the
            SHA-256 of the file (a changed file is parsed again).

        Raises
        ------
        InputError
            Unreadable or not OSM, empty, or no walkable ways.
        """
        from siting._osm import read_osm_cached

        raw = read_osm_cached(path, engine=engine, cache=cache, label=Path(path).name)
        return cls.from_lonlat(
            raw.lon, raw.lat, raw.u, raw.v, raw.length,
            crs=crs, source=Path(path).name, report=raw.report,
        )  # fmt: skip

    @classmethod
    def from_file(cls, path: str | Path, *, crs: Any = None, cache: bool = True) -> WalkNetwork:
        """Load a road file by its suffix: GraphML (``.graphml``) or OSM XML/PBF."""
        name = Path(path).name.lower()
        if name.endswith(_GRAPHML_SUFFIXES):
            return cls.from_graphml(path, crs=crs)
        return cls.from_osm(path, crs=crs, cache=cache)

    @classmethod
    def from_graphml(cls, path: str | Path, *, crs: Any = None) -> WalkNetwork:
        """Load a GraphML file saved by osmnx (``osmnx.save_graphml``)."""
        import osmnx as ox

        name = Path(path).name
        try:
            G = ox.load_graphml(path)
        except Exception as exc:  # networkx/lxml raise many kinds on bad files
            raise InputError.one(
                name,
                "",
                "",
                f"cannot read it as GraphML ({exc})",
                "save the graph with osmnx.save_graphml",
            ) from exc
        return cls.from_graph(G, crs=crs, source=name)

    @classmethod
    def from_place(cls, query: str | dict[str, str], *, crs: Any = None) -> WalkNetwork:
        """Download the walking network of a place with osmnx (needs internet).

        Raises
        ------
        InputError
            When the download fails (offline, unknown place).
        """
        import osmnx as ox

        try:
            G = ox.graph_from_place(query, network_type="walk", simplify=False)
        except Exception as exc:  # requests/osmnx raise many kinds when offline
            raise InputError.one(
                str(query),
                "",
                "",
                f"cannot download the walking network ({type(exc).__name__}: {exc})",
                "check the internet connection and the place name, or give a road file (--roads PATH)",
            ) from exc
        return cls.from_graph(G, crs=crs, source=f"osmnx place {query}")

    @classmethod
    def from_graph(
        cls, G: nx.Graph, *, crs: Any = None, source: str = "networkx graph"
    ) -> WalkNetwork:
        """Build from a networkx graph with node ``x``/``y`` and edge ``length`` (metres).

        ``G.graph["crs"]`` gives the CRS of x/y; a geographic (lon/lat) graph is projected to
        ``crs`` (default its UTM zone). Edge ``length`` is taken as given (osmnx lengths are
        great-circle metres) or computed from the projected coordinates when missing. Direction
        is ignored; parallel edges keep the shortest.
        """
        if G.number_of_nodes() == 0:
            raise InputError.one(
                source,
                "",
                "",
                "the road graph is empty",
                "use a road network covering the district",
            )
        nodes = list(G.nodes)
        pos = {n: i for i, n in enumerate(nodes)}
        data = G.nodes
        try:
            x = np.array([float(data[n]["x"]) for n in nodes])
            y = np.array([float(data[n]["y"]) for n in nodes])
        except KeyError as exc:
            raise InputError.one(
                source, "", "x/y", "graph nodes lack x/y coordinates", "give every node x and y"
            ) from exc
        gcrs = G.graph.get("crs")
        if gcrs is None:
            raise InputError.one(
                source, "", "crs", "the graph has no CRS (G.graph['crs'])",
                "set G.graph['crs'] to a metric CRS or EPSG:4326",
            )  # fmt: skip
        gcrs = CRS.from_user_input(gcrs)
        m = G.number_of_edges()
        u = np.empty(m, dtype=np.int64)
        v = np.empty(m, dtype=np.int64)
        w = np.empty(m, dtype=np.float64)
        for k, (a, b, d) in enumerate(G.edges(data=True)):
            u[k] = pos[a]
            v[k] = pos[b]
            w[k] = float(d.get("length", np.nan))
        if gcrs.is_geographic:
            miss = ~np.isfinite(w)
            if miss.any():
                from siting._osm import great_circle

                w[miss] = great_circle(x[u[miss]], y[u[miss]], x[v[miss]], y[v[miss]])
            return cls.from_lonlat(x, y, u, v, w, crs=crs, source=source)
        if crs is not None and CRS.from_user_input(crs) != gcrs:
            from pyproj import Transformer

            tr = Transformer.from_crs(gcrs, crs, always_xy=True)
            x, y = tr.transform(x, y)
            gcrs = CRS.from_user_input(crs)
        miss = ~np.isfinite(w)
        if miss.any():
            w[miss] = np.hypot(x[u[miss]] - x[v[miss]], y[u[miss]] - y[v[miss]])
        return cls(x, y, u, v, w, gcrs, source=source)

    # ------------------------------------------------------------------ snapping
    def snap(
        self,
        points: Any,
        *,
        warn_distance: float | None = None,
        label: str = "points",
        ids: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node (straight line) of each point and the distance to it.

        This is the check of an input layer: points farther than ``warn_distance`` (default
        ``settings.SNAP_WARN_DISTANCE_M``) from every node are reported in one
        :class:`~siting._errors.SitingWarning` naming the layer (``label``, e.g. ``"sites"``),
        how many points, the farthest by id with their distance, and what to do. Call it once per
        layer; the distance queries (:meth:`distances`, :meth:`nearest`, :meth:`reached`,
        :meth:`service_areas`) do not warn unless given a ``label``. Within
        :func:`snap_warnings_once` a point is reported once; :func:`quiet_snapping` silences it.

        Parameters
        ----------
        points
            GeoSeries/GeoDataFrame or ``(n, 2)`` array in the metric CRS.
        warn_distance
            Metres; ``inf`` never warns.
        label
            The layer's name as the user knows it (plural: ``"1 of 30 sites are ..."``).
        ids
            The user's id of each point (length ``n``; repeated ids, such as the community of
            each demand-grid point, are named once with their count). Default: the index of a
            GeoSeries/GeoDataFrame, else the positions (``#0``, ``#1`` ...).

        Returns
        -------
        node_index : numpy.ndarray of int64
        snap_distance : numpy.ndarray of float64
        """
        xy = as_xy(points)
        node, d = self._snap_xy(xy)
        self._warn_far(points, xy, d, label, ids, warn_distance, stacklevel=4)
        return node, d

    def _snap_xy(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node and distance of each point of an ``(n, 2)`` array (no warning)."""
        if len(xy) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        d, i = self._tree.query(xy, k=1, workers=settings.threads())
        return i.astype(np.int64), d.astype(np.float64)

    def _uid(self) -> int:
        """This network's key in the :func:`snap_warnings_once` record (ids of objects are
        reused once they are freed; networks unpickled from a cache get one on first use)."""
        uid = self.__dict__.get("_snap_uid")
        if uid is None:
            uid = self.__dict__["_snap_uid"] = next(_NET_UIDS)
        return int(uid)

    def _warn_far(
        self,
        points: Any,
        xy: np.ndarray,
        d: np.ndarray,
        label: str | None,
        ids: Any,
        warn_distance: float | None,
        *,
        stacklevel: int,
    ) -> None:
        """The far-from-road warning of a layer (see :meth:`snap`); ``label`` None: none."""
        if label is None or len(xy) == 0 or _QUIET_SNAP.get():
            return
        limit = settings.SNAP_WARN_DISTANCE_M if warn_distance is None else float(warn_distance)
        far = np.flatnonzero(d > limit)
        if len(far) == 0:
            return
        seen_all = _SNAP_SEEN.get()
        earlier = 0
        if seen_all is not None:
            seen = seen_all.setdefault(self._uid(), set())
            keys = [np.ascontiguousarray(xy[k], dtype=np.float64).tobytes() for k in far]
            new = np.array([k not in seen for k in keys], dtype=bool)
            seen.update(keys)
            earlier = int((~new).sum())
            far = far[new]
            if len(far) == 0:
                return
        names = _point_ids(points, ids, len(xy))
        besides = f" (besides {earlier} reported above)" if earlier else ""
        warn(
            f"{len(far)} of {len(xy)} {label} are more than {limit:.0f} m from the nearest road "
            f"node of {self.source or 'the network'}{besides}; farthest: "
            f"{_far_list(names, far, d)} - their walking distances start with that straight "
            "line; check their coordinates (and the coordinate system), or use a road file "
            "that includes the streets and paths near them",
            stacklevel=stacklevel,
        )

    def _query_snap(
        self, points: Any, label: Any, ids: Any, side: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Snap one side of a query; warn only when the caller named its layer."""
        xy = as_xy(points)
        node, d = self._snap_xy(xy)
        name = None if label is None else label[side]
        if name is not None:
            pid = None if ids is None else ids[side]
            # attributed to the query's caller (warn -> _warn_far -> _query_snap -> the query)
            self._warn_far(points, xy, d, name, pid, None, stacklevel=4)
        return node, d

    # ------------------------------------------------------------------ distances
    def distances(
        self,
        origins: Any,
        destinations: Any,
        cutoff: float,
        *,
        label: tuple[str | None, str | None] | None = None,
        ids: tuple[Any, Any] | None = None,
    ) -> sparse.csr_matrix:
        """Network distances (snapping rule) for every origin-destination pair within ``cutoff``.

        One bounded search runs from each destination's node (limit ``cutoff`` minus its snap
        distance); reached nodes are mapped to the origins snapped to them. Two points on the
        same node are ``snap_a + snap_b`` apart.

        Points far from the streets are not reported here (check each input layer once with
        :meth:`snap`) unless ``label`` names the layers, ``(origins' layer, destinations'
        layer)`` (None for a side not to report), with their ``ids`` as in :meth:`snap`.

        Returns
        -------
        scipy.sparse.csr_matrix
            ``(n_origins, n_destinations)``; every pair within ``cutoff`` is stored, 0 included.
        """
        a_node, a_snap = self._query_snap(origins, label, ids, 0)
        b_node, b_snap = self._query_snap(destinations, label, ids, 1)
        shape = (len(a_node), len(b_node))
        cutoff = float(cutoff)
        if shape[0] == 0 or shape[1] == 0:
            return sparse.csr_matrix(shape, dtype=np.float64)
        ua, ub = len(np.unique(a_node)), len(np.unique(b_node))
        if min(ua, ub) * self.n_nodes <= CSGRAPH_MAX_WORK:
            # the graph is undirected: search from the side with fewer distinct nodes
            swap = ua < ub  # search from the origins
            src, src_snap, pts, pts_snap = (
                (a_node, a_snap, b_node, b_snap) if swap else (b_node, b_snap, a_node, a_snap)
            )
            gptr, gidx, goff = self._group(pts, pts_snap)
            s, k, d = _csgraph.ball_pairs(
                self.indptr, self.indices, self.weights,
                src, cutoff - src_snap, src_snap, gptr, gidx, goff, cutoff,
            )  # fmt: skip
            if swap:  # sources were the origins
                s, k = k, s
        else:
            s, k, d = self._numba_pairs(a_node, a_snap, b_node, b_snap, cutoff)
        # each (origin, destination) pair occurs once; explicit zeros are kept by tocsr
        out = sparse.coo_matrix((d, (k, s)), shape=shape).tocsr()
        out.sort_indices()
        return out

    def _numba_pairs(self, a_node, a_snap, b_node, b_snap, cutoff):
        """(destination, origin, distance) triples from the numba kernels, searching from each
        destination."""
        gs = _numba()
        gptr, gidx, goff = self._group(a_node, a_snap)
        # searches from nearby sources touch the same memory: run them in node order (about
        # 1.4x faster on a 100,000-node city), then put the results back in the caller's order
        order = np.argsort(b_node, kind="stable")
        sb_node, sb_snap = b_node[order], b_snap[order]
        parts = []
        for start in range(0, len(b_node), _TILE):
            sl = slice(start, start + _TILE)
            s, k, d = gs.ball_pairs(
                self.indptr, self.indices, self.weights,
                sb_node[sl], cutoff - sb_snap[sl], sb_snap[sl], gptr, gidx, goff, cutoff,
            )  # fmt: skip
            parts.append((order[s + start], k, d))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def _group(self, node: np.ndarray, snap: np.ndarray):
        """Node -> points CSR grouping (``gptr``, point ids, their snap distances)."""
        order = np.argsort(node, kind="stable")
        gptr = np.searchsorted(node[order], np.arange(self.n_nodes + 1)).astype(np.int64)
        return gptr, order.astype(np.int64), snap[order]

    def nearest(
        self,
        origins: Any,
        destinations: Any,
        cutoff: float | None = None,
        *,
        label: tuple[str | None, str | None] | None = None,
        ids: tuple[Any, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Index and network distance of the nearest destination for each origin.

        One multi-source search from all destinations at once (each starting at its snap
        distance). Origins with no destination within ``cutoff`` get -1 and inf. ``label`` and
        ``ids``: as in :meth:`distances` (no far-from-road warning without ``label``).
        """
        a_node, a_snap = self._query_snap(origins, label, ids, 0)
        b_node, b_snap = self._query_snap(destinations, label, ids, 1)
        idx = np.full(len(a_node), -1, dtype=np.int64)
        dist = np.full(len(a_node), np.inf)
        if len(a_node) == 0 or len(b_node) == 0:
            return idx, dist
        limit = np.inf if cutoff is None else float(cutoff)
        # one search from all destinations at once: csgraph at any size (no JIT start-up)
        nd, lab = _csgraph.multi_source(
            self.indptr, self.indices, self.weights, b_node, b_snap, limit
        )
        total = nd[a_node] + a_snap
        ok = total <= limit
        idx[ok] = lab[a_node[ok]]
        dist[ok] = total[ok]
        return idx, dist

    # ------------------------------------------------------------------ service areas
    def reached(
        self, points: Any, cutoff: float, *, label: str | None = None, ids: Any = None
    ) -> sparse.csr_matrix:
        """``(n_points, n_nodes)`` matrix of walking distances (snap included) within ``cutoff``.

        No far-from-road warning unless ``label`` names the layer (``ids`` as in :meth:`snap`).
        """
        node, snap = self._query_snap(points, (label, None), (ids, None), 0)
        n = self.n_nodes
        ident = np.arange(n + 1, dtype=np.int64)
        engine = _csgraph if len(np.unique(node)) * n <= CSGRAPH_MAX_WORK else _numba()
        s, k, d = engine.ball_pairs(
            self.indptr, self.indices, self.weights, node, float(cutoff) - snap, snap,
            ident, ident[:-1], np.zeros(n), float(cutoff),
        )  # fmt: skip
        indptr = np.zeros(len(node) + 1, dtype=np.int64)
        np.cumsum(np.bincount(s, minlength=len(node)), out=indptr[1:])
        m = sparse.csr_matrix((d, k, indptr), shape=(len(node), n))
        m.sort_indices()
        return m

    def service_areas(
        self,
        points: Any,
        cutoffs: Sequence[float],
        *,
        width: float = 40.0,
        label: str | None = None,
        ids: Any = None,
    ) -> gpd.GeoDataFrame:
        """Polygons following the streets reached from each point within each cutoff.

        The reached parts of streets (an edge reached from one end is cut at the remaining
        distance) and the walk from the point to its node are buffered by ``width`` metres
        (a point far from every node shows as that straight walk).

        No far-from-road warning unless ``label`` names the layer (``ids`` as in :meth:`snap`):
        areas are drawn for points already checked, and may come from a cache or run in a
        worker thread, so a warning here would depend on either.

        Returns
        -------
        geopandas.GeoDataFrame
            ``point_index, cutoff_m, geometry``, one row per point and cutoff (point-major).
        """
        xy = as_xy(points)
        cutoffs = [float(c) for c in cutoffs]
        cols = {"point_index": np.empty(0, np.int64), "cutoff_m": np.empty(0), "geometry": []}
        if len(xy) == 0 or not cutoffs:
            return gpd.GeoDataFrame(cols, geometry="geometry", crs=self.crs)
        node, snap = self._query_snap(points, (label, None), (ids, None), 0)
        r = self.reached(xy, max(cutoffs)).tocoo()
        p_all, n_all, d_all = r.row.astype(np.int64), r.col.astype(np.int64), r.data
        n = self.n_nodes
        key = p_all * n + n_all
        korder = np.argsort(key)
        skey = key[korder]
        deg = self.indptr[n_all + 1] - self.indptr[n_all]
        arc = np.repeat(self.indptr[n_all], deg) + (
            np.arange(deg.sum()) - np.repeat(np.cumsum(deg) - deg, deg)
        )
        ap = np.repeat(p_all, deg)
        an = np.repeat(n_all, deg)
        ad = np.repeat(d_all, deg)
        nb = self.indices[arc]
        w = self.weights[arc]
        pos = np.searchsorted(skey, ap * n + nb)
        pos = np.minimum(pos, len(skey) - 1)
        found = skey[pos] == ap * n + nb
        dnb = np.where(found, d_all[korder[pos]], np.inf)
        ncut = len(cutoffs)
        pieces, groups = [], []
        for ci, c in enumerate(cutoffs):
            sel = ad <= c
            p, a, b, da, db, L = ap[sel], an[sel], nb[sel], ad[sel], dnb[sel], w[sel]
            ra = c - da
            rb = np.where(db <= c, c - db, 0.0)
            covered = (ra >= L) | (ra + rb >= L)
            # a covered edge is drawn once: from the lower node, or from the only reached end
            draw = ~covered | (db > c) | (a < b)
            f = np.where(covered, 1.0, np.clip(ra / np.where(L > 0, L, 1.0), 0.0, 1.0))
            p, a, b, f = p[draw], a[draw], b[draw], f[draw]
            start = np.column_stack([self.x[a], self.y[a]])
            end = start + (np.column_stack([self.x[b], self.y[b]]) - start) * f[:, None]
            pieces.append(np.stack([start, end], axis=1))
            groups.append(p * ncut + ci)
            # the walk from each point to its node (or just the point when its node is too far)
            sn = np.column_stack([self.x[node], self.y[node]])
            tip = np.where((snap <= c)[:, None], sn, xy)
            pieces.append(np.stack([xy, tip], axis=1))
            groups.append(np.arange(len(xy)) * ncut + ci)
        segs = np.concatenate(pieces)
        grp = np.concatenate(groups)
        order = np.argsort(grp, kind="stable")
        lines = shapely.linestrings(segs[order])
        multi = shapely.multilinestrings(lines, indices=grp[order])
        # every group has at least its spur, so groups are 0..n*ncut-1 in order
        # merged chains buffer about twice as fast as loose segments; shapely releases the GIL
        # simplifying within a quarter of the width changes the outline by at most that much
        merged = shapely.simplify(shapely.line_merge(multi), width / 4)
        polys = _threaded_buffer(merged, width)
        gi = np.arange(len(xy) * ncut)
        return gpd.GeoDataFrame(
            {
                "point_index": (gi // ncut).astype(np.int64),
                "cutoff_m": np.asarray(cutoffs)[gi % ncut],
                "geometry": polys,
            },
            geometry="geometry",
            crs=self.crs,
        )


def _point_ids(points: Any, ids: Any, n: int) -> np.ndarray:
    """The id of each point as text: ``ids``, the pandas index, or ``#position``."""
    if ids is not None:
        out = np.asarray(ids, dtype=object).astype(str)
        if out.shape != (n,):
            raise ValueError(f"ids has {out.size} values for {n} points")
        return out
    if isinstance(points, gpd.GeoSeries | gpd.GeoDataFrame):
        return np.asarray(points.index, dtype=object).astype(str)
    return np.array([f"#{k}" for k in range(n)], dtype=object)


def _far_list(names: np.ndarray, far: np.ndarray, d: np.ndarray) -> str:
    """``"S9 (1000 m), C2 (3 points, up to 420 m)"``: the far points by id, farthest first."""
    groups: dict[str, list[float]] = {}
    for k in far[np.argsort(-d[far], kind="stable")]:
        groups.setdefault(str(names[k]), []).append(float(d[k]))
    parts = [
        f"{name} ({ds[0]:.0f} m)"
        if len(ds) == 1
        else f"{name} ({len(ds)} points, up to {ds[0]:.0f} m)"
        for name, ds in groups.items()
    ]
    more = len(parts) - SNAP_WARN_MAX_IDS
    text = ", ".join(parts[:SNAP_WARN_MAX_IDS])
    return f"{text} and {more} more" if more > 0 else text


def _threaded_buffer(geoms: np.ndarray, width: float) -> np.ndarray:
    """``shapely.buffer`` over chunks in threads (GEOS runs without the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    n = len(geoms)
    threads = settings.threads()
    if n < 8 or threads == 1:
        return shapely.buffer(geoms, width, quad_segs=1)
    cuts = np.linspace(0, n, threads * 4 + 1).astype(int)
    with ThreadPoolExecutor(threads) as ex:
        parts = list(
            ex.map(
                lambda k: shapely.buffer(geoms[cuts[k] : cuts[k + 1]], width, quad_segs=1),
                range(len(cuts) - 1),
            )
        )
    return np.concatenate(parts)


def check_covers(net: Any, gdf: gpd.GeoDataFrame, name: str, *, min_share: float = 0.5) -> None:
    """Raise when ``gdf`` (e.g. communities) lies mostly outside the network's extent.

    A feature counts as inside when its representative point is within the network's bounds
    grown by ``settings.SNAP_WARN_DISTANCE_M``; fewer than ``min_share`` inside means the road
    file is of a different place (or a different CRS). Euclidean providers always pass.

    Raises
    ------
    InputError
    """
    if getattr(net, "kind", "") != "network" or len(gdf) == 0:
        return
    g = gdf.geometry
    if g.crs is not None and net.crs is not None and CRS.from_user_input(g.crs) != net.crs:
        g = g.to_crs(net.crs)
    xy = as_xy(g)
    minx, miny, maxx, maxy = net.bounds
    m = settings.SNAP_WARN_DISTANCE_M
    inside = (xy[:, 0] >= minx - m) & (xy[:, 0] <= maxx + m)
    inside &= (xy[:, 1] >= miny - m) & (xy[:, 1] <= maxy + m)
    share = float(inside.mean())
    if share < min_share:
        raise InputError.one(
            net.source or "road network", "", "",
            f"only {inside.sum()} of {len(xy)} features of {name} lie within the road network's "
            f"extent ({share:.0%}); the roads seem to be of a different place",
            f"use a road file that covers the area of {name}",
        )  # fmt: skip
