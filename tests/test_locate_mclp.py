"""The uncapacitated MCLP's own branch-and-bound, checked against brute force.

Every answer is compared with the best value over all site sets (exact objective match), on small
random instances with ties, zero weights, fractional weights, fixed sites, rows that must be
covered, and ``p`` at or beyond the number of useful columns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

import siting._locate_mclpbb as bbmod
import siting.locate as locate
from siting._locate_mclpbb import BBResult, lp_relaxation, mclp_bb
from siting.locate import mclp


def _value(a: np.ndarray, w: np.ndarray, sel) -> float:
    sel = list(sel)
    if not sel:
        return 0.0
    return float(w[a[:, sel].any(axis=1)].sum())


def _brute(a: np.ndarray, w: np.ndarray, p: int, must=None, fixed=()) -> float:
    """Best covered weight over every set of at most ``p`` free columns (plus ``fixed``)."""
    m = a.shape[1]
    free = [j for j in range(m) if j not in set(fixed)]
    best = -1.0
    for q in range(min(p, len(free)) + 1):
        for s in itertools.combinations(free, q):
            sel = list(fixed) + list(s)
            cov = np.asarray(a[:, sel].any(axis=1)) if sel else np.zeros(a.shape[0], dtype=bool)
            if must is not None and not cov[must].all():
                continue
            best = max(best, float(w[cov].sum()))
    return best


def _instance(rng, n, m, density, weights="int"):
    a = rng.random((n, m)) < density
    if weights == "int":
        w = rng.integers(1, 60, n).astype(float)
    elif weights == "ties":
        w = np.full(n, 5.0)
    else:
        w = rng.random(n) * 10.0 + 0.01
    return a, w


def _graph(rng, m, n_edges, weights="int"):
    """Rows are edges of a random graph on ``m`` sites, each covered by its two ends: odd cycles
    make the LP fractional (sites at one half), so the search has to branch."""
    pairs = np.array([(i, j) for i in range(m) for j in range(i + 1, m)])
    e = pairs[rng.choice(len(pairs), n_edges, replace=False)]
    a = np.zeros((n_edges, m), dtype=bool)
    a[np.arange(n_edges), e[:, 0]] = True
    a[np.arange(n_edges), e[:, 1]] = True
    if weights == "ties":
        return a, np.full(n_edges, 3.0)
    if weights == "float":
        return a, rng.random(n_edges) * 7.0 + 0.05
    return a, rng.integers(1, 30, n_edges).astype(float)


@pytest.mark.parametrize("seed", range(40))
def test_bb_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(8, 40)), int(rng.integers(3, 11))
    kind = ["int", "ties", "float"][seed % 3]
    a, w = _instance(rng, n, m, rng.uniform(0.1, 0.45), kind)
    a[:, m - 1] = a[:, 0]  # an identical column: ties between sites
    p = int(rng.integers(1, m + 2))  # sometimes beyond the number of columns
    start = rng.permutation(m)[: min(p, m)]
    res = mclp_bb(sp.csc_array(a.astype(float)), w, p, np.zeros(n, dtype=bool), start)
    assert res.proven
    assert len(res.sel) <= p
    assert res.value == pytest.approx(_value(a, w, res.sel), abs=1e-9)
    assert res.value == pytest.approx(_brute(a, w, p), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(25))
def test_bb_with_rows_that_must_be_covered(seed):
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(10, 35)), int(rng.integers(4, 10))
    a, w = _instance(rng, n, m, rng.uniform(0.15, 0.4), "int" if seed % 2 else "float")
    p = int(rng.integers(1, m))
    start = rng.permutation(m)[:p]
    covered = np.flatnonzero(a[:, start].any(axis=1))
    must = np.zeros(n, dtype=bool)
    if len(covered):
        must[
            rng.choice(covered, size=min(len(covered), int(rng.integers(1, 5))), replace=False)
        ] = True
    res = mclp_bb(sp.csc_array(a.astype(float)), w, p, must, start)
    assert res.proven
    assert a[:, res.sel].any(axis=1)[must].all() or res.value <= _value(a, w, start)
    assert res.value == pytest.approx(_brute(a, w, p, must), rel=1e-9, abs=1e-9)


def test_bb_budget_spent_returns_the_start_unproven():
    rng = np.random.default_rng(7)
    a, w = _instance(rng, 60, 20, 0.2)
    start = np.arange(4)
    res = mclp_bb(
        sp.csc_array(a.astype(float)), w, 4, np.zeros(60, dtype=bool), start, cpu_budget_s=-1.0
    )
    assert not res.proven
    assert res.value == _value(a, w, start)
    assert sorted(res.sel.tolist()) == [0, 1, 2, 3]


def test_bb_closes_an_lp_gap():
    # Four rows on a cycle of four sites (row i covered by sites i and i+1) plus a heavy row
    # covered by sites 0 and 2 only, p = 2: the LP spreads the sites at one half (value 5 x 10
    # + ... ) above any pair of sites; branching has to close the gap.
    a = np.array(
        [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1], [1, 0, 1, 0]], dtype=float
    )
    w = np.array([10.0, 10.0, 10.0, 10.0, 3.0])
    out = lp_relaxation(sp.csc_array(a), w, 2)
    best = _brute(a, w, 2)
    assert best == 43.0  # sites 0 and 2 cover everything
    assert out is not None and out[0] >= best - 1e-9
    res = mclp_bb(sp.csc_array(a), w, 2, np.zeros(5, dtype=bool), np.array([0, 1]))
    assert res.proven and res.value == best


def test_bb_proves_where_the_lp_bound_is_above_the_optimum():
    found = 0
    for seed in range(200):
        rng = np.random.default_rng(3000 + seed)
        a, w = _instance(rng, 30, 9, 0.25, "int")
        p = 3
        out = lp_relaxation(sp.csc_array(a.astype(float)), w, p)
        best = _brute(a, w, p)
        if out is None or out[0] < best + 1.5:
            continue
        found += 1
        res = mclp_bb(sp.csc_array(a.astype(float)), w, p, np.zeros(30, dtype=bool), np.arange(p))
        assert res.proven and res.value == best
        assert res.nodes >= 1
        if found >= 8:
            break
    assert found >= 3


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize(("candidates", "reliable"), [(1, 0), (2, 1), (8, 1), (8, 3)])
def test_bb_on_fractional_graph_instances(seed, candidates, reliable):
    """Deeper trees: one or two strong-branching candidates, or pseudo-costs only."""
    rng = np.random.default_rng(2000 + seed)
    m = int(rng.integers(8, 14))
    a, w = _graph(rng, m, int(rng.integers(m + 2, 3 * m)), ["int", "ties", "float"][seed % 3])
    p = int(rng.integers(2, m // 2 + 1))
    must = np.zeros(a.shape[0], dtype=bool)
    start = np.arange(p)
    if seed % 4 == 0:  # rows the start covers, marked as must be covered
        cov = np.flatnonzero(a[:, start].any(axis=1))
        must[cov[:2]] = True
    res = mclp_bb(
        sp.csc_array(a.astype(float)), w, p, must, start, candidates=candidates, reliable=reliable
    )
    assert res.proven
    assert res.value == pytest.approx(_value(a, w, res.sel), abs=1e-9)
    assert res.value == pytest.approx(_brute(a, w, p, must if must.any() else None), abs=1e-9)


def test_bb_branches_on_graph_instances():
    """Guards the test above: with one candidate and no strong branching, trees are deeper."""
    nodes = []
    for seed in range(30):
        rng = np.random.default_rng(2000 + seed)
        m = int(rng.integers(8, 14))
        a, w = _graph(rng, m, int(rng.integers(m + 2, 3 * m)), ["int", "ties", "float"][seed % 3])
        p = int(rng.integers(2, m // 2 + 1))
        res = mclp_bb(
            sp.csc_array(a.astype(float)),
            w,
            p,
            np.zeros(a.shape[0], dtype=bool),
            np.arange(p),
            candidates=1,
            reliable=0,
        )
        nodes.append(res.nodes)
    assert max(nodes) >= 5 and sum(n > 1 for n in nodes) >= 10


@pytest.mark.parametrize("seed", range(30))
def test_mclp_matches_brute_force(seed, monkeypatch):
    """The public function (local search off, so more is left to the search): random and graph
    instances, zero weights, ties, fractional weights, fixed sites, p = every free column."""
    monkeypatch.setattr(locate, "_LS_BUDGET_S", 0.0)
    rng = np.random.default_rng(500 + seed)
    kind = ["int", "ties", "float"][seed % 3]
    if seed % 2:
        m = int(rng.integers(10, 15))
        a, w = _graph(rng, m, int(rng.integers(2 * m, 4 * m)), kind)
    else:
        m = int(rng.integers(8, 13))
        a, w = _instance(rng, int(rng.integers(30, 70)), m, rng.uniform(0.08, 0.3), kind)
    n = a.shape[0]
    w[rng.random(n) < 0.1] = 0.0  # zero weights
    fixed = [] if seed % 4 else [int(rng.integers(m))]
    # p = every free column: beyond the useful (non-dominated) columns
    p = int(rng.integers(1, 6)) if seed % 5 else m - len(fixed)
    s = mclp(a, w, p, fixed=fixed or None)
    assert s.status == "optimal"
    assert set(fixed) <= set(s.selected.tolist())
    assert len(s.selected) <= p + len(fixed)
    assert s.objective == pytest.approx(_value(a, w, s.selected), abs=1e-9)
    assert s.objective == pytest.approx(_brute(a, w, p, fixed=fixed), rel=1e-9, abs=1e-9)


def test_mclp_reaches_the_search_on_graph_instances(monkeypatch):
    """Guards the test above: on graph instances ``mclp`` hands the proof to the search."""
    monkeypatch.setattr(locate, "_LS_BUDGET_S", 0.0)
    calls: list[BBResult] = []
    real = locate.mclp_bb

    def spy(*args, **kwargs):
        calls.append(real(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(locate, "mclp_bb", spy)
    for seed in range(15):
        rng = np.random.default_rng(seed)
        a, w = _graph(rng, 16, 50)
        s = mclp(a, w, 5)
        assert s.objective == pytest.approx(_brute(a, w, 5))
    assert len(calls) >= 5 and all(c.proven for c in calls)
    assert any(c.nodes > 1 for c in calls)


@pytest.mark.parametrize("seed", range(12))
def test_mclp_falls_back_to_highs_when_the_search_budget_is_spent(seed, monkeypatch):
    monkeypatch.setattr(locate, "_LS_BUDGET_S", 0.0)
    monkeypatch.setattr(locate, "_BB_BUDGET_S", -1.0)
    rng = np.random.default_rng(900 + seed)
    n, m = int(rng.integers(30, 60)), int(rng.integers(8, 12))
    a, w = _instance(rng, n, m, rng.uniform(0.1, 0.3), "int")
    p = int(rng.integers(2, 5))
    s = mclp(a, w, p)
    assert s.status == "optimal"
    assert s.objective == pytest.approx(_brute(a, w, p), abs=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_bb_with_few_lp_rows_and_deep_trees(seed):
    """The LP starts with only the rows the first LP covers less than once (``margin`` 0), so
    rows are added during the search; nodes taken from the heap restart from their parent's
    basis (extended over the rows added since) and children reuse their strong-branching LPs."""
    rng = np.random.default_rng(4000 + seed)
    m = int(rng.integers(9, 14))
    a, w = _graph(rng, m, int(rng.integers(m + 4, 3 * m)), ["int", "ties", "float"][seed % 3])
    if seed % 2:  # a few wider rows (three sites) next to the edges
        extra = rng.random((m, m)) < 3.0 / m
        a = np.vstack([a, extra[extra.any(axis=1)]])
        w = np.concatenate([w, rng.integers(1, 20, int(extra.any(axis=1).sum())).astype(float)])
    p = int(rng.integers(2, m // 2 + 1))
    b = sp.csc_array(a.astype(float))
    out = lp_relaxation(b, w, p)
    assert out is not None
    must = np.zeros(a.shape[0], dtype=bool)
    start = np.arange(p)
    if seed % 5 == 0:
        must[np.flatnonzero(a[:, start].any(axis=1))[:2]] = True
    res = mclp_bb(b, w, p, must, start, y0=out[1], margin=0.0, candidates=int(1 + seed % 4))
    assert res.proven
    assert res.value == pytest.approx(_value(a, w, res.sel), abs=1e-9)
    assert res.value == pytest.approx(_brute(a, w, p, must if must.any() else None), abs=1e-9)


def test_bb_restores_bases_and_reuses_child_lps(monkeypatch):
    """Guards the test above: both shortcuts are taken on those instances."""
    seen = {"restore_grown": 0, "reused": 0}
    real_restore = bbmod._Search.restore
    real_node = bbmod._Search.node

    def restore(self, basis):
        seen["restore_grown"] += len(basis.row_status) != self.h.getNumRow()
        return real_restore(self, basis)

    def node(self, lo, up, cached=None):
        if cached is not None:
            y = cached[1]
            seen["reused"] += bool(np.all(y[~up] <= 1e-9) and np.all(y[lo] >= 1.0 - 1e-9))
        return real_node(self, lo, up, cached)

    monkeypatch.setattr(bbmod._Search, "restore", restore)
    monkeypatch.setattr(bbmod._Search, "node", node)
    for seed in range(40):
        test_bb_with_few_lp_rows_and_deep_trees(seed)
    assert seen["restore_grown"] >= 1 and seen["reused"] >= 1
