"""Capacitated LSCP (single sourcing): the fewest sites so that every row is served whole by
one open site covering it, within the sites' capacities.

:func:`solve` has the contract used by :func:`siting.locate.lscp` with ``capacity``. Pipeline:

1. Reductions and proofs of infeasibility: a pair whose demand alone exceeds the site's
   capacity can never be used; a row left without pairs makes the model infeasible
   (:func:`infeasible_rows` lists them), and so does a max flow with every site open that
   cannot carry all the demand (the fractional relaxation).
2. Lower bound: the uncapacitated LSCP over the usable pairs (HiGHS, fast; its bound when the
   time is short), and the fewest sites whose capacities can hold the total demand.
3. Incumbent: that cover, sites added by their share of the demand the max flow leaves
   unserved until the flow carries everything, a single-source assignment (the max-flow repair
   of :mod:`siting._locate_capmclp`, else HiGHS on the assignment with those sites open), then
   sites dropped while the rest still serve everything.
4. The LP relaxation of the compact exact model (:class:`_Compact`: only the "binding" sites,
   whose reachable demand exceeds their capacity, get assignment variables; rows with the same
   non-binding sites merged; an aggregated capacity row), by interior point: bound rounded up.
5. While time allows, a set of one site fewer is searched: first by closing two open sites
   and opening one (:func:`_two_for_one`), then by swaps scored by the max flow, with random
   restarts (:func:`_fewer`); each full-flow set gets a single-source assignment.
6. HiGHS's MIP on the compact model from the incumbent, only when the time left leaves room for
   its overrun (its root cut loop does not stop at the time limit: measured 103 s for a 43 s
   limit on the loaded 2,000 x 500 benchmark), so the deadline holds: when the LP took under
   1% of the time left (small models; no time limit), stopped 20 LP times before the deadline.

"optimal" is reported only when the answer reaches the bound or HiGHS proves it.

Zero-demand rows still need an open site covering them. In the flows they carry a tiny
demand ``eps`` and each site ``eps`` of extra capacity per zero-demand row it covers: a
relaxation of the coverage condition, so "all flow served" stays necessary for feasibility;
every answer is checked on the true demands and capacities.
"""

from __future__ import annotations

import logging
import math
import time

import highspy
import numpy as np
import scipy.sparse as sp

from siting._locate_capmclp import _checked, _flow, _flow_value, _repair, _swap_values
from siting._locate_highs import _model as _hmodel
from siting._locate_highs import solve_mip
from siting._locate_prep import _EMPTY, _capacitated_cover, _left, _unique_rows

__all__ = ["infeasible_rows", "solve"]

logger = logging.getLogger(__name__)

# HiGHS options for the compact model: its root LP is solved much faster by IPM (measured on
# the 2,000 x 500 benchmark at capacity 1.5x: bound 96 after 20 s with IPM, 40 with simplex).
_CAP_HIGHS: dict[str, object] = {"mip_lp_solver": "ipm"}

# random restarts of the swap search for one site fewer before it gives up (about 20 fit in
# 10 s on the 2,000 x 500 benchmark; small models give up quickly and leave it to HiGHS)
_MAX_KICKS = 100


