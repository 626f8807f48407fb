"""A thin, honest wrapper around HiGHS for the location models.

Only :mod:`siting.locate` uses it. The model is passed column-wise from a scipy sparse matrix
(no Python loop over coefficients); the answer says exactly what HiGHS proved: "optimal" only
when HiGHS reports an optimal model status with a relative gap of zero requested.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

__all__ = ["MipResult", "solve_lp", "solve_mip"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MipResult:
    """What HiGHS returned.

    ``status`` is "optimal", "feasible" (stopped by the time limit with an incumbent),
    "infeasible" or "unsolved" (stopped before any feasible point was found). ``bound`` is the
    proven dual bound in the model's own sense (an upper bound when maximising).
    """

    status: str
    x: np.ndarray | None
    objective: float
    bound: float
    gap: float
    seconds: float


#: Relative gap at which HiGHS calls a MIP with fractional objective coefficients optimal.
MIP_REL_GAP = 1e-6


def solve_mip(
    c: np.ndarray,
    a: sp.spmatrix | sp.sparray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    integer: np.ndarray,
    *,
    maximize: bool = False,
    offset: float = 0.0,
    time_limit: float | None = None,
    start: np.ndarray | None = None,
    options: dict[str, object] | None = None,
) -> MipResult:
    """Solve ``min/max c x + offset`` s.t. ``row_lower <= a x <= row_upper``, bounds, integrality.

    Parameters
    ----------
    c, col_lower, col_upper
        Objective and column bounds (``np.inf`` for none).
    a
        Constraint matrix, any scipy sparse format.
    row_lower, row_upper
        Row activity bounds.
    integer
        Boolean mask of integer columns.
    maximize
        Maximise instead of minimise.
    offset
        Constant added to the objective (also to the reported bound).
    time_limit
        Seconds; ``None`` for no limit.
    start
        A feasible point handed to HiGHS as its first incumbent.
    options
        Extra HiGHS options (name -> value), e.g. ``{"mip_allow_restart": False}``; they tune
        the search only: the gap options above are set after them and cannot be loosened.
    """
    t0 = time.perf_counter()
    if time_limit is not None and time_limit <= 0:
        return MipResult("unsolved", None, math.nan, math.nan, math.inf, 0.0)
    h = highspy.Highs()
    h.silent()
    lp = _model(c, a, col_lower, col_upper, row_lower, row_upper, maximize)
    lp.offset_ = float(offset)
    integer = np.asarray(integer, dtype=bool)
    if integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous
            for f in integer
        ]
    h.passModel(lp)
    for name, value in (options or {}).items():
        h.setOptionValue(name, value)  # type: ignore[arg-type]
    # Exact answers: with integral objective coefficients (whole residents, site counts) a zero
    # relative gap and an absolute one of 1e-7, so "optimal" is exact. With fractional ones
    # (grid-cell populations, distances) a relative gap of MIP_REL_GAP: below it lies HiGHS's own
    # feasibility noise (1e-6 per variable), which it cannot close; it restarted until the time
    # limit (a 2,748 x 97 capacitated MCLP: 60 s, then "feasible, gap 3e-8"; now 6 s, optimal).
    cc = np.asarray(c, dtype=np.float64)
    whole = bool(np.all(cc == np.round(cc))) and float(np.abs(cc).sum()) < 2.0**52
    h.setOptionValue("mip_rel_gap", 0.0 if whole or not integer.any() else MIP_REL_GAP)
    h.setOptionValue("mip_abs_gap", 1e-7)
    # No presolve restarts: with them HiGHS 1.15 proved wrong optima on capacitated models (the
    # compact capacitated MCLP of spopt's San Francisco instance, p = 5, capacity 250,000: 3 of
    # 8 random seeds "optimal" at 909,859-909,887, the optimum is 909,894; 0 of 8 without) and
    # restarted for the whole time limit on a 2,748 x 97 one.
    h.setOptionValue("mip_allow_restart", False)
    if time_limit is not None and math.isfinite(time_limit):
        h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    if start is not None and integer.any():
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    seconds = time.perf_counter() - t0
    has_x = info.primal_solution_status == 2
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    obj = float(info.objective_function_value) if has_x else math.nan
    bound = float(info.mip_dual_bound) if integer.any() else obj
    MS = highspy.HighsModelStatus
    if ms == MS.kOptimal:
        status, gap = "optimal", 0.0
        if not integer.any():
            bound = obj
        elif start is not None and _worse_than_start(cc, start, obj, offset, maximize):
            # HiGHS called an answer optimal that the start it was given beats: its proof is
            # wrong (seen with presolve restarts on capacity rows filled exactly, spopt's San
            # Francisco instance). Its answer is still feasible; its bound is not trusted.
            logger.warning("HiGHS reported optimal %s, worse than its start: not trusted", obj)
            status, bound, gap = "feasible", math.inf, math.inf
    elif ms == MS.kInfeasible:
        status, gap = "infeasible", math.nan
    elif has_x:
        status = "feasible"
        gap = _rel_gap(obj, bound)
    elif ms in (MS.kTimeLimit, MS.kInterrupt, MS.kIterationLimit, MS.kSolutionLimit):
        status, gap = "unsolved", math.inf
    else:
        raise RuntimeError(f"HiGHS stopped with model status {h.modelStatusToString(ms)}")
    logger.debug("HiGHS %s obj=%s bound=%s in %.2fs", status, obj, bound, seconds)
    return MipResult(status, x, obj, bound, gap, seconds)


def _worse_than_start(c: np.ndarray, start: Any, obj: float, offset: float, maximize: bool) -> bool:
    """Is ``obj`` worse than the start's objective by more than noise?"""
    v = float(c @ np.asarray(start, dtype=np.float64)) + float(offset)
    tol = 1e-9 * max(1.0, abs(v)) + 1e-7
    return obj < v - tol if maximize else obj > v + tol


