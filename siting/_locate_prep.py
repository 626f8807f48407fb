"""Argument checks, model reductions and the capacitated assignment model for siting.locate."""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from siting._locate_highs import solve_mip

_EMPTY = np.array([], dtype=np.int64)

# ----------------------------------------------------------------------------- validation


def _coverage(coverage: object) -> sp.csc_array:
    if sp.issparse(coverage):
        a = sp.csc_array(coverage)
        a.eliminate_zeros()
        a = sp.csc_array((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    else:
        arr = np.asarray(coverage)
        if arr.ndim != 2:
            raise ValueError(f"coverage must be a 2-D matrix, got shape {arr.shape}")
        a = sp.csc_array(arr.astype(bool).astype(np.float64))
    if a.ndim != 2:
        raise ValueError(f"coverage must be a 2-D matrix, got shape {a.shape}")
    a.sort_indices()
    return a


def _cost(cost: object) -> np.ndarray:
    if sp.issparse(cost):
        c = sp.coo_array(cost)
        d = np.full(c.shape, np.inf)
        d[c.row, c.col] = c.data
    else:
        d = np.array(cost, dtype=np.float64)
        if d.ndim != 2:
            raise ValueError(f"cost must be a 2-D matrix, got shape {d.shape}")
    if np.isnan(d).any():
        raise ValueError("cost contains NaN; use np.inf for pairs that are not allowed")
    if (d < 0).any():
        raise ValueError("cost contains negative distances")
    return d


def _fixed(fixed: object, m: int) -> np.ndarray:
    if fixed is None:
        return _EMPTY.copy()
    f = np.asarray(fixed)
    if f.dtype == bool:
        if f.shape != (m,):
            raise ValueError(f"fixed mask has shape {f.shape}, expected ({m},)")
        return np.flatnonzero(f)
    if f.size and not np.issubdtype(f.dtype, np.integer):
        raise ValueError("fixed must be candidate column indices or a boolean mask")
    f = f.astype(np.int64).ravel()
    if f.size and (f.min() < 0 or f.max() >= m):
        raise ValueError(f"fixed index out of range 0..{m - 1}: {f[(f < 0) | (f >= m)].tolist()}")
    return np.unique(f)


def _vector(v: object, n: int, name: str, default: float | None) -> np.ndarray | None:
    if v is None:
        return None if default is None else np.full(n, default)
    arr = np.asarray(v, dtype=np.float64).ravel()
    if arr.shape != (n,):
        raise ValueError(f"{name} has length {arr.size}, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if (arr < 0).any():
        raise ValueError(f"{name} contains negative values")
    return arr


def _p(p: object, m: int, n_fixed: int) -> int:
    if isinstance(p, bool) or not isinstance(p, int | np.integer):
        raise ValueError(f"p must be an integer, got {p!r}")
    if p < 0:
        raise ValueError(f"p must be >= 0, got {p}")
    if p > m - n_fixed:
        raise ValueError(f"p={p} exceeds the {m - n_fixed} candidates that are not fixed")
    return int(p)


def _deadline(time_limit: float | None) -> float:
    if time_limit is None:
        return math.inf
    if not time_limit > 0:
        raise ValueError(f"time_limit must be positive seconds, got {time_limit}")
    return time.perf_counter() + float(time_limit)


def _left(deadline: float) -> float | None:
    return None if math.isinf(deadline) else deadline - time.perf_counter()


# ----------------------------------------------------------------------------- reductions


def _dominated_columns(a: sp.csc_array) -> np.ndarray:
    """Mask of columns whose row set is a subset of another kept column's (ties: lower index)."""
    size = np.diff(a.indptr)
    c = sp.coo_array(a.T @ a)
    j, k, v = c.row, c.col, c.data
    hit = (j != k) & (v == size[j]) & ((size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
    dom = np.zeros(a.shape[1], dtype=bool)
    dom[j[hit]] = True
    dom |= size == 0
    return dom


def _unique_rows(a: sp.csc_array) -> tuple[np.ndarray, np.ndarray]:
    """(index of a representative per distinct row, inverse map row -> distinct row)."""
    packed = np.packbits(a.toarray().astype(bool), axis=1)
    view = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))
    _, first, inv = np.unique(view.ravel(), return_index=True, return_inverse=True)
    return first, inv.ravel()


def _dominated_rows(a: sp.csr_array) -> np.ndarray:
    """Mask of rows whose candidate set contains another row's (covered whenever it is)."""
    size = np.diff(a.indptr)
    c = sp.coo_array(a @ a.T)
    i, k, v = c.row, c.col, c.data
    hit = (i != k) & (v == size[k]) & ((size[i] > size[k]) | ((size[i] == size[k]) & (k < i)))
    dom = np.zeros(a.shape[0], dtype=bool)
    dom[i[hit]] = True
    return dom


def _assign_cover(a: sp.csc_array, sel: np.ndarray) -> np.ndarray:
    """Row -> first selected column covering it (-1 if none)."""
    n = a.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if len(sel) == 0:
        return out
    sub = sp.csr_array(a[:, sel])
    has = np.diff(sub.indptr) > 0
    out[has] = sel[sub.indices[sub.indptr[:-1][has]]]
    return out


def _assign_nearest(d: np.ndarray, sel: np.ndarray) -> np.ndarray:
    n = d.shape[0]
    if len(sel) == 0:
        return np.full(n, -1, dtype=np.int64)
    sub = d[:, sel]
    arg = np.argmin(sub, axis=1)
    out = sel[arg].astype(np.int64)
    out[~np.isfinite(sub[np.arange(n), arg])] = -1
    return out


# ----------------------------------------------------------------------------- capacitated core


def _greedy_assign(pairs_r, pairs_c, demand, capacity, sel, n, m):
    """0/1 per pair: rows by decreasing demand, each to the open site with most room left."""
    x = np.zeros(len(pairs_r))
    room = np.where(np.isin(np.arange(m), sel), capacity.astype(np.float64), -1.0)
    order = np.argsort(pairs_r, kind="stable")
    starts = np.searchsorted(pairs_r[order], np.arange(n + 1))
    for i in np.argsort(-demand, kind="stable"):
        idx = order[starts[i] : starts[i + 1]]
        if len(idx) == 0:
            continue
        left = room[pairs_c[idx]] - demand[i]
        best = int(np.argmax(left))
        if left[best] >= 0:
            x[idx[best]] = 1.0
            room[pairs_c[idx[best]]] = left[best]
    return x


def _capacitated(
    pairs_r: np.ndarray,
    pairs_c: np.ndarray,
    pair_obj: np.ndarray,
    y_obj: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    fixed: np.ndarray,
    n: int,
    m: int,
    *,
    must_assign: bool,
    n_open: tuple[float, float] | None,
    maximize: bool,
    deadline: float,
    start_sel: np.ndarray | None = None,
) -> tuple[str, float, np.ndarray, np.ndarray]:
    """Single-sourcing assignment model; returns (status, gap, selected, assignment)."""
    k = len(pairs_r)
    nv = m + k
    xs = m + np.arange(k)
    rows_r = [pairs_r, np.arange(k) + n, pairs_c + n + k, np.arange(m) + n + k]
    rows_c = [xs, xs, xs, np.arange(m)]
    vals = [np.ones(k), np.ones(k), demand[pairs_r], -capacity]
    rl = [
        np.ones(n) if must_assign else np.full(n, -np.inf),
        np.full(k, -np.inf),
        np.full(m, -np.inf),
    ]
    ru = [np.ones(n), np.zeros(k), np.zeros(m)]
    # x_ij - y_j <= 0
    rows_r.append(np.arange(k) + n)
    rows_c.append(pairs_c)
    vals.append(-np.ones(k))
    n_rows = n + k + m
    if n_open is not None:
        rows_r.append(np.full(m, n_rows))
        rows_c.append(np.arange(m))
        vals.append(np.ones(m))
        rl.append(np.array([n_open[0]]))
        ru.append(np.array([n_open[1]]))
        n_rows += 1
    a = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows_r), np.concatenate(rows_c))),
        shape=(n_rows, nv),
    )
    lb = np.zeros(nv)
    lb[fixed] = 1.0
    start = None
    if start_sel is not None:
        start = np.zeros(nv)
        start[start_sel] = 1.0
        if not must_assign:  # a greedy assignment to the start's sites: a real incumbent
            start[m:] = _greedy_assign(pairs_r, pairs_c, demand, capacity, start_sel, n, m)
    if must_assign:
        # aggregated capacity: the open sites must hold all the demand (redundant for the
        # integer model, tightens the relaxation)
        agg = sp.csr_array((capacity, (np.zeros(m, dtype=np.int64), np.arange(m))), shape=(1, nv))
        a = sp.vstack([sp.csr_array(a), agg])
        rl.append(np.array([float(demand.sum())]))
        ru.append(np.array([np.inf]))
    res = solve_mip(
        np.concatenate([y_obj, pair_obj]),
        a,
        np.concatenate(rl),
        np.concatenate(ru),
        lb,
        np.ones(nv),
        np.ones(nv, dtype=bool),
        maximize=maximize,
        time_limit=_left(deadline),
        start=start,
    )
    assign = np.full(n, -1, dtype=np.int64)
    if res.x is None:
        return res.status, res.gap, _EMPTY.copy(), assign
    sel = np.flatnonzero(res.x[:m] > 0.5)
    on = res.x[m:] > 0.5
    assign[pairs_r[on]] = pairs_c[on]
    return res.status, res.gap, sel, assign
