"""Tests for siting.locate: hand-checkable cases, brute force over all subsets, properties."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.locate import Solution, lscp, mclp, p_center, p_median

DATA = Path(__file__).parent / "data"
SEEDS = st.integers(0, 2**32 - 1)
FAST = settings(max_examples=25, deadline=None)


# ----------------------------------------------------------------------------- brute force


def _subsets(m, fixed, k_max, exact=False):
    free = [j for j in range(m) if j not in set(fixed)]
    sizes = [k_max] if exact else range(k_max + 1)
    for k in sizes:
        for comb in itertools.combinations(free, k):
            yield sorted(set(fixed) | set(comb))


def _best_assignment(allowed, open_sites, demand, cap, value, *, must):
    """Best single-source assignment value (None if none feasible); value(i, j) per pair."""
    n = allowed.shape[0]
    choices = []
    for i in range(n):
        c = [j for j in open_sites if allowed[i, j]]
        if not must:
            c = [-1, *c]
        if not c:
            return None
        choices.append(c)
    best = None
    for combo in itertools.product(*choices):
        load = {}
        for i, j in enumerate(combo):
            if j >= 0:
                load[j] = load.get(j, 0.0) + demand[i]
        if any(load[j] > cap[j] + 1e-9 for j in load):
            continue
        v = value(combo)
        if best is None or v > best:
            best = v
    return best


def _random_cov(rng, n, m, density=0.4):
    return rng.random((n, m)) < density


def _random_cost(rng, n, m, p_inf=0.0):
    d = rng.integers(0, 20, size=(n, m)).astype(float)
    d[rng.random((n, m)) < p_inf] = np.inf
    return d


def _random_fixed(rng, m, k_max):
    k = int(rng.integers(0, k_max + 1))
    return np.sort(rng.choice(m, size=k, replace=False)) if k else np.array([], dtype=int)


# ----------------------------------------------------------------------------- hand cases


def test_mclp_hand_case():
    # rows 0..3, candidates A B C: A covers {0,1}, B {1,2}, C {2,3}; weights 5 1 1 4
    cov = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], bool)
    sol = mclp(cov, [5, 1, 1, 4], 1)
    assert sol.selected.tolist() == [0]
    assert sol.objective == 6.0
    assert sol.status == "optimal" and sol.gap == 0.0
    assert sol.assignment.tolist() == [0, 0, -1, -1]
    sol2 = mclp(cov, [5, 1, 1, 4], 2)
    assert sol2.selected.tolist() == [0, 2] and sol2.objective == 11.0
    assert isinstance(sol2, Solution) and sol2.model == "mclp"


def test_lscp_infeasible_reports_rows():
    cov = np.array([[1, 0], [0, 0], [0, 1], [0, 0]], bool)
    sol = lscp(cov)
    assert sol.status == "infeasible"
    assert sol.uncoverable.tolist() == [1, 3]
    assert math.isnan(sol.gap) and math.isnan(sol.objective)


def test_lscp_hand_case_and_fixed():
    cov = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], bool)
    sol = lscp(cov)
    assert sol.objective == 2 and sol.selected.tolist() == [1, 2]
    solf = lscp(cov, fixed=[0])
    assert 0 in solf.selected and solf.objective == 3


def test_p_median_and_center_hand_case():
    d = np.array([[0, 4, 9], [3, 1, 8], [9, 5, 0.0]])
    pm = p_median(d, 2)
    assert pm.selected.tolist() == [0, 2] and pm.objective == 3.0
    assert pm.assignment.tolist() == [0, 0, 2]
    pc = p_center(d, 1)
    assert pc.selected.tolist() == [1] and pc.objective == 5.0


def test_p_median_sparse_missing_is_not_allowed():
    # row 0 may only use candidate 1 (distance 7); a stored zero is a real distance 0
    cost = sp.csr_array(
        (np.array([7.0, 0.0, 2.0]), (np.array([0, 1, 1]), np.array([1, 0, 1]))), shape=(2, 2)
    )
    sol = p_median(cost, 1)
    assert sol.selected.tolist() == [1] and sol.objective == 9.0
    sol0 = p_median(cost, 1, fixed=[0])
    assert sol0.selected.tolist() == [0, 1] and sol0.objective == 7.0


def test_p_median_infeasible_row():
    d = np.array([[1.0, np.inf], [np.inf, np.inf]])
    sol = p_median(d, 1)
    assert sol.status == "infeasible" and sol.uncoverable.tolist() == [1]


def test_bad_arguments():
    cov = np.ones((3, 2), bool)
    with pytest.raises(ValueError, match="p must be >= 0"):
        mclp(cov, [1, 1, 1], -1)
    with pytest.raises(ValueError, match="exceeds"):
        mclp(cov, [1, 1, 1], 3)
    with pytest.raises(ValueError, match="negative"):
        mclp(cov, [1, -1, 1], 1)
    with pytest.raises(ValueError, match="length 2, expected 3"):
        mclp(cov, [1, 1], 1)
    with pytest.raises(ValueError, match="out of range"):
        lscp(cov, fixed=[5])
    with pytest.raises(ValueError, match="fixed mask"):
        lscp(cov, fixed=np.array([True]))
    with pytest.raises(ValueError, match="NaN"):
        p_median(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(ValueError, match="2-D"):
        p_center(np.ones(3), 1)
    with pytest.raises(ValueError, match="exceeds"):
        p_median(np.ones((2, 2)), 1, fixed=[0, 1])


# ----------------------------------------------------------------------------- brute force


@FAST
@given(seed=SEEDS)
def test_mclp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    cov = _random_cov(rng, n, m)
    w = rng.integers(0, 10, size=n).astype(float)
    fx = _random_fixed(rng, m, min(2, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    best = max(w[cov[:, s].any(axis=1)].sum() for s in _subsets(m, fx, p))
    sol = mclp(cov, w, p, fixed=fx)
    assert sol.status == "optimal"
    assert sol.objective == best
    assert set(fx) <= set(sol.selected.tolist()) and len(sol.selected) <= p + len(fx)
    assert w[cov[:, sol.selected].any(axis=1)].sum() == best


@FAST
@given(seed=SEEDS)
def test_mclp_capacitated_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    cov = _random_cov(rng, n, m, 0.5)
    w = rng.integers(1, 6, size=n).astype(float)
    cap = rng.integers(0, 10, size=m).astype(float)
    fx = _random_fixed(rng, m, min(1, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    best = max(
        _best_assignment(
            cov, s, w, cap, lambda c: sum(w[i] for i, j in enumerate(c) if j >= 0), must=False
        )
        for s in _subsets(m, fx, p)
    )
    sol = mclp(cov, w, p, fixed=fx, capacity=cap)
    assert sol.status == "optimal" and sol.objective == best
    assert set(fx) <= set(sol.selected.tolist())
    a = sol.assignment
    for j in range(m):
        assert w[a == j].sum() <= cap[j] + 1e-9
    assert all(cov[i, a[i]] and a[i] in sol.selected for i in range(n) if a[i] >= 0)


@FAST
@given(seed=SEEDS)
def test_lscp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    cov = _random_cov(rng, n, m, 0.45)
    fx = _random_fixed(rng, m, min(2, m))
    sol = lscp(cov, fixed=fx)
    if not cov.any(axis=1).all():
        assert sol.status == "infeasible"
        assert sol.uncoverable.tolist() == np.flatnonzero(~cov.any(axis=1)).tolist()
        return
    best = min(len(s) for s in _subsets(m, fx, m - len(fx)) if cov[:, s].any(axis=1).all())
    assert sol.status == "optimal" and sol.objective == best
    assert set(fx) <= set(sol.selected.tolist())
    assert cov[:, sol.selected].any(axis=1).all()
    assert all(cov[i, sol.assignment[i]] for i in range(n))


@FAST
@given(seed=SEEDS)
def test_lscp_capacitated_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    cov = _random_cov(rng, n, m, 0.6)
    dem = rng.integers(1, 5, size=n).astype(float)
    cap = rng.integers(0, 10, size=m).astype(float)
    fx = _random_fixed(rng, m, min(1, m))
    feas = [
        len(s)
        for s in _subsets(m, fx, m - len(fx))
        if _best_assignment(cov, s, dem, cap, lambda c: 0.0, must=True) is not None
    ]
    sol = lscp(cov, fixed=fx, capacity=cap, demand=dem)
    if not feas:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal" and sol.objective == min(feas)
    for j in range(m):
        assert dem[sol.assignment == j].sum() <= cap[j] + 1e-9
    assert (sol.assignment >= 0).all()


@FAST
@given(seed=SEEDS)
def test_p_median_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 10)), int(rng.integers(1, 7))
    d = _random_cost(rng, n, m, p_inf=float(rng.choice([0.0, 0.3])))
    w = rng.integers(0, 6, size=n).astype(float)
    fx = _random_fixed(rng, m, min(2, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    vals = []
    for s in _subsets(m, fx, p, exact=True):
        near = d[:, s].min(axis=1) if s else np.full(n, np.inf)
        if np.isfinite(near).all():
            vals.append(float(w @ near))
    sol = p_median(d, p, weights=w, fixed=fx)
    if not vals:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(min(vals), abs=1e-9)
    assert len(sol.selected) == p + len(fx) and set(fx) <= set(sol.selected.tolist())
    # dense and sparse inputs agree (sparse: missing = not allowed)
    r, c = np.nonzero(np.isfinite(d))
    sps = p_median(sp.csr_array((d[r, c], (r, c)), shape=d.shape), p, weights=w, fixed=fx)
    assert sps.objective == pytest.approx(sol.objective, abs=1e-9)


@FAST
@given(seed=SEEDS)
def test_p_median_capacitated_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    d = _random_cost(rng, n, m, 0.2)
    w = rng.integers(1, 5, size=n).astype(float)
    cap = rng.integers(0, 12, size=m).astype(float)
    fx = _random_fixed(rng, m, min(1, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    allowed = np.isfinite(d)
    vals = []
    for s in _subsets(m, fx, p, exact=True):
        v = _best_assignment(
            allowed, s, w, cap, lambda c: -sum(w[i] * d[i, j] for i, j in enumerate(c)), must=True
        )
        if v is not None:
            vals.append(-v)
    sol = p_median(d, p, weights=w, fixed=fx, capacity=cap)
    if not vals:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(min(vals), abs=1e-9)


@FAST
@given(seed=SEEDS)
def test_p_center_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 10)), int(rng.integers(1, 7))
    d = _random_cost(rng, n, m, p_inf=float(rng.choice([0.0, 0.3])))
    w = rng.integers(0, 3, size=n).astype(float)
    fx = _random_fixed(rng, m, min(2, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    need = w > 0
    vals = []
    for s in _subsets(m, fx, p):
        near = d[:, s].min(axis=1) if s else np.full(n, np.inf)
        if np.isfinite(near[need]).all():
            vals.append(float(near[need].max()) if need.any() else 0.0)
    sol = p_center(d, p, weights=w, fixed=fx)
    if not vals:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal" and sol.objective == min(vals)
    assert set(fx) <= set(sol.selected.tolist()) and len(sol.selected) <= p + len(fx)


@FAST
@given(seed=SEEDS)
def test_p_center_capacitated_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    d = _random_cost(rng, n, m, 0.2)
    w = rng.integers(1, 4, size=n).astype(float)
    cap = rng.integers(0, 9, size=m).astype(float)
    fx = _random_fixed(rng, m, min(1, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    allowed = np.isfinite(d)
    vals = []
    for s in _subsets(m, fx, p):
        v = _best_assignment(
            allowed, s, w, cap, lambda c: -max(d[i, j] for i, j in enumerate(c)), must=True
        )
        if v is not None:
            vals.append(-v)
    sol = p_center(d, p, weights=w, fixed=fx, capacity=cap)
    if not vals:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal" and sol.objective == min(vals)


@FAST
@given(seed=SEEDS)
def test_dense_and_sparse_coverage_agree(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 30)), int(rng.integers(2, 12))
    cov = _random_cov(rng, n, m, 0.2)
    w = rng.integers(0, 50, size=n).astype(float)
    p = int(rng.integers(0, m + 1))
    a = mclp(cov, w, p)
    b = mclp(sp.csr_array(cov), w, p)
    c = mclp(sp.coo_matrix(cov), w, p)
    assert a.objective == b.objective == c.objective
    la, lb = lscp(cov), lscp(sp.csc_array(cov))
    assert la.status == lb.status
    assert (la.objective == lb.objective) or (math.isnan(la.objective) and math.isnan(lb.objective))


def test_fixed_mask_equals_index_array():
    rng = np.random.default_rng(3)
    cov = _random_cov(rng, 40, 10, 0.2)
    w = rng.integers(1, 9, size=40).astype(float)
    mask = np.zeros(10, bool)
    mask[[2, 7]] = True
    a, b = mclp(cov, w, 3, fixed=mask), mclp(cov, w, 3, fixed=[7, 2])
    assert a.objective == b.objective and {2, 7} <= set(a.selected.tolist())


# ----------------------------------------------------------------------------- time limit


def test_time_limit_gives_honest_status():
    rng = np.random.default_rng(0)
    n, m = 3000, 600
    pts = rng.random((n, 2)) * 10
    cand = rng.random((m, 2)) * 10
    d2 = ((pts[:, None, :] - cand[None, :, :]) ** 2).sum(-1)
    cov = d2 < 0.7**2
    w = rng.integers(1, 100, size=n).astype(float)
    sol = mclp(cov, w, 40, time_limit=0.3)
    assert sol.status in ("optimal", "feasible")
    assert sol.solve_time_s < 5.0
    if sol.status == "feasible":
        assert sol.gap > 0
    else:
        assert sol.gap == 0.0
    assert len(sol.selected) <= 40
    assert sol.objective == w[cov[:, sol.selected].any(axis=1)].sum()


def test_time_limit_p_median():
    rng = np.random.default_rng(1)
    d = rng.integers(1, 1000, size=(400, 150)).astype(float)
    sol = p_median(d, 10, time_limit=0.5)
    assert sol.status in ("optimal", "feasible")
    assert sol.solve_time_s < 5.0
    assert len(sol.selected) == 10
    assert sol.objective == pytest.approx(d[:, sol.selected].min(axis=1).sum())
    assert (sol.gap == 0.0) if sol.status == "optimal" else (sol.gap > 0)


# ----------------------------------------------------------------------------- OR-Library


def _read_orlib(path):
    from scipy.sparse.csgraph import shortest_path

    lines = path.read_text().split("\n")
    n, _m, p = (int(x) for x in lines[0].split())
    e = {}
    for ln in lines[1:]:
        if ln.strip():
            i, j, c = (int(x) for x in ln.split())
            e[(min(i, j) - 1, max(i, j) - 1)] = float(c)  # last occurrence wins
    r = np.array([k[0] for k in e])
    c = np.array([k[1] for k in e])
    v = np.array(list(e.values()))
    g = sp.csr_array((v, (r, c)), shape=(n, n))
    return shortest_path(g, directed=False), p


@pytest.mark.skipif(not (DATA / "pmed1.txt").exists(), reason="pmed1 not shipped")
def test_orlib_pmed1_optimum():
    d, p = _read_orlib(DATA / "pmed1.txt")
    sol = p_median(d, p)
    assert sol.status == "optimal"
    assert sol.objective == 5819


# ----------------------------------------------------------------------------- MCLP internals


def _spatial_cov(rng, n, m, radius):
    pts = rng.random((n, 2))
    cand = rng.random((m, 2))
    return ((pts[:, None, :] - cand[None, :, :]) ** 2).sum(-1) < radius**2


def _plain_mclp(cov, w, p):
    """Textbook MCLP (binary y and z, no reduction, no start) as the reference."""
    from siting._locate_highs import solve_mip

    n, m = cov.shape
    a = sp.csc_array(cov.astype(float))
    con = sp.vstack(
        [sp.hstack([-a, sp.eye_array(n)]), sp.hstack([np.ones((1, m)), sp.csc_array((1, n))])]
    )
    res = solve_mip(
        np.concatenate([np.zeros(m), w]),
        con,
        np.full(n + 1, -np.inf),
        np.concatenate([np.zeros(n), [p]]),
        np.zeros(n + m),
        np.ones(n + m),
        np.ones(n + m, dtype=bool),
        maximize=True,
    )
    assert res.status == "optimal"
    return res.objective


@pytest.mark.parametrize("seed", range(6))
def test_mclp_matches_plain_formulation_on_spatial_instances(seed):
    # big enough for the LP to be fractional, so the local search, the Lagrangian fixing and
    # the tuned HiGHS run all take part
    rng = np.random.default_rng(seed)
    cov = _spatial_cov(rng, 160, 60, 0.16)
    w = rng.integers(1, 100, size=160).astype(float)
    p = int(rng.integers(3, 9))
    sol = mclp(cov, w, p)
    assert sol.status == "optimal" and sol.gap == 0.0
    assert sol.objective == pytest.approx(_plain_mclp(cov, w, p), abs=1e-6)
    assert sol.objective == w[cov[:, sol.selected].any(axis=1)].sum()
    assert len(sol.selected) <= p
    fx = rng.choice(60, size=2, replace=False)
    solf = mclp(cov, w, p, fixed=fx)
    ref = (
        _plain_mclp(
            cov[:, np.setdiff1d(np.arange(60), fx)] & ~cov[:, fx].any(axis=1)[:, None], w, p
        )
        + w[cov[:, fx].any(axis=1)].sum()
    )
    assert solf.status == "optimal" and solf.objective == pytest.approx(ref, abs=1e-6)


@FAST
@given(seed=SEEDS)
def test_mclp_fixing_keeps_every_answer_as_good_as_the_incumbent(seed):
    from siting.locate import _mclp_fix, _mclp_lp, _mclp_value

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(4, 12)), int(rng.integers(3, 9))
    b = sp.csc_array(_spatial_cov(rng, n, m, 0.35).astype(float))
    w = rng.integers(1, 20, size=n).astype(float)
    p = int(rng.integers(1, m))
    lp = _mclp_lp(b, w, p)
    assert lp is not None
    values = {
        s: _mclp_value(b, w, np.array(s, dtype=int))
        for s in itertools.chain.from_iterable(
            itertools.combinations(range(m), k) for k in range(p + 1)
        )
    }
    best = max(values.values())
    assert lp[0] >= best - 1e-9  # the Lagrangian value is a bound
    lb = sorted(values.values())[len(values) // 2]  # some incumbent value
    fix = _mclp_fix(b, w, p, lb, lp)
    for s, v in values.items():
        if v < lb:
            continue
        sel = set(s)
        assert set(np.flatnonzero(fix.ones)) <= sel
        out = set(range(m)) - set(fix.cols.tolist()) - set(np.flatnonzero(fix.ones))
        assert not (sel & out)  # fixed out: no answer as good as lb uses it


def test_mclp_local_search_value_is_honest():
    from siting._locate_heur import mclp_local_search

    rng = np.random.default_rng(3)
    cov = _spatial_cov(rng, 200, 50, 0.15)
    w = rng.integers(1, 50, size=200).astype(float)
    a = sp.csc_array(cov.astype(float))
    sel, val = mclp_local_search(a, w, 5, budget_s=0.05)
    assert len(sel) <= 5 and len(set(sel.tolist())) == len(sel)
    assert val == w[cov[:, sel].any(axis=1)].sum()
    assert val <= _plain_mclp(cov, w, 5) + 1e-6


@FAST
@given(seed=SEEDS)
def test_mclp_capacitated_search_is_a_real_assignment(seed):
    from siting._locate_heur import mclp_capacitated_search

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 30)), int(rng.integers(1, 10))
    cov = _random_cov(rng, n, m, 0.3)
    w = rng.integers(0, 9, size=n).astype(float)
    cap = rng.integers(0, 25, size=m).astype(float)
    fx = _random_fixed(rng, m, min(2, m))
    p = int(rng.integers(0, m - len(fx) + 1))
    sel, asg, val = mclp_capacitated_search(
        sp.csc_array(cov.astype(float)), w, cap, p, fx, budget_s=0.01
    )
    assert set(fx) <= set(sel.tolist()) and len(sel) <= p + len(fx)
    assert len(set(sel.tolist())) == len(sel)
    served = asg >= 0
    assert val == w[served].sum()
    assert all(cov[i, asg[i]] and asg[i] in sel for i in np.flatnonzero(served))
    for j in sel:
        assert w[asg == j].sum() <= cap[j]


def test_mclp_capacitated_binding_and_loose_sites():
    # site 0 reaches 9 (capacity 5: binding), site 1 reaches 4 (capacity 10: loose)
    cov = np.array([[1, 0], [1, 0], [1, 1], [0, 1]], bool)
    w = np.array([4.0, 3.0, 2.0, 2.0])
    cap = np.array([5.0, 10.0])
    one = mclp(cov, w, 1, capacity=cap)
    # alone, site 0 holds rows 1 and 2 (3 + 2 = 5); site 1 alone reaches only 4
    assert one.status == "optimal" and one.objective == 5.0
    assert one.selected.tolist() == [0] and one.assignment.tolist() == [-1, 0, 0, -1]
    both = mclp(cov, w, 2, capacity=cap)
    # site 1 takes rows 2 and 3, site 0 takes row 0 (4 <= 5): 8 of 11
    assert both.status == "optimal" and both.objective == 8.0
    assert both.assignment.tolist() == [0, -1, 1, 1]


def test_capacitated_lscp_names_rows_no_site_can_hold():
    # row 1 (demand 5) is covered only by site 1 (capacity 4); rows 0 and 2 fit
    cov = np.array([[1, 0], [0, 1], [1, 1]], bool)
    sol = lscp(cov, capacity=[10.0, 4.0], demand=[1.0, 5.0, 1.0])
    assert sol.status == "infeasible"
    assert sol.uncoverable.tolist() == [1]
    # enough room for every row alone, but not for all of them together: no row is named
    tight = lscp(cov, capacity=[1.0, 5.0], demand=[1.0, 5.0, 1.0])
    assert tight.status == "infeasible" and tight.uncoverable.tolist() == []
