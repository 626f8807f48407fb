"""Tests for the p-median solver (siting._locate_pmedian, siting._locate_pmheur)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siting._locate_pmheur import pmedian_lagrangian, pmedian_local_search, pmedian_swap
from siting.locate import p_median

SEEDS = st.integers(0, 2**32 - 1)
FAST = settings(max_examples=30, deadline=None)


def _brute(d, w, p, fixed):
    """Smallest weighted distance over all site sets of p beyond ``fixed`` (inf if none)."""
    m = d.shape[1]
    free = [j for j in range(m) if j not in set(fixed)]
    best = math.inf
    for comb in itertools.combinations(free, p):
        s = sorted(set(fixed) | set(comb))
        if not s:
            continue
        near = d[:, s].min(axis=1)
        if np.isfinite(near).all():
            best = min(best, float(w[w > 0] @ near[w > 0]))
    return best


def _instance(rng, n, m, p_inf=0.0, spatial=True):
    if spatial:  # planar points: the LP gap is not zero, so the MIP part is exercised
        a, b = rng.random((n, 2)), rng.random((m, 2))
        d = np.round(np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)) * 100.0, 1)
    else:
        d = rng.integers(0, 30, size=(n, m)).astype(float)
    d[rng.random((n, m)) < p_inf] = np.inf
    w = rng.integers(0, 9, size=n).astype(float)
    return d, w


@FAST
@given(seed=SEEDS)
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 25)), int(rng.integers(2, 10))
    d, w = _instance(rng, n, m, p_inf=float(rng.choice([0.0, 0.0, 0.25])), spatial=bool(seed % 2))
    k = int(rng.integers(0, 3))
    fx = np.sort(rng.choice(m, size=min(k, m - 1), replace=False))
    p = int(rng.integers(0 if len(fx) else 1, m - len(fx) + 1))
    best = _brute(d, w, p, fx)
    sol = p_median(d, p, weights=w, fixed=fx)
    if not math.isfinite(best):
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal" and sol.gap == 0.0
    assert sol.objective == pytest.approx(best, rel=1e-12, abs=1e-9)
    assert len(sol.selected) == p + len(fx)
    assert set(fx.tolist()) <= set(sol.selected.tolist())
    # the reported assignment is each row's nearest selected site and the objective its sum
    near = d[:, sol.selected].min(axis=1)
    assert np.array_equal(d[np.arange(n), sol.assignment], near)


def test_instances_that_need_the_mip_match_brute_force(monkeypatch):
    # integer distances (ties) and one planar case where the Lagrangian bound alone does not
    # close the gap, so the branch-and-cut runs
    import siting._locate_pmedian as pm

    calls = []
    loop = pm._benders_bb
    monkeypatch.setattr(pm, "_benders_bb", lambda *a: calls.append(1) or loop(*a))
    for n, m, p, seed, planar in [
        (60, 15, 3, 0, False),
        (40, 12, 2, 1, False),
        (100, 20, 3, 0, True),
    ]:
        d, w = _instance(np.random.default_rng(seed), n, m, spatial=planar)
        w = w + 1.0
        sol = p_median(d, p, weights=w)
        assert sol.status == "optimal"
        assert sol.objective == pytest.approx(_brute(d, w, p, []), rel=1e-12)
    assert len(calls) == 3


def test_not_allowed_pairs_are_never_used():
    d = np.array([[1.0, np.inf, 5.0], [np.inf, 1.0, 9.0], [4.0, 4.0, np.inf]])
    sol = p_median(d, 2, weights=[1, 1, 10])
    assert sol.status == "optimal"
    # {0, 1}: 1 + 1 + 40 = 42; {0, 2}: 1 + 9 + 40 = 50; {1, 2}: 5 + 1 + 40 = 46
    assert sol.selected.tolist() == [0, 1]
    assert sol.objective == 42.0
    assert np.isfinite(d[np.arange(3), sol.assignment]).all()


def test_zero_weight_row_must_still_be_served():
    # row 1 weighs nothing but only candidate 2 may serve it
    d = np.array([[0.0, 1.0, 50.0], [np.inf, np.inf, 7.0], [1.0, 0.0, 50.0]])
    sol = p_median(d, 2, weights=[10, 0, 10])
    assert sol.status == "optimal"
    assert 2 in sol.selected.tolist()
    assert sol.objective == 10.0


def test_fixed_sites_are_kept_and_counted():
    rng = np.random.default_rng(7)
    d, w = _instance(rng, 30, 9)
    sol = p_median(d, 2, weights=w, fixed=[4, 8])
    assert {4, 8} <= set(sol.selected.tolist()) and len(sol.selected) == 4
    assert sol.objective == pytest.approx(_brute(d, w, 2, [4, 8]), rel=1e-12)


def test_time_limit_gives_feasible_with_honest_gap():
    rng = np.random.default_rng(3)
    a, b = rng.random((1500, 2)), rng.random((300, 2))
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    w = rng.integers(1, 50, size=1500).astype(float)
    sol = p_median(d, 15, weights=w, time_limit=1.0)
    assert sol.status in ("optimal", "feasible")
    assert len(sol.selected) == 15
    assert sol.objective == pytest.approx(float(w @ d[:, sol.selected].min(axis=1)))
    if sol.status == "feasible":
        assert 0.0 < sol.gap < 1.0  # the Lagrangian bound is always there
        lag = pmedian_lagrangian(d, w, 15, np.zeros(0, dtype=np.int64), sol.objective)
        assert lag.bound <= sol.objective * (1 + 1e-12)
    else:
        assert sol.gap == 0.0


def test_lagrangian_is_a_lower_bound_and_tight_where_lp_is_integral():
    rng = np.random.default_rng(5)
    for _ in range(5):
        d, w = _instance(rng, 12, 7)
        for p in (1, 2, 3):
            best = _brute(d, w, p, [])
            lag = pmedian_lagrangian(d, w, p, np.zeros(0, dtype=np.int64), best, max_iter=2000)
            assert lag.bound <= best + 1e-9 * max(best, 1.0)
    # p = 1: the Lagrangian dual equals the LP, which is integral for one median
    d = rng.random((20, 6)) * 10
    w = np.ones(20)
    best = _brute(d, w, 1, [])
    lag = pmedian_lagrangian(d, w, 1, np.zeros(0, dtype=np.int64), best, max_iter=3000)
    assert lag.bound == pytest.approx(best, rel=1e-4)


def test_swap_reaches_a_local_optimum():
    rng = np.random.default_rng(11)
    d, w = _instance(rng, 60, 15)
    sel, cost = pmedian_swap(d, w, np.array([0, 1, 2]), np.ones(3, dtype=bool))
    assert cost == pytest.approx(float(w @ d[:, sel].min(axis=1)))
    for out, inn in itertools.product(sel, range(15)):
        if inn in sel:
            continue
        s2 = np.where(sel == out, inn, sel)
        assert float(w @ d[:, s2].min(axis=1)) >= cost - 1e-9
    # one open site: the swap prices "move it" exactly
    _, c1 = pmedian_swap(d, w, np.array([0]), np.ones(1, dtype=bool))
    assert c1 == pytest.approx(min(float(w @ d[:, j]) for j in range(15)))


def test_local_search_keeps_fixed_and_is_deterministic():
    rng = np.random.default_rng(2)
    d, w = _instance(rng, 80, 20)
    a = pmedian_local_search(d, w, 4, np.array([3, 9]), budget_s=30.0, patience=20)
    b = pmedian_local_search(d, w, 4, np.array([3, 9]), budget_s=30.0, patience=20)
    assert np.array_equal(a, b)
    assert {3, 9} <= set(a.tolist()) and len(a) == 6
