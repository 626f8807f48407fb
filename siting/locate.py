"""Location models on matrices: LSCP, MCLP, p-median and p-center, solved exactly with HiGHS.

The models take matrices only (rows = demand points, columns = candidate sites); turning
geometry into matrices is :mod:`siting.network`'s job. Every model returns a frozen
:class:`Solution` whose ``status`` says what was proven: "optimal" only when it was proven
(exactly with whole-number weights; with fractional weights, such as grid-cell populations or
distances, up to a relative 1e-6, the noise floor of HiGHS's feasibility tolerances), "feasible" with the proven ``gap`` when the time limit stopped the search with an
incumbent, "infeasible" when no solution exists, and "unsolved" when the time limit passed before
any solution was found.

Speed comes from shrinking the model before HiGHS sees it, never from answering heuristically:

* MCLP: rows already covered by fixed sites, rows of zero weight and rows no candidate reaches
  are dropped; a candidate whose covered rows are a subset of another's is dropped (ties keep the
  lower index); rows with identical coverage among the remaining candidates are merged with their
  weights summed. The coverage variables are continuous in [0, 1] (they are integral at any
  optimum once the sites are binary). The LP relaxation seeds an iterated local search (greedy,
  swaps, drop-and-refill kicks) whose answer is the incumbent; Lagrangian variable fixing with
  the LP duals as multipliers then fixes sites in or out and marks rows that must be covered in
  every answer at least as good as the incumbent (the incumbent keeps them all, so no optimum is
  lost). What is left goes to our own branch-and-bound over the sites
  (:mod:`siting._locate_mclpbb`: LP bounds recomputed by our own arithmetic, reduced-cost fixing
  at every node, reliability branching); only if it runs out of budget does HiGHS's MIP solve the
  model from its best answer, with restarts off (measured faster).
* LSCP: rows covered by fixed sites are dropped; dominated candidates and dominated rows (a row
  whose candidate set contains another row's is covered whenever that row is) are removed until
  nothing changes; a greedy cover is the first incumbent.
* p-median: a Lagrangian bound and an iterated swap search, then a branch-and-Benders-cut over
  the site variables (radius-level cuts found in closed form, HiGHS LPs, reduced-cost
  fixing), see :mod:`siting._locate_pmedian`.
* p-center: a search over the sorted distinct distances, each step an exact set-cover question
  ("can ``p`` sites cover every row within ``r``?") answered by the LSCP above.

Capacitated variants assign each demand row whole to one open site (single sourcing), with
``x_ij <= y_j`` linking rows and, where every row must be served, an aggregated capacity row.
The capacitated MCLP (:mod:`siting._locate_capmclp`) bounds by a Lagrangian relaxation (one
knapsack per site), searches site sets scored by a max flow and assigns rows whole by a repair
with per-site 0/1 knapsacks, then gives its best answer to HiGHS on a compact exact model
(:func:`siting._locate_prep._capacitated_cover`: a site whose reachable demand fits its capacity
serves all its rows and needs no assignment variables; only the "binding" sites get
``x_ij <= y_j`` and a capacity row; rows touching no binding site are merged), whose root LP is
solved by the interior-point method. Dominated candidates are not dropped there (not valid with
capacities).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from siting._locate_heur import (
    lscp_greedy,
    mclp_greedy_swap,
    mclp_local_search,
    pcenter_greedy,
)
from siting._locate_highs import solve_mip
from siting._locate_mclpbb import lp_relaxation, mclp_bb
from siting._locate_pmedian import solve_pmedian
from siting._locate_prep import (
    _assign_cover,
    _assign_nearest,
    _capacitated,
    _cost,
    _coverage,
    _deadline,
    _dominated_columns,
    _dominated_rows,
    _fixed,
    _left,
    _p,
    _unique_rows,
    _vector,
)

__all__ = ["Solution", "lscp", "mclp", "p_center", "p_median"]

logger = logging.getLogger(__name__)

_EMPTY = np.array([], dtype=np.int64)


@dataclass(frozen=True)
class Solution:
    """The answer of a location model.

    Attributes
    ----------
    selected
        Sorted candidate column indices of the chosen sites, fixed ones included.
    objective
        MCLP: covered weight; LSCP: number of sites; p-median: weighted distance sum;
        p-center: largest distance. ``nan`` when infeasible or unsolved.
    status
        "optimal", "feasible" (time limit, ``gap`` proven), "infeasible" or "unsolved".
    gap
        Proven relative gap between ``objective`` and the best bound (0.0 when optimal, nan when
        infeasible, inf when no bound is known).
    assignment
        Demand row -> column serving it (-1 when none).
    uncoverable
        Rows no candidate can serve (reported when that makes the problem infeasible).
    solve_time_s
        Wall time of the whole call.
    model
        "lscp", "mclp", "p_median" or "p_center".
    """

    selected: np.ndarray
    objective: float
    status: str
    gap: float
    assignment: np.ndarray
    uncoverable: np.ndarray = field(default_factory=lambda: _EMPTY.copy())
    solve_time_s: float = 0.0
    model: str = ""


# ----------------------------------------------------------------------------- LSCP


def lscp(
    coverage: object,
    *,
    fixed: object = None,
    capacity: object = None,
    demand: object = None,
    time_limit: float | None = None,
) -> Solution:
    """Location set covering: the fewest sites so that every demand row is covered.

    Parameters
    ----------
    coverage
        (rows x candidates) boolean matrix, dense or scipy sparse: ``True`` where the candidate
        can serve the row.
    fixed
        Candidate indices (or a boolean mask) that must be selected (existing sites).
    capacity
        Per candidate; with it every row is assigned whole to one open site covering it and the
        ``demand`` assigned to a site may not exceed its capacity.
    demand
        Per row (default 1 when ``capacity`` is given).
    time_limit
        Seconds for the whole call; ``None`` for none.

    Returns
    -------
    Solution
        ``objective`` is the number of sites (fixed included). When some rows cannot be covered
        by any candidate the status is "infeasible" and ``uncoverable`` lists them; with
        ``capacity`` it also lists the rows whose demand no covering candidate can hold.

    Raises
    ------
    ValueError
        For malformed arguments (shapes, negative values, indices out of range).

    Examples
    --------
    >>> import numpy as np
    >>> lscp(np.array([[1, 0], [1, 1], [0, 1]], bool)).objective
    2.0
    """
    t0 = time.perf_counter()
    deadline = _deadline(time_limit)
    a = _coverage(coverage)
    n, m = a.shape
    fx = _fixed(fixed, m)
    cap = _vector(capacity, m, "capacity", None)
    dem = _vector(demand, n, "demand", 1.0 if cap is not None else None)
    if dem is not None and cap is None:
        raise ValueError("demand is only used with capacity")

    def done(sel, obj, status, gap, assign, unc=_EMPTY):
        return Solution(
            np.sort(np.asarray(sel, dtype=np.int64)),
            float(obj),
            status,
            gap,
            assign,
            np.asarray(unc, dtype=np.int64),
            time.perf_counter() - t0,
            "lscp",
        )

    deg = np.diff(sp.csr_array(a).indptr)
    unc = np.flatnonzero(deg == 0)
    if len(unc):
        return done(_EMPTY, math.nan, "infeasible", math.nan, np.full(n, -1), unc)
    if cap is not None:
        assert dem is not None
        from siting._locate_caplscp import infeasible_rows
        from siting._locate_caplscp import solve as solve_caplscp

        status, gap, sel, assign = solve_caplscp(a, dem, fx, cap, deadline)
        obj = len(sel) if status in ("optimal", "feasible") else math.nan
        # rows no covering site can hold (empty when only the total capacity falls short)
        unc = infeasible_rows(a, dem, cap) if status == "infeasible" else _EMPTY
        return done(sel, obj, status, gap, assign, unc)
    sel_free, status, gap = _lscp_core(a, fx, deadline)
    if status in ("infeasible", "unsolved"):
        return done(_EMPTY, math.nan, status, gap, np.full(n, -1))
    sel = np.union1d(fx, sel_free)
    return done(sel, len(sel), status, gap, _assign_cover(a, sel))


def _lscp_core(
    a: sp.csc_array, fx: np.ndarray, deadline: float, max_sites: float = math.inf
) -> tuple[np.ndarray, str, float]:
    """Min-count cover of all rows by free columns, rows covered by ``fx`` dropped.

    Returns the selected free columns (original indices). With ``max_sites`` the caller only
    needs to know whether ``max_sites`` free columns suffice: status "infeasible" then means
    proven not.
    """
    n, m = a.shape
    free = np.setdiff1d(np.arange(m), fx)
    rows = np.ones(n, dtype=bool)
    if len(fx):
        rows &= np.asarray(a[:, fx].sum(axis=1)).ravel() == 0
    b = sp.csc_array(a[np.flatnonzero(rows)][:, free])
    cols = free
    if b.shape[0] == 0:
        return _EMPTY.copy(), "optimal", 0.0
    for _ in range(5):
        dcol = _dominated_columns(b)
        b, cols = sp.csc_array(b[:, ~dcol]), cols[~dcol]
        first, _inv = _unique_rows(b)
        b = sp.csc_array(b[np.sort(first)])
        drow = _dominated_rows(sp.csr_array(b))
        b = sp.csc_array(b[~drow])
        if not dcol.any() and not drow.any() and len(first) == b.shape[0]:
            break
    r, k = b.shape
    greedy = lscp_greedy(b)
    if len(greedy) <= 1 or (max_sites < math.inf and len(greedy) <= max_sites):
        if len(greedy) <= 1:
            return cols[greedy], "optimal", 0.0
        return cols[greedy], "feasible", math.inf
    start = np.zeros(k)
    start[greedy] = 1.0
    res = solve_mip(
        np.ones(k),
        b,
        np.ones(r),
        np.full(r, np.inf),
        np.zeros(k),
        np.ones(k),
        np.ones(k, dtype=bool),
        time_limit=_left(deadline),
        start=start,
    )
    if res.x is None:
        return _EMPTY.copy(), res.status, res.gap
    sel = np.flatnonzero(res.x > 0.5)
    if res.status == "feasible" and res.bound > max_sites + 1e-6:
        return cols[sel], "infeasible", math.nan
    return cols[sel], res.status, res.gap


# ----------------------------------------------------------------------------- MCLP


def mclp(
    coverage: object,
    weights: object,
    p: int,
    *,
    fixed: object = None,
    capacity: object = None,
    time_limit: float | None = None,
) -> Solution:
    """Maximal covering: at most ``p`` sites beyond the fixed ones, maximising covered weight.

    Parameters
    ----------
    coverage
        (rows x candidates) boolean matrix, dense or scipy sparse.
    weights
        Per row (population); non-negative.
    p
        Number of new sites (beyond ``fixed``).
    fixed
        Candidate indices (or boolean mask) that are always selected.
    capacity
        Per candidate; with it a row counts as covered only when assigned whole to an open site
        covering it, and the weight assigned to a site may not exceed its capacity.
    time_limit
        Seconds for the whole call; ``None`` for none.

    Returns
    -------
    Solution
        ``objective`` is the covered weight (fixed sites' coverage included).

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], bool)
    >>> mclp(cov, [5, 1, 1, 4], 1).selected.tolist()
    [0]
    """
    t0 = time.perf_counter()
    deadline = _deadline(time_limit)
    a = _coverage(coverage)
    n, m = a.shape
    w = _vector(weights, n, "weights", None)
    if w is None:
        raise ValueError("weights are required")
    fx = _fixed(fixed, m)
    p = _p(p, m, len(fx))
    cap = _vector(capacity, m, "capacity", None)

    def done(sel, status, gap, assign):
        sel = np.sort(np.asarray(sel, dtype=np.int64))
        obj = float(w[assign >= 0].sum())
        return Solution(
            sel, obj, status, gap, assign, _EMPTY.copy(), time.perf_counter() - t0, "mclp"
        )

    if cap is not None:
        return done(*_mclp_capacitated(a, w, p, fx, cap, deadline))

    free_sel, status, gap = _mclp_core(a, w, p, fx, deadline)
    sel = np.union1d(fx, free_sel)
    return done(sel, status, gap, _assign_cover(a, sel))


def _mclp_capacitated(
    a: sp.csc_array, w: np.ndarray, p: int, fx: np.ndarray, cap: np.ndarray, deadline: float
) -> tuple[np.ndarray, str, float, np.ndarray]:
    """Capacitated MCLP: (selected, status, gap, assignment); see :mod:`siting._locate_capmclp`.

    Imported here: its compiled kernels (numba) cost their import (about 0.4-0.7 s) only to
    capacitated runs, and their compilation (about 17 s CPU) once per machine (cached).
    """
    from siting._locate_capmclp import solve

    return solve(a, w, p, fx, cap, deadline)


def _mclp_core(
    a: sp.csc_array, w: np.ndarray, p: int, fx: np.ndarray, deadline: float
) -> tuple[np.ndarray, str, float]:
    n, m = a.shape
    rows = (w > 0) & (np.diff(sp.csr_array(a).indptr) > 0)
    if len(fx):
        rows &= np.asarray(a[:, fx].sum(axis=1)).ravel() == 0
    cols = np.setdiff1d(np.arange(m), fx)
    b = sp.csc_array(a[np.flatnonzero(rows)][:, cols])
    wr = w[rows]
    if p == 0 or b.shape[0] == 0:
        return _EMPTY.copy(), "optimal", 0.0
    dom = _dominated_columns(b)
    b, cols = sp.csc_array(b[:, ~dom]), cols[~dom]
    first, inv = _unique_rows(b)
    wagg = np.bincount(inv, weights=wr, minlength=len(first))
    b = sp.csc_array(b[first])
    r, k = b.shape
    logger.info("MCLP reduced %d x %d to %d x %d", n, m, r, k)
    if k <= p:
        return cols, "optimal", 0.0
    # LP relaxation: its value bounds the heuristic's search, its large y values seed it and
    # its duals drive the fixing below.
    lp = _mclp_lp(b, wagg, p, deadline)
    starts = [mclp_greedy_swap(b, wagg, p, deadline=deadline)]
    lp_bound = math.inf
    if lp is not None:
        lp_bound, y, _lam = lp
        starts.append(np.argsort(-y, kind="stable")[:p])
    budget = min(_LS_BUDGET_S, 2e-6 * b.nnz * p)
    heur, lb = mclp_local_search(
        b, wagg, p, starts=starts, budget_s=budget, deadline=deadline, upper=lp_bound
    )
    if lb >= lp_bound - 1e-9 * max(abs(lp_bound), 1.0):
        return cols[heur], "optimal", 0.0  # the LP bound is reached: proven optimal
    # Lagrangian fixing: every answer at least as good as ``heur`` keeps these fixings.
    fix = _mclp_fix(b, wagg, p, lb, lp, deadline, rounds=_FIX_ROUNDS)
    bf, wf, pf, colf, must, const = fix
    logger.info(
        "MCLP fixing: %d x %d (p=%d) left, %d rows must be covered", *bf.shape, pf, must.sum()
    )
    if pf == 0 or bf.shape[0] == 0 or bf.shape[1] <= pf:
        # nothing left to decide: the fixed-in sites (plus all remaining ones) are optimal
        # among answers at least as good as the incumbent
        sel = np.union1d(np.flatnonzero(fix.ones), colf if bf.shape[1] <= pf else _EMPTY)
        if _mclp_value(b, wagg, sel) >= lb:
            return cols[sel], "optimal", 0.0
        return cols[heur], "optimal", 0.0
    # Our own branch-and-bound over the sites (see siting._locate_mclpbb); HiGHS's MIP only when
    # it runs out of budget (at most half the time left), from its best answer.
    now = time.perf_counter()
    bb = mclp_bb(
        bf,
        wf,
        pf,
        must,
        np.flatnonzero(np.isin(colf, heur)),
        deadline=now + (deadline - now) / 2,
        cpu_budget_s=_BB_BUDGET_S,
        y0=fix.y,
    )
    logger.info("MCLP branch-and-bound: %d nodes, %d LPs, proven %s", bb.nodes, bb.lps, bb.proven)
    sel = np.union1d(np.flatnonzero(fix.ones), colf[bb.sel])
    val = _mclp_value(b, wagg, sel)
    if val >= lb:
        heur, lb = sel, val
        if bb.proven:
            return cols[heur], "optimal", 0.0
    r2, k2 = bf.shape
    in_start = np.isin(colf, heur)
    start = np.zeros(k2 + r2)
    start[:k2] = in_start
    start[k2:] = np.minimum(np.asarray(bf[:, np.flatnonzero(in_start)].sum(axis=1)).ravel(), 1.0)
    # rows: z_r - sum_j b_rj y_j <= 0 ; sum y <= p
    con = sp.vstack(
        [
            sp.hstack([-bf, sp.eye_array(r2, format="csc")]),
            sp.hstack([sp.csc_array(np.ones((1, k2))), sp.csc_array((1, r2))]),
        ],
        format="csc",
    )
    integer = np.zeros(k2 + r2, dtype=bool)
    integer[:k2] = True
    lower = np.zeros(k2 + r2)
    lower[k2:][must] = 1.0
    res = solve_mip(
        np.concatenate([np.zeros(k2), wf]),
        con,
        np.full(r2 + 1, -np.inf),
        np.concatenate([np.zeros(r2), [pf]]),
        lower,
        np.ones(k2 + r2),
        integer,
        maximize=True,
        offset=const,
        time_limit=_left(deadline),
        start=start,
        options=_MCLP_HIGHS,
    )
    if res.x is None:
        if res.status == "infeasible":  # no answer beats the incumbent
            return cols[heur], "optimal", 0.0
        bound = max(lp_bound, lb)
        return cols[heur], "feasible", (bound - lb) / max(abs(lb), 1e-10)
    sel = np.union1d(np.flatnonzero(fix.ones), colf[np.flatnonzero(res.x[:k2] > 0.5)])
    val = _mclp_value(b, wagg, sel)
    if val < lb:  # HiGHS's answer cannot be worse than its start; be safe anyway
        sel, val = heur, lb
    if res.status == "optimal":
        return cols[sel], "optimal", 0.0
    bound = max(res.bound, val)
    return cols[sel], res.status, (bound - val) / max(abs(val), 1e-10)


# HiGHS options for the reduced MCLP. Measured on the benchmark instances (bench/README.md):
# restarts (HiGHS re-presolving after its own reduced-cost fixing) cost more than they save once
# the model is already fixed down; trusting pseudo-costs from the first branching
# (``mip_pscost_minreliable`` 0) skips most strong-branching LPs; the root reduced-cost and RENS
# heuristics spend about a third of the time and find nothing better than the start (CPU s in
# HiGHS on p = 20 / 50: 3.96 / 7.78 with them, 2.74 / 3.64 without); the root spends most of
# its time separating cuts (about 9,700 on p = 20 for 0.2% of bound), and a small cut pool
# (``mip_pool_soft_limit`` 10; HiGHS's default 10,000) keeps the LP light: 2.05 / 2.17 s
# (values 3-50 all gave 2.0 s on p = 20, 2.2-3.6 s on p = 50; seeds 2 and 3 gain 25-40% too).
_MCLP_HIGHS: dict[str, object] = {
    "mip_allow_restart": False,
    "mip_pscost_minreliable": 0,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_rens": False,
    "mip_pool_soft_limit": 10,
}


# Upper limit of the MCLP local search in CPU seconds (the actual budget is 2e-6 * nnz * p up to
# this). Session 2 measured 0.6 s against HiGHS's MIP (its answer stalls early: 2,000 x 500,
# p = 20: 441,854 with any budget from 0.5 to 4 s, the optimum being 442,457). With the
# branch-and-bound, which finds better answers itself from the LP, the kicks matter less than
# their time: total CPU on seeds 1-3, p = 20 and 50 (bench/README.md, session 3): 0.6 s 14.8,
# 0.25 s 14.1, 0.1 s 13.0, 0.05 s 12.6, 0 s 13.1.
_LS_BUDGET_S = 0.05

# Lagrangian fixing rounds (each after the first re-solves the LP on the shrunken model). The
# branch-and-bound fixes at every node with its own LP duals; one round measured best (same six
# instances: 1 round 10.4 s, 2 rounds 10.7 s, 4 rounds 10.9 s).
_FIX_ROUNDS = 1

# CPU seconds for the branch-and-bound before HiGHS's MIP takes over (the six instances above
# need 0.1-3.5 s in it; HiGHS's MIP needed 0.5-10 s for the same models).
_BB_BUDGET_S = 10.0


def _mclp_value(b: sp.csc_array, w: np.ndarray, sel: np.ndarray) -> float:
    if len(sel) == 0:
        return 0.0
    return float(w[np.asarray(b[:, sel].sum(axis=1)).ravel() > 0].sum())


def _mclp_lp(b: sp.csc_array, w: np.ndarray, p: int, deadline: float = math.inf):
    """LP relaxation: (bound, y, clipped coverage-row duals) or None (also when time is short).

    With a deadline the LP gets at most half the time left, keeping the rest for the search.
    """
    r, k = b.shape
    out = lp_relaxation(
        b, w, p, None if math.isinf(deadline) else (deadline - time.perf_counter()) / 2
    )
    if out is None:
        return None
    _obj, y, dual = out
    lam = np.clip(np.abs(dual[:r]), 0.0, w)
    bound = _lagrangian(b, w, p, lam)[0]  # our own arithmetic: valid for any lam >= 0
    return bound, y[:k], lam


def _lagrangian(b, w, p, lam):
    """Bound of MCLP with coverage rows relaxed by ``lam``: (bound, c_j, order of c)."""
    c = b.T @ lam
    order = np.argsort(-c, kind="stable")
    return float(np.maximum(w - lam, 0.0).sum() + c[order[:p]].sum()), c, order


@dataclass
class _Fixed:
    b: sp.csc_array
    w: np.ndarray
    p: int
    cols: np.ndarray  # remaining columns (indices into the reduced model)
    must: np.ndarray  # per remaining row: must be covered
    const: float  # weight already covered by the fixed-in sites
    ones: np.ndarray  # mask over the reduced model's columns fixed to 1
    y: np.ndarray | None = None  # an LP answer over the columns left (the first LP's if stale)

    def __iter__(self):
        return iter((self.b, self.w, self.p, self.cols, self.must, self.const))


def _mclp_fix(b, w, p, lb, lp, deadline=math.inf, rounds=4):
    """Lagrangian variable fixing against the incumbent value ``lb``.

    With multipliers ``lam`` (the LP duals) the bound is ``sum_i max(w_i - lam_i, 0)`` plus the
    ``p`` largest ``c_j = sum_i b_ij lam_i``. If forcing ``y_j = 1`` (or 0, or leaving row ``i``
    uncovered) drops that bound below ``lb``, no answer at least as good as the incumbent does
    it, so the variable is fixed; the incumbent itself satisfies every fixing. Rows covered by
    sites fixed in are dropped (their weight becomes a constant), columns fixed out removed,
    identical rows merged again, and the LP re-solved, until nothing changes.
    """
    k0 = b.shape[1]
    cols = np.arange(k0)
    ones = np.zeros(k0, dtype=bool)
    must = np.zeros(b.shape[0], dtype=bool)
    const = 0.0
    tol = 1e-9 * max(abs(lb), 1.0)
    y_cur = y_first = None if lp is None else lp[1]  # LP answer on the current model, if any
    for it in range(rounds):
        if lp is None or p == 0 or b.shape[0] == 0 or b.shape[1] <= p:
            break
        _bound, _y, lam = lp
        bound, c, order = _lagrangian(b, w, p, lam)
        bound += const
        k = len(c)
        top = np.zeros(k, dtype=bool)
        top[order[:p]] = True
        c_p = c[order[p - 1]]
        c_next = c[order[p]] if k > p else 0.0
        f0 = ~top & (bound - c_p + c < lb - tol)
        f1 = top & (bound - c + c_next < lb - tol)
        m_new = (bound - np.maximum(w - lam, 0.0) < lb - tol) & ~must
        must |= m_new
        if not (f0.any() or f1.any()):
            break  # same columns and rows: the LP and its duals would not change
        covered = np.asarray(b[:, np.flatnonzero(f1)].sum(axis=1)).ravel() > 0
        const += float(w[covered].sum())
        ones[cols[f1]] = True
        p -= int(f1.sum())
        keep_c = ~(f0 | f1)
        b = sp.csc_array(b[np.flatnonzero(~covered)][:, np.flatnonzero(keep_c)])
        w, must, cols = w[~covered], must[~covered], cols[keep_c]
        live = np.diff(sp.csr_array(b).indptr) > 0
        b, w, must = sp.csc_array(b[np.flatnonzero(live)]), w[live], must[live]
        if b.shape[0]:
            first, inv = _unique_rows(b)
            w = np.bincount(inv, weights=w, minlength=len(first))
            must = np.bincount(inv, weights=must, minlength=len(first)) > 0
            b = sp.csc_array(b[first])
        y_cur = None
        if p == 0 or b.shape[0] == 0 or b.shape[1] <= p:
            break
        lp = _mclp_lp(b, w, p, deadline) if it + 1 < rounds else None
        y_cur = None if lp is None else lp[1]
    if y_cur is None and y_first is not None:
        y_cur = y_first[cols]  # a guide for which rows the LP needs (siting._locate_mclpbb)
    return _Fixed(b, w, p, cols, must, const, ones, y_cur)


# ----------------------------------------------------------------------------- p-median


def p_median(
    cost: object,
    p: int,
    *,
    weights: object = None,
    fixed: object = None,
    capacity: object = None,
    time_limit: float | None = None,
) -> Solution:
    """p-median: ``p`` sites beyond the fixed ones minimising total weighted distance.

    Parameters
    ----------
    cost
        (rows x candidates) distances: dense with ``np.inf`` for "not allowed", or scipy sparse
        where missing entries are not allowed (stored zeros are distance 0).
    p
        Number of new sites (exactly ``p`` beyond ``fixed``).
    weights
        Per row (population); default 1.
    fixed
        Candidate indices (or boolean mask) that are always selected.
    capacity
        Per candidate; rows are then assigned whole to open sites and the weight assigned to a
        site may not exceed its capacity.
    time_limit
        Seconds for the whole call; ``None`` for none.

    Returns
    -------
    Solution
        ``objective`` is the weighted distance sum; ``assignment`` each row's serving site.
        "infeasible" (with ``uncoverable``) when a row has no allowed candidate.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0, 4, 9], [3, 1, 8], [9, 5, 0.0]])
    >>> p_median(d, 2).selected.tolist()
    [0, 2]
    """
    t0 = time.perf_counter()
    deadline = _deadline(time_limit)
    d = _cost(cost)
    n, m = d.shape
    w = _vector(weights, n, "weights", 1.0)
    assert w is not None
    fx = _fixed(fixed, m)
    p = _p(p, m, len(fx))
    cap = _vector(capacity, m, "capacity", None)

    def done(sel, status, gap, assign, unc=_EMPTY):
        sel = np.sort(np.asarray(sel, dtype=np.int64))
        if status in ("optimal", "feasible"):
            dist = d[np.arange(n), np.maximum(assign, 0)]
            obj = float(w[w > 0] @ dist[w > 0]) if n else 0.0
        else:
            obj = math.nan
        return Solution(
            sel,
            obj,
            status,
            gap,
            assign,
            np.asarray(unc, dtype=np.int64),
            time.perf_counter() - t0,
            "p_median",
        )

    unc = np.flatnonzero(~np.isfinite(d).any(axis=1))
    if len(unc) or (n and p + len(fx) == 0):
        return done(_EMPTY, "infeasible", math.nan, np.full(n, -1), unc)
    if n == 0:
        return done(
            np.union1d(fx, np.arange(m)[~np.isin(np.arange(m), fx)][:p]),
            "optimal",
            0.0,
            np.full(0, -1),
        )
    if cap is not None:
        from siting._locate_cappmed import solve as solve_cappmed

        sel, status, gap, assign = solve_cappmed(d, w, p, fx, cap, deadline)
        return done(sel, status, gap, assign)
    sel, status, _obj, gap = solve_pmedian(d, w, p, fx, deadline)
    if status == "infeasible":
        return done(_EMPTY, status, math.nan, np.full(n, -1))
    return done(sel, status, gap, _assign_nearest(d, sel))


# ----------------------------------------------------------------------------- p-center


def p_center(
    cost: object,
    p: int,
    *,
    weights: object = None,
    fixed: object = None,
    capacity: object = None,
    time_limit: float | None = None,
) -> Solution:
    """p-center: at most ``p`` sites beyond the fixed ones minimising the largest distance.

    Solved as a search over the sorted distinct distances ``r`` between a lower bound (the
    largest nearest-candidate distance) and a greedy answer, each step asking exactly, with the
    LSCP, whether ``p`` sites cover every row within ``r``.

    Parameters
    ----------
    cost
        As for :func:`p_median`.
    p
        Number of new sites (at most ``p`` beyond ``fixed``).
    weights
        Per row demand, used with ``capacity``; rows of zero weight need no service and do not
        count in the largest distance. Default 1.
    fixed, capacity, time_limit
        As for :func:`p_median`.

    Returns
    -------
    Solution
        ``objective`` is the largest distance from a (weighted) row to its serving site.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([[0, 4, 9], [3, 1, 8], [9, 5, 0.0]])
    >>> p_center(d, 1).objective
    5.0
    """
    t0 = time.perf_counter()
    deadline = _deadline(time_limit)
    d_all = _cost(cost)
    n_all, m = d_all.shape
    w_all = _vector(weights, n_all, "weights", 1.0)
    assert w_all is not None
    fx = _fixed(fixed, m)
    p = _p(p, m, len(fx))
    cap = _vector(capacity, m, "capacity", None)
    rows = np.flatnonzero(w_all > 0)
    d, w = d_all[rows], w_all[rows]
    n = len(rows)

    def done(sel, status, gap, assign_sub, unc=_EMPTY):
        sel = np.sort(np.asarray(sel, dtype=np.int64))
        assign = np.full(n_all, -1, dtype=np.int64)
        obj = math.nan
        if status in ("optimal", "feasible"):
            assign[rows] = assign_sub
            if cap is None:
                assign = _assign_nearest(np.where(w_all[:, None] > 0, d_all, np.inf), sel)
                assign[w_all <= 0] = -1
            dist = d[np.arange(n), assign[rows]] if n else np.zeros(0)
            obj = float(dist.max()) if n else 0.0
        return Solution(
            sel,
            obj,
            status,
            gap,
            assign,
            np.asarray(unc, dtype=np.int64),
            time.perf_counter() - t0,
            "p_center",
        )

    unc = rows[~np.isfinite(d).any(axis=1)]
    if len(unc) or (n and p + len(fx) == 0):
        return done(_EMPTY, "infeasible", math.nan, None, unc)
    if n == 0:
        return done(fx, "optimal", 0.0, np.zeros(0, dtype=np.int64))
    finite = np.isfinite(d)
    lo_val = float(np.where(finite, d, np.inf).min(axis=1).max())
    if cap is None:
        heur = pcenter_greedy(d, p, fx)
        hi_val = float(d[:, heur].min(axis=1).max())
        best = (heur, None) if math.isfinite(hi_val) else None
        if best is None:
            hi_val = float(d[finite].max())
    else:
        hi_val, best = float(d[finite].max()), None
    vals = np.unique(d[finite])
    vals = vals[(vals >= lo_val) & (vals <= hi_val)]
    lo, hi = 0, len(vals) - 1  # answer index in [lo, hi]; vals[hi] feasible if best known
    hi_known = best is not None  # capacitated: the largest value is checked first
    timed_out = False
    while lo < hi or not hi_known:
        mid = (lo + hi) // 2 if hi_known else hi
        ok, sel_mid, assign_mid = _pcenter_test(d, w, vals[mid], p, fx, cap, deadline)
        if ok is None:
            timed_out = True
            break
        if ok:
            hi, best, hi_known = mid, (sel_mid, assign_mid), True
        else:
            if not hi_known:
                return done(_EMPTY, "infeasible", math.nan, None)
            lo = mid + 1
    if best is None:
        return done(_EMPTY, "unsolved", math.inf, None)
    sel, assign_sub = best
    if assign_sub is None:
        assign_sub = _assign_nearest(d, sel)
    ub = float(d[np.arange(n), assign_sub].max())
    if timed_out:
        gap = (ub - vals[lo]) / ub if ub > 0 else 0.0
        return done(sel, "feasible" if gap > 0 else "optimal", gap, assign_sub)
    return done(sel, "optimal", 0.0, assign_sub)


def _pcenter_test(d, w, r, p, fx, cap, deadline):
    """Can ``p`` sites beyond ``fx`` serve every row within ``r``? (True/False/None=unknown)."""
    cov = sp.csc_array((d <= r).astype(np.float64))
    n, m = d.shape
    if cap is None:
        sel, status, _gap = _lscp_core(cov, fx, deadline, max_sites=p)
        if status == "infeasible":
            return False, None, None
        if status not in ("optimal", "feasible"):
            return None, None, None
        if len(sel) <= p:
            s = np.union1d(fx, sel)
            return True, s, None
        if status == "optimal":
            return False, None, None
        return None, None, None
    coo = sp.coo_array(cov)
    status, _gap, sel, assign = _capacitated(
        coo.row,
        coo.col,
        np.zeros(coo.nnz),
        np.zeros(m),
        w,
        cap,
        fx,
        n,
        m,
        must_assign=True,
        n_open=(-np.inf, p + len(fx)),
        maximize=False,
        deadline=deadline,
    )
    if status == "infeasible":
        return False, None, None
    if status in ("optimal", "feasible"):
        return True, sel, assign
    return None, None, None
