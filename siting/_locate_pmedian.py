"""Uncapacitated p-median by the radius formulation with row generation.

Formulation (Elloumi 2010; Garcia, Labbe & Marin 2011, "Solving large p-median problems with a
radius formulation"). For demand row ``i`` let ``D_i^1 < D_i^2 < ... < D_i^K`` be its distinct
allowed distances. With ``z_i^k = 1`` meaning "no open site within ``D_i^k``" the cost of row
``i`` is ``D_i^1 + sum_k (D_i^{k+1} - D_i^k) z_i^k``. We write the covering constraints in the
chained, sparse form (same LP bound as ``z_i^k + sum_{d_ij <= D_i^k} y_j >= 1``)::

    z_i^1 + sum_{j: d_ij = D_i^1} y_j >= 1
    z_i^k - z_i^{k-1} + sum_{j: d_ij = D_i^k} y_j >= 0      (k >= 2)

so each row costs O(K_i + m) non-zeros instead of O(K_i * m) (classical formulation: n*m
assignment variables and n*m linking rows; 1,000,000 of each at 2,000 x 500).

Why this one: the LP bound equals the classical one (which is very tight for p-median), while
the model is an order of magnitude smaller. Further, rows only need levels up to the distance
they actually travel, so we start each row truncated at its distance in the greedy-plus-swap
incumbent (and never beyond its nearest fixed site). A truncated model is a relaxation (its
objective under-estimates the true cost), so its optimum is a proven lower bound; if the true
cost of its solution equals that bound the solution is optimal, otherwise the rows that travel
farther than their truncation get more levels and the model is solved again.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import scipy.sparse as sp

from siting._locate_highs import solve_mip
from siting._locate_pmheur import pmedian_lagrangian, pmedian_local_search

__all__ = ["solve_pmedian"]

logger = logging.getLogger(__name__)


def true_cost(d: np.ndarray, w: np.ndarray, sel: np.ndarray) -> float:
    """Weighted sum of nearest-selected distances (inf when some row has none)."""
    if len(sel) == 0:
        return math.inf if len(w) else 0.0
    near = d[:, sel].min(axis=1)
    if not np.all(np.isfinite(near)):  # every row must be served, weighted or not
        return math.inf
    pos = w > 0
    return float(w[pos] @ near[pos])


def solve_pmedian(
    d: np.ndarray, w: np.ndarray, p: int, fixed: np.ndarray, deadline: float
) -> tuple[np.ndarray, str, float, float]:
    """Solve; returns (selected, status, objective, gap). ``d`` dense, rows all allowed somewhere.

    Steps: identical rows merged; iterated local search for the incumbent; Lagrangian bound
    (stop here if it meets the incumbent); Lagrangian reduced-cost fixing drops the candidates
    that cannot be in a better solution; the radius model with row generation on what is left.
    Rows with zero weight must still be served when some candidates are not allowed for them;
    they are handled by plain covering constraints.
    """
    t0 = time.perf_counter()
    m_all = d.shape[1]
    fixed = np.asarray(fixed, dtype=np.int64)
    # Merge identical rows (same distances to every candidate).
    d_u, inv = np.unique(d, axis=0, return_inverse=True)
    inv = inv.ravel()
    w_u = np.bincount(inv, weights=w, minlength=len(d_u))
    room = deadline - t0 if math.isfinite(deadline) else math.inf
    cells = d_u.size
    iters = max(200, min(1000, int(2e9 / max(cells, 1))))
    lag_budget = min(max(0.1 * room, 0.2), 10.0) if math.isfinite(room) else 10.0
    # 1. quick incumbent (greedy + interchange), the Polyak target of the first ascent
    quick = pmedian_local_search(d_u, w_u, p, fixed, budget_s=0.0, deadline=deadline)
    best_sel, best_cost = quick, true_cost(d_u, w_u, quick)
    # 2. Lagrangian ascent; the site sets it opens are the starts of the local search
    lag = pmedian_lagrangian(
        d_u,
        w_u,
        p,
        fixed,
        best_cost,
        max_iter=iters,
        deadline=min(deadline, time.perf_counter() + lag_budget / 2),
    )
    t1 = time.perf_counter()
    # 3. iterated local search from the best of those starts
    ls_budget = min(max(0.1 * room, 0.2), 20.0) if math.isfinite(room) else 5.0
    heur = pmedian_local_search(
        d_u,
        w_u,
        p,
        fixed,
        budget_s=ls_budget,
        deadline=deadline,
        lower=lag.bound,
        starts=[best_sel, *lag.choices],
    )
    cost = true_cost(d_u, w_u, heur)
    if cost < best_cost:
        best_sel, best_cost = heur, cost
    t2 = time.perf_counter()
    # 4. a second ascent towards the better incumbent, warm-started
    tol = 1e-9 * max(abs(best_cost), 1.0) if math.isfinite(best_cost) else 0.0
    if not (math.isfinite(best_cost) and lag.bound >= best_cost - tol):
        lag2 = pmedian_lagrangian(
            d_u,
            w_u,
            p,
            fixed,
            best_cost,
            max_iter=iters,
            deadline=min(deadline, time.perf_counter() + lag_budget / 2),
            lam0=lag.lam,
        )
        if lag2.bound > lag.bound:
            lag = lag2
    logger.debug(
        "p-median: Lagrangian %.2fs, local search %.0f in %.2fs, bound %.0f after %.2fs",
        t1 - t0,
        best_cost,
        t2 - t1,
        lag.bound,
        time.perf_counter() - t0,
    )
    tol = 1e-9 * max(abs(best_cost), 1.0) if math.isfinite(best_cost) else 0.0
    if math.isfinite(best_cost) and lag.bound >= best_cost - tol:
        return np.sort(best_sel), "optimal", best_cost, 0.0
    # Reduced-cost fixing: a free candidate j outside the Lagrangian choice can be opened only
    # at a cost of at least bound + rho_j - rho_in; above the incumbent it is never needed.
    keep = np.ones(m_all, dtype=bool)
    if math.isfinite(best_cost) and math.isfinite(lag.rho_in):
        out = lag.bound + lag.rho - lag.rho_in > best_cost + tol
        out[fixed] = False
        out[best_sel] = False
        keep &= ~out
    cols = np.flatnonzero(keep)
    fix_at = best_cost  # every solution using a dropped candidate costs more than this
    logger.debug("p-median: %d of %d candidates kept", len(cols), m_all)
    pos_of = np.full(m_all, -1)
    pos_of[cols] = np.arange(len(cols))
    sel_r, status, cost_r, bound_r = _radius_loop(
        d_u[:, cols], w_u, p, pos_of[fixed], pos_of[best_sel], deadline
    )
    if status == "infeasible":
        if not math.isfinite(best_cost):
            return np.array([], dtype=np.int64), "infeasible", math.nan, math.nan
        bound_r = -math.inf  # cannot happen with a feasible incumbent; prove nothing from it
    if cost_r < best_cost:
        best_sel, best_cost = cols[sel_r], cost_r
    # Solutions using a dropped candidate cost more than fix_at >= best_cost, so a bound over
    # the kept candidates is a global bound once capped at fix_at.
    lower = max(lag.bound, min(bound_r, fix_at))
    if status == "optimal" or (math.isfinite(best_cost) and lower >= best_cost - tol):
        return np.sort(best_sel), "optimal", best_cost, 0.0
    return np.sort(best_sel), "feasible", best_cost, _gap(best_cost, lower)


def _radius_loop(d_u, w_u, p, fixed, start_sel, deadline):
    """Radius model with row generation; returns (selected, status, cost, proven lower bound).

    ``status`` is "optimal" (the returned answer is optimal for this candidate set),
    "feasible" or "infeasible".
    """
    m = d_u.shape[1]
    n_open = p + len(fixed)
    finite_u = np.isfinite(d_u)
    nu = len(d_u)
    best_sel, best_cost = start_sel, true_cost(d_u, w_u, start_sel)

    # Distinct levels per row; level (1-based) of each entry, inf entries get n_lev + 1.
    order = np.argsort(d_u, axis=1, kind="stable")
    srt = np.take_along_axis(d_u, order, axis=1)
    new = np.ones_like(srt, dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    new &= np.isfinite(srt)
    n_lev = new.sum(axis=1)
    csum = np.cumsum(new, axis=1)
    lev_vals = np.full((nu, m + 1), np.inf)
    rr, cc = np.nonzero(new)
    lev_vals[rr, csum[rr, cc] - 1] = srt[rr, cc]
    level = np.empty((nu, m), dtype=np.int64)
    np.put_along_axis(level, order, csum, axis=1)
    level[~finite_u] = np.broadcast_to(n_lev[:, None] + 1, (nu, m))[~finite_u]

    # Hard cap: nearest fixed site; rows never need levels beyond it.
    cap = n_lev.copy()
    if len(fixed):
        fl = level[:, fixed].min(axis=1)
        cap = np.minimum(cap, fl)
    need_cover = (~finite_u).any(axis=1)
    if len(fixed):
        need_cover &= ~finite_u[:, fixed].any(axis=1)

    def lev_of(sel: np.ndarray) -> np.ndarray:
        return level[:, sel].min(axis=1) if len(sel) else n_lev.copy()

    trunc = np.minimum(np.maximum(lev_of(best_sel), 1), cap)
    w_pos = w_u > 0
    trunc[~w_pos] = 1  # zero-weight rows only need the covering constraint
    bound = -math.inf
    status = "feasible"
    rounds = 0
    while True:
        rounds += 1
        remaining = deadline - time.perf_counter()
        model = _build(d_u, w_u, level, lev_vals, trunc, need_cover, n_open, fixed)
        start = _start(best_sel, level, trunc, model["nz"], m)
        res = solve_mip(
            model["c"],
            model["a"],
            model["rl"],
            model["ru"],
            model["lb"],
            model["ub"],
            model["int"],
            offset=model["offset"],
            time_limit=remaining if math.isfinite(remaining) else None,
            start=start,
        )
        if res.status == "infeasible":
            return np.array([], dtype=np.int64), "infeasible", math.inf, math.inf
        if res.x is None:
            break
        bound = max(bound, res.bound)
        sel = np.flatnonzero(res.x[:m] > 0.5)
        cost = true_cost(d_u, w_u, sel)
        if cost < best_cost:
            best_sel, best_cost = sel, cost
        if res.status != "optimal":
            break
        tol = 1e-9 * max(abs(best_cost), 1.0)
        if best_cost <= res.objective + tol or best_cost <= bound + tol:
            status = "optimal"
            break
        deeper = np.minimum(lev_of(sel), cap)
        grow = w_pos & (deeper > trunc)
        if not grow.any():  # cannot happen for a correct relaxation; be honest anyway
            break
        trunc[grow] = deeper[grow]
        logger.debug("p-median round %d: %d rows get more levels", rounds, int(grow.sum()))
    if status == "optimal":
        bound = best_cost
    return np.sort(best_sel), status, best_cost, bound


def _gap(ub: float, lb: float) -> float:
    if not (math.isfinite(ub) and math.isfinite(lb)):
        return math.inf
    return max(ub - lb, 0.0) / max(abs(ub), 1e-10)


def _build(d, w, level, lev_vals, trunc, need_cover, n_open, fixed):
    """Arrays of the truncated chained radius model; columns are y (m) then z."""
    nu, m = d.shape
    nz_per = np.maximum(trunc - 1, 0)
    off = np.concatenate([[0], np.cumsum(nz_per)])
    nz = int(off[-1])
    row_of_z = np.repeat(np.arange(nu), nz_per)
    k_of_z = np.arange(nz) - off[row_of_z] + 1  # 1-based level
    # z objective: w (D^{k+1} - D^k)
    c = np.zeros(m + nz)
    c[m:] = w[row_of_z] * (lev_vals[row_of_z, k_of_z] - lev_vals[row_of_z, k_of_z - 1])
    offset = float(w @ np.where(np.isfinite(lev_vals[:, 0]), lev_vals[:, 0], 0.0))
    # constraint rows: one per z (same index), then covering rows, then cardinality
    ent_r, ent_c, ent_v = [], [], []
    ent_r.append(np.arange(nz))
    ent_c.append(m + np.arange(nz))
    ent_v.append(np.ones(nz))
    prev = k_of_z >= 2
    ent_r.append(np.arange(nz)[prev])
    ent_c.append(m + np.arange(nz)[prev] - 1)
    ent_v.append(-np.ones(int(prev.sum())))
    mask = level <= nz_per[:, None]
    ri, cj = np.nonzero(mask)
    ent_r.append(off[ri] + level[ri, cj] - 1)
    ent_c.append(cj)
    ent_v.append(np.ones(len(ri)))
    rl = np.where(k_of_z == 1, 1.0, 0.0)
    cov_rows = np.flatnonzero(need_cover)
    ci, cj2 = np.nonzero(np.isfinite(d[cov_rows]))
    ent_r.append(nz + ci)
    ent_c.append(cj2)
    ent_v.append(np.ones(len(ci)))
    n_rows = nz + len(cov_rows) + 1
    ent_r.append(np.full(m, n_rows - 1))
    ent_c.append(np.arange(m))
    ent_v.append(np.ones(m))
    a = sp.coo_array(
        (np.concatenate(ent_v), (np.concatenate(ent_r), np.concatenate(ent_c))),
        shape=(n_rows, m + nz),
    )
    rl = np.concatenate([rl, np.ones(len(cov_rows)), [n_open]])
    ru = np.concatenate([np.full(nz + len(cov_rows), np.inf), [n_open]])
    lb = np.zeros(m + nz)
    lb[fixed] = 1.0
    ub = np.ones(m + nz)
    integ = np.zeros(m + nz, dtype=bool)
    integ[:m] = True
    return {
        "c": c,
        "a": a,
        "rl": rl,
        "ru": ru,
        "lb": lb,
        "ub": ub,
        "int": integ,
        "offset": offset,
        "nz": (off, nz_per),
    }


def _start(sel, level, trunc, nz_info, m):
    off, nz_per = nz_info
    nz = int(off[-1])
    x = np.zeros(m + nz)
    x[sel] = 1.0
    lv = level[:, sel].min(axis=1) if len(sel) else np.full(len(level), 10**9)
    row_of_z = np.repeat(np.arange(len(level)), nz_per)
    k_of_z = np.arange(nz) - off[row_of_z] + 1
    x[m:] = (k_of_z < lv[row_of_z]).astype(np.float64)
    return x
