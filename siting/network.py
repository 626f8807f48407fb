"""Distance providers: walking distance over a street network, or straight lines.

Both :class:`WalkNetwork` and :class:`EuclideanNetwork` share one interface (see
``docs/ARCHITECTURE.md``, "Distance providers"); points are GeoSeries or ``(n, 2)`` arrays in
the provider's metric CRS.

Snapping rule (the default): the network distance between points ``a`` and ``b`` is
``|a - n(a)| + shortest_path(n(a), n(b)) + |n(b) - b|`` where ``n(x)`` is the network node
nearest to ``x`` in a straight line in the metric CRS. Two points snapped to the same node are
``|a - n| + |n - b|`` apart. Edge lengths are great-circle metres.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siting import settings
from siting._errors import InputError, warn

__all__ = ["EuclideanNetwork", "WalkNetwork", "as_xy"]

log = logging.getLogger(__name__)

#: Sources per tile in bulk searches (bounds memory of dense scipy rows).
_TILE = 256


def as_xy(points: Any) -> np.ndarray:
    """Points (GeoSeries, GeoDataFrame, shapely array or ``(n, 2)`` array) as float64 ``(n, 2)``."""
    if isinstance(points, gpd.GeoDataFrame):
        points = points.geometry
    if isinstance(points, gpd.GeoSeries):
        if len(points) == 0:
            return np.empty((0, 2))
        geoms = points.values
        if not np.all(shapely.get_type_id(geoms) == 0):
            geoms = shapely.point_on_surface(geoms)
        return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]).astype(np.float64)
    arr = np.asarray(points)
    if arr.dtype == object:
        geoms = arr.ravel()
        if len(geoms) == 0:
            return np.empty((0, 2))
        return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]).astype(np.float64)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"points must be an (n, 2) array, got shape {arr.shape}")
    return arr


def _nearest_from_matrix(d: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise argmin over the stored entries of ``d`` (-1 / inf for empty rows)."""
    n = d.shape[0]
    idx = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if d.nnz == 0:
        return idx, dist
    d = d.tocsr()
    rows = np.repeat(np.arange(n), np.diff(d.indptr))
    order = np.lexsort((d.indices, d.data, rows))
    r = rows[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = r[1:] != r[:-1]
    sel = order[first]
    idx[rows[sel]] = d.indices[sel]
    dist[rows[sel]] = d.data[sel]
    return idx, dist


class EuclideanNetwork:
    """Straight-line distances in a metric CRS (``--roads none``).

    Parameters
    ----------
    crs
        The metric CRS of the points.
    bounds
        Optional extent ``(minx, miny, maxx, maxy)``; unbounded when omitted.
    """

    kind = "euclidean"

    def __init__(self, crs: Any, *, bounds: tuple[float, float, float, float] | None = None):
        self.crs = CRS.from_user_input(crs) if crs is not None else None
        self.bounds = bounds if bounds is not None else (-np.inf, -np.inf, np.inf, np.inf)

    def __repr__(self) -> str:
        return f"EuclideanNetwork(crs={self.crs.to_string() if self.crs else None})"

    def distances(self, origins: Any, destinations: Any, cutoff: float) -> sparse.csr_matrix:
        """Straight-line distances for every pair within ``cutoff`` (0 distances stored)."""
        a, b = as_xy(origins), as_xy(destinations)
        shape = (len(a), len(b))
        if len(a) == 0 or len(b) == 0:
            return sparse.csr_matrix(shape, dtype=np.float64)
        ta, tb = cKDTree(a), cKDTree(b)
        coo = ta.sparse_distance_matrix(tb, float(cutoff), output_type="coo_matrix")
        # sparse_distance_matrix drops exact zeros; add coincident pairs back explicitly
        rows, cols, vals = coo.row, coo.col, coo.data
        zero = ta.query_ball_tree(tb, 0.0)
        zr = np.repeat(np.arange(len(a)), [len(z) for z in zero])
        zc = np.fromiter((j for z in zero for j in z), dtype=np.int64, count=len(zr))
        rows = np.concatenate([rows, zr])
        cols = np.concatenate([cols, zc])
        vals = np.concatenate([vals, np.zeros(len(zr))])
        out = _csr_keep_zeros(rows, cols, vals, shape)
        return out

    def nearest(
        self, origins: Any, destinations: Any, cutoff: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Index and distance of the nearest destination for each origin (-1 / inf if none)."""
        a, b = as_xy(origins), as_xy(destinations)
        idx = np.full(len(a), -1, dtype=np.int64)
        dist = np.full(len(a), np.inf)
        if len(a) == 0 or len(b) == 0:
            return idx, dist
        ub = np.inf if cutoff is None else float(cutoff)
        d, i = cKDTree(b).query(a, k=1, distance_upper_bound=ub)
        ok = np.isfinite(d)
        idx[ok] = i[ok]
        dist[ok] = d[ok]
        return idx, dist

    def service_areas(self, points: Any, cutoffs: Sequence[float]) -> gpd.GeoDataFrame:
        """Circles of radius ``cutoff`` around each point."""
        xy = as_xy(points)
        rows = []
        for c in cutoffs:
            geoms = shapely.buffer(shapely.points(xy), float(c), quad_segs=16)
            rows.append(
                pd.DataFrame(
                    {"point_index": np.arange(len(xy)), "cutoff_m": float(c), "geometry": geoms}
                )
            )
        df = (
            pd.concat(rows, ignore_index=True)
            if rows
            else pd.DataFrame({"point_index": [], "cutoff_m": [], "geometry": []})
        )
        df["point_index"] = df["point_index"].astype(np.int64)
        df["cutoff_m"] = df["cutoff_m"].astype(np.float64)
        return gpd.GeoDataFrame(df, geometry="geometry", crs=self.crs)


def _csr_keep_zeros(rows, cols, vals, shape) -> sparse.csr_matrix:
    """Build a CSR matrix keeping explicit zeros; duplicate (row, col) keep the minimum."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    if len(rows):
        order = np.lexsort((vals, cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        keep = np.ones(len(rows), dtype=bool)
        keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    np.cumsum(indptr, out=indptr)
    # rows are sorted, so cols/vals are already in CSR order
    return sparse.csr_matrix((vals, cols, indptr), shape=shape)


class WalkNetwork:
    """An undirected walking network as compact arrays (node coordinates + CSR adjacency).

    Build with :meth:`from_graph`, :meth:`from_osm`, :meth:`from_graphml` or :meth:`from_place`.

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
        both_u = np.concatenate([self.u, self.v])
        both_v = np.concatenate([self.v, self.u])
        both_w = np.concatenate([self.length, self.length])
        # parallel edges keep the shortest
        adj = _csr_keep_zeros(both_u, both_v, both_w, (n, n))
        self.graph = adj
        self.indptr = adj.indptr.astype(np.int64)
        self.indices = adj.indices.astype(np.int64)
        self.weights = adj.data.astype(np.float64)
        self._tree: cKDTree | None = None

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        return len(self.x)

    @property
    def n_edges(self) -> int:
        return len(self.u)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (
            float(self.x.min()),
            float(self.y.min()),
            float(self.x.max()),
            float(self.y.max()),
        )

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"crs={self.crs.to_string()}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_graph(cls, G: nx.Graph, *, source: str = "networkx graph") -> WalkNetwork:
        """Build from a networkx graph with node ``x``/``y`` and edge ``length`` (metres).

        A graph whose ``G.graph["crs"]`` is geographic (lon/lat) is projected to its UTM zone;
        edge ``length`` is taken as given (osmnx lengths are great-circle metres), or computed
        from the projected coordinates when missing.
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
        data = G.nodes(data=True)
        try:
            x = np.fromiter(
                (float(data[n]["x"]) for n in nodes), dtype=np.float64, count=len(nodes)
            )
            y = np.fromiter(
                (float(data[n]["y"]) for n in nodes), dtype=np.float64, count=len(nodes)
            )
        except KeyError as exc:
            raise InputError.one(
                source,
                "",
                "x/y",
                "graph nodes lack x/y coordinates",
                "give every node x and y attributes",
            ) from exc
        crs = G.graph.get("crs")
        if crs is None:
            crs_obj = None
        else:
            crs_obj = CRS.from_user_input(crs)
        if crs_obj is not None and crs_obj.is_geographic:
            pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=crs_obj)
            utm = pts.estimate_utm_crs()
            proj = pts.to_crs(utm)
            x, y = proj.x.to_numpy(), proj.y.to_numpy()
            crs_obj = utm
        if crs_obj is None:
            raise InputError.one(
                source,
                "",
                "crs",
                "the graph has no CRS (G.graph['crs'])",
                "set G.graph['crs'] to a metric CRS or EPSG:4326",
            )
        m = G.number_of_edges()
        u = np.empty(m, dtype=np.int64)
        v = np.empty(m, dtype=np.int64)
        w = np.empty(m, dtype=np.float64)
        for k, (a, b, d) in enumerate(G.edges(data=True)):
            u[k] = pos[a]
            v[k] = pos[b]
            w[k] = d.get("length", np.nan)
        miss = ~np.isfinite(w)
        if miss.any():
            w[miss] = np.hypot(x[u[miss]] - x[v[miss]], y[u[miss]] - y[v[miss]])
        return cls(x, y, u, v, w, crs_obj, source=source)

    # ------------------------------------------------------------------ snapping
    def snap(
        self, points: Any, *, warn_distance: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node (straight line) of each point and the distance to it.

        Points farther than ``warn_distance`` (default ``settings.SNAP_WARN_DISTANCE_M``) from
        every node are reported with a :class:`~siting._errors.SitingWarning`.
        """
        xy = as_xy(points)
        if len(xy) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if self._tree is None:
            self._tree = cKDTree(np.column_stack([self.x, self.y]))
        d, i = self._tree.query(xy, k=1)
        limit = settings.SNAP_WARN_DISTANCE_M if warn_distance is None else warn_distance
        far = np.flatnonzero(d > limit)
        if len(far):
            worst = far[np.argsort(-d[far])][:5]
            desc = ", ".join(f"#{k} ({d[k]:.0f} m)" for k in worst)
            warn(
                f"{len(far)} of {len(xy)} points are more than {limit:.0f} m from the road "
                f"network ({self.source or 'network'}); farthest: {desc}"
            )
        return i.astype(np.int64), d.astype(np.float64)

    # ------------------------------------------------------------------ distances
    def node_distances(self, sources: np.ndarray, limits: np.ndarray) -> sparse.csr_matrix:
        """Node -> node shortest paths from each source node up to its limit (rows = sources)."""
        sources = np.asarray(sources, dtype=np.int64)
        limits = np.asarray(limits, dtype=np.float64)
        rows, cols, vals = [], [], []
        n = self.n_nodes
        for start in range(0, len(sources), _TILE):
            src = sources[start : start + _TILE]
            lim = limits[start : start + _TILE]
            if len(src) == 0:
                continue
            d = csgraph.dijkstra(self.graph, directed=False, indices=src, limit=float(lim.max()))
            r, c = np.nonzero(d <= lim[:, None])
            rows.append(r + start)
            cols.append(c)
            vals.append(d[r, c])
        if not rows:
            return sparse.csr_matrix((len(sources), n))
        return _csr_keep_zeros(
            np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), (len(sources), n)
        )

    def distances(self, origins: Any, destinations: Any, cutoff: float) -> sparse.csr_matrix:
        """Network distances (snapping rule) for every origin-destination pair within ``cutoff``.

        Returns an ``(n_origins, n_destinations)`` CSR matrix; pairs at distance 0 are stored.
        """
        a_node, a_snap = self.snap(origins)
        b_node, b_snap = self.snap(destinations)
        shape = (len(a_node), len(b_node))
        cutoff = float(cutoff)
        keep_b = np.flatnonzero(b_snap <= cutoff)
        if len(a_node) == 0 or len(keep_b) == 0:
            return sparse.csr_matrix(shape, dtype=np.float64)
        nd = self.node_distances(b_node[keep_b], cutoff - b_snap[keep_b]).tocoo()
        # node -> origin points grouping
        order = np.argsort(a_node, kind="stable")
        starts = np.searchsorted(a_node[order], np.arange(self.n_nodes + 1))
        cnt = starts[nd.col + 1] - starts[nd.col]
        rep = np.repeat(np.arange(len(nd.col)), cnt)
        offs = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        origin = order[starts[nd.col[rep]] + offs]
        dest = keep_b[nd.row[rep]]
        val = nd.data[rep] + a_snap[origin] + b_snap[dest]
        ok = val <= cutoff
        return _csr_keep_zeros(origin[ok], dest[ok], val[ok], shape)

    def nearest(
        self, origins: Any, destinations: Any, cutoff: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Index and distance of the nearest destination for each origin (-1 / inf if none)."""
        a_node, a_snap = self.snap(origins)
        b_node, b_snap = self.snap(destinations)
        idx = np.full(len(a_node), -1, dtype=np.int64)
        dist = np.full(len(a_node), np.inf)
        if len(a_node) == 0 or len(b_node) == 0:
            return idx, dist
        # multi-source Dijkstra from a virtual super-source whose edges weigh the snap distances
        n = self.n_nodes
        s = n
        gc = self.graph.tocoo()
        g = _csr_keep_zeros(
            np.concatenate([gc.row, np.full(len(b_node), s)]),
            np.concatenate([gc.col, b_node]),
            np.concatenate([gc.data, b_snap]),
            (n + 1, n + 1),
        )
        limit = np.inf if cutoff is None else float(cutoff)
        d, pred = csgraph.dijkstra(
            g, directed=True, indices=s, limit=limit, return_predecessors=True
        )
        # which destination each node came from: walk predecessors to the node adjacent to s
        root = _roots(pred, s)
        node_best = np.full(n, -1, dtype=np.int64)
        # destination index per root node: the one with minimum snap at that node
        order = np.lexsort((b_snap, b_node))
        uniq, first_idx = np.unique(b_node[order], return_index=True)
        node_best[uniq] = order[first_idx]
        total = d[:n][a_node] + a_snap
        ok = np.isfinite(total) & (total <= limit)
        idx[ok] = node_best[root[a_node[ok]]]
        dist[ok] = total[ok]
        return idx, dist

    # ------------------------------------------------------------------ service areas
    def service_areas(
        self, points: Any, cutoffs: Sequence[float], *, width: float = 40.0
    ) -> gpd.GeoDataFrame:
        """Polygons following the streets reached from each point within each cutoff.

        Reached edges are buffered by ``width`` metres; an edge reached from one end only is cut
        at the remaining distance.
        """
        xy = as_xy(points)
        cutoffs = [float(c) for c in cutoffs]
        node, snap = self.snap(xy)
        cmax = max(cutoffs) if cutoffs else 0.0
        recs: list[tuple[int, float, Any]] = []
        if len(xy) and cutoffs:
            nd = self.node_distances(node, np.maximum(cmax - snap, 0.0)).tocsr()
            for p in range(len(xy)):
                row = nd.getrow(p)
                reached = np.full(self.n_nodes, np.inf)
                reached[row.indices] = row.data + snap[p]
                for c in cutoffs:
                    geom = self._area(xy[p], reached, c, width)
                    recs.append((p, c, geom))
        df = pd.DataFrame(recs, columns=["point_index", "cutoff_m", "geometry"])
        df["point_index"] = df["point_index"].astype(np.int64)
        df["cutoff_m"] = df["cutoff_m"].astype(np.float64)
        return gpd.GeoDataFrame(df, geometry="geometry", crs=self.crs)

    def _area(self, p: np.ndarray, reached: np.ndarray, c: float, width: float) -> Any:
        du, dv = reached[self.u], reached[self.v]
        mask = (du <= c) | (dv <= c)
        u, v, L = self.u[mask], self.v[mask], self.length[mask]
        du, dv = du[mask], dv[mask]
        ax, ay = self.x[u], self.y[u]
        bx, by = self.x[v], self.y[v]
        # fraction of the edge reached from each end (1 = whole edge)
        with np.errstate(invalid="ignore", divide="ignore"):
            fu = np.clip((c - du) / np.where(L > 0, L, 1), 0, 1)
            fv = np.clip((c - dv) / np.where(L > 0, L, 1), 0, 1)
        full = fu + fv >= 1
        seg_a = np.column_stack([ax, ay])
        seg_b = np.column_stack([bx, by])
        parts = []
        if full.any():
            parts.append(shapely.linestrings(np.stack([seg_a[full], seg_b[full]], axis=1)))
        pu = ~full & (fu > 0)
        if pu.any():
            end = seg_a[pu] + (seg_b[pu] - seg_a[pu]) * fu[pu, None]
            parts.append(shapely.linestrings(np.stack([seg_a[pu], end], axis=1)))
        pv = ~full & (fv > 0)
        if pv.any():
            end = seg_b[pv] + (seg_a[pv] - seg_b[pv]) * fv[pv, None]
            parts.append(shapely.linestrings(np.stack([seg_b[pv], end], axis=1)))
        lines = np.concatenate(parts) if parts else np.empty(0, dtype=object)
        # the walk from the point to its node
        n_near = int(np.argmin(reached))
        spur = shapely.linestrings([[p[0], p[1]], [self.x[n_near], self.y[n_near]]])
        lines = np.concatenate([lines, [spur]])
        return shapely.buffer(shapely.union_all(lines), width, quad_segs=4)


def _roots(pred: np.ndarray, s: int) -> np.ndarray:
    """For each node, its ancestor just below the super-source ``s`` in the shortest-path tree."""
    n = len(pred) - 1
    me = np.arange(n + 1)
    par = np.where(pred >= 0, pred, me)
    par = np.where(par == s, me, par)  # children of s are their own roots
    par[s] = s
    anc = par
    while True:  # pointer doubling: log(depth) rounds
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        anc = nxt
    return anc[:n]
