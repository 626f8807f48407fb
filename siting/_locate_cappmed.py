"""Capacitated p-median (single sourcing): ``p`` sites beyond the fixed ones, every row served
whole by one open site at finite cost, within the sites' capacities, least weighted cost.

:func:`solve` has the contract used by :func:`siting.locate.p_median` with ``capacity``.

Steps (rows of weight zero need no service: they are left out and given their nearest open
site at the end; pairs whose row alone exceeds the site's capacity are dropped):

1. Starts: the knapsack values' best sites and the uncapacitated p-median local search
   (:mod:`siting._locate_pmheur`). A site set is assigned by :func:`_assign`: transportation
   prices per site (subgradient on the capacity rows), a regret greedy on the priced costs,
   repair of rows left over (moving other rows out), then row shifts and row swaps (numba).
2. Site swaps (:func:`_swap_search`): each (open free site, closed site) scored by the priced
   nearest assignment, the closed site saving at most its best rows that fit its capacity;
   the best 30 assigned exactly, the first improving one taken, repeated.
3. Lagrangian relaxation of "each row is served once" (multipliers ``u_i``): per site a
   knapsack ``min sum_i (w_i d_ij - u_i) x_ij`` s.t. ``sum_i w_i x_ij <= cap_j``, as an LP
   (greedy by ratio) for every site and as a 0/1 knapsack (branch and bound, node limit) for
   the fixed and the best free sites; the fixed plus the ``p`` best free sites open. Polyak
   subgradient steps towards the incumbent from ``u_i`` = the row's second-cheapest cost. The
   relaxation's site sets are assigned too; site swaps again on the best answer.
4. Reduced-cost fixing at every good multiplier vector: free sites that cannot be opened or
   closed, pairs whose forced use lifts the bound above the incumbent (the LP knapsack's
   reduced cost). Then HiGHS on the single-source model over the pairs left from the
   incumbent: first restricted to each row's few cheapest pairs at the incumbent's and the
   relaxation's frequent sites (a heuristic), then, when small enough (or without a time
   limit), over all of them. Solutions using a dropped pair or site cost at least the
   incumbent, so the reported bound is ``max(Lagrangian, min(HiGHS bound, incumbent))``.

"optimal" only when the bound reaches the incumbent or HiGHS proves the reduced model.

Deadline: the set-up and the first start (the knapsack values' best sites, one assignment) always
run; every later phase starts only before the deadline (the p-median local search only when the
time left covers its greedy fill, about ``p`` passes over the costs, which does not look at the
clock) and stops at it. The answer so far is then returned as "feasible" with the gap to the
bound known at that point, or "unsolved" when the first start found none.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import scipy.sparse as sp
from numba import njit

from siting._locate_highs import solve_lp, solve_mip
from siting._locate_pmheur import pmedian_local_search
from siting._locate_prep import _left

__all__ = ["solve"]

logger = logging.getLogger(__name__)

_EMPTY = np.array([], dtype=np.int64)
_NODES = 300  # node limit of a 0/1 knapsack (unproven: its LP value stands)
_MIP_RESERVE_S = 0.5  # seconds kept back from a HiGHS solve (building the model, reading it)
_MIP_MIN_S = 0.05  # HiGHS is not started with less time than this


def _past(deadline: float) -> bool:
    """Whether the deadline has passed."""
    return time.perf_counter() >= deadline


def _mip_has_time(deadline: float) -> bool:
    """Whether a HiGHS solve (:func:`_mip`) could still start before the deadline."""
    left = _left(deadline)
    return left is None or left > _MIP_RESERVE_S + _MIP_MIN_S


# ----------------------------------------------------------------------------- kernels


@njit(cache=True)
def _by_ratio(ptr, idx, cst, w, u, j):  # pragma: no cover - compiled
    """Site ``j``'s pair positions ``k`` with a positive profit ``u_i - c_ij``, the best profit
    per unit of weight first (the order of the LP knapsack)."""
    a, b = ptr[j], ptr[j + 1]
    cnt = 0
    for k in range(a, b):
        if u[idx[k]] - cst[k] > 0.0:
            cnt += 1
    ratio = np.empty(cnt)
    ks = np.empty(cnt, np.int64)
    q = 0
    for k in range(a, b):
        pr = u[idx[k]] - cst[k]
        if pr > 0.0:
            ratio[q] = pr / w[idx[k]]
            ks[q] = k
            q += 1
    return ks[np.argsort(-ratio)]


@njit(cache=True)
def _knapsacks(ptr, idx, cst, w, cap, u, rho, crit):  # pragma: no cover - compiled
    """Per site the LP knapsack ``rho_j = min sum (c_ij - u_i) x_ij`` (<= 0) and its critical
    ratio (the capacity row's dual, 0 when the profitable rows all fit)."""
    m = len(ptr) - 1
    for j in range(m):
        a, b = ptr[j], ptr[j + 1]
        tw = 0.0
        tp = 0.0
        for k in range(a, b):
            pr = u[idx[k]] - cst[k]
            if pr > 0.0:
                tw += w[idx[k]]
                tp += pr
        if tw <= cap[j]:
            rho[j] = -tp
            crit[j] = 0.0
            continue
        room = cap[j]
        val = 0.0
        lam = 0.0
        for k in _by_ratio(ptr, idx, cst, w, u, j):
            pr = u[idx[k]] - cst[k]
            wi = w[idx[k]]
            if wi <= room:
                val += pr
                room -= wi
                lam = pr / wi
            else:
                val += pr * room / wi
                lam = pr / wi
                break
        rho[j] = -val
        crit[j] = lam


@njit(cache=True)
def _knap_int(ptr, idx, cst, w, cap, u, sites, rho, use, add_use, limit):  # pragma: no cover
    """0/1 knapsacks (depth-first branch and bound, LP bounds) of the ``sites``: ``rho[j]`` set
    to minus the best profit when proven within ``limit`` nodes (left as is otherwise); with
    ``add_use`` the rows taken (the LP's when unproven) are added to ``use``."""
    for j in sites:
        ks = _by_ratio(ptr, idx, cst, w, u, j)
        cnt = len(ks)
        pp = np.empty(cnt)
        ww = np.empty(cnt)
        rr = np.empty(cnt, np.int64)
        for q in range(cnt):
            k = ks[q]
            rr[q] = idx[k]
            pp[q] = u[idx[k]] - cst[k]
            ww[q] = w[idx[k]]
        c = cap[j]
        # greedy incumbent
        best = 0.0
        room = c
        xb = np.zeros(cnt, np.bool_)
        for q in range(cnt):
            if ww[q] <= room:
                room -= ww[q]
                best += pp[q]
                xb[q] = True
        # DFS: x[q] decided for q < level; stack of (level, value, weight, include flag)
        x = np.zeros(cnt, np.bool_)
        st_l = np.empty(2 * cnt + 2, np.int64)
        st_v = np.empty(2 * cnt + 2)
        st_w = np.empty(2 * cnt + 2)
        st_x = np.empty(2 * cnt + 2, np.bool_)
        top = 0
        st_l[0], st_v[0], st_w[0], st_x[0] = 0, 0.0, 0.0, False
        top = 1
        nodes = 0
        proven = True
        while top > 0:
            top -= 1
            lvl, v, wt, inc = st_l[top], st_v[top], st_w[top], st_x[top]
            if lvl > 0:
                x[lvl - 1] = inc
            nodes += 1
            if nodes > limit:
                proven = False
                break
            # LP bound from lvl
            ub = v
            rm = c - wt
            q = lvl
            while q < cnt and ww[q] <= rm:
                ub += pp[q]
                rm -= ww[q]
                q += 1
            if q < cnt:
                ub += pp[q] * rm / ww[q]
            if ub <= best:
                continue
            # all items from lvl to q-1 fit: greedy completion is a solution
            comp = v
            rm2 = c - wt
            for t in range(lvl, cnt):
                if ww[t] <= rm2:
                    rm2 -= ww[t]
                    comp += pp[t]
            if comp > best:
                best = comp
                xb[:lvl] = x[:lvl]
                rm2 = c - wt
                for t in range(lvl, cnt):
                    if ww[t] <= rm2:
                        rm2 -= ww[t]
                        xb[t] = True
                    else:
                        xb[t] = False
            if lvl == cnt:
                continue
            # exclude first on the stack, include explored first
            st_l[top], st_v[top], st_w[top], st_x[top] = lvl + 1, v, wt, False
            top += 1
            if wt + ww[lvl] <= c:
                st_l[top], st_v[top], st_w[top], st_x[top] = (
                    lvl + 1,
                    v + pp[lvl],
                    wt + ww[lvl],
                    True,
                )
                top += 1
        if proven:
            rho[j] = -best
        if add_use:
            if proven:
                for q in range(cnt):
                    if xb[q]:
                        use[rr[q]] += 1.0
            else:
                room = c
                for q in range(cnt):
                    if ww[q] <= room:
                        use[rr[q]] += 1.0
                        room -= ww[q]
                    else:
                        use[rr[q]] += room / ww[q]
                        break


@njit(cache=True)
def _usage(ptr, idx, cst, w, cap, u, sites, use):  # pragma: no cover - compiled
    """Add to ``use[i]`` the (LP knapsack) amount of row ``i`` served by the open ``sites``."""
    for j in sites:
        room = cap[j]
        for k in _by_ratio(ptr, idx, cst, w, u, j):
            i = idx[k]
            if w[i] <= room:
                use[i] += 1.0
                room -= w[i]
            else:
                use[i] += room / w[i]
                break


@njit(cache=True)
def _fix_pairs(ptr, idx, cst, w, u, crit, rho, rho_b, base, limit, dead):  # pragma: no cover
    """Mark pairs whose forced use lifts the Lagrangian bound by more than ``limit``: site j
    then counts at least ``max(rho_b[j], rho[j] + the LP knapsack's reduced cost of the row)``
    instead of ``base[j]``."""
    m = len(ptr) - 1
    for j in range(m):
        for k in range(ptr[j], ptr[j + 1]):
            if dead[k]:
                continue
            i = idx[k]
            rc = crit[j] * w[i] - (u[i] - cst[k])
            if rc < 0.0:
                rc = 0.0
            if max(rho_b[j], rho[j] + rc) - base[j] > limit:
                dead[k] = True


@njit(cache=True)
def _prices(dc, w, cap, iters):  # pragma: no cover - compiled
    """Per-site prices per unit weight from a subgradient ascent on the capacity rows of the
    transportation relaxation: rows pick ``argmin c_ij + w_i mu_j`` among their 8 cheapest
    sites."""
    n, k = dc.shape
    kk = min(8, k)
    top = np.full((n, kk), -1, np.int64)
    topc = np.full((n, kk), np.inf)
    scale = 0.0
    cnt = 0
    for i in range(n):
        for j in range(k):
            c = dc[i, j]
            if c < topc[i, kk - 1]:
                q = kk - 1
                while q > 0 and topc[i, q - 1] > c:
                    topc[i, q] = topc[i, q - 1]
                    top[i, q] = top[i, q - 1]
                    q -= 1
                topc[i, q] = c
                top[i, q] = j
        if top[i, 0] >= 0:
            scale += topc[i, 0] / w[i]
            cnt += 1
    scale = scale / max(cnt, 1) + 1e-12
    mu = np.zeros(k)
    step = 0.2 * scale
    best_over = np.inf
    best_mu = mu.copy()
    load = np.zeros(k)
    for _ in range(iters):
        load[:] = 0.0
        for i in range(n):
            bj = -1
            bc = np.inf
            for q in range(kk):
                j = top[i, q]
                if j < 0:
                    break
                c = topc[i, q] + w[i] * mu[j]
                if c < bc:
                    bc = c
                    bj = j
            if bj >= 0:
                load[bj] += w[i]
        over = 0.0
        for j in range(k):
            if load[j] > cap[j]:
                over += load[j] - cap[j]
        if over < best_over:
            best_over = over
            best_mu[:] = mu
        if over == 0.0:
            break
        for j in range(k):
            # relative overload (a site of zero capacity: absolute)
            mu[j] = max(0.0, mu[j] + step * (load[j] - cap[j]) / max(cap[j], 1.0))
        step *= 0.96
    return best_mu


@njit(cache=True)
def _assign(dc, w, cap):  # pragma: no cover - compiled
    """Best of :func:`_assign1` without and with the prices of :func:`_prices`."""
    none = np.full(dc.shape[0], -1, np.int64)
    a1, c1 = _assign1(dc, w, cap, np.zeros(dc.shape[1]), none)
    mu = _prices(dc, w, cap, 150)
    a2, c2 = _assign1(dc, w, cap, mu, none)
    if c2 < c1:
        return a2, c2
    return a1, c1


@njit(cache=True)
def _assign1(dc, w, cap, mu, init):  # pragma: no cover - compiled
    """Single-source assignment of rows to the columns of ``dc`` (rows x open sites, weighted
    costs, inf = not allowed) within ``cap``: regret greedy, repair, then row shifts and row
    swaps. Returns (column per row, -1 where none was found; total cost or inf)."""
    n, k = dc.shape
    reg = np.empty(n)
    for i in range(n):
        b1 = np.inf
        b2 = np.inf
        for j in range(k):
            c = dc[i, j] + w[i] * mu[j]
            if c < b1:
                b2 = b1
                b1 = c
            elif c < b2:
                b2 = c
        if b2 == np.inf:
            reg[i] = 1e300 * (1.0 + w[i] * 1e-300)
        else:
            reg[i] = (b2 - b1) + 1e-12 * w[i]
    order = np.argsort(-reg)
    room = cap.copy()
    asg = np.full(n, -1, np.int64)
    for i in range(n):
        if init[i] >= 0:
            asg[i] = init[i]
            room[init[i]] -= w[i]
    failed = []
    for i in order:
        if asg[i] >= 0:
            continue
        bj = -1
        bc = np.inf
        for j in range(k):
            c = dc[i, j] + w[i] * mu[j]
            if c < bc and room[j] >= w[i]:
                bc = c
                bj = j
        if bj < 0:
            failed.append(i)
        else:
            asg[i] = bj
            room[bj] -= w[i]
    # repair: place a failed row at a site after moving other rows out of it
    for i in failed:
        best_cost = np.inf
        best_j = -1
        for j in range(k):
            if dc[i, j] == np.inf:
                continue
            need = w[i] - room[j]
            moves = _moves_out(dc, w, room, asg, j)
            freed = 0.0
            extra = dc[i, j]
            room2 = room.copy()
            ok = need <= 0.0
            for mv in moves:
                if ok:
                    break
                r = mv[1]
                mc, mt = _cheapest_other(dc, w, room2, r, j)
                if mt < 0:
                    continue
                room2[mt] -= w[r]
                freed += w[r]
                extra += mc - dc[r, j]
                if freed >= need:
                    ok = True
            if ok and extra < best_cost:
                best_cost = extra
                best_j = j
        if best_j < 0:
            return asg, np.inf
        j = best_j
        need = w[i] - room[j]
        if need > 0.0:
            moves = _moves_out(dc, w, room, asg, j)
            freed = 0.0
            for mv in moves:
                if freed >= need:
                    break
                r = mv[1]
                _mc, mt = _cheapest_other(dc, w, room, r, j)
                if mt < 0:
                    continue
                asg[r] = mt
                room[mt] -= w[r]
                room[j] += w[r]
                freed += w[r]
        asg[i] = j
        room[j] -= w[i]
    _improve(dc, w, room, asg)
    tot = 0.0
    for i in range(n):
        tot += dc[i, asg[i]]
    return asg, tot


@njit(cache=True)
def _cheapest_other(dc, w, room, r, j):  # pragma: no cover - compiled
    """The cheapest site other than ``j`` with room for row ``r``: (cost, site), or (inf, -1)."""
    mc = np.inf
    mt = -1
    for t in range(dc.shape[1]):
        if t != j and dc[r, t] < mc and room[t] >= w[r]:
            mc = dc[r, t]
            mt = t
    return mc, mt


@njit(cache=True)
def _moves_out(dc, w, room, asg, j):  # pragma: no cover - compiled
    """The rows at site ``j`` that fit elsewhere, as (extra cost per unit of weight, row),
    cheapest first."""
    moves = []
    for r in range(dc.shape[0]):
        if asg[r] == j:
            mc, mt = _cheapest_other(dc, w, room, r, j)
            if mt >= 0:
                moves.append(((mc - dc[r, j]) / w[r], r))
    moves.sort()
    return moves


@njit(cache=True)
def _improve(dc, w, room, asg):  # pragma: no cover - compiled
    """Row shifts and row swaps (first improvement) until neither gains."""
    n, k = dc.shape
    for _ in range(200):
        moved = False
        # shifts
        for i in range(n):
            a = asg[i]
            best = dc[i, a]
            bj = -1
            for j in range(k):
                if j != a and dc[i, j] < best - 1e-12 and room[j] >= w[i]:
                    best = dc[i, j]
                    bj = j
            if bj >= 0:
                asg[i] = bj
                room[bj] -= w[i]
                room[a] += w[i]
                moved = True
        # swaps: row i to a cheaper site j, a row r of j to i's site
        cnt = np.zeros(k + 1, np.int64)
        for i in range(n):
            cnt[asg[i] + 1] += 1
        for j in range(k):
            cnt[j + 1] += cnt[j]
        members = np.empty(n, np.int64)
        fill = cnt[:-1].copy()
        for i in range(n):
            members[fill[asg[i]]] = i
            fill[asg[i]] += 1
        for i in range(n):
            a = asg[i]
            for j in range(k):
                if j == a or dc[i, j] >= dc[i, a]:
                    continue
                done = False
                for q in range(cnt[j], cnt[j + 1]):
                    r = members[q]
                    if asg[r] != j or dc[r, a] == np.inf:
                        continue
                    gain = dc[i, a] + dc[r, j] - dc[i, j] - dc[r, a]
                    if gain <= 1e-9 * (1.0 + dc[i, a]):
                        continue
                    if room[a] + w[i] - w[r] < 0.0 or room[j] + w[r] - w[i] < 0.0:
                        continue
                    asg[i] = j
                    asg[r] = a
                    room[a] += w[i] - w[r]
                    room[j] += w[r] - w[i]
                    moved = True
                    done = True
                    break
                if done:
                    break
        if not moved:
            break


# ----------------------------------------------------------------------------- driver


class _Problem:
    """Active rows (weight > 0), usable pairs by site (CSC) and the weighted dense costs."""

    def __init__(self, d, w, cap):
        self.rows = np.flatnonzero(w > 0)
        self.d = d[self.rows]
        self.w = w[self.rows].astype(np.float64)
        self.cap = cap.astype(np.float64)
        n, m = self.d.shape
        ok = np.isfinite(self.d) & (self.w[:, None] <= self.cap[None, :])
        jj, ii = np.nonzero(ok.T)  # by site, then row
        self.ptr = np.searchsorted(jj, np.arange(m + 1)).astype(np.int64)
        self.idx = ii.astype(np.int64)
        self.col = jj.astype(np.int64)
        self.cst = self.w[ii] * self.d[ii, jj]
        self.ct = np.full((m, n), np.inf)  # weighted costs by site, inf = not usable
        self.ct[jj, ii] = self.cst
        self.n, self.m = n, m

    def costs(self, sites):
        """Weighted costs rows x sites, inf where the pair is not usable."""
        return np.ascontiguousarray(self.ct[sites].T)

    def lp_assign(self, sites, limit):
        """(site per row, cost) from the transportation LP over ``sites`` (HiGHS), its
        integral rows kept, the split ones placed by :func:`_assign1`; (None, inf) if none."""
        sites = np.asarray(sites, dtype=np.int64)
        dc = self.costs(sites)
        n, k = dc.shape
        r, c = np.nonzero(np.isfinite(dc))
        nz = len(r)
        cols = np.arange(nz)
        a = sp.csr_array(
            (
                np.concatenate([-np.ones(nz), self.w[r]]),
                (np.concatenate([r, n + c]), np.concatenate([cols, cols])),
            ),
            shape=(n + k, nz),
        )
        res = solve_lp(
            dc[r, c], a, np.concatenate([-np.ones(n), self.cap[sites]]), time_limit=limit
        )
        if res is None:
            return None, math.inf
        x = res[1]
        best = np.zeros(n)
        init = np.full(n, -1, dtype=np.int64)
        order = np.argsort(x)  # largest last: it wins the assignment below
        best[r[order]] = x[order]
        init[r[order]] = c[order]
        init[best < 1.0 - 1e-6] = -1
        col, cost = _assign1(np.ascontiguousarray(dc), self.w, self.cap[sites], np.zeros(k), init)
        if not math.isfinite(cost):
            return None, math.inf
        return sites[col], float(cost)

    def assign(self, sites):
        """(site per row, cost) for the open ``sites``; cost inf when no assignment found."""
        sites = np.asarray(sites, dtype=np.int64)
        col, cost = _assign(np.ascontiguousarray(self.costs(sites)), self.w, self.cap[sites])
        if not math.isfinite(cost):
            return None, math.inf
        return sites[col], float(cost)


def solve(
    d: np.ndarray, w: np.ndarray, p: int, fx: np.ndarray, cap: np.ndarray, deadline: float
) -> tuple[np.ndarray, str, float, np.ndarray]:
    """(selected incl. fixed, status, relative gap, row -> site) for the dense cost ``d`` (rows x
    sites, ``inf`` = not allowed), row weights ``w`` (also the demand), ``p`` free sites, fixed
    sites ``fx`` and capacities ``cap``. See the module docstring."""
    t0 = time.perf_counter()
    n_all, m = d.shape
    fx = np.asarray(fx, dtype=np.int64)
    cap = np.asarray(cap, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    none = np.full(n_all, -1, dtype=np.int64)
    pb = _Problem(d, w, cap)
    n = pb.n
    k_open = p + len(fx)
    isfixed = np.zeros(m, dtype=bool)
    isfixed[fx] = True
    free = np.flatnonzero(~isfixed)

    def finish(sel, asg_active):
        sel = np.sort(np.asarray(sel, dtype=np.int64))
        out = np.full(n_all, -1, dtype=np.int64)
        out[pb.rows] = asg_active
        zero = np.flatnonzero(w <= 0)
        if len(zero) and len(sel):
            sub = d[np.ix_(zero, sel)]
            arg = np.argmin(sub, axis=1)
            fin = np.isfinite(sub[np.arange(len(zero)), arg])
            out[zero[fin]] = sel[arg[fin]]
        return sel, out

    # proven infeasible: a row no site can hold, or not enough capacity in the best sites
    served = np.zeros(n, dtype=bool)
    served[pb.idx] = True
    total = float(pb.w.sum())
    most = float(cap[fx].sum() + np.sort(cap[free])[::-1][:p].sum())
    if n and (not served.all() or most < total * (1 - 1e-12)):
        return _EMPTY.copy(), "infeasible", math.nan, none
    if n == 0:
        sel, out = finish(np.union1d(fx, free[:p]), np.zeros(0, dtype=np.int64))
        return sel, "optimal", 0.0, out

    room_s = deadline - t0 if math.isfinite(deadline) else math.inf

    # ---- start: u_i = second-cheapest usable cost of the row (the cheapest when it has one)
    t_pass = time.perf_counter()
    if m >= 2:  # a partial sort of each row's costs (a lexsort of the pairs took 0.2 s)
        two = np.partition(pb.ct, 1, axis=0)[:2]
        sec = np.where(np.isfinite(two[1]), two[1], two[0])
    else:
        sec = pb.ct[0].copy()
    u = sec.copy()
    t_pass = time.perf_counter() - t_pass  # about one or two passes of the greedy fill

    best_ub = math.inf
    best_sel: np.ndarray | None = None
    best_asg: np.ndarray | None = None
    seen: set[bytes] = set()
    polished: set[bytes] = set()
    tried: list[tuple[float, bytes, np.ndarray]] = []

    def try_sites(sites):
        nonlocal best_ub, best_sel, best_asg
        sites = np.sort(np.asarray(sites, dtype=np.int64))
        key = sites.tobytes()
        if key in seen:
            return math.inf
        seen.add(key)
        if cap[sites].sum() < total:
            return math.inf
        asg, cost = pb.assign(sites)
        if math.isfinite(cost):
            tried.append((cost, key, sites))
        if cost < best_ub - 1e-9 * max(abs(best_ub), 1.0) or (best_sel is None and asg is not None):
            best_ub, best_sel, best_asg = cost, sites, asg
        return cost

    def polish(count):
        """Assign the ``count`` best site sets tried so far by the transportation LP."""
        nonlocal best_ub, best_sel, best_asg
        tried.sort(key=lambda t: t[0])
        for _, key, sites in tried[:count]:
            if key in polished:
                continue
            left = _left(deadline)
            if left is not None and left < 1.0:
                return
            polished.add(key)
            asg, cost = pb.lp_assign(sites, None if left is None else 0.3 * left)
            if cost < best_ub - 1e-9 * max(abs(best_ub), 1.0):
                best_ub, best_sel, best_asg = cost, sites, asg

    def ls_end(share=0.2):
        if not math.isfinite(deadline):
            return time.perf_counter() + 30.0
        return time.perf_counter() + share * max(deadline - time.perf_counter(), 0.0)

    # starts: the knapsack values' best sites (always: the first answer), then the
    # uncapacitated p-median's local search if time is left for its greedy fill, which makes
    # p passes over the costs without looking at the clock
    rho = np.zeros(m)
    crit = np.zeros(m)
    _knapsacks(pb.ptr, pb.idx, pb.cst, pb.w, cap, u, rho, crit)
    order0 = free[np.argsort(rho[free], kind="stable")]
    try_sites(np.concatenate([fx, order0[:p]]))
    left = _left(deadline)
    if p > 0 and (left is None or left > p * t_pass):
        budget = min(1.0, 0.05 * room_s) if math.isfinite(room_s) else 1.0
        plain = pmedian_local_search(pb.d, pb.w, p, fx, budget_s=budget, deadline=deadline)
        try_sites(plain)
    closed = np.zeros(m, dtype=bool)
    must_open = np.zeros(m, dtype=bool)
    logger.debug("cap p-median: starts %.6g after %.2fs", best_ub, time.perf_counter() - t0)
    if best_sel is not None and p > 0 and not _past(deadline):
        _swap_search(pb, best_sel, best_ub, isfixed, closed, must_open, try_sites, ls_end(0.3))
    polish(1)
    lag_end = time.perf_counter() + 0.5 * (deadline - time.perf_counter())
    logger.debug("cap p-median: swaps %.6g after %.2fs", best_ub, time.perf_counter() - t0)

    # warm multipliers: each row's priced cost at the incumbent's sites (the transportation
    # prices), when they bound better than the second-cheapest costs
    if best_sel is not None and not _past(deadline):
        dc = pb.costs(best_sel)
        mu = _prices(dc, pb.w, cap[best_sel], 150)
        u2 = np.min(dc + pb.w[:, None] * mu[None, :], axis=1)
        u2 = np.where(np.isfinite(u2), u2, sec)
        rho2 = np.zeros(m)
        _knapsacks(pb.ptr, pb.idx, pb.cst, pb.w, cap, u2, rho2, crit)
        f1 = np.sort(rho[free])[:p].sum() if p else 0.0
        f2 = np.sort(rho2[free])[:p].sum() if p else 0.0
        v1 = u.sum() + rho[fx].sum() + f1
        v2 = u2.sum() + rho2[fx].sum() + f2
        logger.debug("cap p-median: start bounds %.6g (second cheapest), %.6g (priced)", v1, v2)
        if v2 > v1:
            u, rho = u2, rho2
    best_lb = -math.inf
    dead = np.zeros(len(pb.idx), dtype=bool)
    lam = 2.0
    stall = 0
    it = 0
    max_iter = 3000
    tol_of = lambda v: 1e-9 * max(abs(v), 1.0)  # noqa: E731

    def lagr_value(u, rho):
        frees = free[np.argsort(rho[free], kind="stable")]
        chosen = frees[:p]
        val = float(u.sum() + rho[fx].sum() + rho[chosen].sum())
        return val, chosen, frees

    dummy = np.zeros(1)
    pool = np.zeros(m, dtype=np.int64)  # how often the relaxation opened each free site
    rho_tmp = np.zeros(m)
    best_lb = lagr_value(u, rho)[0]  # rho is still the start's: a bound even with no time
    while it < max_iter and time.perf_counter() < lag_end:
        it += 1
        _knapsacks(pb.ptr, pb.idx, pb.cst, pb.w, cap, u, rho, crit)
        # 0/1 knapsacks where they count: fixed sites and the LP's best free ones (any
        # other site keeps its LP value, a lower bound of its 0/1 one)
        rho_b = rho.copy()
        near_top = free[np.argsort(rho[free], kind="stable")[: 2 * p + 5]]
        _knap_int(
            pb.ptr,
            pb.idx,
            pb.cst,
            pb.w,
            cap,
            u,
            np.concatenate([fx, near_top]),
            rho_b,
            dummy,
            False,
            _NODES,
        )
        val, chosen, frees = lagr_value(u, rho_b)
        if val > best_lb + tol_of(best_lb if math.isfinite(best_lb) else 1.0):
            best_lb = val
            stall = 0
        else:
            stall += 1
            if stall >= 20:
                lam *= 0.5
                stall = 0
        sites = np.concatenate([fx, chosen])
        pool[chosen] += 1
        if it <= 5 or it % 5 == 0:
            try_sites(sites)
            # the relaxation's set with the capacity made up by the next best sites
            if cap[sites].sum() < total and p > 0:
                extra = frees[p:]
                c_need = total - cap[sites].sum()
                swap_in = extra[np.cumsum(cap[extra]) < c_need + cap[extra]][:p]
                if len(swap_in):
                    try_sites(np.concatenate([fx, chosen[: p - len(swap_in)], swap_in]))
        # reduced-cost fixing at these multipliers
        if math.isfinite(best_ub) and val >= best_lb - 2e-3 * abs(best_lb):
            _fix(
                pb,
                val,
                rho,
                rho_b,
                crit,
                u,
                fx,
                isfixed,
                chosen,
                frees,
                p,
                best_ub,
                dead,
                must_open,
                closed,
            )
        if math.isfinite(best_ub) and val >= best_ub - tol_of(best_ub):
            break
        use = np.zeros(n)
        _knap_int(pb.ptr, pb.idx, pb.cst, pb.w, cap, u, sites, rho_tmp, use, True, _NODES)
        g = 1.0 - use
        gg = float(g @ g)
        if gg < 1e-12:
            break  # the relaxation's answer is feasible: optimal for it
        target = best_ub if math.isfinite(best_ub) else 1.05 * abs(val) + 1.0
        step = lam * max(target - val, 1e-9 * abs(val)) / gg
        u = u + step * g
        if lam < 1e-4:
            break
    logger.debug(
        "cap p-median: %d Lagrangian iterations, bound %.6g, incumbent %.6g, %.2fs",
        it,
        best_lb,
        best_ub,
        time.perf_counter() - t0,
    )
    # ---- site swaps on the best answer again (the Lagrangian's sets may have improved it)
    if tried and p > 0 and not _past(deadline):  # from the best set by the heuristic's costs
        h_cost, _, h_sites = min(tried, key=lambda t: t[0])
        _swap_search(pb, h_sites, h_cost, isfixed, closed, must_open, try_sites, ls_end())
    polish(3)
    if best_sel is None:
        lower = best_lb
    else:
        lower = best_lb
        if lower >= best_ub - tol_of(best_ub):
            sel, out = finish(best_sel, best_asg)
            return sel, "optimal", 0.0, out
    # ---- HiGHS: first (heuristic) on each row's few cheapest live pairs, then on all of them
    alive = ~dead & ~closed[pb.col]
    if best_asg is not None:
        # the incumbent's pairs stay (consistent with the fixing up to rounding)
        alive |= best_asg[pb.idx] == pb.col
    n_alive = int(alive.sum())
    logger.debug(
        "cap p-median: %d of %d pairs, %d sites closed, %d must open, %.2fs",
        n_alive,
        len(pb.idx),
        int(closed.sum()),
        int(must_open.sum()),
        time.perf_counter() - t0,
    )
    big_model = n_alive > 40 * n + 20000
    if (
        best_sel is not None
        and best_asg is not None
        and (big_model or math.isfinite(deadline))
        and _mip_has_time(deadline)
    ):
        # sites: the incumbent's, the fixed ones and those the relaxation opened most
        in_pool = np.zeros(m, dtype=bool)
        in_pool[best_sel] = True
        in_pool[fx] = True
        often = np.argsort(-pool, kind="stable")[: 3 * p + 10]
        in_pool[often[pool[often] > 0]] = True
        ord_ = np.lexsort((pb.cst, pb.idx))
        ord_ = ord_[alive[ord_] & in_pool[pb.col[ord_]]]
        rows_s = pb.idx[ord_]
        rank = np.arange(len(ord_)) - np.searchsorted(rows_s, rows_s)
        near = np.zeros(len(pb.idx), dtype=bool)
        near[ord_[rank < max(8, min(25, 60000 // max(n, 1)))]] = True
        near |= best_asg[pb.idx] == pb.col
        share = 0.5 if not big_model else 0.9
        limit = (
            share * max(deadline - time.perf_counter(), 0.0) if math.isfinite(deadline) else 60.0
        )
        st_h, h_sel, h_asg, h_obj, _ = _mip(
            pb, k_open, fx, near, closed, must_open, best_sel, best_asg, limit, deadline
        )
        logger.debug(
            "cap p-median: restricted MIP (%d sites, %d pairs) %s %.6g after %.2fs",
            int(in_pool.sum()),
            int(near.sum()),
            st_h,
            h_obj,
            time.perf_counter() - t0,
        )
        if h_sel is not None and h_obj < best_ub:
            best_ub, best_sel, best_asg = h_obj, h_sel, h_asg
    status, x_sel, x_asg, mip_obj, mip_bound = "unsolved", None, None, math.inf, math.nan
    if (not big_model or best_sel is None or math.isinf(deadline)) and _mip_has_time(deadline):
        status, x_sel, x_asg, mip_obj, mip_bound = _mip(
            pb, k_open, fx, alive, closed, must_open, best_sel, best_asg, math.inf, deadline
        )
    fix_at = best_ub
    if status == "infeasible" and best_sel is None:
        return _EMPTY.copy(), "infeasible", math.nan, none
    if x_sel is not None and mip_obj < best_ub:
        best_ub, best_sel, best_asg = mip_obj, x_sel, x_asg
    if best_sel is None:
        return _EMPTY.copy(), "unsolved", math.inf, none
    if status == "optimal":
        # every solution the fixing dropped costs at least fix_at >= the MIP's optimum
        sel, out = finish(best_sel, best_asg)
        return sel, "optimal", 0.0, out
    if status == "feasible" and math.isfinite(mip_bound):
        lower = max(lower, min(mip_bound, fix_at))
    sel, out = finish(best_sel, best_asg)
    assert best_asg is not None
    if status == "optimal" or lower >= best_ub - tol_of(best_ub):
        return sel, "optimal", 0.0, out
    gap = max(best_ub - lower, 0.0) / max(abs(best_ub), 1e-10)
    return sel, "feasible", gap, out


def _swap_search(pb, cur, cur_cost, isfixed, closed, must_open, try_sites, end):
    """Site swaps on ``cur``: every (open free a, closed b) scored by the priced nearest
    assignment (rows pay ``c_ij + w_i mu_j`` with the transportation prices of the open
    sites), the best few evaluated exactly; the best improving one taken, repeated."""
    cand_all = np.flatnonzero(~isfixed & ~closed)
    gain = np.zeros(pb.m)
    crit = np.zeros(pb.m)
    while time.perf_counter() < end:
        sites = cur
        dc = np.ascontiguousarray(pb.costs(sites))
        mu = _prices(dc, pb.w, pb.cap[sites], 150)
        pc = dc + pb.w[:, None] * mu[None, :]
        order = np.argsort(pc, axis=1)
        n = pb.n
        r = np.arange(n)
        b1 = pc[r, order[:, 0]]
        b2 = pc[r, order[:, 1]] if len(sites) > 1 else np.full(n, np.inf)
        cand = cand_all[~np.isin(cand_all, sites)]
        if len(cand) == 0:
            return
        scores = []
        for pos in np.flatnonzero(~isfixed[sites] & ~must_open[sites]):
            if time.perf_counter() >= end:  # scoring takes a knapsack pass per open site
                return
            without = np.minimum(np.where(order[:, 0] == pos, b2, b1), 1e30)
            # opening b saves at most its best rows that fit its capacity (LP knapsack)
            _knapsacks(pb.ptr, pb.idx, pb.cst, pb.w, pb.cap, without, gain, crit)
            tot = float(without.sum()) + gain[cand]
            best = np.argsort(tot)[:4]
            for q in best:
                scores.append((tot[q], pos, cand[q]))
        scores.sort()
        improved = False
        for _, pos, b in scores[:30]:
            if time.perf_counter() >= end:
                return
            trial = np.concatenate([np.delete(sites, pos), [b]])
            c = try_sites(trial)
            if c < cur_cost - 1e-9 * max(abs(cur_cost), 1.0):
                cur, cur_cost = np.sort(trial), c
                improved = True
                break
        if not improved:
            return


def _fix(pb, val, rho, rho_b, crit, u, fx, isfixed, chosen, frees, p, ub, dead, must_open, closed):
    """Reduced-cost fixing at one multiplier vector (valid for any ``u``): ``rho`` the sites'
    LP knapsack values, ``rho_b`` the values the bound ``val`` used (0/1 where computed)."""
    limit = ub - val + 1e-9 * max(abs(ub), 1.0)
    m = pb.m
    base = np.zeros(m)  # what the bound counts for the site now
    base[fx] = rho_b[fx]
    if p > 0:
        worst_in = rho_b[chosen[-1]]
        base[chosen] = rho_b[chosen]
        out = frees[p:]
        base[out] = worst_in
        closed[out[rho_b[out] - worst_in > limit]] = True
        if len(out):
            best_out = rho_b[out[0]]
            must_open[chosen[best_out - rho_b[chosen] > limit]] = True
    else:
        closed[frees] = True
    base[closed] = -np.inf
    _fix_pairs(pb.ptr, pb.idx, pb.cst, pb.w, u, crit, rho, rho_b, base, limit, dead)


def _mip(pb, k_open, fx, keep, closed, must_open, start_sel, start_asg, limit, deadline):
    """HiGHS on the single-source model over the pairs in ``keep`` (the incumbent's among them)
    for at most ``limit`` seconds; (status, selected, assignment, objective, bound)."""
    n, m = pb.n, pb.m
    pr, pc = pb.idx[keep], pb.col[keep]
    obj_x = pb.cst[keep]
    k = len(pr)
    left = _left(deadline)
    secs = min(limit, left - _MIP_RESERVE_S - 6e-6 * k) if left is not None else limit
    if secs <= _MIP_MIN_S:
        return "unsolved", None, None, math.inf, math.nan
    # columns: y (m), x (k)
    xs = m + np.arange(k)
    r_asg = pr
    r_link = n + np.arange(k)
    r_cap = n + k + np.arange(m)
    r_card = n + k + m
    r_agg = r_card + 1
    ri = np.concatenate(
        [r_asg, r_link, r_link, r_cap[pc], r_cap, np.full(m, r_card), np.full(m, r_agg)]
    )
    ci = np.concatenate([xs, xs, pc, xs, np.arange(m), np.arange(m), np.arange(m)])
    vi = np.concatenate(
        [np.ones(k), np.ones(k), -np.ones(k), pb.w[pr], -pb.cap, np.ones(m), pb.cap]
    )
    a = sp.csc_array((vi, (ri, ci)), shape=(r_agg + 1, m + k))
    rl = np.concatenate(
        [np.ones(n), np.full(k, -np.inf), np.full(m, -np.inf), [k_open], [pb.w.sum()]]
    )
    ru = np.concatenate([np.ones(n), np.zeros(k), np.zeros(m), [k_open], [np.inf]])
    lb = np.zeros(m + k)
    ub = np.ones(m + k)
    ub[np.flatnonzero(closed)] = 0.0
    lb[np.flatnonzero(must_open)] = 1.0
    if start_sel is not None:  # consistent with the fixing up to rounding: keep it so
        ub[start_sel] = 1.0
        lb[np.flatnonzero(must_open & ~np.isin(np.arange(m), start_sel))] = 0.0
    lb[fx] = 1.0
    start = None
    if start_sel is not None:
        start = np.zeros(m + k)
        start[start_sel] = 1.0
        start[m:] = (start_asg[pr] == pc).astype(np.float64)
    res = solve_mip(
        np.concatenate([np.zeros(m), obj_x]),
        a,
        rl,
        ru,
        lb,
        ub,
        np.ones(m + k, dtype=bool),
        time_limit=None if math.isinf(secs) else secs,
        start=start,
    )
    if res.x is None:
        return res.status, None, None, math.inf, res.bound
    sel = np.flatnonzero(res.x[:m] > 0.5)
    on = res.x[m:] > 0.5
    asg = np.full(n, -1, dtype=np.int64)
    asg[pr[on]] = pc[on]
    return res.status, sel, asg, float(obj_x[on].sum()), res.bound
