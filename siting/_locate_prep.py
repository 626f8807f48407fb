"""Argument checks, model reductions and the capacitated assignment model for siting.locate."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Compact:
    """The compact single-sourcing model of :func:`_capacitated_cover` (see there): columns
    ``y`` (m sites), ``z`` (nz merged rows, at ``zc``), ``x`` (kb binding pairs, at ``xc``);
    rows: coverage (nz), links ``x <= y`` (kb), capacities (binding sites), and the count of
    open sites when ``n_open`` is given. ``zobj`` is each merged row's weight."""

    m: int
    nz: int
    kb: int
    nv: int
    zc: np.ndarray
    xc: np.ndarray
    con: sp.csc_array
    rl: np.ndarray
    ru: np.ndarray
    zobj: np.ndarray
    d: np.ndarray
    reach: np.ndarray
    rows: np.ndarray
    pr: np.ndarray
    pc: np.ndarray
    on_nb: np.ndarray
    br: np.ndarray
    bc: np.ndarray
    nb_pairs: np.ndarray
    nb_r: np.ndarray
    b_rows: np.ndarray
    n_bind: int

    def assignment(self, n: int, y: np.ndarray, xval: np.ndarray) -> np.ndarray:
        """Row -> site (``n`` rows) from integral ``y`` (bool per site) and the ``x`` values:
        an open non-binding site takes precedence (it holds all its rows)."""
        sub_assign = np.full(len(self.rows), -1, dtype=np.int64)
        xon = xval > 0.5
        sub_assign[self.br[xon]] = self.bc[xon]
        open_nb = np.flatnonzero(self.on_nb & y[self.pc])
        sub_assign[self.pr[open_nb]] = self.pc[open_nb]
        assign = np.full(n, -1, dtype=np.int64)
        assign[self.rows] = sub_assign
        return assign


def _compact_model(
    a: sp.csc_array,
    demand: np.ndarray,
    capacity: np.ndarray,
    rows: np.ndarray,
    row_obj: np.ndarray | None,
    n_open: tuple[float, float] | None,
) -> _Compact:
    """Build the compact model of :func:`_capacitated_cover` over ``rows``."""
    m = a.shape[1]
    sub = sp.csc_array(a[rows])
    sub.sort_indices()
    d = demand[rows]
    coo = sp.coo_array(sub)
    pr, pc = coo.row, coo.col
    reach = np.bincount(pc, weights=d[pr], minlength=m)
    bind = reach > capacity
    on_b = bind[pc] & (d[pr] <= capacity[pc])
    on_nb = ~bind[pc]
    br, bc = pr[on_b], pc[on_b]
    kb = len(br)
    nr = len(rows)
    # merge rows without binding pairs that have the same (non-binding) sites
    has_b = np.zeros(nr, dtype=bool)
    has_b[br] = True
    group = np.arange(nr)
    plain = np.flatnonzero(~has_b)
    if len(plain) > 1:
        first, inv = _unique_rows(sp.csc_array(sub[plain]))
        group[plain] = plain[first][inv]
    reps, grp = np.unique(group, return_inverse=True)
    nz = len(reps)
    zobj = (
        np.bincount(grp, weights=row_obj[rows], minlength=nz)
        if row_obj is not None
        else np.zeros(nz)
    )
    # columns: y (m), z (nz), x (kb)
    zc = m + np.arange(nz)
    xc = m + nz + np.arange(kb)
    nb_pairs = np.flatnonzero(on_nb & np.isin(pr, reps))
    nb_r = np.searchsorted(reps, pr[nb_pairs])
    b_rows = np.searchsorted(reps, br)  # rows with binding pairs are their own representative
    bsites = np.flatnonzero(bind)
    bpos = np.searchsorted(bsites, bc)
    nb_sites = len(bsites)
    r_link = nz + np.arange(kb)
    r_cap = nz + kb + np.arange(nb_sites)
    ri = [np.arange(nz), nb_r, b_rows, r_link, r_link, r_cap[bpos], r_cap]
    ci = [zc, pc[nb_pairs], xc, xc, bc, xc, bsites]
    vi = [
        np.ones(nz),
        -np.ones(len(nb_pairs)),
        -np.ones(kb),
        np.ones(kb),
        -np.ones(kb),
        d[br],
        -capacity[bsites],
    ]
    n_rows = nz + kb + nb_sites
    rl = [np.full(n_rows, -np.inf)]
    ru = [np.zeros(n_rows)]
    if n_open is not None:
        ri.append(np.full(m, n_rows))
        ci.append(np.arange(m))
        vi.append(np.ones(m))
        rl.append(np.array([n_open[0]]))
        ru.append(np.array([n_open[1]]))
        n_rows += 1
    nv = m + nz + kb
    con = sp.csc_array(
        (np.concatenate(vi), (np.concatenate(ri), np.concatenate(ci))), shape=(n_rows, nv)
    )
    return _Compact(
        m, nz, kb, nv, zc, xc, con, np.concatenate(rl), np.concatenate(ru), zobj, d, reach,
        np.asarray(rows), pr, pc, on_nb, br, bc, nb_pairs, nb_r, b_rows, nb_sites,
    )  # fmt: skip


