"""The straight-line distance provider (:class:`EuclideanNetwork`) and the array helpers both
distance providers of :mod:`siting.network` share (points as coordinates, nearest from a sparse
matrix, CSR building that keeps explicit zeros). :mod:`siting.network` re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.spatial import cKDTree

from siting._geom import as_xy


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
        # one int64 sort key (row-major) instead of a three-key lexsort: about 4x faster
        key = rows * np.int64(shape[1]) + cols
        order = np.argsort(key, kind="stable")
        key, vals = key[order], vals[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(first)
        vals = np.minimum.reduceat(vals, starts)
        key = key[starts]
        rows, cols = key // shape[1], key % shape[1]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    # rows are sorted, so cols/vals are already in CSR order
    return sparse.csr_matrix((vals, cols, indptr), shape=shape)
