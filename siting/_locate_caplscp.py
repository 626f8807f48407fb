"""Capacitated LSCP (single sourcing): the fewest sites so that every row is served whole by
one open site covering it, within the sites' capacities.

:func:`solve` has the contract used by :func:`siting.locate.lscp` with ``capacity``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from siting._locate_prep import _capacitated

__all__ = ["solve"]


def solve(
    a: sp.csc_array, demand: np.ndarray, fx: np.ndarray, cap: np.ndarray, deadline: float
) -> tuple[str, float, np.ndarray, np.ndarray]:
    """(status, relative gap, selected incl. fixed, row -> site) for coverage ``a`` (rows x
    sites), row ``demand``, fixed sites ``fx`` and site capacities ``cap``; HiGHS on the full
    assignment model."""
    n, m = a.shape
    coo = sp.coo_array(a)
    return _capacitated(
        coo.row,
        coo.col,
        np.zeros(coo.nnz),
        np.ones(m),
        demand,
        cap,
        fx,
        n,
        m,
        must_assign=True,
        n_open=None,
        maximize=False,
        deadline=deadline,
    )
