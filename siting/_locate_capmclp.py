"""Capacitated MCLP with single sourcing: flow-guided search, Lagrangian bound, HiGHS proof.

:func:`solve` has the contract of ``siting.locate._mclp_capacitated``. Pipeline:

1. Lagrangian bound. Relaxing "each row is assigned at most once" with multipliers
   ``0 <= lam_i <= w_i`` splits the model per site into a knapsack (items = the rows the site
   covers, profit ``w_i - lam_i``, weight ``w_i``, capacity ``cap_j``); the fixed sites plus the
   ``p`` best free sites by knapsack value give ``L(lam) = sum(lam) + sum(values)``, an upper bound
   for any ``lam``. Each knapsack is solved as its LP (greedy by ratio, one fractional item),
   which can only raise the value, so the bound stays valid. Multipliers are improved by
   projected subgradient steps. (Measured on the 2,000 x 500 benchmark: at the LP duals the
   integer knapsacks give exactly the continuous value, so exact knapsacks would not tighten
   this bound; the gap to the optimum comes from the site variables, not the assignment.)
2. Primal search. A set of open sites is scored by the max flow source -> rows (``w_i``) ->
   open sites covering them -> sink (``cap_j``), computed by a compiled Dinic: the best
   fractional assignment, an upper bound on (and in practice within ~0.3% of) the best
   single-source assignment for those sites. It is submodular in the site set. Greedy
   additions, then swaps (each free site for the best of the sites sharing a row with it; a
   pass over the whole pool when those stall), then random drop-and-refill kicks, over a pool
   (the sites the Lagrangian subproblems chose, the starts, the sites of high knapsack value),
   with rows that have the same pool sites merged. The best few site sets get a single-source
   assignment from their flow (whole rows kept, the others re-inserted with ejections, each
   site re-packed by a 0/1 knapsack), the best one polished by HiGHS with its sites fixed open
   (about a second).
3. HiGHS on the compact model (:func:`siting._locate_prep._capacitated_cover`) with the best
   answer as its start for the time left; the reported bound is the smaller of HiGHS's and
   the Lagrangian one (with integer weights, rounded down to an integer).

"optimal" is reported only when HiGHS proves it or the answer reaches the bound.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from numba import njit

from siting._locate_heur import mclp_capacitated_search
from siting._locate_prep import _capacitated_cover, _left, _unique_rows

__all__ = ["solve"]

# HiGHS options for the compact model (as in siting.locate: its root LP is solved faster by IPM).
_CAP_HIGHS: dict[str, object] = {"mip_lp_solver": "ipm"}


# ----------------------------------------------------------------------------- kernels


@njit(cache=True)
def _site_values(indptr, indices, w, cap, lam, xval):  # pragma: no cover - compiled
    """LP knapsack value per site (``xval`` gets each pair's share, in place)."""
    m = len(indptr) - 1
    k_val = np.zeros(m)
    for j in range(m):
        s, e = indptr[j], indptr[j + 1]
        tot = 0.0
        val = 0.0
        for t in range(s, e):
            i = indices[t]
            pr = w[i] - lam[i]
            if pr > 0:
                tot += w[i]
                val += pr
                xval[t] = 1.0
            else:
                xval[t] = 0.0
        if tot <= cap[j]:
            k_val[j] = val
            continue
        k = e - s
        ratio = np.empty(k)
        for t in range(k):
            i = indices[s + t]
            ratio[t] = (w[i] - lam[i]) / w[i] if xval[s + t] > 0 else -1.0
        order = np.argsort(-ratio)
        room = cap[j]
        val = 0.0
        for q in range(k):
            t = s + order[q]
            if ratio[order[q]] <= 0:
                xval[t] = 0.0
                continue
            i = indices[t]
            if w[i] <= room:
                room -= w[i]
                val += w[i] - lam[i]
                xval[t] = 1.0
            elif room > 0:
                f = room / w[i]
                val += f * (w[i] - lam[i])
                xval[t] = f
                room = 0.0
            else:
                xval[t] = 0.0
        k_val[j] = val
    return k_val


@njit(cache=True)
def _choose(k_val, isfixed, p):  # pragma: no cover - compiled
    """Fixed sites plus the ``p`` best free sites of positive value: (mask, value sum)."""
    m = len(k_val)
    sel = isfixed.copy()
    tot = 0.0
    for j in range(m):
        if isfixed[j]:
            tot += k_val[j]
    order = np.argsort(-k_val)
    c = 0
    for q in range(m):
        if c >= p:
            break
        j = order[q]
        if isfixed[j]:
            continue
        if k_val[j] <= 0:
            break
        sel[j] = True
        tot += k_val[j]
        c += 1
    return sel, tot


@njit(cache=True)
def _subgradient(
    indptr, indices, w, cap, isfixed, p, lam0, target, iters, patience
):  # pragma: no cover
    """Projected subgradient on ``L(lam)``; returns (best bound, its lam, site frequency)."""
    n = len(w)
    m = len(cap)
    lam = lam0.copy()
    best_lam = lam.copy()
    best = np.inf
    xval = np.zeros(len(indices))
    g = np.zeros(n)
    freq = np.zeros(m)
    alpha = 1.0
    stall = 0
    for it in range(iters):
        k_val = _site_values(indptr, indices, w, cap, lam, xval)
        sel, tot = _choose(k_val, isfixed, p)
        lval = tot + lam.sum()
        if lval < best:
            best = lval
            best_lam[:] = lam
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                alpha *= 0.5
                stall = 0
        if it >= iters // 2:
            for j in range(m):
                if sel[j]:
                    freq[j] += 1.0
        for i in range(n):
            g[i] = 1.0
        for j in range(m):
            if sel[j]:
                for t in range(indptr[j], indptr[j + 1]):
                    g[indices[t]] -= xval[t]
        nrm = 0.0
        for i in range(n):
            if (lam[i] <= 0 and g[i] > 0) or (lam[i] >= w[i] and g[i] < 0):
                g[i] = 0.0
            nrm += g[i] * g[i]
        gap = lval - target
        if nrm == 0 or gap <= 0:
            break
        step = alpha * gap / nrm
        for i in range(n):
            lam[i] = min(max(lam[i] - step * g[i], 0.0), w[i])
    return best, best_lam, freq


@njit(cache=True)
def _flow_value(indptr, indices, w, cap, sites, rowmap):  # pragma: no cover - compiled
    """Max flow source -> rows (``w``) -> ``sites`` covering them -> sink (``cap``)."""
    return _flow(indptr, indices, w, cap, sites, rowmap)[0]


@njit(cache=True)
def _flow(indptr, indices, w, cap, sites, rowmap):  # pragma: no cover - compiled
    """Max flow source -> rows (``w``) -> ``sites`` covering them -> sink (``cap``), by Dinic.

    Returns (value, flow per pair in the order of ``sites`` and their column entries).
    ``rowmap`` is scratch of length n filled with -1 (left that way).
    """
    k = len(sites)
    site_cap = np.empty(k)
    for q in range(k):
        site_cap[q] = cap[sites[q]]
    nr, npair, efrom, eto, ecap, start, adj = _graph(indptr, indices, w, site_cap, sites, rowmap)
    total = _push(nr, npair, k, eto, ecap, start, adj, w.max())
    total += _dinic(efrom, eto, ecap, start, adj, w.max())
    pair_flow = np.empty(npair)
    for q in range(npair):
        pair_flow[q] = ecap[2 * nr + 2 * q + 1]
    return total, pair_flow


@njit(cache=True)
def _graph(indptr, indices, w, site_cap, sites, rowmap):  # pragma: no cover - compiled
    """The flow network for :func:`_flow` (sink capacities ``site_cap`` per entry of ``sites``).

    Nodes: 0 source, 1 sink, 2 .. 2+k-1 sites, then the rows they cover. Edge ``x`` and its
    reverse ``x ^ 1``: first source -> row (2 per row), then row -> site (2 per pair, in the
    order of ``sites`` and their column entries), then site -> sink (2 per site).
    """
    k = len(sites)
    nr = 0
    npair = 0
    for q in range(k):
        j = sites[q]
        for t in range(indptr[j], indptr[j + 1]):
            i = indices[t]
            npair += 1
            if rowmap[i] < 0:
                rowmap[i] = nr
                nr += 1
    rows = np.empty(nr, np.int64)
    for q in range(k):
        j = sites[q]
        for t in range(indptr[j], indptr[j + 1]):
            rows[rowmap[indices[t]]] = indices[t]
    nn = 2 + k + nr
    ne = nr + npair + k
    eto = np.empty(2 * ne, np.int64)
    efrom = np.empty(2 * ne, np.int64)
    ecap = np.zeros(2 * ne)
    e = 0
    for r in range(nr):
        efrom[e], eto[e], ecap[e] = 0, 2 + k + r, w[rows[r]]
        efrom[e + 1], eto[e + 1] = 2 + k + r, 0
        e += 2
    for q in range(k):
        j = sites[q]
        for t in range(indptr[j], indptr[j + 1]):
            r = rowmap[indices[t]]
            efrom[e], eto[e], ecap[e] = 2 + k + r, 2 + q, np.inf
            efrom[e + 1], eto[e + 1] = 2 + q, 2 + k + r
            e += 2
    for q in range(k):
        efrom[e], eto[e], ecap[e] = 2 + q, 1, site_cap[q]
        efrom[e + 1], eto[e + 1] = 1, 2 + q
        e += 2
    for r in range(nr):
        rowmap[rows[r]] = -1
    start = np.zeros(nn + 1, np.int64)
    for x in range(2 * ne):
        start[efrom[x] + 1] += 1
    for v in range(nn):
        start[v + 1] += start[v]
    adj = np.empty(2 * ne, np.int64)
    fill = start[:-1].copy()
    for x in range(2 * ne):
        adj[fill[efrom[x]]] = x
        fill[efrom[x]] += 1
    return nr, npair, efrom, eto, ecap, start, adj


@njit(cache=True)
def _push(nr, npair, k, eto, ecap, start, adj, wmax):  # pragma: no cover - compiled
    """Greedy start for :func:`_dinic`: each row sends what it can straight to its sites."""
    eps = 1e-12 * (1.0 + wmax)
    total = 0.0
    for r in range(nr):
        for a in range(start[2 + k + r], start[3 + k + r]):
            x = adj[a]
            rem = ecap[2 * r]
            if rem <= eps:
                break
            if x & 1 or x < 2 * nr:
                continue
            s_edge = 2 * nr + 2 * npair + 2 * (eto[x] - 2)
            f = min(rem, ecap[s_edge])
            if f > 0:
                ecap[x ^ 1] += f
                ecap[s_edge] -= f
                ecap[s_edge ^ 1] += f
                ecap[2 * r] -= f
                ecap[2 * r + 1] += f
                total += f
    return total


@njit(cache=True)
def _dinic(efrom, eto, ecap, start, adj, wmax):  # pragma: no cover - compiled
    """Augment the flow held in the residual capacities ``ecap`` to a maximum; returns the
    flow added."""
    nn = len(start) - 1
    level = np.empty(nn, np.int64)
    queue = np.empty(nn, np.int64)
    cur = np.empty(nn, np.int64)
    path = np.empty(nn, np.int64)
    total = 0.0
    eps = 1e-12 * (1.0 + wmax)
    while True:
        level[:] = -1
        level[0] = 0
        qh, qt = 0, 1
        queue[0] = 0
        while qh < qt:
            v = queue[qh]
            qh += 1
            for a in range(start[v], start[v + 1]):
                x = adj[a]
                u = eto[x]
                if level[u] < 0 and ecap[x] > eps:
                    level[u] = level[v] + 1
                    queue[qt] = u
                    qt += 1
        if level[1] < 0:
            break
        cur[:] = start[:-1]
        while True:
            depth = 0
            v = 0
            found = False
            while True:
                if v == 1:
                    found = True
                    break
                advanced = False
                while cur[v] < start[v + 1]:
                    x = adj[cur[v]]
                    u = eto[x]
                    if ecap[x] > eps and level[u] == level[v] + 1:
                        path[depth] = x
                        depth += 1
                        v = u
                        advanced = True
                        break
                    cur[v] += 1
                if not advanced:
                    if depth == 0:
                        break
                    level[v] = -1
                    depth -= 1
                    v = efrom[path[depth]]
                    cur[v] += 1
            if not found:
                break
            f = np.inf
            for d in range(depth):
                f = min(f, ecap[path[d]])
            for d in range(depth):
                ecap[path[d]] -= f
                ecap[path[d] ^ 1] += f
            total += f
    return total


@njit(cache=True)
def _swap_values(ip, ix, w, cap, sites, pos, cand, rowmap):  # pragma: no cover - compiled
    """Score of ``sites`` with ``sites[pos]`` replaced by each of ``cand`` (not in ``sites``).

    One network holds the other sites and all candidates (closed: sink capacity 0); its max
    flow is computed once, then each candidate is opened on a copy and the flow augmented.
    """
    k = len(sites)
    nc = len(cand)
    ext = np.empty(k - 1 + nc, np.int64)
    site_cap = np.zeros(k - 1 + nc)
    q2 = 0
    for q in range(k):
        if q != pos:
            ext[q2] = sites[q]
            site_cap[q2] = cap[sites[q]]
            q2 += 1
    for c in range(nc):
        ext[k - 1 + c] = cand[c]
    nr, npair, efrom, eto, ecap, start, adj = _graph(ip, ix, w, site_cap, ext, rowmap)
    wmax = w.max()
    base = _push(nr, npair, k - 1 + nc, eto, ecap, start, adj, wmax)
    base += _dinic(efrom, eto, ecap, start, adj, wmax)
    out = np.empty(nc)
    work = np.empty_like(ecap)
    for c in range(nc):
        work[:] = ecap
        work[2 * nr + 2 * npair + 2 * (k - 1 + c)] = cap[cand[c]]
        out[c] = base + _dinic(efrom, eto, work, start, adj, wmax)
    return out


@njit(cache=True)
def _with(sites, extra):  # pragma: no cover - compiled
    out = np.empty(len(sites) + 1, np.int64)
    out[: len(sites)] = sites
    out[len(sites)] = extra
    return out


@njit(cache=True)
def _repair(ip, ix, w, cap, sites, rowmap):  # pragma: no cover - compiled
    """Single-source assignment for open ``sites`` from their max flow: row -> site or -1.

    Rows the flow sends whole to one site stay there; the others go, largest first, to the
    covering site with the least room that holds them; then, while it helps, an unassigned row
    enters a site by moving one of its rows to another site with room, or by replacing a
    smaller row there.
    """
    n = len(w)
    k = len(sites)
    _total, pf = _flow(ip, ix, w, cap, sites, rowmap)
    asg = np.full(n, -1, np.int64)
    room = np.empty(k)
    for q in range(k):
        room[q] = cap[sites[q]]
    rstart = np.zeros(n + 1, np.int64)
    for q in range(k):
        for t in range(ip[sites[q]], ip[sites[q] + 1]):
            rstart[ix[t] + 1] += 1
    for i in range(n):
        rstart[i + 1] += rstart[i]
    radj = np.empty(rstart[n], np.int64)
    fill = rstart[:-1].copy()
    e = 0
    for q in range(k):
        for t in range(ip[sites[q]], ip[sites[q] + 1]):
            i = ix[t]
            radj[fill[i]] = q
            fill[i] += 1
            if asg[i] < 0 and pf[e] >= w[i] * (1.0 - 1e-9) and w[i] <= room[q]:
                asg[i] = q
                room[q] -= w[i]
            e += 1
    order = np.argsort(-w)
    moved = np.empty(n, np.int64)
    moved_from = np.empty(n, np.int64)
    items = np.empty(n, np.int64)
    for _outer in range(4):
        for _round in range(20):
            changed = False
            for oi in range(n):
                i = order[oi]
                if asg[i] >= 0 or rstart[i] == rstart[i + 1] or w[i] <= 0:
                    continue
                best_q, best_room = -1, np.inf
                for a in range(rstart[i], rstart[i + 1]):
                    q = radj[a]
                    if w[i] <= room[q] and room[q] < best_room:
                        best_q, best_room = q, room[q]
                if best_q >= 0:
                    asg[i] = best_q
                    room[best_q] -= w[i]
                    changed = True
                    continue
                done = False
                for a in range(rstart[i], rstart[i + 1]):
                    q = radj[a]
                    need = w[i] - room[q]
                    j = sites[q]
                    # move rows of q to other open sites with room (largest first) until i fits
                    moved_n = 0
                    for t in range(ip[j], ip[j + 1]):
                        if room[q] >= w[i]:
                            break
                        r = ix[t]
                        if asg[r] != q:
                            continue
                        for a2 in range(rstart[r], rstart[r + 1]):
                            q2 = radj[a2]
                            if q2 != q and w[r] <= room[q2]:
                                asg[r] = q2
                                room[q2] -= w[r]
                                room[q] += w[r]
                                moved[moved_n] = r
                                moved_from[moved_n] = q2
                                moved_n += 1
                                break
                    if room[q] >= w[i]:
                        done = True
                    else:  # undo
                        for u in range(moved_n - 1, -1, -1):
                            r = moved[u]
                            room[moved_from[u]] += w[r]
                            room[q] -= w[r]
                            asg[r] = q
                    if not done:
                        # or replace the smallest row of q that makes room (the value grows)
                        best_r, best_w = -1, np.inf
                        for t in range(ip[j], ip[j + 1]):
                            r = ix[t]
                            if asg[r] == q and w[r] >= need and w[r] < w[i] and w[r] < best_w:
                                best_r, best_w = r, w[r]
                        if best_r >= 0:
                            asg[best_r] = -1
                            room[q] += w[best_r]
                            done = True
                    if done:
                        if w[i] <= room[q]:
                            asg[i] = q
                            room[q] -= w[i]
                        changed = True
                        break
            if not changed:
                break
        # re-pack each site: the subset of its rows and the unassigned rows it covers that
        # fills it most (0/1 knapsack by dynamic programming on integer weights; other
        # weights are rounded up to 1/20,000 of the capacity, which keeps the subset feasible)
        packed = False
        for q in range(k):
            j = sites[q]
            cnt = 0
            exact = cap[j] <= 200000.0
            for t in range(ip[j], ip[j + 1]):
                r = ix[t]
                if asg[r] == q or (asg[r] < 0 and w[r] > 0):
                    items[cnt] = r
                    cnt += 1
                    if w[r] != np.floor(w[r]):
                        exact = False
            if cnt < 2:
                continue
            scale = 1.0 if exact else 20000.0 / cap[j]
            c_units = int(np.floor(cap[j] * scale))
            unit = np.empty(cnt, np.int64)
            for c in range(cnt):
                unit[c] = (
                    int(np.ceil(w[items[c]] * scale - 1e-9)) if not exact else int(w[items[c]])
                )
            dp = np.zeros(c_units + 1)
            keep = np.zeros((cnt, c_units + 1), np.bool_)
            for c in range(cnt):
                u = unit[c]
                val = w[items[c]]
                for cc in range(c_units, u - 1, -1):
                    if dp[cc - u] + val > dp[cc]:
                        dp[cc] = dp[cc - u] + val
                        keep[c, cc] = True
            old = cap[j] - room[q]
            if dp[c_units] <= old + 1e-9 * (1.0 + cap[j]):
                continue
            cc = c_units
            fill_w = 0.0
            for c in range(cnt - 1, -1, -1):
                r = items[c]
                if keep[c, cc]:
                    cc -= unit[c]
                    asg[r] = q
                    fill_w += w[r]
                elif asg[r] == q:
                    asg[r] = -1
            room[q] = cap[j] - fill_w
            packed = True
        if not packed:
            break
    out = np.full(n, -1, np.int64)
    for i in range(n):
        if asg[i] >= 0:
            out[i] = sites[asg[i]]
    return out


@njit(cache=True)
def _local(
    ip, ix, w, cap, nfix, sites, cand, nb_ptr, nb_idx, p, rowmap, tol, seed, max_evals
):  # pragma: no cover
    """Greedy fill from ``cand``, then passes over the free sites (random order) replacing each
    by the best of its neighbours (``nb_idx[nb_ptr[j]:nb_ptr[j + 1]]``: candidates sharing a
    row with it) when that raises the score (:func:`_flow_value`); when a pass changes nothing,
    one pass over all of ``cand``, and neighbour passes again if it helped. Returns
    (sites, score). Stops (with the best so far) after ``max_evals`` flow evaluations.

    ``sites`` = fixed sites (first ``nfix``) then free ones.
    """
    evals = 0
    np.random.seed(seed)  # noqa: NPY002 - numba has only the legacy random API
    sites = sites.copy()
    in_s = np.zeros(len(cap), np.bool_)
    for q in range(len(sites)):
        in_s[sites[q]] = True
    f0 = _flow_value(ip, ix, w, cap, sites, rowmap)
    while len(sites) - nfix < p and evals <= max_evals:
        best, best_k = f0 + tol, -1
        for c in range(len(cand)):
            k = cand[c]
            if not in_s[k]:
                v = _flow_value(ip, ix, w, cap, _with(sites, k), rowmap)
                if v > best:
                    best, best_k = v, k
        if best_k < 0:
            break
        sites = _with(sites, best_k)
        in_s[best_k] = True
        f0 = best
    full = False  # neighbour passes until none helps, then a pass over all candidates
    while True:
        improved = False
        for pos in nfix + np.random.permutation(len(sites) - nfix):  # noqa: NPY002
            j = sites[pos]
            best, best_k = f0 + tol, -1
            pool = cand if full else nb_idx[nb_ptr[j] : nb_ptr[j + 1]]
            n_out = 0
            for k in pool:
                n_out += not in_s[k]
            outside = np.empty(n_out, np.int64)
            n_out = 0
            for k in pool:
                if not in_s[k]:
                    outside[n_out] = k
                    n_out += 1
            if n_out == 0:
                continue
            vals = _swap_values(ip, ix, w, cap, sites, pos, outside, rowmap)
            evals += n_out
            for c in range(n_out):
                if vals[c] > best:
                    best, best_k = vals[c], outside[c]
            if best_k >= 0:
                sites[pos] = best_k
                in_s[j] = False
                in_s[best_k] = True
                f0 = best
                improved = True
        if (not improved and full) or evals > max_evals:
            break
        full = not improved
    return sites, f0


# ----------------------------------------------------------------------------- driver


def solve(
    a: sp.csc_array, w: np.ndarray, p: int, fx: np.ndarray, cap: np.ndarray, deadline: float
) -> tuple[np.ndarray, str, float, np.ndarray]:
    """Capacitated MCLP: (selected incl. fixed, status, relative gap, row -> site or -1)."""
    n, m = a.shape
    fx = np.asarray(fx, dtype=np.int64)
    cap = np.asarray(cap, dtype=np.float64)
    wpos = np.where(w > 0, w, 0.0).astype(np.float64)
    isfixed = np.zeros(m, dtype=bool)
    isfixed[fx] = True
    p = int(min(p, m - len(fx)))
    # pairs that can serve: positive weight that fits the site's capacity on its own
    coo = sp.coo_array(a)
    ok = (wpos[coo.row] > 0) & (wpos[coo.row] <= cap[coo.col])
    b = sp.csc_array((np.ones(int(ok.sum())), (coo.row[ok], coo.col[ok])), shape=(n, m))
    b.sort_indices()
    ip = b.indptr.astype(np.int64)
    ix = b.indices.astype(np.int64)
    rows = np.flatnonzero((w > 0) & (np.diff(sp.csr_array(a).indptr) > 0))
    if ip[-1] == 0:  # nothing can be served
        return np.sort(fx), "optimal", 0.0, np.full(n, -1, dtype=np.int64)

    def left() -> float:
        v = _left(deadline)
        return math.inf if v is None else v

    # 1. a quick single-source start (also the Lagrangian step target)
    h_sel, h_asg, _h_val = mclp_capacitated_search(
        b, wpos, cap, p, fx, budget_s=min(0.1, left() / 20), deadline=deadline
    )
    h_asg[wpos <= 0] = -1
    best_sel, best_asg, best_val = h_sel, h_asg, float(wpos[h_asg >= 0].sum())

    # 2. Lagrangian bound
    # about 2,000 steps on the 20,000-pair benchmark (1.3 s CPU); fewer under a short limit
    # (an iteration costs about 3.5e-8 s per pair; the compiled loop cannot read the clock)
    iters = int(np.clip(4e7 / max(int(ip[-1]), 1), 300, 3000))
    if math.isfinite(left()):
        iters = max(20, min(iters, int(0.15 * max(left(), 0.0) / (3.5e-8 * max(int(ip[-1]), 1)))))
    ub, lam, freq = _subgradient(ip, ix, wpos, cap, isfixed, p, 0.5 * wpos, best_val, iters, 50)
    integral = bool(np.all(wpos == np.floor(wpos))) and float(wpos.sum()) < 2.0**52
    tol = 1e-9 * max(1.0, abs(ub))
    ub_eff = math.floor(ub + tol) if integral else ub
    if best_val >= ub_eff - (0.0 if integral else tol):
        return np.sort(best_sel), "optimal", 0.0, best_asg

    # 3. flow-guided search over a pool of sites
    k_val = _site_values(ip, ix, wpos, cap, lam, np.zeros(len(ix)))
    free = np.flatnonzero(~isfixed)
    if len(free) <= 150:
        pool = free
    else:
        top = free[np.argsort(-k_val[free], kind="stable")[: 3 * p + 20]]
        pool = np.union1d(np.union1d(top, free[freq[free] > 0]), h_sel[~isfixed[h_sel]])
    by_freq = free[np.argsort(-freq[free], kind="stable")]
    starts = [by_freq[freq[by_freq] > 0][:p], h_sel[~isfixed[h_sel]], np.zeros(0, dtype=np.int64)]
    budget = min(8.0, 0.3 * left())
    # the search sees only the fixed and pool sites, and rows with the same of those sites
    # merged (they are interchangeable in the flow)
    cols = np.concatenate([fx, pool])
    loc = np.full(m, -1, dtype=np.int64)
    loc[cols] = np.arange(len(cols))
    sub = sp.csr_array(b[:, cols])
    used = np.flatnonzero(np.diff(sub.indptr) > 0)
    first, inv = _unique_rows(sp.csc_array(sub[used]))
    agg = sp.csc_array(sub[used[first]])
    agg.sort_indices()
    w_agg = np.bincount(inv, weights=wpos[used], minlength=len(first))
    cands = (
        []
        if len(first) == 0
        else _search(
            agg.indptr.astype(np.int64),
            agg.indices.astype(np.int64),
            w_agg,
            cap[cols],
            np.arange(len(fx), dtype=np.int64),
            np.arange(len(fx), len(cols), dtype=np.int64),
            p,
            [loc[st] for st in starts],
            budget,
            deadline,
            ub_eff,
        )
    )
    cands = [(v, np.sort(cols[sites])) for v, sites in cands]

    # 4. single-source assignments for the best site sets (repaired max flows); the best one
    # then polished by HiGHS with its sites fixed open
    rowmap = np.full(n, -1, dtype=np.int64)
    top_sel, top_asg, top_val = best_sel, best_asg, best_val
    for _score, sites in cands[:5]:
        sel = np.union1d(fx, sites)
        asg = _checked(b, wpos, cap, _repair(ip, ix, wpos, cap, sel, rowmap))
        v = float(wpos[asg >= 0].sum())
        if v > top_val:
            top_sel, top_asg, top_val = sel, asg, v
    if left() > 0.5 and top_val < ub_eff:
        st, _g, _b, s_sel, s_asg = _capacitated_cover(
            a,
            wpos,
            cap,
            top_sel,
            rows=rows,
            row_obj=wpos,
            y_obj=np.zeros(m),
            n_open=(-np.inf, float(len(top_sel))),
            deadline=min(deadline, time.perf_counter() + min(1.0, left() / 8)),
            start_sel=top_sel,
            start_assign=top_asg,
        )
        if st in ("optimal", "feasible") and float(wpos[s_asg >= 0].sum()) > top_val:
            top_sel, top_asg, top_val = s_sel, s_asg, float(wpos[s_asg >= 0].sum())
    if top_val > best_val:
        best_sel, best_asg, best_val = top_sel, top_asg, top_val
    if best_val >= ub_eff - (0.0 if integral else tol):
        return np.sort(best_sel), "optimal", 0.0, best_asg

    # 5. HiGHS on the compact model from the best answer
    status, _gap, bound, sel, assign = _capacitated_cover(
        a,
        wpos,
        cap,
        fx,
        rows=rows,
        row_obj=wpos,
        y_obj=np.zeros(m),
        n_open=(-np.inf, p + len(fx)),
        deadline=deadline,
        start_sel=best_sel,
        start_assign=best_asg,
        options=_CAP_HIGHS,
    )
    if status == "infeasible":  # cannot happen (the fixed sites alone are feasible)
        raise RuntimeError("capacitated MCLP reported infeasible")
    if status in ("optimal", "feasible"):
        val = float(wpos[assign >= 0].sum())
        if val > best_val:
            best_sel, best_asg, best_val = sel, assign, val
        if status == "optimal":
            return np.sort(best_sel), "optimal", 0.0, best_asg
        if math.isfinite(bound):
            ub_eff = min(ub_eff, math.floor(bound + tol) if integral else bound)
    if best_val >= ub_eff - (0.0 if integral else tol):
        return np.sort(best_sel), "optimal", 0.0, best_asg
    gap = max(ub_eff - best_val, 0.0) / max(best_val, 1e-10)
    return np.sort(best_sel), "feasible", gap, best_asg


def _search(ip, ix, w, cap, fx, pool, p, starts, budget_s, deadline, upper=math.inf):
    """Max-flow-scored site search; returns [(score, free sites)] best first (distinct sets).

    Each start goes through :func:`_local`; then, until ``budget_s`` CPU seconds pass, a random
    part of the best set is dropped and :func:`_local` refills and improves it (seeded: the same
    input gives the same answers for the same number of rounds).
    """
    rowmap = np.full(len(w), -1, dtype=np.int64)
    fx = np.asarray(fx, dtype=np.int64)
    nfix = len(fx)
    # neighbours: pool sites sharing a row (free sites only are ever swapped in)
    m = len(cap)
    a = sp.csc_array((np.ones(len(ix)), ix, ip), shape=(len(w), m))
    is_pool = np.zeros(m, dtype=bool)
    is_pool[pool] = True
    nb = sp.csr_array((a.T @ a) > 0)
    nb = sp.csr_array(nb.multiply(is_pool[None, :]))
    nb.setdiag(0)
    nb.eliminate_zeros()
    nb.sort_indices()
    nb.indptr = nb.indptr.astype(np.int64)
    nb.indices = nb.indices.astype(np.int64)
    tol = 1e-9 * max(1.0, float(w.sum()))
    c_end = time.process_time() + budget_s
    rng = np.random.default_rng(0)
    seen: dict[tuple[int, ...], float] = {}

    # flow evaluations per CPU second, measured on the first start (the compiled search cannot
    # read the clock)
    probe = np.concatenate([fx, np.asarray(starts[0] if starts else [], dtype=np.int64)[:p]])
    t0 = time.process_time()
    for _ in range(10):
        _flow_value(ip, ix, w, cap, probe, rowmap)
    per_eval = max((time.process_time() - t0) / 10, 1e-6)

    def local(free: np.ndarray) -> tuple[np.ndarray, float]:
        st = np.concatenate([fx, np.asarray(free, dtype=np.int64)[:p]])
        c_left = min(c_end - time.process_time(), deadline - time.perf_counter())
        max_evals = int(max(c_left, 0.0) / per_eval) + 1
        sites, v = _local(
            ip,
            ix,
            w,
            cap,
            nfix,
            st,
            pool,
            nb.indptr,
            nb.indices,
            p,
            rowmap,
            tol,
            int(rng.integers(2**31)),
            max_evals,
        )
        free = np.sort(sites[nfix:])
        seen[tuple(int(j) for j in free)] = float(v)
        return free, float(v)

    best, best_v = np.zeros(0, dtype=np.int64), -1.0
    for st in starts:
        f, v = local(st)
        if v > best_v:
            best, best_v = f, v
        if time.process_time() > c_end or time.perf_counter() > deadline:
            break
    stale = 0
    while (
        time.process_time() < c_end
        and time.perf_counter() < deadline
        and len(best) > 0
        and best_v < upper - tol
        and stale < 200
    ):
        q = int(rng.integers(1, max(2, len(best) // 4) + 1))
        f, v = local(rng.permutation(best)[: len(best) - q])
        stale += 1
        if v > best_v + tol:
            best, best_v, stale = f, v, 0
    ranked = sorted(seen.items(), key=lambda kv: -kv[1])
    return [(v, np.array(k, dtype=np.int64)) for k, v in ranked]


def _checked(b: sp.csc_array, w: np.ndarray, cap: np.ndarray, asg: np.ndarray) -> np.ndarray:
    """``asg`` made safe against rounding: rows on pairs ``b`` lacks, and the smallest rows of
    any site over capacity, are unassigned."""
    asg = asg.copy()
    on = np.flatnonzero(asg >= 0)
    ok = np.asarray(b[on, asg[on]]).ravel() > 0
    asg[on[~ok]] = -1
    load = np.bincount(asg[asg >= 0], weights=w[asg >= 0], minlength=len(cap))
    for j in np.flatnonzero(load > cap):
        rs = np.flatnonzero(asg == j)
        for i in rs[np.argsort(w[rs], kind="stable")]:
            if load[j] <= cap[j]:
                break
            asg[i] = -1
            load[j] -= w[i]
    return asg
