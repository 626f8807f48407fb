"""Tests for siting._locate_capmclp (capacitated MCLP with single sourcing).

Every answer is checked to be a real single-source assignment within capacity, and its value
is compared with brute force: all site subsets and, per subset, the best assignment found by
exhaustive search.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from siting import _locate_capmclp as capm
from siting._locate_prep import _coverage

# ----------------------------------------------------------------------------- brute force


def _best_for_sites(cov, w, cap, sites):
    """Largest covered weight over single-source assignments to ``sites`` (exhaustive)."""
    rows = [i for i in range(cov.shape[0]) if w[i] > 0 and any(cov[i, j] for j in sites)]
    rows.sort(key=lambda i: -w[i])
    opts = [[j for j in sites if cov[i, j] and w[i] <= cap[j]] for i in rows]
    suffix = np.concatenate([np.cumsum([w[i] for i in rows][::-1])[::-1], [0.0]])
    room = {j: float(cap[j]) for j in sites}
    best = [0.0]

    def go(k, val):
        if val + suffix[k] <= best[0]:
            return
        if k == len(rows):
            best[0] = val
            return
        i = rows[k]
        for j in opts[k]:
            if w[i] <= room[j]:
                room[j] -= w[i]
                go(k + 1, val + w[i])
                room[j] += w[i]
        go(k + 1, val)

    go(0, 0.0)
    return best[0]


def _brute(cov, w, cap, p, fixed=()):
    m = cov.shape[1]
    free = [j for j in range(m) if j not in set(fixed)]
    best = 0.0
    for k in range(min(p, len(free)) + 1):
        for comb in itertools.combinations(free, k):
            best = max(best, _best_for_sites(cov, w, cap, sorted(set(fixed) | set(comb))))
    return best


def _check(cov, w, cap, p, fixed, sel, assign):
    """The answer is feasible; returns its covered weight."""
    fixed = np.asarray(fixed, dtype=np.int64)
    assert np.all(np.diff(sel) > 0), "selected must be sorted and distinct"
    assert set(fixed.tolist()) <= set(sel.tolist())
    assert len(sel) <= p + len(fixed)
    on = np.flatnonzero(assign >= 0)
    assert np.all(np.isin(assign[on], sel))
    assert np.all(cov[on, assign[on]])
    load = np.bincount(assign[on], weights=w[on], minlength=cov.shape[1])
    assert np.all(load <= cap + 1e-9)
    return float(w[on].sum())


def _solve(cov, w, cap, p, fixed=(), time_limit=None):
    a = _coverage(cov)
    fx = np.asarray(sorted(fixed), dtype=np.int64)
    deadline = math.inf if time_limit is None else time.perf_counter() + time_limit
    return capm.solve(a, np.asarray(w, dtype=np.float64), p, fx, np.asarray(cap, float), deadline)


def _random(seed, n, m, density=0.35, zero_w=False):
    rng = np.random.default_rng(seed)
    cov = rng.random((n, m)) < density
    w = rng.integers(1, 20, n).astype(float)
    if zero_w:
        w[rng.random(n) < 0.25] = 0.0
    cap = rng.integers(5, 40, m).astype(float)
    return cov, w, cap


# ----------------------------------------------------------------------------- hand checked


def test_hand_checked_capacity_splits_rows():
    # one site covers all three rows (5, 4, 3) but holds 8: best is 5 + 3 = 8
    cov = np.array([[1], [1], [1]], bool)
    sel, status, gap, asg = _solve(cov, [5, 4, 3], [8], 1)
    assert status == "optimal" and gap == 0.0
    assert sel.tolist() == [0]
    assert _check(cov, np.array([5.0, 4, 3]), np.array([8.0]), 1, (), sel, asg) == 8.0


def test_hand_checked_second_site_takes_the_overflow():
    # site 0 covers rows 0-2 (cap 6), site 1 covers rows 2-3 (cap 10), p = 2
    cov = np.array([[1, 0], [1, 0], [1, 1], [0, 1]], bool)
    w = np.array([3.0, 3, 4, 5])
    sel, status, _gap, asg = _solve(cov, w, [6, 10], 2)
    assert status == "optimal"
    assert _check(cov, w, np.array([6.0, 10]), 2, (), sel, asg) == 15.0


def test_nothing_servable():
    cov = np.array([[1, 0], [0, 1]], bool)
    sel, status, gap, asg = _solve(cov, [5, 6], [1, 2], 1)  # every row exceeds its site's room
    assert status == "optimal" and gap == 0.0 and (asg == -1).all()
    sel, status, _gap, asg = _solve(cov, [5, 6], [1, 2], 1, fixed=[1])
    assert sel.tolist() == [1] and status == "optimal" and (asg == -1).all()


# ----------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(1000 + seed)
    n, m = int(rng.integers(5, 10)), int(rng.integers(3, 7))
    cov, w, cap = _random(seed, n, m)
    p = int(rng.integers(1, m))
    sel, status, gap, asg = _solve(cov, w, cap, p)
    assert status == "optimal" and gap == 0.0
    assert _check(cov, w, cap, p, (), sel, asg) == _brute(cov, w, cap, p)


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force_with_fixed_and_zero_weights(seed):
    rng = np.random.default_rng(2000 + seed)
    n, m = int(rng.integers(5, 10)), int(rng.integers(4, 7))
    cov, w, cap = _random(100 + seed, n, m, zero_w=True)
    fixed = sorted(rng.choice(m, size=int(rng.integers(1, 3)), replace=False).tolist())
    p = int(rng.integers(0, m - len(fixed) + 1))
    sel, status, gap, asg = _solve(cov, w, cap, p, fixed=fixed)
    assert status == "optimal" and gap == 0.0
    assert (asg[w <= 0] == -1).all()
    assert _check(cov, w, cap, p, fixed, sel, asg) == _brute(cov, w, cap, p, fixed)


@pytest.mark.parametrize("seed", range(4))
def test_fractional_weights_and_uncoverable_rows(seed):
    rng = np.random.default_rng(3000 + seed)
    cov, _w, cap = _random(200 + seed, 8, 5)
    cov[0] = False  # a row no site reaches
    w = rng.uniform(0.5, 12.0, 8)
    cap = cap / 2.5
    sel, status, _gap, asg = _solve(cov, w, cap, 2)
    assert status == "optimal" and asg[0] == -1
    assert _check(cov, w, cap, 2, (), sel, asg) == pytest.approx(_brute(cov, w, cap, 2), abs=1e-9)


def test_time_limit_gives_feasible_with_a_valid_finite_gap():
    # a clustered instance with tight capacities, too big to prove in a few milliseconds
    rng = np.random.default_rng(7)
    pts = rng.normal(size=(400, 2)) * 3.0
    sites = rng.normal(size=(120, 2)) * 3.0
    cov = np.linalg.norm(pts[:, None] - sites[None], axis=2) <= 1.2
    w = rng.integers(1, 50, 400).astype(float)
    cap = np.full(120, 1.3 * w.sum() / 25)
    sel, status, gap, asg = _solve(cov, w, cap, 15, time_limit=0.01)
    val = _check(cov, w, cap, 15, (), sel, asg)
    assert status == "feasible"
    assert math.isfinite(gap) and gap > 0
    assert val > 0


# ----------------------------------------------------------------------------- pieces


@pytest.mark.parametrize("seed", range(6))
def test_flow_value_matches_scipy_max_flow(seed):
    rng = np.random.default_rng(seed)
    n, m = 60, 15
    cov = rng.random((n, m)) < 0.2
    w = rng.integers(1, 30, n)
    cap = rng.integers(0, 120, m)
    a = sp.csc_array(cov.astype(float))
    ip, ix = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    rowmap = np.full(n, -1, dtype=np.int64)
    for k in (1, 4, 9):
        s = np.sort(rng.choice(m, size=k, replace=False)).astype(np.int64)
        got = capm._flow_value(ip, ix, w.astype(float), cap.astype(float), s, rowmap)
        # scipy: source 0, rows 1..n, sites n+1.., sink n+m+1
        sub = sp.coo_array(a[:, s])
        src = np.concatenate([np.zeros(n, int), 1 + sub.row, n + 1 + np.arange(k)])
        dst = np.concatenate([1 + np.arange(n), n + 1 + sub.col, np.full(k, n + k + 1)])
        c = np.concatenate([w, np.full(sub.nnz, 10**6), cap[s]])
        g = sp.csr_array((c, (src, dst)), shape=(n + k + 2, n + k + 2))
        assert got == maximum_flow(g, 0, n + k + 1).flow_value
        assert (rowmap == -1).all()


@pytest.mark.parametrize("seed", range(6))
def test_repair_is_feasible_and_the_flow_bounds_it(seed):
    cov, w, cap = _random(400 + seed, 9, 5, density=0.5)
    a = sp.csc_array(cov.astype(float))
    ip, ix = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    rowmap = np.full(len(w), -1, dtype=np.int64)
    sites = np.array([0, 2, 3], dtype=np.int64)
    asg = capm._repair(ip, ix, w, cap, sites, rowmap)
    val = _check(cov, w, cap, 3, (), np.sort(sites), asg)
    best = _best_for_sites(cov, w, cap, sites.tolist())
    assert val <= best <= capm._flow_value(ip, ix, w, cap, sites, rowmap) + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_bound_is_valid_for_any_multipliers(seed):
    rng = np.random.default_rng(seed)
    cov, w, cap = _random(500 + seed, 8, 5)
    p = 2
    opt = _brute(cov, w, cap, p)
    a = sp.csc_array(cov.astype(float))
    ip, ix = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    isfixed = np.zeros(5, dtype=bool)
    for lam0 in (np.zeros(8), rng.uniform(0, 1, 8) * w, w.copy()):
        ub, lam, _freq = capm._subgradient(ip, ix, w, cap, isfixed, p, lam0, 0.0, 50, 5)
        assert ub >= opt - 1e-9
        k_val = capm._site_values(ip, ix, w, cap, lam, np.zeros(len(ix)))
        _sel, tot = capm._choose(k_val, isfixed, p)
        assert tot + lam.sum() >= opt - 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_swap_values_match_fresh_flows(seed):
    rng = np.random.default_rng(seed)
    n, m = 80, 20
    cov = rng.random((n, m)) < 0.15
    w = rng.integers(1, 30, n).astype(float)
    cap = rng.integers(10, 150, m).astype(float)
    a = sp.csc_array(cov.astype(float))
    ip, ix = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    rowmap = np.full(n, -1, dtype=np.int64)
    perm = rng.permutation(m).astype(np.int64)
    sites, cand = perm[:6], perm[6:]
    for pos in range(6):
        got = capm._swap_values(ip, ix, w, cap, sites, pos, cand, rowmap)
        for c, k in enumerate(cand):
            t = sites.copy()
            t[pos] = k
            assert got[c] == pytest.approx(capm._flow_value(ip, ix, w, cap, t, rowmap), abs=1e-7)


def test_edge_cases_all_fixed_large_p_and_many_empty_sites():
    cov, w, cap = _random(900, 9, 5)
    sel, status, _gap, asg = _solve(cov, w, cap, 0, fixed=range(5))  # every site fixed
    assert sel.tolist() == [0, 1, 2, 3, 4] and status == "optimal"
    assert _check(cov, w, cap, 0, range(5), sel, asg) == _brute(cov, w, cap, 0, range(5))
    sel, status, _gap, asg = _solve(cov, w, cap, 50)  # p beyond the number of sites
    assert status == "optimal" and _check(cov, w, cap, 5, (), sel, asg) == _brute(cov, w, cap, 5)
    # 200 candidates of which only 4 reach anything (the search's pool is then a subset)
    wide = np.zeros((9, 200), dtype=bool)
    wide[:, [3, 50, 120, 199]] = cov[:, :4]
    cap_w = np.full(200, 30.0)
    sel, status, _gap, asg = _solve(wide, w, cap_w, 2)
    assert status == "optimal"
    assert _check(wide, w, cap_w, 2, (), sel, asg) == _brute(cov[:, :4], w, cap_w[:4], 2)
