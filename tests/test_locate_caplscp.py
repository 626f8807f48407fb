"""Tests for siting._locate_caplscp (capacitated LSCP with single sourcing).

Every answer is checked to be a real single-source assignment within capacity (every row, zero
demand included, served by an open site covering it), and its objective is compared with brute
force over all single-source assignments: the fewest sites is the smallest set "sites used by
the assignment, plus the fixed sites" over the assignments that fit the capacities.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from siting import _locate_caplscp as cl
from siting.locate import lscp

# ----------------------------------------------------------------------------- brute force


def _brute(cov: np.ndarray, dem: np.ndarray, cap: np.ndarray, fx: np.ndarray) -> float:
    """Fewest open sites (fixed included) over all single-source assignments; inf if none."""
    n, m = cov.shape
    opts = [np.flatnonzero(cov[i]) for i in range(n)]
    if any(len(o) == 0 for o in opts):
        return math.inf
    asg = np.array(list(itertools.product(*opts)), dtype=np.int64).reshape(-1, n)
    ok = np.ones(len(asg), dtype=bool)
    used = np.zeros((len(asg), m), dtype=bool)
    used[:, fx] = True
    for j in range(m):
        on = asg == j
        ok &= (on * dem[None, :]).sum(axis=1) <= cap[j] + 1e-9
        used[:, j] |= on.any(axis=1)
    if not ok.any():
        return math.inf
    return float(used[ok].sum(axis=1).min())


def _check(cov: np.ndarray, dem: np.ndarray, cap: np.ndarray, fx: np.ndarray, sel, asg) -> None:
    n, m = cov.shape
    sel = np.asarray(sel)
    assert np.isin(fx, sel).all(), "fixed sites must be selected"
    assert (asg >= 0).all(), "every row is served"
    assert np.isin(asg, sel).all(), "rows go to selected sites only"
    assert cov[np.arange(n), asg].all(), "rows go to sites covering them"
    load = np.bincount(asg, weights=dem, minlength=m)
    assert (load <= cap + 1e-9).all(), "capacity respected"


def _random(rng: np.random.Generator):
    while True:
        n = int(rng.integers(2, 8))
        m = int(rng.integers(1, 6))
        if m**n <= 20_000:
            break
    cov = rng.random((n, m)) < rng.uniform(0.3, 0.8)
    cov[np.arange(n), rng.integers(0, m, n)] = True  # every row coverable
    dem = rng.integers(0, 6, n).astype(float)
    cap = rng.integers(0, 12, m).astype(float)
    if rng.random() < 0.5:  # roomier sites: more feasible instances with a real choice
        cap = rng.integers(4, 16, m).astype(float)
    fx = np.flatnonzero(rng.random(m) < 0.15)
    return cov, dem, cap, fx


# ----------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", range(120))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    cov, dem, cap, fx = _random(rng)
    best = _brute(cov, dem, cap, fx)
    sol = lscp(cov, fixed=fx, capacity=cap, demand=dem)
    if math.isinf(best):
        assert sol.status == "infeasible"
        assert len(sol.selected) == 0
        return
    assert sol.status == "optimal"
    assert sol.gap == 0.0
    assert sol.objective == best
    assert len(sol.selected) == best
    _check(cov, dem, cap, fx, sol.selected, sol.assignment)


@pytest.mark.parametrize("seed", range(30))
def test_solve_contract_brute_force(seed):
    """The module's own entry point, on sparse input and with a time limit."""
    rng = np.random.default_rng(1000 + seed)
    cov, dem, cap, fx = _random(rng)
    best = _brute(cov, dem, cap, fx)
    st, gap, sel, asg = cl.solve(sp.csc_array(cov.astype(float)), dem, fx, cap, math.inf)
    if math.isinf(best):
        assert st == "infeasible"
        return
    assert (st, gap, len(sel)) == ("optimal", 0.0, best)
    _check(cov, dem, cap, fx, sel, asg)


@pytest.mark.parametrize("seed", range(60))
def test_compact_model_and_bounds_brute_force(seed):
    """The compact MIP alone (no start) finds the optimum; the bounds never exceed it."""
    rng = np.random.default_rng(2000 + seed)
    cov, dem, cap, fx = _random(rng)
    best = _brute(cov, dem, cap, fx)
    if math.isinf(best) or len(cl.infeasible_rows(sp.csc_array(cov.astype(float)), dem, cap)):
        return
    md = cl._Model(sp.csc_array(cov.astype(float)), dem, cap, fx)
    cm = cl._Compact(md)
    status, _bound, sel, asg = cm.mip(None, None, None)
    assert status == "optimal"
    assert len(sel) == best
    _check(cov, dem, cap, fx, sel, asg)
    assert cm.lp_bound(10.0) <= best + 1e-6
    assert cl._count_bound(md, fx) <= best
    cover, cover_lb = cl._cover(md.b, fx, math.inf)
    assert cover_lb == len(np.union1d(fx, cover)) <= best  # proven without a time limit
    # the constructive answer is feasible (not necessarily optimal)
    sel2, asg2 = cl._construct(md, np.union1d(fx, cover), math.inf)
    assert sel2 is not None
    _check(cov, dem, cap, fx, sel2, asg2)