def solve_lp(
    c: np.ndarray,
    a: sp.spmatrix | sp.sparray,
    row_upper: np.ndarray,
    *,
    maximize: bool = False,
    time_limit: float | None = None,
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """LP ``min/max c x`` s.t. ``a x <= row_upper``, ``0 <= x <= 1``.

    Returns ``(objective, x, row_dual)`` with HiGHS' row duals, or ``None`` when HiGHS does not
    report an optimal LP (also when ``time_limit`` seconds pass first). Callers use the duals only as multipliers for bounds they compute
    themselves, so an imprecise dual weakens a bound but never makes it wrong.
    """
    n_col = len(c)
    h = highspy.Highs()
    h.silent()
    n_row = a.shape[0]
    lp = _model(c, a, np.zeros(n_col), np.ones(n_col), np.full(n_row, -np.inf), row_upper, maximize)
    h.passModel(lp)
    if time_limit is not None:
        if time_limit <= 0:
            return None
        h.setOptionValue("time_limit", float(time_limit))
    h.run()
    return lp_result(h)


def lp_result(h: highspy.Highs) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``(objective, x, row_dual)`` of the LP ``h`` has just run, or ``None`` when HiGHS does not
    report it optimal."""
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    return (
        float(h.getInfo().objective_function_value),
        np.asarray(sol.col_value, dtype=np.float64),
        np.asarray(sol.row_dual, dtype=np.float64),
    )


def _model(c, a, col_lower, col_upper, row_lower, row_upper, maximize: bool) -> highspy.HighsLp:
    """A HiGHS LP (column-wise sparse matrix) from arrays; integrality is set by the caller."""
    csc = sp.csc_array(a, dtype=np.float64)
    csc.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = len(c)
    lp.num_row_ = csc.shape[0]
    lp.col_cost_ = np.ascontiguousarray(c, dtype=np.float64)
    lp.col_lower_ = np.ascontiguousarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.ascontiguousarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.ascontiguousarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.ascontiguousarray(row_upper, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    return lp


def _rel_gap(obj: float, bound: float) -> float:
    if not (math.isfinite(obj) and math.isfinite(bound)):
        return math.inf
    return abs(bound - obj) / max(abs(obj), 1e-10)
