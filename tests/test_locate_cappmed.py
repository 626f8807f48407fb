"""Capacitated p-median (single sourcing): brute force cross-checks of siting._locate_cappmed
through siting.locate.p_median."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from siting import _locate_cappmed as cm
from siting import locate
from siting._locate_cappmed import solve


def _brute(d, w, p, fx, cap):
    """Least cost over every site set (fixed + p free) and every single-source assignment of
    the weighted rows (rows of weight 0 need no service); inf when none fits."""
    n, m = d.shape
    free = [j for j in range(m) if j not in set(fx.tolist())]
    act = [i for i in range(n) if w[i] > 0]
    best = math.inf
    for extra in itertools.combinations(free, p):
        sites = list(fx) + list(extra)
        opts = [[j for j in sites if np.isfinite(d[i, j])] for i in act]
        for combo in itertools.product(*opts):
            load = np.zeros(m)
            for i, j in zip(act, combo, strict=True):
                load[j] += w[i]
            if (load > cap + 1e-9).any():
                continue
            best = min(best, sum(w[i] * d[i, j] for i, j in zip(act, combo, strict=True)))
    return best


def _instance(rng):
    n, m = int(rng.integers(4, 8)), int(rng.integers(4, 7))
    d = rng.integers(0, 20, (n, m)).astype(float)
    d[rng.random((n, m)) < 0.25] = np.inf
    d[np.arange(n), rng.integers(0, m, n)] = rng.integers(0, 20, n)  # every row allowed somewhere
    w = rng.integers(0, 6, n).astype(float)
    nf = int(rng.integers(0, 2))
    fx = np.sort(rng.choice(m, nf, replace=False)).astype(np.int64)
    p = int(rng.integers(0 if nf else 1, min(3, m - nf) + 1))
    cap = rng.integers(3, 15, m).astype(float)
    return d, w, p, fx, cap


def _check(sol, d, w, p, fx, cap):
    pos = w > 0
    asg = sol.assignment
    assert len(sol.selected) == p + len(fx)
    assert set(fx.tolist()) <= set(sol.selected.tolist())
    assert (asg[pos] >= 0).all()
    assert set(asg[pos].tolist()) <= set(sol.selected.tolist())
    assert np.isfinite(d[np.flatnonzero(pos), asg[pos]]).all()  # never a forbidden pair
    load = np.bincount(asg[pos], weights=w[pos], minlength=d.shape[1])
    assert (load <= cap + 1e-9).all()
    obj = float(w[pos] @ d[np.flatnonzero(pos), asg[pos]])
    assert sol.objective == pytest.approx(obj)
    return obj


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_opt = n_inf = 0
    for _ in range(30):
        d, w, p, fx, cap = _instance(rng)
        best = _brute(d, w, p, fx, cap)
        sol = locate.p_median(d, p, weights=w, fixed=fx, capacity=cap)
        if math.isinf(best):
            assert sol.status == "infeasible"
            n_inf += 1
            continue
        assert sol.status == "optimal"
        assert sol.gap == 0.0
        assert _check(sol, d, w, p, fx, cap) == pytest.approx(best, abs=1e-9)
        n_opt += 1
    assert n_opt > 10


def test_hand_example_capacity_moves_a_row():
    # two sites, both open; row 1 prefers site 0 but site 0 holds only 5 of the 8 units
    d = np.array([[0.0, 10.0], [1.0, 3.0], [9.0, 0.0]])
    w = np.array([5.0, 3.0, 1.0])
    sol = locate.p_median(d, 2, weights=w, capacity=np.array([5.0, 10.0]))
    assert sol.status == "optimal"
    assert sol.assignment.tolist() == [0, 1, 1]
    assert sol.objective == pytest.approx(9.0)


def test_fixed_sites_always_open():
    d = np.array([[0.0, 5.0, 1.0], [0.0, 5.0, 1.0], [9.0, 0.0, 8.0]])
    sol = locate.p_median(d, 1, fixed=[1], capacity=np.full(3, 10.0))
    assert sol.status == "optimal"
    assert sol.selected.tolist() == [0, 1]
    assert sol.objective == pytest.approx(0.0)


def test_infeasible_total_capacity():
    d = np.zeros((4, 3))
    sol = locate.p_median(d, 2, capacity=np.array([1.0, 1.0, 1.0]))
    assert sol.status == "infeasible"
    assert math.isnan(sol.objective)


def test_infeasible_row_too_heavy_for_its_sites():
    # row 0 (weight 4) may only use site 0, which holds 3
    d = np.array([[1.0, np.inf], [1.0, 1.0]])
    sol = locate.p_median(d, 2, weights=[4.0, 1.0], capacity=np.array([3.0, 10.0]))
    assert sol.status == "infeasible"


def test_infeasible_only_by_packing():
    # three rows of weight 2, two sites of capacity 3: total 6 = capacity, but no packing fits
    d = np.zeros((3, 2))
    sol = locate.p_median(d, 2, weights=[2.0, 2.0, 2.0], capacity=np.array([3.0, 3.0]))
    assert sol.status == "infeasible"


def test_zero_weight_rows_need_no_capacity():
    d = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
    sol = locate.p_median(d, 2, weights=[1.0, 0.0, 1.0], capacity=np.array([1.0, 1.0]))
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(0.0)
    assert sol.assignment[0] == 0 and sol.assignment[2] == 1


def test_sparse_pairs_never_used():
    rng = np.random.default_rng(7)
    n, m = 60, 12
    d = rng.random((n, m)) * 100
    d[rng.random((n, m)) < 0.6] = np.inf
    d[np.arange(n), rng.integers(0, m, n)] = 1.0
    w = rng.integers(1, 5, n).astype(float)
    cap = np.full(m, w.sum() / 3)
    sol = locate.p_median(d, 5, weights=w, capacity=cap)
    assert sol.status in ("optimal", "feasible")
    _check(sol, d, w, 5, np.array([], dtype=np.int64), cap)


def test_deadline_gives_feasible_answer_with_finite_gap():
    # a deadline already passed when the search starts: the heuristic answer is returned with
    # an honest gap (the bound may still prove it)
    rng = np.random.default_rng(3)
    n, m = 300, 40
    xy, sxy = rng.random((n, 2)), rng.random((m, 2))
    d = np.hypot(*(xy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)) * 1000
    w = rng.integers(1, 20, n).astype(float)
    cap = np.full(m, 1.2 * w.sum() / 6)
    import time

    sel, status, gap, asg = solve(d, w, 6, np.array([], dtype=np.int64), cap, time.perf_counter())
    assert status in ("feasible", "optimal")
    assert math.isfinite(gap) and gap >= 0.0
    load = np.bincount(asg, weights=w, minlength=m)
    assert (load <= cap + 1e-9).all()
    assert set(asg.tolist()) <= set(sel.tolist()) and len(sel) == 6


def _random_instance(seed, n=1500, m=150):
    rng = np.random.default_rng(seed)
    xy, sxy = rng.random((n, 2)), rng.random((m, 2))
    d = np.hypot(*(xy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)) * 1000
    w = rng.integers(1, 20, n).astype(float)
    return d, w


def _spy_phases(monkeypatch):
    """Record every start of a phase after the first answer (the p-median local search, site
    swaps, the transportation LP, HiGHS) with whether the solve's deadline had passed by more
    than 20 ms (a phase checked just before the deadline may start just after it)."""
    import time

    from siting import _locate_cappmed as cm

    calls: list[tuple[str, bool]] = []
    deadline = [math.inf]
    real_solve = cm.solve

    def solve_spy(*args):
        deadline[0] = args[-1]
        return real_solve(*args)

    def spy(name, real):
        def wrapped(*args, **kwargs):
            calls.append((name, time.perf_counter() > deadline[0] + 0.02))
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(cm, "solve", solve_spy)
    monkeypatch.setattr(cm, "pmedian_local_search", spy("local search", cm.pmedian_local_search))
    monkeypatch.setattr(cm, "_swap_search", spy("swaps", cm._swap_search))
    monkeypatch.setattr(cm, "_mip", spy("HiGHS", cm._mip))
    monkeypatch.setattr(cm._Problem, "lp_assign", spy("LP", cm._Problem.lp_assign))
    return calls


def test_deadline_passed_no_phase_after_the_first_answer(monkeypatch):
    """The start phase used to run the p-median local search (its greedy fill does not look
    at the clock) and a sort of every pair before looking at the deadline: 0.2-1.3 s over a
    0.05 s limit on 3,000-5,000 rows. With the deadline passed, only the first start is
    assigned and its answer returned with the bound known at that point."""
    d, w = _random_instance(5)
    cap = np.full(d.shape[1], 1.2 * w.sum() / 15)
    calls = _spy_phases(monkeypatch)
    import time

    fx = np.array([], dtype=np.int64)
    sel, status, gap, asg = cm.solve(d, w, 15, fx, cap, time.perf_counter())
    assert calls == []
    assert status == "feasible" and 0.0 < gap < 1.0
    load = np.bincount(asg, weights=w, minlength=d.shape[1])
    assert (load <= cap + 1e-9).all() and set(asg.tolist()) <= set(sel.tolist())


def test_tiny_time_limit_starts_no_phase_after_its_deadline(monkeypatch):
    d, w = _random_instance(6)
    cap = np.full(d.shape[1], 1.3 * w.sum() / 15)
    calls = _spy_phases(monkeypatch)
    sol = locate.p_median(d, 15, weights=w, capacity=cap, time_limit=0.05)
    assert [name for name, late in calls if late] == []
    assert sol.status in ("feasible", "unsolved")  # 0.05 s proves nothing on 1,500 x 150
    if sol.status == "feasible":
        _check(sol, d, w, 15, np.array([], dtype=np.int64), cap)


@pytest.mark.parametrize("seed", range(2))
def test_deadline_passed_gap_is_honest(seed):
    """With no time at all the answer is the first start's and its gap a true bound: the
    brute-force optimum is never below objective x (1 - gap); "optimal" only when it is the
    optimum."""
    import time

    rng = np.random.default_rng(100 + seed)
    n_answers = 0
    for _ in range(30):
        d, w, p, fx, cap = _instance(rng)
        best = _brute(d, w, p, fx, cap)
        _sel, status, gap, asg = solve(d, w, p, fx, cap, time.perf_counter())
        if math.isinf(best):
            assert status in ("infeasible", "unsolved")
            continue
        if status == "unsolved":
            continue  # no answer from the first start: allowed with no time
        pos = w > 0
        obj = float(w[pos] @ d[np.flatnonzero(pos), asg[pos]])
        assert obj >= best - 1e-9
        assert obj * (1 - gap) <= best + 1e-6 * max(best, 1.0)
        if status == "optimal":
            assert obj == pytest.approx(best, abs=1e-9)
        n_answers += 1
    assert n_answers > 10