def _capacitated_cover(
    a: sp.csc_array,
    demand: np.ndarray,
    capacity: np.ndarray,
    fixed: np.ndarray,
    *,
    rows: np.ndarray,
    row_obj: np.ndarray | None,
    y_obj: np.ndarray,
    n_open: tuple[float, float] | None,
    deadline: float,
    start_sel: np.ndarray | None = None,
    start_assign: np.ndarray | None = None,
    options: dict[str, object] | None = None,
) -> tuple[str, float, float, np.ndarray, np.ndarray]:
    """Single-sourcing covering model where only the pair's site matters (no pair costs).

    Each row in ``rows`` is served whole by one open site covering it, within capacity. With
    ``row_obj`` (MCLP) serving row ``i`` earns ``row_obj[i]`` and rows may stay unserved
    (maximised); without it every row must be served and ``y_obj @ y`` is minimised (LSCP,
    p-center tests).

    The model is exact but much smaller than one assignment variable per pair: a site whose
    reachable demand ``W_j`` (over ``rows``) fits its capacity can serve all of its rows at
    once, so it needs no assignment variables (row ``i`` is served if such a site is open);
    assignment variables ``x_ij <= y_j`` and the capacity row ``sum_i d_i x_ij <= C_j y_j``
    exist only for the sites where ``W_j > C_j`` ("binding" sites), and pairs whose demand
    alone exceeds ``C_j`` are dropped. Rows with no binding pair and the same sites are merged.
    A served row is assigned to an open non-binding site when one covers it, else to its
    binding site with ``x_ij = 1``.

    Returns (status, gap, bound, selected, assignment); ``bound`` is HiGHS's proven bound in the
    model's sense (covered weight when maximising, ``y_obj @ y`` otherwise).
    """
    n, m = a.shape
    maximize = row_obj is not None
    cm = _compact_model(a, demand, capacity, rows, row_obj, n_open)
    nz, kb, nv, zc, xc = cm.nz, cm.kb, cm.nv, cm.zc, cm.xc
    con, rl_all, ru_all = cm.con, cm.rl, cm.ru
    if not maximize:
        # aggregated capacity: the open sites must hold all the demand (redundant for the
        # integer model, tightens the relaxation)
        agg = sp.csc_array(
            (np.minimum(capacity, cm.reach), (np.zeros(m, dtype=np.int64), np.arange(m))),
            shape=(1, nv),
        )
        con = sp.csc_array(sp.vstack([con, agg]))
        rl_all = np.concatenate([rl_all, [float(cm.d.sum())]])
        ru_all = np.concatenate([ru_all, [np.inf]])
    lower = np.zeros(nv)
    lower[fixed] = 1.0
    if not maximize:
        lower[zc] = 1.0
    integer = np.ones(nv, dtype=bool)
    integer[zc] = False
    start = None
    if start_sel is not None:
        start = np.zeros(nv)
        start[start_sel] = 1.0
        if start_assign is not None:
            start[xc] = start_assign[rows][cm.br] == cm.bc
        served = np.zeros(nz)
        np.add.at(served, cm.nb_r, start[cm.pc[cm.nb_pairs]])
        np.add.at(served, cm.b_rows, start[xc])
        start[zc] = np.minimum(served, 1.0)
    res = solve_mip(
        np.concatenate([y_obj, cm.zobj, np.zeros(kb)]),
        con,
        rl_all,
        ru_all,
        lower,
        np.ones(nv),
        integer,
        maximize=maximize,
        time_limit=_left(deadline),
        start=start,
        options=options,
    )
    if res.x is None:
        return res.status, res.gap, res.bound, _EMPTY.copy(), np.full(n, -1, dtype=np.int64)
    y = res.x[:m] > 0.5
    return res.status, res.gap, res.bound, np.flatnonzero(y), cm.assignment(n, y, res.x[xc])
