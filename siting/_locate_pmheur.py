"""p-median heuristics and the Lagrangian bound used by :mod:`siting._locate_pmedian`.

Nothing here is ever reported as optimal by itself: the local search gives an incumbent, the
Lagrangian relaxation a lower bound computed by our own arithmetic (valid for any multipliers),
and :func:`siting._locate_pmedian.solve_pmedian` claims optimality only when the two meet or
HiGHS proves it.

Lagrangian relaxation (classical formulation, assignment rows relaxed with multipliers
``lam``): with ``C = w d`` and ``rho_j = sum_i min(0, C_ij - lam_i)``::

    L(lam) = sum_i lam_i + sum_{j fixed} rho_j + (sum of the p smallest rho_j of the free j)

is a lower bound on every solution for every ``lam``; its maximum over ``lam`` equals the LP
bound of the classical (and of the radius) formulation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Lagrangian", "pmedian_lagrangian", "pmedian_local_search", "pmedian_swap"]

_CHUNK = 1 << 21  # cells per block when a dense (rows x candidates) temporary is needed


def _big(d: np.ndarray) -> np.ndarray:
    """``d`` with "not allowed" replaced by a large finite distance (heuristics only)."""
    finite = np.isfinite(d)
    if finite.all():
        return d
    big = (float(d[finite].max()) if finite.any() else 1.0) * 4.0 + 1.0
    return np.where(finite, d, big)


def _two_nearest(dm: np.ndarray, sel: np.ndarray):
    """Position (in ``sel``) of each row's nearest selected site, its distance, the second one."""
    sub = dm[:, sel]
    n = len(dm)
    if len(sel) == 1:
        # any second distance >= every distance of the row prices the swap exactly
        return np.zeros(n, dtype=np.int64), sub[:, 0].copy(), dm.max(axis=1)
    part = np.argpartition(sub, 1, axis=1)[:, :2]
    two = np.take_along_axis(sub, part, axis=1)
    swap = two[:, 0] > two[:, 1]
    first = np.where(swap, part[:, 1], part[:, 0])
    return first, two.min(axis=1), two.max(axis=1)


