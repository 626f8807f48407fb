"""Greedy-plus-interchange heuristics that give HiGHS its first incumbent.

Nothing here is ever reported as optimal by itself: :mod:`siting.locate` hands these answers to
HiGHS as a starting solution and reports what HiGHS proves.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

__all__ = [
    "lscp_greedy",
    "mclp_capacitated_search",
    "mclp_greedy_swap",
    "mclp_local_search",
    "pcenter_greedy",
]


def mclp_greedy_swap(
    a: sp.csc_array, w: np.ndarray, p: int, *, max_rounds: int = 200, deadline: float = np.inf
) -> np.ndarray:
    """Greedy MCLP then best-improvement single swaps; returns selected column indices.

    ``a`` is the (rows x candidates) 0/1 coverage matrix, ``w`` the row weights.
    """
    at = sp.csr_array(a.T)
    s = _mclp_fill(a, at, w, np.zeros(0, dtype=np.int64), p)
    return np.sort(_mclp_swap(a, at, w, s, deadline, max_rounds=max_rounds))


def _mclp_fill(a, at, w, s, p):
    """Greedy completion of the site list ``s`` to ``p`` sites (stops when nothing gains)."""
    s = [int(j) for j in s]
    covered = np.zeros(a.shape[0], dtype=bool)
    for j in s:
        covered[a.indices[a.indptr[j] : a.indptr[j + 1]]] = True
    while len(s) < p:
        gain = at @ np.where(covered, 0.0, w)
        gain[s] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        s.append(j)
        covered[a.indices[a.indptr[j] : a.indptr[j + 1]]] = True
    return np.array(s, dtype=np.int64)


def _mclp_swap(a, at, w, s, deadline, max_rounds=500):
    """Best-improvement single swaps from ``s`` until none gains."""
    s = s.copy()
    if len(s) == 0 or len(s) >= a.shape[1]:
        return s
    tol = 1e-9 * max(float(w.sum()), 1.0)
    for _ in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        sub = a[:, s]
        cnt = np.asarray(sub.sum(axis=1)).ravel()
        once = np.where(cnt == 1, w, 0.0)
        loss = sub.T @ once
        base = at @ np.where(cnt == 0, w, 0.0)
        extra = (at @ sp.csc_array(sub.multiply(once[:, None]))).toarray()
        delta = base[:, None] + extra - loss[None, :]
        delta[s, :] = -np.inf
        k, jpos = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if delta[k, jpos] <= tol:
            break
        s[jpos] = k
    return s


def _mclp_value(a: sp.csc_array, w: np.ndarray, s: np.ndarray) -> float:
    return float(w[np.asarray(a[:, s].sum(axis=1)).ravel() > 0].sum()) if len(s) else 0.0


def mclp_local_search(
    a: sp.csc_array,
    w: np.ndarray,
    p: int,
    *,
    starts: list[np.ndarray] | None = None,
    budget_s: float = 1.0,
    deadline: float = np.inf,
    seed: int = 0,
    upper: float = np.inf,
) -> tuple[np.ndarray, float]:
    """Iterated local search for MCLP; returns (selected columns, covered weight).

    Each start (e.g. the greedy answer, the largest LP values) is completed greedily and
    improved by single swaps; then, until ``budget_s`` CPU seconds pass (or the wall-clock
    ``deadline``), a random part of the best answer is dropped, refilled greedily and swapped
    again, keeping improvements. Seeded, so the same input gives the same answer for the same
    number of iterations. Stops early once the covered weight reaches ``upper`` (a proven
    bound, e.g. the LP value).
    """
    if p <= 0 or a.shape[0] == 0 or a.shape[1] == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    rng = np.random.default_rng(seed)
    at = sp.csr_array(a.T)
    # the budget is CPU seconds (the same work on a loaded machine); ``deadline`` stays wall time
    c_end = time.process_time() + budget_s
    t_end = deadline
    best, best_v = np.zeros(0, dtype=np.int64), -1.0
    for st in [np.zeros(0, dtype=np.int64), *(starts or [])]:
        cand = _mclp_swap(a, at, w, _mclp_fill(a, at, w, st[:p], p), t_end)
        v = _mclp_value(a, w, cand)
        if v > best_v:
            best, best_v = cand, v
    if len(best) == 0:
        return best, max(best_v, 0.0)
    while (
        time.process_time() < c_end
        and time.perf_counter() < t_end
        and best_v < upper - 1e-9 * max(abs(upper), 1.0)
    ):
        q = int(rng.integers(1, max(2, len(best) // 4) + 1))
        keep = rng.permutation(best)[: len(best) - q]
        cand = _mclp_swap(a, at, w, _mclp_fill(a, at, w, keep, p), t_end)
        v = _mclp_value(a, w, cand)
        if v > best_v + 1e-9 * max(abs(best_v), 1.0):
            best, best_v = cand, v
    return np.sort(best), best_v


def lscp_greedy(a: sp.csc_array) -> np.ndarray:
    """Greedy set cover (most uncovered rows first), then redundant sites dropped.

    Every row of ``a`` must be coverable.
    """
    n = a.shape[0]
    at = sp.csr_array(a.T)
    uncovered = np.ones(n, dtype=bool)
    sel: list[int] = []
    while uncovered.any():
        gain = at @ uncovered.astype(np.float64)
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            raise ValueError("lscp_greedy needs every row coverable")
        sel.append(j)
        uncovered[a.indices[a.indptr[j] : a.indptr[j + 1]]] = False
    s = np.array(sel, dtype=np.int64)
    # Drop sites whose rows are all covered twice, smallest first.
    cnt = np.asarray(a[:, s].sum(axis=1)).ravel()
    keep = np.ones(len(s), dtype=bool)
    for pos in np.argsort(np.diff(a.indptr)[s], kind="stable"):
        rows = a.indices[a.indptr[s[pos]] : a.indptr[s[pos] + 1]]
        if np.all(cnt[rows] >= 2):
            keep[pos] = False
            cnt[rows] -= 1
    return np.sort(s[keep])


def pcenter_greedy(d: np.ndarray, p: int, fixed: np.ndarray) -> np.ndarray:
    """Greedy p-center (add the site that lowers the largest distance most); fixed sites stay."""
    n, m = d.shape
    finite = np.isfinite(d)
    big = (float(d[finite].max()) if finite.any() else 1.0) * 4.0 + 1.0
    dm = np.where(finite, d, big)
    cur = dm[:, fixed].min(axis=1) if len(fixed) else np.full(n, big * 2.0)
    is_sel = np.zeros(m, dtype=bool)
    is_sel[fixed] = True
    for _ in range(p):
        new = np.minimum(cur[:, None], dm)
        score = new.max(axis=0) * (n + 1.0) + new.sum(axis=0) / max(float(dm.max()), 1.0)
        score[is_sel] = np.inf
        j = int(np.argmin(score))
        is_sel[j] = True
        cur = new[:, j]
    return np.flatnonzero(is_sel)


def _cap_take(a, w, deg, room, assigned, j):
    """Assign the unassigned rows of column ``j`` to it while its room lasts.

    All of them when they fit; otherwise rows with the fewest other candidates first (larger
    weight breaking ties), each taken when it still fits (first fit).
    """
    rows = a.indices[a.indptr[j] : a.indptr[j + 1]]
    rows = rows[assigned[rows] < 0]
    total = float(w[rows].sum())
    if total <= room[j]:
        assigned[rows] = j
        room[j] -= total
        return
    rows = rows[np.lexsort((-w[rows], deg[rows]))]
    left = float(room[j])
    for i, wi in zip(rows.tolist(), w[rows].tolist(), strict=True):
        if wi <= left:
            assigned[i] = j
            left -= wi
    room[j] = left


def _cap_build(a, at, w, cap, deg, fixed, keep, p):
    """Fixed sites, then ``keep``, then greedy additions (gain = unassigned weight reached,
    capped by the room) up to ``p`` sites beyond the fixed ones; rows assigned as sites open."""
    room = cap.astype(np.float64).copy()
    assigned = np.full(a.shape[0], -1, dtype=np.int64)
    sel = [int(j) for j in fixed]
    is_sel = np.zeros(a.shape[1], dtype=bool)
    is_sel[sel] = True
    for j in sel:
        _cap_take(a, w, deg, room, assigned, j)
    n_free = 0
    for j in keep:
        if n_free >= p:
            break
        if not is_sel[j]:
            sel.append(int(j))
            is_sel[j] = True
            n_free += 1
            _cap_take(a, w, deg, room, assigned, j)
    while n_free < p:
        gain = np.minimum(at @ np.where(assigned < 0, w, 0.0), room)
        gain[is_sel] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        sel.append(j)
        is_sel[j] = True
        n_free += 1
        _cap_take(a, w, deg, room, assigned, j)
    return np.array(sel, dtype=np.int64), assigned


def mclp_capacitated_search(
    a: sp.csc_array,
    w: np.ndarray,
    cap: np.ndarray,
    p: int,
    fixed: np.ndarray,
    *,
    starts: list[np.ndarray] | None = None,
    budget_s: float = 1.0,
    deadline: float = np.inf,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Iterated greedy for the capacitated MCLP; returns (sites, row -> site or -1, value).

    Sites open one at a time (fixed ones first, then each start's sites, then the site whose
    unassigned reachable weight, capped by its capacity, is largest) and take their unassigned
    rows while the capacity lasts (all of them when they fit; otherwise rows with the fewest
    other candidates first). Until ``budget_s`` CPU seconds pass (or the wall-clock
    ``deadline``), a random quarter of the best answer's free sites is dropped and the answer
    rebuilt, keeping improvements. Every answer is a real single-source assignment within
    capacity, and ``value`` is its covered weight.
    """
    a = sp.csc_array(a)
    at = sp.csr_array(a.T)
    deg = np.diff(sp.csr_array(a).indptr)
    fixed = np.asarray(fixed, dtype=np.int64)
    nf = len(fixed)
    rng = np.random.default_rng(seed)
    best, best_asg, best_v = fixed, np.full(a.shape[0], -1, dtype=np.int64), -1.0
    for st in [np.zeros(0, dtype=np.int64), *(starts or [])]:
        s, asg = _cap_build(a, at, w, cap, deg, fixed, st, p)
        v = float(w[asg >= 0].sum())
        if v > best_v:
            best, best_asg, best_v = s, asg, v
    c_end = time.process_time() + budget_s  # CPU seconds; ``deadline`` is wall time
    while time.process_time() < c_end and time.perf_counter() < deadline and len(best) > nf:
        free = best[nf:]
        q = int(rng.integers(1, max(2, len(free) // 4) + 1))
        keep = rng.permutation(free)[: len(free) - q]
        s, asg = _cap_build(a, at, w, cap, deg, fixed, keep, p)
        v = float(w[asg >= 0].sum())
        if v > best_v + 1e-9 * max(abs(best_v), 1.0):
            best, best_asg, best_v = s, asg, v
    return np.sort(best), best_asg, max(best_v, 0.0)