# ----------------------------------------------------------------------------- hand-made cases


def test_single_source_matters():
    # two rows of 3 each, both sites cover both; capacity 4 each: a split flow would fit one
    # site's 6 in "4 + 2" but single sourcing needs both sites
    cov = np.ones((2, 2), bool)
    sol = lscp(cov, capacity=[4.0, 4.0], demand=[3.0, 3.0])
    assert (sol.status, sol.objective) == ("optimal", 2.0)
    assert sorted(sol.assignment.tolist()) == [0, 1]


def test_fractional_fit_but_no_single_source():
    # rows 2, 2, 2 over sites of capacity 3 each (both cover all): total 6 = 3 + 3 fits a
    # split flow, but no single-source assignment does
    cov = np.ones((3, 2), bool)
    sol = lscp(cov, capacity=[3.0, 3.0], demand=[2.0, 2.0, 2.0])
    assert sol.status == "infeasible"


def test_zero_demand_rows_still_need_a_site():
    # row 1 has no demand but only site 1 covers it: site 1 must open
    cov = np.array([[1, 0], [0, 1]], bool)
    sol = lscp(cov, capacity=[5.0, 0.0], demand=[5.0, 0.0])
    assert (sol.status, sol.objective) == ("optimal", 2.0)
    assert sol.assignment.tolist() == [0, 1]


def test_fixed_sites_selected_even_when_useless():
    cov = np.array([[1, 0, 0], [1, 0, 0]], bool)
    sol = lscp(cov, fixed=[2], capacity=[10.0, 10.0, 10.0], demand=[1.0, 1.0])
    assert (sol.status, sol.objective) == ("optimal", 2.0)
    assert sol.selected.tolist() == [0, 2]


def test_infeasible_rows_listed():
    # row 1 (demand 7) exceeds the capacity of every site covering it (5 and 6); row 2 has
    # no site at all
    cov = sp.csc_array(np.array([[1, 0], [1, 1], [0, 0]], float))
    rows = cl.infeasible_rows(cov, np.array([1.0, 7.0, 1.0]), np.array([5.0, 6.0]))
    assert rows.tolist() == [1, 2]
    sol = lscp(np.array([[1, 0], [1, 1]], bool), capacity=[5.0, 6.0], demand=[1.0, 7.0])
    assert sol.status == "infeasible"


def test_total_capacity_short_is_infeasible():
    cov = np.ones((4, 3), bool)
    sol = lscp(cov, capacity=[2.0, 2.0, 2.0], demand=[2.0, 2.0, 2.0, 1.0])
    assert sol.status == "infeasible"


# ----------------------------------------------------------------------------- time limit


def _city(seed: int, n: int, m: int, radius: float, factor: float):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 10, (6, 2))
    pts = centres[rng.integers(0, 6, n)] + rng.normal(0, 1.2, (n, 2))
    sites = np.vstack(
        [pts[rng.choice(n, m // 2, replace=False)], rng.uniform(0, 10, (m - m // 2, 2))]
    )
    dist = np.linalg.norm(pts[:, None, :] - sites[None, :, :], axis=2)
    cov = dist <= radius
    cov = cov[cov.any(axis=1)]
    dem = np.round(rng.lognormal(np.log(250), 0.6, cov.shape[0]))
    plain = lscp(cov).objective
    cap = np.full(m, factor * dem.sum() / plain)
    return cov, dem, cap


def test_time_limit_gives_feasible_with_finite_gap():
    cov, dem, cap = _city(3, 1500, 400, 0.8, 1.5)
    sol = lscp(cov, capacity=cap, demand=dem, time_limit=2.0)
    assert sol.status in ("optimal", "feasible")
    assert math.isfinite(sol.gap) and 0.0 <= sol.gap < 1.0
    _check(cov, dem, cap, np.array([], dtype=np.int64), sol.selected, sol.assignment)
    assert sol.objective == len(sol.selected)


def test_lp_bound_rounding_tolerates_interior_point_noise():
    from siting._locate_caplscp import _count_from_lp

    assert _count_from_lp(85.0) == 85
    assert _count_from_lp(85.0000012) == 85  # IPM noise on a whole-number optimum
    assert _count_from_lp(84.3) == 85
    assert _count_from_lp(84.01) == 85
    assert _count_from_lp(0.5) == 1
