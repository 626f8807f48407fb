"""Brute-force checks of the experimental capacitated-MCLP branch-and-bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from siting._locate_capmclpbb import capmclp_bb, single_source_value


def _brute(a: np.ndarray, w: np.ndarray, cap: np.ndarray, p: int) -> float:
    """Best single-source value over every site set of size <= p and every assignment."""
    n, m = a.shape
    best = 0.0
    for k in range(min(p, m) + 1):
        for sites in itertools.combinations(range(m), k):
            # each row: unserved (-1) or one open site covering it whose capacity it fits
            opts = [[-1] + [j for j in sites if a[i, j] and w[i] <= cap[j]] for i in range(n)]
            for choice in itertools.product(*opts):
                c = np.array(choice)
                on = c >= 0
                load = np.bincount(c[on], weights=w[on], minlength=m)
                if np.all(load <= cap + 1e-9):
                    best = max(best, float(w[on].sum()))
    return best


def _instance(seed: int, n: int = 8, m: int = 6):
    rng = np.random.default_rng(seed)
    a = (rng.random((n, m)) < 0.45).astype(float)
    w = rng.integers(1, 10, n).astype(float)
    cap = rng.integers(4, 16, m).astype(float)
    p = int(rng.integers(1, 4))
    return a, w, cap, p


@pytest.mark.parametrize("sb_iters", [0, 2])
@pytest.mark.parametrize("seed", range(25))
def test_matches_brute_force(seed: int, sb_iters: int) -> None:
    a, w, cap, p = _instance(seed)
    n = a.shape[0]
    # start from the empty answer so that the tree does the work
    res = capmclp_bb(
        sp.csc_array(a),
        w,
        p,
        cap,
        np.zeros(0, dtype=np.int64),
        np.full(n, -1, dtype=np.int64),
        sb_iters=sb_iters,  # 2: strong branching stopped early (scores only)
    )
    assert res.proven
    assert len(res.sel) <= p
    assert single_source_value(sp.csc_array(a), w, cap, res.sel, res.assign) == res.value
    assert res.value == _brute(a, w, cap, p)


def test_hand_example() -> None:
    # two sites cover all three rows (weights 5, 4, 3), capacity 7 each. p = 1: one site holds
    # {4, 3} = 7 at best; p = 2: one site takes 5, the other 4 + 3: all 12 served.
    a = sp.csc_array(np.ones((3, 2)))
    w = np.array([5.0, 4.0, 3.0])
    cap = np.array([7.0, 7.0])
    empty = np.zeros(0, dtype=np.int64)
    r1 = capmclp_bb(a, w, 1, cap, empty, np.full(3, -1, dtype=np.int64))
    assert r1.proven and r1.value == 7.0
    r2 = capmclp_bb(a, w, 2, cap, empty, np.full(3, -1, dtype=np.int64))
    assert r2.proven and r2.value == 12.0


def test_split_is_not_single_source() -> None:
    # one site, capacity 10, rows 6 and 6: splitting would serve 10, single sourcing only 6
    a = sp.csc_array(np.ones((2, 1)))
    w = np.array([6.0, 6.0])
    cap = np.array([10.0])
    res = capmclp_bb(a, w, 1, cap, np.zeros(0, dtype=np.int64), np.full(2, -1, dtype=np.int64))
    assert res.proven and res.value == 6.0
