"""Bulk shortest paths with :mod:`scipy.sparse.csgraph` (no JIT start-up).

Same contracts as the numba kernels in :mod:`siting._graphsearch`; used where the work is small
enough that a dense ``(sources, nodes)`` block per chunk is cheap (a district, not a city-wide
benchmark): importing numba and loading its cached kernels costs 0.6-1 s per process, which is
more than the whole search on a district of 15,000 nodes. :mod:`siting.network` picks the engine
by size; ``tests/test_network.py`` checks both give the same distances.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

__all__ = ["ball_pairs", "multi_source"]

#: Upper bound on the cells of one dense distance block (8 bytes each: 32 MB).
BLOCK_CELLS = 4_000_000


def _graph(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray) -> sparse.csr_array:
    n = len(indptr) - 1
    # explicit zero-length edges are kept as edges by csgraph for sparse input
    return sparse.csr_array((weights, indices, indptr), shape=(n, n))


def multi_source(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    src_node: np.ndarray,
    src_off: np.ndarray,
    limit: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the nearest source (offset included) and that source's index, per node.

    One search from a virtual node per source (an edge of length ``src_off`` to its node).
    Sources sharing a node: the smallest offset wins, ties to the lowest index (as in the numba
    kernel). Unreached nodes (beyond ``limit``) get ``inf`` and ``-1``.
    """
    n = len(indptr) - 1
    src_node = np.asarray(src_node, dtype=np.int64)
    src_off = np.asarray(src_off, dtype=np.float64)
    dist = np.full(n, np.inf)
    label = np.full(n, -1, dtype=np.int64)
    ok = np.flatnonzero(src_off <= limit)
    if len(ok) == 0 or n == 0:
        return dist, label
    order = ok[np.lexsort((ok, src_off[ok], src_node[ok]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = src_node[order[1:]] != src_node[order[:-1]]
    keep = order[first]
    k = len(keep)
    ptr = np.concatenate([indptr, indptr[-1] + np.arange(1, k + 1, dtype=np.int64)])
    g = sparse.csr_array(
        (
            np.concatenate([weights, src_off[keep]]),
            np.concatenate([indices, src_node[keep]]),
            ptr,
        ),
        shape=(n + k, n + k),
    )
    d, _, src = dijkstra(
        g, indices=np.arange(n, n + k), min_only=True, return_predecessors=True, limit=limit
    )
    d, src = d[:n], src[:n]
    hit = (src >= n) & np.isfinite(d)
    dist[hit] = d[hit]
    label[hit] = keep[src[hit] - n]
    return dist, label


def ball_pairs(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    src_node: np.ndarray,
    src_limit: np.ndarray,
    src_off: np.ndarray,
    gptr: np.ndarray,
    gidx: np.ndarray,
    goff: np.ndarray,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounded searches from each source; returns ``(source, point, distance)`` triples.

    Source ``s`` searches from node ``src_node[s]`` up to ``src_limit[s]`` metres (skipped when
    negative). Each reached node ``n`` at path distance ``d`` yields the points
    ``gidx[gptr[n]:gptr[n+1]]`` with total ``d + src_off[s] + goff[q]`` when that is within
    ``cutoff``. Triples come grouped by source (in source order).
    """
    n = len(indptr) - 1
    src_node = np.asarray(src_node, dtype=np.int64)
    src_limit = np.asarray(src_limit, dtype=np.float64)
    src_off = np.asarray(src_off, dtype=np.float64)
    gptr = np.asarray(gptr, dtype=np.int64)
    gidx = np.asarray(gidx, dtype=np.int64)
    goff = np.asarray(goff, dtype=np.float64)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    srcs = np.flatnonzero(src_limit >= 0)
    if len(srcs) == 0 or len(gidx) == 0 or n == 0:
        return empty
    g = _graph(indptr, indices, weights)
    # only nodes that carry points matter: keep those columns of each distance row
    cols = np.flatnonzero(np.diff(gptr) > 0)
    uniq, inv = np.unique(src_node[srcs], return_inverse=True)
    per_block = max(1, BLOCK_CELLS // n)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    by_uniq = np.argsort(inv, kind="stable")  # sources grouped by their node
    bounds = np.searchsorted(inv[by_uniq], np.arange(len(uniq) + 1))
    for start in range(0, len(uniq), per_block):
        stop = min(start + per_block, len(uniq))
        rows = srcs[by_uniq[bounds[start] : bounds[stop]]]
        lim = float(src_limit[rows].max())
        block = dijkstra(g, indices=uniq[start:stop], limit=lim)[:, cols]  # (k, point nodes)
        sub = block[inv[by_uniq[bounds[start] : bounds[stop]]] - start]  # a row per source
        i, c = np.nonzero(sub <= src_limit[rows, None])  # reached nodes that carry points
        path, node = sub[i, c], cols[c]
        # expand each (source, node) pair to the points on that node
        cnt = gptr[node + 1] - gptr[node]
        first = np.repeat(gptr[node] - (np.cumsum(cnt) - cnt), cnt)
        pos = first + np.arange(int(cnt.sum()))
        ii = np.repeat(i, cnt)
        total = np.repeat(path, cnt) + src_off[rows[ii]] + goff[pos]
        ok = total <= cutoff
        parts.append((rows[ii[ok]], gidx[pos[ok]], total[ok]))
    s = np.concatenate([p[0] for p in parts])
    q = np.concatenate([p[1] for p in parts])
    d = np.concatenate([p[2] for p in parts])
    order = np.argsort(s, kind="stable")
    return s[order], q[order], d[order]