def infeasible_rows(a: sp.csc_array, demand: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Rows whose demand exceeds the capacity of every site covering them (or with no site)."""
    coo = sp.coo_array(a)
    ok = demand[coo.row] <= cap[coo.col]
    servable = np.zeros(a.shape[0], dtype=bool)
    servable[coo.row[ok]] = True
    return np.flatnonzero(~servable)


class _Model:
    """The usable pairs and the flow / assignment checks for site sets."""

    def __init__(self, a: sp.csc_array, demand: np.ndarray, cap: np.ndarray, fx: np.ndarray):
        n, m = a.shape
        self.n, self.m = n, m
        self.d = demand
        self.cap = cap
        self.fx = fx
        coo = sp.coo_array(a)
        ok = demand[coo.row] <= cap[coo.col]
        b = sp.csc_array((np.ones(int(ok.sum())), (coo.row[ok], coo.col[ok])), shape=(n, m))
        b.sort_indices()
        self.b = b
        self.bt = sp.csr_array(b.T)
        self.ip = b.indptr.astype(np.int64)
        self.ix = b.indices.astype(np.int64)
        # pairs carrying positive demand (for the repair, which skips zero rows anyway)
        pos = demand[self.ix] > 0
        self.pos = sp.csc_array(
            (
                np.ones(int(pos.sum())),
                (self.ix[pos], np.repeat(np.arange(m), np.diff(self.ip))[pos]),
            ),
            shape=(n, m),
        )
        self.pos.sort_indices()
        self.pip = self.pos.indptr.astype(np.int64)
        self.pix = self.pos.indices.astype(np.int64)
        zero = demand <= 0
        self.zero = zero
        dpos = demand[~zero]
        eps = 1e-3 * float(dpos.min()) if len(dpos) else 1.0
        self.ws = np.where(zero, eps, demand).astype(np.float64)
        self.caps = cap + eps * (self.bt @ zero.astype(np.float64))
        self.total = float(self.ws.sum())
        self.tol = 1e-9 * max(1.0, self.total)
        if zero.any():
            self.tol = min(self.tol, 0.25 * eps)
        self.rowmap = np.full(n, -1, dtype=np.int64)
        self._nb: sp.csr_array | None = None

    def flow(self, sites: np.ndarray) -> float:
        if len(sites) == 0:
            return 0.0
        return float(_flow_value(self.ip, self.ix, self.ws, self.caps, sites, self.rowmap))

    def neighbours(self) -> sp.csr_array:
        """Sites sharing a row, per site (csr, diagonal dropped)."""
        if self._nb is None:
            nb = sp.csr_array(((self.bt @ self.b) > 0).astype(np.float64))
            nb.setdiag(0)
            nb.eliminate_zeros()
            nb.sort_indices()
            self._nb = nb
        return self._nb

    def full(self, sites: np.ndarray) -> bool:
        return self.flow(sites) >= self.total - self.tol

    def unserved(self, sites: np.ndarray) -> np.ndarray:
        """Demand per row the max flow through ``sites`` leaves unserved."""
        if len(sites) == 0:
            return self.ws.copy()
        _v, pf = _flow(self.ip, self.ix, self.ws, self.caps, sites, self.rowmap)
        rows = np.concatenate([self.ix[self.ip[j] : self.ip[j + 1]] for j in sites])
        got = np.bincount(rows, weights=pf, minlength=self.n)
        return np.maximum(self.ws - got, 0.0)

    def assign(self, sites: np.ndarray, deadline: float) -> np.ndarray | None:
        """A single-source assignment (row -> site) with ``sites`` open, or None if none found."""
        sites = np.sort(np.asarray(sites, dtype=np.int64))
        if len(sites) == 0:
            return None
        d, cap = self.d, self.cap
        asg = np.full(self.n, -1, dtype=np.int64)
        if (d > 0).any():
            asg = _checked(
                self.pos, d, cap, _repair(self.pip, self.pix, d, cap, sites, self.rowmap)
            )
        if self.zero.any():
            z = np.flatnonzero(self.zero)
            sub = sp.csr_array(self.b[z][:, sites])
            has = np.diff(sub.indptr) > 0
            if not has.all():
                return None
            asg[z] = sites[sub.indices[sub.indptr[:-1]]]
        if (asg >= 0).all():
            return asg
        left = _left(deadline)
        budget = 2.0 if left is None else min(2.0, 0.2 * left)
        if budget < 0.02:
            return None
        sub = sp.csc_array(self.b[:, sites])
        st, _g, _bd, _sel, sasg = _capacitated_cover(
            sub,
            d,
            cap[sites],
            np.arange(len(sites)),
            rows=np.arange(self.n),
            row_obj=None,
            y_obj=np.ones(len(sites)),
            n_open=None,
            deadline=time.perf_counter() + budget,
        )
        if st not in ("optimal", "feasible") or (sasg < 0).any():
            return None
        out = sites[sasg]
        load = np.bincount(out, weights=d, minlength=self.m)
        return out if (load <= cap * (1 + 1e-12) + 1e-9).all() else None  # HiGHS tolerances

    def valid(self, sel: np.ndarray, asg: np.ndarray) -> bool:
        """Exact check of an answer on the original data."""
        if (asg < 0).any() or not np.isin(asg, sel).all() or not np.isin(self.fx, sel).all():
            return False
        if not (np.asarray(self.b[np.arange(self.n), asg]).ravel() > 0).all():
            return False
        load = np.bincount(asg, weights=self.d, minlength=self.m)
        return bool((load <= self.cap * (1 + 1e-12) + 1e-9).all())


def solve(
    a: sp.csc_array, demand: np.ndarray, fx: np.ndarray, cap: np.ndarray, deadline: float
) -> tuple[str, float, np.ndarray, np.ndarray]:
    """(status, relative gap, selected incl. fixed, row -> site) for coverage ``a`` (rows x
    sites), row ``demand``, fixed sites ``fx`` and site capacities ``cap``."""
    n, m = a.shape
    demand = np.asarray(demand, dtype=np.float64)
    cap = np.asarray(cap, dtype=np.float64)
    fx = np.unique(np.asarray(fx, dtype=np.int64))
    none = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return "optimal", 0.0, fx, none
    if len(infeasible_rows(a, demand, cap)):
        return "infeasible", math.nan, _EMPTY.copy(), none
    md = _Model(sp.csc_array(a), demand, cap, fx)
    if not md.full(np.arange(m)):
        return "infeasible", math.nan, _EMPTY.copy(), none

    def left() -> float:
        v = _left(deadline)
        return math.inf if v is None else v

    # --- lower bound
    t0 = time.perf_counter()
    lb = _count_bound(md, fx)
    cover, cover_lb = _cover(md.b, fx, deadline)
    lb = max(lb, cover_lb)
    logger.debug("bound %d, cover %d at %.2fs", lb, len(cover), time.perf_counter() - t0)

    # --- incumbent
    best_sel, best_asg = _construct(md, np.union1d(fx, cover), deadline)
    if best_sel is not None:
        logger.debug("constructed %d at %.2fs", len(best_sel), time.perf_counter() - t0)
        if len(best_sel) <= lb:
            return "optimal", 0.0, best_sel, best_asg

    # --- the compact model's LP bound (interior point; its time sets HiGHS's overrun margin)
    cm = _Compact(md)
    t_lp = time.perf_counter()
    lp = cm.lp_bound(min(0.7 * left(), 120.0))
    t_lp = time.perf_counter() - t_lp
    if math.isfinite(lp):
        lb = max(lb, _count_from_lp(lp))
    logger.debug("LP %.3f (%.2fs), bound %d", lp, t_lp, lb)
    if best_sel is not None and len(best_sel) <= lb:
        return "optimal", 0.0, best_sel, best_asg

    # --- one site fewer, while the swap search finds it; HiGHS's MIP only where its overrun
    # cannot matter: its root cut loop does not stop at the time limit (2,000 x 500 benchmark,
    # capacity 1.5x, loaded machine: 103 s for a 43 s limit), so the MIP runs only when the LP
    # took under 1% of the time left, stopped 20 LP times before the deadline
    margin = 20.0 * t_lp + 0.2
    use_mip = t_lp <= 0.01 * left()
    share = 0.3 * (left() - margin) if use_mip else left() - 0.1
    search_end = time.perf_counter() + min(share, 60.0)
    while best_sel is not None and len(best_sel) - 1 >= lb:
        if search_end - time.perf_counter() < 0.1:
            break
        found = _fewer(md, best_sel, best_asg, search_end)
        if found is None:
            break
        best_sel, best_asg = found
        logger.debug("search %d at %.2fs", len(best_sel), time.perf_counter() - t0)
    if best_sel is not None and len(best_sel) <= lb:
        return "optimal", 0.0, best_sel, best_asg

    # --- HiGHS on the compact model from the incumbent, stopped early enough for its overrun
    limit = left() - margin if math.isfinite(left()) else None
    if use_mip:
        status, bound, sel, asg = cm.mip(best_sel, best_asg, limit)
        logger.debug("MIP %s bound %s at %.2fs", status, bound, time.perf_counter() - t0)
        if status == "infeasible":
            return "infeasible", math.nan, _EMPTY.copy(), none
        if sel is not None and asg is not None:
            if best_sel is None or len(sel) < len(best_sel):
                best_sel, best_asg = np.sort(sel), asg
            if status == "optimal":
                return "optimal", 0.0, best_sel, best_asg
        if math.isfinite(bound):
            lb = max(lb, math.ceil(bound - 1e-6))
    if best_sel is None or best_asg is None:
        return "unsolved", math.inf, _EMPTY.copy(), none
    if len(best_sel) <= lb:
        return "optimal", 0.0, best_sel, best_asg
    return "feasible", (len(best_sel) - lb) / len(best_sel), best_sel, best_asg


def _count_bound(md: _Model, fx: np.ndarray) -> int:
    """Fewest sites whose capacities (each at most its reachable demand) hold all the demand."""
    reach = md.bt @ md.d
    room = np.minimum(md.cap, reach)
    need = float(md.d.sum()) - float(room[fx].sum())
    if need <= 1e-9 * max(1.0, float(md.d.sum())):
        return len(fx)
    free = np.setdiff1d(np.arange(md.m), fx)
    acc = np.cumsum(np.sort(room[free])[::-1])
    k = int(np.searchsorted(acc, need * (1 - 1e-12)))
    return len(fx) + k + 1


def _cover(b: sp.csc_array, fx: np.ndarray, deadline: float) -> tuple[np.ndarray, int]:
    """(free sites of a small cover of all rows with the fixed sites open, a lower bound on the
    sites of any cover, fixed included): HiGHS's LSCP, its bound when stopped by the time."""
    from siting.locate import _lscp_core  # siting.locate imports this module lazily

    left = _left(deadline)
    sub_deadline = deadline if left is None else time.perf_counter() + 0.4 * left
    sel, status, gap = _lscp_core(b, fx, sub_deadline)
    if status not in ("optimal", "feasible"):
        from siting._locate_heur import lscp_greedy

        return lscp_greedy(b), len(fx)
    sel = np.asarray(sel, dtype=np.int64)
    if status == "optimal":
        return sel, len(fx) + len(sel)
    if not math.isfinite(gap):
        return sel, len(fx)
    # gap = (found - bound) / found for the free sites
    return sel, len(fx) + max(math.ceil(len(sel) * (1.0 - gap) - 1e-6), 0)


def _construct(
    md: _Model, start: np.ndarray, deadline: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """A feasible answer grown from ``start``, then sites dropped while it stays feasible."""
    sel = np.asarray(start, dtype=np.int64)
    is_open = np.zeros(md.m, dtype=bool)
    is_open[sel] = True
    while True:
        while not md.full(sel):
            if _left_s(deadline) <= 0:
                return None, np.full(md.n, -1, dtype=np.int64)
            un = md.unserved(sel)
            gain = np.minimum(md.caps, md.bt @ un)
            gain[is_open] = -1.0
            j = int(np.argmax(gain))
            if gain[j] <= 0:  # re-routing needed: score by the max flow itself
                closed = np.flatnonzero(~is_open)
                vals = np.full(len(closed), -np.inf)
                for q, k in enumerate(closed):  # one max flow per closed site: watch the clock
                    if _left_s(deadline) <= 0:
                        return None, np.full(md.n, -1, dtype=np.int64)
                    vals[q] = md.flow(np.append(sel, k))
                j = int(closed[int(np.argmax(vals))])
            sel = np.append(sel, j)
            is_open[j] = True
        asg = md.assign(sel, deadline)
        if asg is not None:
            break
        if is_open.all() or _left_s(deadline) <= 0:
            return None, np.full(md.n, -1, dtype=np.int64)
        # add the closed site with the most room where the assignment is tight
        j = _tight_site(md, sel, is_open)
        sel = np.append(sel, j)
        is_open[j] = True
    return _drop(md, np.sort(sel), asg, deadline)


def _tight_site(md: _Model, sel: np.ndarray, is_open: np.ndarray) -> int:
    """Closed site covering the most demand of the open sites' rows, scaled by its room."""
    load_rows = np.zeros(md.n)
    load_rows[md.b[:, sel].indices] = md.d[md.b[:, sel].indices]
    gain = np.minimum(md.cap, md.bt @ load_rows) + 1e-9 * (md.bt @ np.ones(md.n))
    gain[is_open] = -1.0
    return int(np.argmax(gain))


def _drop(
    md: _Model, sel: np.ndarray, asg: np.ndarray, deadline: float
) -> tuple[np.ndarray, np.ndarray]:
    """Close free sites (least loaded first) while the others still serve every row."""
    load = np.bincount(asg, weights=md.d, minlength=md.m)
    isfx = np.zeros(md.m, dtype=bool)
    isfx[md.fx] = True
    for j in sel[np.argsort(load[sel], kind="stable")]:
        if isfx[j] or _left_s(deadline) < 0.05:
            continue
        rest = sel[sel != j]
        if len(rest) == 0 or not md.full(rest):
            continue
        a2 = md.assign(rest, deadline)
        if a2 is not None:
            sel, asg = rest, a2
    return sel, asg


def _count_from_lp(lp: float) -> int:
    """The fewest sites an LP value ``lp`` proves: ``lp`` rounded up. Interior point without
    crossover gives the objective to about 1e-8 relative, so a whole-number optimum may come
    out slightly above it; round up only past a safe margin (a smaller bound stays valid)."""
    return math.ceil(lp - 1e-5 * max(1.0, abs(lp)))


def _left_s(deadline: float) -> float:
    v = _left(deadline)
    return math.inf if v is None else v


def _fewer(
    md: _Model, sel: np.ndarray, asg: np.ndarray, end: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """A feasible answer with one site fewer than ``sel``, or None by the ``time.perf_counter()``
    value ``end``.

    First :func:`_two_for_one`; then a swap search on the max flow with that many sites, from
    the best set it tried: each open free site (random order) is
    replaced by the best of its neighbours (closed sites sharing a row with it) when that
    raises the flow (:func:`siting._locate_capmclp._swap_values`); when a pass changes nothing,
    a few random sites are swapped for the best closed sites by the demand they could take (at
    most ``_MAX_KICKS`` times). A set whose flow serves everything is tried for a single-source
    assignment.
    """
    fx = md.fx
    isfx = np.zeros(md.m, dtype=bool)
    isfx[fx] = True
    free_sel = sel[~isfx[sel]]
    p = len(free_sel) - 1
    if p < 0:
        return None
    nfix = len(fx)
    load = np.bincount(asg, weights=md.d, minlength=md.m)
    rng = np.random.default_rng(len(sel))
    nb = md.neighbours()
    # first "two for one": close two open sites sharing rows, open the best of their closed
    # neighbours (pairs of least load first); the best such set starts the swap search
    found, sites = _two_for_one(md, sel, load, isfx, end)
    if found is not None:
        return found
    if sites is None:  # start: without the least loaded free site
        sites = np.concatenate([fx, free_sel[np.argsort(-load[free_sel], kind="stable")][:p]])
    is_open = np.zeros(md.m, dtype=bool)
    is_open[sites] = True
    f0 = md.flow(sites)
    tried: set[tuple[int, ...]] = set()
    kicks = 0
    while time.perf_counter() < end and kicks < _MAX_KICKS:
        if f0 >= md.total - md.tol:
            key = tuple(sorted(int(j) for j in sites))
            if key not in tried:
                tried.add(key)
                cand = np.sort(sites)
                new = md.assign(cand, end)
                if new is not None:
                    return _drop(md, cand, new, end)
            improved = False
        else:
            improved = False
            for pos in nfix + rng.permutation(p):
                if time.perf_counter() >= end or f0 >= md.total - md.tol:
                    break
                j = sites[pos]
                cand = nb.indices[nb.indptr[j] : nb.indptr[j + 1]]
                cand = cand[~is_open[cand] & ~isfx[cand]]
                if len(cand) == 0:
                    continue
                vals = _swap_values(md.ip, md.ix, md.ws, md.caps, sites, pos, cand, md.rowmap)
                k = int(np.argmax(vals))
                if vals[k] > f0 + md.tol:
                    is_open[j] = False
                    is_open[cand[k]] = True
                    sites[pos] = cand[k]
                    f0 = float(vals[k])
                    improved = True
        if not improved:
            # kick: drop a few random free sites, refill by the demand left unserved
            kicks += 1
            if p == 0:
                return None
            q = int(rng.integers(1, max(1, p // 8) + 1))
            for pos in nfix + rng.choice(p, size=q, replace=False):
                is_open[sites[pos]] = False
                sites[pos] = -1
            keep = sites[sites >= 0]
            for _ in range(q):
                un = md.unserved(keep)
                gain = np.minimum(md.caps, md.bt @ un) + 1e-12 * rng.random(md.m)
                gain[is_open | isfx] = -np.inf
                k = int(np.argmax(gain))
                keep = np.append(keep, k)
                is_open[k] = True
            sites = np.concatenate([fx, keep[nfix:]])
            f0 = md.flow(sites)
    return None


def _two_for_one(
    md: _Model, sel: np.ndarray, load: np.ndarray, isfx: np.ndarray, end: float
) -> tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """(answer with one site fewer or None, the best site set tried: fixed first, or None)."""
    nb = md.neighbours()
    is_open = np.zeros(md.m, dtype=bool)
    is_open[sel] = True
    pairs = []
    for j1 in sel[~isfx[sel]]:
        n1 = nb.indices[nb.indptr[j1] : nb.indptr[j1 + 1]]
        for j2 in n1[is_open[n1] & ~isfx[n1] & (n1 > j1)]:
            pairs.append((load[j1] + load[j2], int(j1), int(j2)))
    pairs.sort()
    best_v, best_set = -1.0, None
    for _l, j1, j2 in pairs:
        if time.perf_counter() >= end:
            break
        n1 = nb.indices[nb.indptr[j1] : nb.indptr[j1 + 1]]
        n2 = nb.indices[nb.indptr[j2] : nb.indptr[j2 + 1]]
        cand = np.union1d(n1, n2)
        cand = cand[~is_open[cand] & ~isfx[cand]]
        if len(cand) == 0:
            continue
        rest = np.concatenate([md.fx, sel[~isfx[sel] & (sel != j2)]])
        pos = int(np.flatnonzero(rest == j1)[0])
        vals = _swap_values(md.ip, md.ix, md.ws, md.caps, rest, pos, cand, md.rowmap)
        k = int(np.argmax(vals))
        trial = rest.copy()
        trial[pos] = cand[k]
        if vals[k] > best_v:
            best_v, best_set = float(vals[k]), trial
        if vals[k] >= md.total - md.tol:
            cset = np.sort(trial)
            new = md.assign(cset, end)
            if new is not None:
                return _drop(md, cset, new, end), best_set
    return None, best_set


class _Compact:
    """The compact exact model over the usable pairs: columns y (m) then x (binding pairs).

    Rows: one cover row per distinct row set (``sum_{non-binding j} y_j + sum_{binding j}
    x_ij >= 1``), ``x_ij <= y_j``, ``sum_i d_i x_ij <= cap_j y_j`` per binding site, and the
    aggregated capacity ``sum_j min(cap_j, reach_j) y_j >= total demand``.
    """

    def __init__(self, md: _Model):
        n, m = md.n, md.m
        coo = sp.coo_array(md.b)
        pr, pc = coo.row, coo.col
        reach = np.bincount(pc, weights=md.d[pr], minlength=m)
        bind = reach > md.cap
        on_b = bind[pc]
        self.br, self.bc = pr[on_b], pc[on_b]
        kb = len(self.br)
        self.bind = bind
        # cover rows: y part (non-binding pairs) and x part (binding pairs); duplicates merged
        cov = sp.csr_array(
            (np.ones(len(pr)), (pr, np.where(on_b, m + np.cumsum(on_b) - 1, pc))),
            shape=(n, m + kb),
        )
        plain = np.flatnonzero(np.diff(sp.csr_array(cov[:, m:]).indptr) == 0)
        keep = np.ones(n, dtype=bool)
        if len(plain) > 1:
            first, _inv = _unique_rows(sp.csc_array(cov[plain]))
            keep[plain] = False
            keep[plain[first]] = True
        cov = cov[np.flatnonzero(keep)]
        xs = m + np.arange(kb)
        link = sp.csr_array(
            (
                np.concatenate([np.ones(kb), -np.ones(kb)]),
                (np.tile(np.arange(kb), 2), np.concatenate([xs, self.bc])),
            ),
            shape=(kb, m + kb),
        )
        bs = np.flatnonzero(bind)
        bpos = np.searchsorted(bs, self.bc)
        capr = sp.csr_array(
            (
                np.concatenate([md.d[self.br], -md.cap[bs]]),
                (np.concatenate([bpos, np.arange(len(bs))]), np.concatenate([xs, bs])),
            ),
            shape=(len(bs), m + kb),
        )
        agg = sp.csr_array(np.concatenate([np.minimum(md.cap, reach), np.zeros(kb)])[None, :])
        self.a = sp.vstack([cov, link, capr, agg], format="csc")
        nc = cov.shape[0]
        self.rl = np.concatenate([np.ones(nc), np.full(kb + len(bs), -np.inf), [float(md.d.sum())]])
        self.ru = np.concatenate([np.full(nc, np.inf), np.zeros(kb + len(bs)), [np.inf]])
        self.lower = np.zeros(m + kb)
        self.lower[md.fx] = 1.0
        self.c = np.concatenate([np.ones(m), np.zeros(kb)])
        self.md = md

    def lp_bound(self, time_limit: float) -> float:
        """The LP relaxation's value by HiGHS's interior point method (-inf if not solved)."""
        if time_limit <= 0.05:
            return -math.inf
        h = highspy.Highs()
        h.silent()
        nv = len(self.c)
        h.passModel(_hmodel(self.c, self.a, self.lower, np.ones(nv), self.rl, self.ru, False))
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
        h.setOptionValue("time_limit", float(time_limit))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return -math.inf
        return float(h.getInfo().objective_function_value)

    def mip(self, sel: np.ndarray | None, asg: np.ndarray | None, time_limit: float | None):
        """HiGHS on the model from the answer (sel, asg): (status, bound, sel, asg)."""
        md = self.md
        m = md.m
        start = None
        if sel is not None and asg is not None:
            start = np.zeros(len(self.c))
            start[sel] = 1.0
            start[m:] = asg[self.br] == self.bc
        res = solve_mip(
            self.c,
            self.a,
            self.rl,
            self.ru,
            self.lower,
            np.ones(len(self.c)),
            np.ones(len(self.c), dtype=bool),
            time_limit=time_limit,
            start=start,
            options=_CAP_HIGHS,
        )
        if res.x is None:
            return res.status, res.bound, None, None
        y = res.x[:m] > 0.5
        new_sel = np.flatnonzero(y)
        new_asg = np.full(md.n, -1, dtype=np.int64)
        xon = res.x[m:] > 0.5
        new_asg[self.br[xon]] = self.bc[xon]
        coo = sp.coo_array(md.b)
        nb = np.flatnonzero(~self.bind[coo.col] & y[coo.col])
        new_asg[coo.row[nb]] = coo.col[nb]
        if not md.valid(new_sel, new_asg):
            fixed = md.assign(new_sel, math.inf)
            if fixed is None:
                return res.status, res.bound, None, None
            new_asg = fixed
        return res.status, res.bound, new_sel, new_asg