def pmedian_swap(
    dm: np.ndarray,
    w: np.ndarray,
    sel: np.ndarray,
    movable: np.ndarray,
    *,
    deadline: float = math.inf,
) -> tuple[np.ndarray, float]:
    """Best-improvement interchange (Teitz-Bart) evaluated for all pairs at once.

    ``dm`` must be finite; ``movable[k]`` says whether ``sel[k]`` may be swapped out. Each step
    prices every (site in, site out) pair: ``delta = gain_in + loss_out - extra``, where
    ``gain_in`` is the change from adding the site, ``loss_out`` the change from closing the
    site (its rows go to their second nearest) and ``extra`` corrects the rows of the closed
    site that the new one serves. Returns (selected, cost).
    """
    sel = np.array(sel, dtype=np.int64)
    n, m = dm.shape
    if not movable.any() or len(sel) >= m:
        return np.sort(sel), float(w @ dm[:, sel].min(axis=1)) if len(sel) else math.inf
    step = max(1, _CHUNK // max(m, 1))
    while True:
        first, c1, c2 = _two_nearest(dm, sel)
        total = float(w @ c1)
        gain = np.zeros(m)
        extra = np.zeros((m, len(sel)))
        for s in range(0, n, step):
            blk = dm[s : s + step]
            ws, b1, b2 = w[s : s + step, None], c1[s : s + step, None], c2[s : s + step, None]
            gain += (ws * np.minimum(blk - b1, 0.0)).sum(axis=0)
            e = ws * np.maximum(b2 - np.maximum(blk, b1), 0.0)
            onehot = np.zeros((len(blk), len(sel)))
            onehot[np.arange(len(blk)), first[s : s + step]] = 1.0
            extra += e.T @ onehot
        loss = np.bincount(first, weights=w * (c2 - c1), minlength=len(sel))
        delta = gain[:, None] + loss[None, :] - extra
        delta[sel, :] = np.inf
        delta[:, ~movable] = np.inf
        k = int(np.argmin(delta))
        j, pos = divmod(k, len(sel))
        if not delta[j, pos] < -1e-10 * max(abs(total), 1.0):
            return np.sort(sel), total
        sel[pos] = j
        if time.perf_counter() > deadline:
            return np.sort(sel), float(w @ dm[:, sel].min(axis=1))


def _fill(dm: np.ndarray, w: np.ndarray, keep: np.ndarray, n_open: int) -> np.ndarray:
    """Greedy completion (largest decrease of the weighted distance) of ``keep`` to ``n_open``."""
    sel = [int(j) for j in keep]
    cur = dm[:, keep].min(axis=1) if len(keep) else np.full(len(dm), np.inf)
    while len(sel) < n_open:
        if np.isinf(cur).all():
            cost = w @ dm
        else:
            cost = w @ np.minimum(cur[:, None], dm)
        cost[sel] = np.inf
        j = int(np.argmin(cost))
        sel.append(j)
        cur = np.minimum(cur, dm[:, j])
    return np.array(sel, dtype=np.int64)


def pmedian_local_search(
    d: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: np.ndarray,
    *,
    budget_s: float = 2.0,
    deadline: float = math.inf,
    seed: int = 0,
    lower: float = -math.inf,
    patience: int = 60,
    starts: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Greedy start, interchange, then iterated local search; returns all selected columns.

    ``d`` is dense (rows x candidates) with ``np.inf`` for "not allowed" (priced as a large
    distance here; the caller checks the true cost). Kicks drop a random 1 to p/4 of the free
    sites of the best answer and refill them greedily before the interchange runs again; the
    search stops after ``budget_s`` seconds, ``patience`` kicks in a row without improvement,
    or once the cost reaches ``lower`` (a proven lower bound). ``starts`` are further site lists
    (e.g. the sites the Lagrangian relaxation opens), each completed, interchanged and the best
    of all kept. Seeded: deterministic for the same number of kicks.
    """
    m = d.shape[1]
    fixed = np.asarray(fixed, dtype=np.int64)
    n_open = min(p + len(fixed), m)
    dm = _big(d)
    t_end = min(time.perf_counter() + budget_s, deadline)
    best = _fill(dm, w, fixed, n_open)

    def movable(sel):
        return ~np.isin(sel, fixed)

    best, best_v = pmedian_swap(dm, w, best, movable(best), deadline=deadline)
    for st in starts or []:
        if time.perf_counter() > t_end:
            break
        st = np.setdiff1d(np.asarray(st, dtype=np.int64), fixed)[: n_open - len(fixed)]
        cand = _fill(dm, w, np.concatenate([fixed, st]), n_open)
        cand, v = pmedian_swap(dm, w, cand, movable(cand), deadline=deadline)
        if v < best_v:
            best, best_v = cand, v
    n_free = n_open - len(fixed)
    if n_free == 0 or n_open >= m:
        return np.sort(best)
    rng = np.random.default_rng(seed)
    tol = 1e-10 * max(abs(best_v), 1.0)
    idle = 0
    while time.perf_counter() < t_end and idle < patience and best_v > lower + tol:
        free = best[movable(best)]
        q = int(rng.integers(1, max(1, n_free // 4) + 1))
        keep = np.concatenate([fixed, rng.permutation(free)[: n_free - q]])
        cand = _fill(dm, w, keep, n_open)
        cand, v = pmedian_swap(dm, w, cand, movable(cand), deadline=t_end)
        if v < best_v - tol:
            best, best_v, idle = cand, v, 0
        else:
            idle += 1
    return np.sort(best)


@dataclass(frozen=True)
class Lagrangian:
    """Best multipliers found and what they prove.

    ``bound`` is a lower bound on the cost of every solution; ``rho`` the Lagrangian cost of
    opening each candidate under ``lam``; ``k_open`` how many free candidates the relaxation
    opens (p) and ``rho_in``/``rho_out`` the p-th smallest and the (p+1)-th smallest free ``rho``
    (for reduced-cost fixing: opening free ``j`` outside the p smallest costs at least
    ``bound + rho_j - rho_in``).
    """

    bound: float
    lam: np.ndarray
    rho: np.ndarray
    rho_in: float
    rho_out: float
    choices: list[np.ndarray]


def _lag_eval(cw: np.ndarray, lam: np.ndarray, fixed_mask: np.ndarray, p: int):
    """(bound, rho, chosen free columns) for multipliers ``lam`` (cw = weighted distances)."""
    rho = np.minimum(cw - lam[:, None], 0.0).sum(axis=0)
    free = np.flatnonzero(~fixed_mask)
    if p > 0:
        part = np.argpartition(rho[free], p - 1)[:p] if p < len(free) else np.arange(len(free))
        chosen = free[part]
    else:
        chosen = free[:0]
    bound = float(lam.sum() + rho[fixed_mask].sum() + rho[chosen].sum())
    return bound, rho, chosen


def pmedian_lagrangian(
    d: np.ndarray,
    w: np.ndarray,
    p: int,
    fixed: np.ndarray,
    upper: float,
    *,
    max_iter: int = 600,
    deadline: float = math.inf,
    lam0: np.ndarray | None = None,
) -> Lagrangian:
    """Subgradient ascent on the Lagrangian dual (Polyak steps towards ``upper``).

    Rows of zero weight are left out (a relaxation). ``upper`` is the incumbent's cost; the
    ascent stops when the bound reaches it, after ``max_iter`` steps, when the step has shrunk
    to nothing, or at ``deadline``. ``lam0`` (per row) warm-starts the multipliers. The site
    sets the relaxation opens at its last improving steps are returned as ``choices`` (good
    starts for the local search).
    """
    n, m = d.shape
    pos = w > 0
    cw = w[pos, None] * d[pos]  # inf stays inf: min(0, inf - lam) = 0
    fixed_mask = np.zeros(m, dtype=bool)
    fixed_mask[np.asarray(fixed, dtype=np.int64)] = True
    cw32 = cw.astype(np.float32)
    srt = np.sort(cw, axis=1)
    k = min(p + int(fixed_mask.sum()), m - 1)
    lam = srt[:, k]
    lam = np.where(np.isfinite(lam), lam, srt[:, 0])
    lam = np.where(np.isfinite(lam), lam, 0.0)
    if lam0 is not None:
        lam = np.asarray(lam0, dtype=np.float64)[pos].copy()
    best = (-math.inf, lam, np.zeros(m))
    choices: list[np.ndarray] = []
    scale, idle = 2.0, 0
    target = upper if math.isfinite(upper) else None
    for _ in range(max_iter):
        with np.errstate(over="ignore", invalid="ignore"):  # a runaway step: bound -inf/nan
            bound, rho, chosen = _lag_eval(cw32, lam.astype(np.float32), fixed_mask, p)
        if not math.isfinite(bound):
            break
        if bound > best[0] + 1e-12 * max(abs(bound), 1.0):
            best, idle = (bound, lam.copy(), rho), 0
            ch = np.sort(chosen)
            if not any(np.array_equal(ch, c) for c in choices[-8:]):
                choices = [*choices[-7:], ch]
        else:
            idle += 1
            if idle >= 20:
                scale, idle = scale / 2.0, 0
        if target is not None and bound >= target - 1e-9 * max(abs(target), 1.0):
            break
        open_cols = np.concatenate([np.flatnonzero(fixed_mask), chosen])
        g = 1.0 - (cw[:, open_cols] < lam[:, None]).sum(axis=1)
        gg = float(g @ g)
        if gg == 0.0 or scale < 1e-4 or time.perf_counter() > deadline:
            break
        goal = target if target is not None else bound + 0.05 * abs(bound) + 1.0
        lam = lam + scale * max(goal - bound, 1e-9 * max(abs(bound), 1.0)) / gg * g
    # the ascent runs in float32 (half the memory traffic); the bound it proves is evaluated
    # again in float64 at the best multipliers, so it holds whatever the rounding on the way
    lam = best[1]
    bound, rho, _ = _lag_eval(cw, lam, fixed_mask, p)
    if not math.isfinite(bound):
        bound = -math.inf
    free = np.sort(rho[~fixed_mask])
    rho_in = float(free[p - 1]) if 0 < p <= len(free) else -math.inf
    rho_out = float(free[p]) if p < len(free) else math.inf
    full = np.zeros(n)
    full[pos] = lam
    return Lagrangian(bound, full, rho, rho_in, rho_out, choices[::-1])
