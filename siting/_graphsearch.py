"""Compiled bounded shortest-path searches over a CSR array graph (numba), for large problems.

:func:`ball_pairs`: for each source node a Dijkstra bounded by its own limit, whose work grows
with the walk ball, not with the city: distances live in one array reset through a list of
touched nodes, and the heap is an indexed binary heap (decrease-key). Reached nodes are mapped to the
points snapped to them (a node -> points CSR grouping), so the output is point pairs.
:mod:`siting.network` uses it when searches x nodes exceed ``CSGRAPH_MAX_WORK`` (thousands of
searches on a city); smaller problems, and the one multi-source search of ``nearest``, use
:mod:`scipy.sparse.csgraph` (:mod:`siting._csgraph`), which needs no compilation or JIT start-up.

Kernels are compiled with ``cache=True`` (the compiled code is stored next to this file in
``__pycache__``), so only the first run on a machine pays the compile time; :func:`warm_up`
compiles them on a tiny graph and returns the seconds spent.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from siting import settings

__all__ = ["ball_pairs", "warm_up"]


@njit(cache=True, inline="always")
def _sift_up(hd, hn, hpos, i):
    d = hd[i]
    n = hn[i]
    while i > 0:
        p = (i - 1) >> 1
        if hd[p] <= d:
            break
        hd[i] = hd[p]
        hn[i] = hn[p]
        hpos[hn[i]] = i
        i = p
    hd[i] = d
    hn[i] = n
    hpos[n] = i


@njit(cache=True, inline="always")
def _sift_down(hd, hn, hpos, size):
    d = hd[0]
    n = hn[0]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hd[c + 1] < hd[c]:
            c += 1
        if d <= hd[c]:
            break
        hd[i] = hd[c]
        hn[i] = hn[c]
        hpos[hn[i]] = i
        i = c
    hd[i] = d
    hn[i] = n
    hpos[n] = i


@njit(cache=True, nogil=True)
def _ball_pairs_kernel(
    indptr, indices, weights, src_node, src_limit, src_off, gptr, gidx, goff, cutoff
):
    n_nodes = len(indptr) - 1
    # dist: inf = untouched; hpos: position in the heap, -1 = not in heap, -2 = settled
    dist = np.full(n_nodes, np.inf)
    hpos = np.full(n_nodes, -1, dtype=np.int64)
    touched = np.empty(n_nodes, dtype=np.int64)
    hd = np.empty(n_nodes, dtype=np.float64)
    hn = np.empty(n_nodes, dtype=np.int64)
    cap = 1024
    out_s = np.empty(cap, dtype=np.int64)
    out_k = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.float64)
    m = 0
    for s in range(len(src_node)):
        lim = src_limit[s]
        if lim < 0:
            continue
        off = src_off[s]
        start = src_node[s]
        dist[start] = 0.0
        touched[0] = start
        nt = 1
        hd[0] = 0.0
        hn[0] = start
        hpos[start] = 0
        size = 1
        while size > 0:
            d = hd[0]
            node = hn[0]
            hpos[node] = -2
            size -= 1
            if size > 0:
                hd[0] = hd[size]
                hn[0] = hn[size]
                _sift_down(hd, hn, hpos, size)
            # emit the points snapped to this node
            for q in range(gptr[node], gptr[node + 1]):
                tot = d + off + goff[q]
                if tot <= cutoff:
                    if m == cap:
                        cap *= 2
                        ns = np.empty(cap, dtype=np.int64)
                        nk = np.empty(cap, dtype=np.int64)
                        ndd = np.empty(cap, dtype=np.float64)
                        ns[:m] = out_s[:m]
                        nk[:m] = out_k[:m]
                        ndd[:m] = out_d[:m]
                        out_s, out_k, out_d = ns, nk, ndd
                    out_s[m] = s
                    out_k[m] = gidx[q]
                    out_d[m] = tot
                    m += 1
            for e in range(indptr[node], indptr[node + 1]):
                nb = indices[e]
                nd = d + weights[e]
                if nd <= lim and nd < dist[nb]:
                    p = hpos[nb]
                    if p == -1:
                        touched[nt] = nb
                        nt += 1
                        p = size
                        size += 1
                    dist[nb] = nd
                    hd[p] = nd
                    hn[p] = nb
                    _sift_up(hd, hn, hpos, p)
        for t in range(nt):
            dist[touched[t]] = np.inf
            hpos[touched[t]] = -1
    return out_s[:m].copy(), out_k[:m].copy(), out_d[:m].copy()


def _threads() -> int:
    return settings.threads()


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
    *,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounded searches from each source; returns ``(source, point, distance)`` triples.

    Source ``s`` searches from node ``src_node[s]`` up to ``src_limit[s]`` metres (skipped when
    negative). Each reached node ``n`` at path distance ``d`` yields the points
    ``gidx[gptr[n]:gptr[n+1]]`` with total ``d + src_off[s] + goff[q]`` when that is within
    ``cutoff``. Triples come grouped by source, in order of increasing path distance.
    Sources are split into chunks run in threads (the kernel releases the GIL).
    """
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int64),
        np.ascontiguousarray(weights, dtype=np.float64),
    )
    src_node = np.ascontiguousarray(src_node, dtype=np.int64)
    src_limit = np.ascontiguousarray(src_limit, dtype=np.float64)
    src_off = np.ascontiguousarray(src_off, dtype=np.float64)
    group = (
        np.ascontiguousarray(gptr, dtype=np.int64),
        np.ascontiguousarray(gidx, dtype=np.int64),
        np.ascontiguousarray(goff, dtype=np.float64),
    )
    nthreads = threads or _threads()
    n = len(src_node)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    if nthreads == 1 or n < 64:
        return _ball_pairs_kernel(*args, src_node, src_limit, src_off, *group, float(cutoff))
    bounds = np.linspace(0, n, nthreads * 4 + 1).astype(np.int64)

    def run(k: int):
        a, b = bounds[k], bounds[k + 1]
        s, q, d = _ball_pairs_kernel(
            *args, src_node[a:b], src_limit[a:b], src_off[a:b], *group, float(cutoff)
        )
        return s + a, q, d

    with ThreadPoolExecutor(nthreads) as ex:
        parts = list(ex.map(run, range(len(bounds) - 1)))
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def warm_up() -> float:
    """Compile (or load from the on-disk cache) every kernel; returns the seconds spent."""
    t0 = time.perf_counter()
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([1, 0], dtype=np.int64)
    w = np.array([1.0, 1.0])
    z = np.zeros(1)
    i0 = np.zeros(1, dtype=np.int64)
    _ball_pairs_kernel(indptr, indices, w, i0, z + 5, z, indptr, indices, np.zeros(2), 5.0)
    return time.perf_counter() - t0
