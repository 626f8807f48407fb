"""Capacitated p-median (single sourcing): ``p`` sites beyond the fixed ones, every row served
whole by one open site at finite cost, within the sites' capacities, least weighted cost.

:func:`solve` has the contract used by :func:`siting.locate.p_median` with ``capacity``.
"""

from __future__ import annotations

import numpy as np

from siting._locate_prep import _capacitated

__all__ = ["solve"]


def solve(
    d: np.ndarray, w: np.ndarray, p: int, fx: np.ndarray, cap: np.ndarray, deadline: float
) -> tuple[np.ndarray, str, float, np.ndarray]:
    """(selected incl. fixed, status, relative gap, row -> site) for the dense cost ``d`` (rows x
    sites, ``inf`` = not allowed), row weights ``w`` (also the demand), ``p`` free sites, fixed
    sites ``fx`` and capacities ``cap``; HiGHS on the full assignment model."""
    n, m = d.shape
    r, c = np.nonzero(np.isfinite(d))
    status, gap, sel, assign = _capacitated(
        r,
        c,
        w[r] * d[r, c],
        np.zeros(m),
        w,
        cap,
        fx,
        n,
        m,
        must_assign=True,
        n_open=(p + len(fx), p + len(fx)),
        maximize=False,
        deadline=deadline,
    )
    return sel, status, gap, assign
