"""Experimental branch-and-bound over the site variables of the capacitated MCLP (single sourcing).

Not wired into :mod:`siting.locate`; an experiment to see whether a search over the ``y`` of the
compact model (the one :func:`siting._locate_prep._capacitated_cover` builds: ``y`` per site, ``z``
per merged row, ``x`` only at the "binding" sites whose reachable demand exceeds their capacity)
proves the benchmark optimal faster than HiGHS's MIP.

One persistent ``highspy.Highs`` LP holds the relaxation (``sum y <= p``); a node changes only the
column bounds of ``y`` and is re-solved by dual simplex from its parent's basis. The node bound
is the LP value (HiGHS reports it optimal; a tiny relative tolerance is allowed). With integral
weights a node is pruned when its bound is below the incumbent plus one.

* Reduced-cost fixing: a free ``y_j`` nonbasic at 0 (at 1) whose reduced cost ``d_j`` makes
  ``LP - |d_j|`` fall below the threshold is fixed at 0 (at 1) in the node's subtree.
* Branching: reliability branching on the fractional ``y`` (pseudo-costs, unmeasured columns
  strong-branched by solving both child LPs); plunge into the ``y_j = 1`` child, otherwise take
  the open node of largest bound.
* A node whose LP has every free ``y`` integral (site set ``S``): when the binding ``x`` are also
  integral the LP answer is a single-source answer of the LP's value, the best in the node, and
  the node is closed. Otherwise the single-source optimum for ``S`` is found by HiGHS's MIP with
  ``y`` fixed (``_capacitated_cover``) and becomes an incumbent when better; the rest of the node
  (site sets other than ``S``) is split by "no-good" branching on the free members
  ``s_1..s_k`` of ``S``: child ``i`` fixes ``s_1..s_{i-1}`` open and ``s_i`` closed, a last
  child fixes all of ``S`` open (empty when ``|S| = p``, since then only ``S`` remains).

``proven`` is True only when the tree was searched to the end (every fixed-``y`` MIP proven).

Measured (2026-11-22, ``make_instance(2000, 500, seed=1)``, ``cap = 1.3 w.sum() / (p + 10)``,
start from ``_locate_capmclp.solve`` at 30 s, ``nice -n 19``, load ~1): not proven within
1,200 CPU s. The LP has 9,974 rows x 10,415 columns (8,184 binding pairs); a re-solve from the
parent's basis takes 500-15,000 dual simplex iterations, about 1 s (0.5-5.5 s). p = 20
(start 423,286, root LP 427,506): bound 425,387 after 300 s (97 nodes, 265 LPs); with
``sb_iters=500`` 425,456 at 300 s and 424,450 at 1,200 s (855 nodes, 1,170 LPs, 232 open,
bound falling ~0.5 per CPU s at the end). p = 50 (start 524,575): bound 530,942 -> 530,912
after 300 s (35 nodes). No node had an integral y (no fixed-y MIP was ever needed).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from siting._locate_highs import _model
from siting._locate_prep import _capacitated_cover, _compact_model

__all__ = ["CapBBResult", "capmclp_bb", "single_source_value"]

_EPS = 1e-6


@dataclass
class CapBBResult:
    """``sel``/``assign``/``value``: the best single-source answer found; ``bound``: an upper
    bound on the optimum (the largest open node bound when the search stopped; the value when
    proven); ``trace``: (CPU s, nodes, LPs, bound, incumbent, open nodes) snapshots."""

    sel: np.ndarray
    assign: np.ndarray
    value: float
    proven: bool
    bound: float
    nodes: int
    lps: int
    lp_seconds: float
    mips: int
    trace: list[tuple] = field(default_factory=list)


def single_source_value(
    a: sp.csc_array, w: np.ndarray, cap: np.ndarray, sel: np.ndarray, assign: np.ndarray
) -> float:
    """Covered weight of ``assign`` (row -> site or -1), checked: raises if a row goes to a site
    that is closed or does not cover it, or a site's load exceeds its capacity."""
    m = a.shape[1]
    on = assign >= 0
    isopen = np.zeros(m, dtype=bool)
    isopen[np.asarray(sel, dtype=np.int64)] = True
    if not np.all(isopen[assign[on]]):
        raise ValueError("a row is assigned to a closed site")
    ar = sp.csr_array(a)
    rr = np.flatnonzero(on)
    cov = np.asarray(ar[rr, assign[on]]).ravel() if len(rr) else np.zeros(0)
    if not np.all(cov > 0):
        raise ValueError("a row is assigned to a site that does not cover it")
    load = np.bincount(assign[on], weights=w[on], minlength=m)
    if np.any(load > cap * (1 + 1e-9) + 1e-9):
        raise ValueError("capacity exceeded")
    return float(w[on].sum())


class _Compact:
    """The compact model (maximise covered weight, ``sum y <= p``), as in ``_capacitated_cover``."""

    def __init__(self, a: sp.csc_array, w: np.ndarray, cap: np.ndarray, p: int):
        n, m = a.shape
        self.n, self.m = n, m
        rows = np.flatnonzero((w > 0) & (np.diff(sp.csr_array(a).indptr) > 0))
        self.rows = rows
        # the compact model of siting._locate_prep, maximised, at most p sites open
        cm = _compact_model(a, w, cap, rows, w, (-np.inf, float(p)))
        self.cm = cm
        self.con, self.rl, self.ru = cm.con, cm.rl, cm.ru
        self.c = np.concatenate([np.zeros(m), cm.zobj, np.zeros(cm.kb)])
        self.nv, self.nz, self.kb = cm.nv, cm.nz, cm.kb
        self.pr, self.pc, self.on_nb, self.br, self.bc, self.xc = (
            cm.pr, cm.pc, cm.on_nb, cm.br, cm.bc, cm.xc
        )  # fmt: skip
        self.n_bind = cm.n_bind

    def assignment(self, y: np.ndarray, xval: np.ndarray) -> np.ndarray:
        """Row -> site from integral ``y`` (bool, per site) and binding ``x`` values."""
        return self.cm.assignment(self.n, y, xval)


class _Timeout(Exception):
    """The search's time is up."""


class _Search:
    def __init__(self, a, w, cap, p, start_sel, start_asg, cpu_end, deadline, candidates,
                 reliable, trace_every, mip_time, sb_iters):  # fmt: skip
        self.a, self.w, self.cap, self.p = a, w, cap, int(p)
        self.model = _Compact(a, w, cap, p)
        md = self.model
        self.m = md.m
        self.cpu_end, self.deadline = cpu_end, deadline
        self.candidates, self.reliable = candidates, reliable
        self.mip_time = mip_time
        self.sb_iters = int(sb_iters)
        self.integral = bool(np.all(w == np.round(w)))
        self.best_sel = np.asarray(start_sel, dtype=np.int64)
        self.best_asg = np.asarray(start_asg, dtype=np.int64)
        self.lb = single_source_value(a, w, cap, self.best_sel, self.best_asg)
        self.nodes = self.lps = self.mips = 0
        self.lp_seconds = 0.0
        self.proven_leaves = True
        self.pc_sum = np.zeros((2, self.m))
        self.pc_n = np.zeros((2, self.m), dtype=np.int64)
        self.heap: list[tuple] = []
        self.count = 0
        self.done_sets: dict[bytes, float] = {}
        self.trace: list[tuple] = []
        self.trace_every = trace_every
        self.next_trace = 0.0
        self.cpu0 = time.process_time()
        self.idx = np.arange(self.m, dtype=np.int32)
        self.last_bound = math.inf
        h = highspy.Highs()
        h.silent()
        h.setOptionValue("presolve", "off")
        h.passModel(_model(md.c, md.con, np.zeros(md.nv), np.ones(md.nv), md.rl, md.ru, True))
        self.h = h

    # -- helpers ------------------------------------------------------------------------------
    def thr(self) -> float:
        return self.lb + 1.0 - 1e-6 if self.integral else self.lb + 1e-9 * max(self.lb, 1.0)

    def tol(self, obj: float) -> float:
        return 1e-7 * max(abs(obj), 1.0)

    def check_time(self) -> None:
        if time.process_time() > self.cpu_end or time.perf_counter() > self.deadline:
            raise _Timeout

    def snapshot(self, cur: float, force: bool = False) -> None:
        t = time.process_time() - self.cpu0
        if force or t >= self.next_trace:
            top = -self.heap[0][0] if self.heap else -math.inf
            self.trace.append((t, self.nodes, self.lps, max(top, cur), self.lb, len(self.heap)))
            self.next_trace = t + self.trace_every

    def solve(self, lo: np.ndarray, up: np.ndarray, basis=None, limit: int = 0):
        """LP at (lo, up): (value + tolerance, y, binding x, y reduced costs, y basis status,
        basis) or None when infeasible.

        ``limit`` > 0: at most that many dual simplex iterations; when they run out, returns
        ``(objective, None)``: the objective of a dual feasible basis, an estimate used only to
        score branching candidates (never to prune or fix)."""
        self.check_time()
        h = self.h
        if basis is not None:
            h.setBasis(basis)
        h.changeColsBounds(self.m, self.idx, lo.astype(np.float64), up.astype(np.float64))
        t0 = time.process_time()
        if limit > 0:
            h.setOptionValue("simplex_iteration_limit", int(limit))
        h.run()
        if limit > 0:
            h.setOptionValue("simplex_iteration_limit", 2**31 - 1)
        self.lp_seconds += time.process_time() - t0
        self.lps += 1
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kInfeasible:
            return None
        if limit > 0 and st == highspy.HighsModelStatus.kIterationLimit:
            obj = float(h.getInfo().objective_function_value)
            return obj + self.tol(obj), None
        if st != highspy.HighsModelStatus.kOptimal:
            raise _Timeout  # anything unexpected: stop, unproven
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        obj = float(h.getInfo().objective_function_value)
        md = self.model
        rc = np.abs(np.asarray(sol.col_dual)[: self.m])
        b = h.getBasis()
        cs = b.col_status
        at_lo = np.array([cs[j] == highspy.HighsBasisStatus.kLower for j in range(self.m)])
        at_up = np.array([cs[j] == highspy.HighsBasisStatus.kUpper for j in range(self.m)])
        return obj + self.tol(obj), x[: self.m], x[md.xc], rc, at_lo, at_up, b

    def fix(self, out, lo, up) -> None:
        """Reduced-cost fixing (in place) of the free y."""
        bound, _y, _x, rc, at_lo, at_up, _b = out
        free = up & ~lo
        thr = self.thr()
        f0 = free & at_lo & (bound - rc < thr)
        f1 = free & at_up & (bound - rc < thr)
        up[f0] = False
        lo[f1] = True

    def exact_for(self, sel: np.ndarray) -> bool:
        """Best single-source answer for exactly the sites ``sel`` (HiGHS MIP); incumbent when
        better. False when the MIP was not proven."""
        key = np.sort(sel).tobytes()
        if key in self.done_sets:
            return True
        self.check_time()
        self.mips += 1
        left = min(self.deadline - time.perf_counter(), self.mip_time)
        st, _g, _b, s_sel, s_asg = _capacitated_cover(
            self.a,
            self.w,
            self.cap,
            sel,
            rows=self.model.rows,
            row_obj=self.w,
            y_obj=np.zeros(self.m),
            n_open=(-np.inf, float(len(sel))),
            deadline=time.perf_counter() + max(left, 0.01),
        )
        if st in ("optimal", "feasible"):
            v = single_source_value(self.a, self.w, self.cap, s_sel, s_asg)
            if v > self.lb:
                self.lb, self.best_sel, self.best_asg = v, np.sort(s_sel), s_asg
        if st != "optimal":
            return False
        self.done_sets[key] = 1.0
        return True

    def push(self, bound, lo, up, cached, basis) -> None:
        self.count += 1
        heapq.heappush(self.heap, (-bound, self.count, lo, up, cached, basis))

    # -- search -------------------------------------------------------------------------------
    def run(self) -> bool:
        m = self.m
        node: tuple | None = (np.zeros(m, dtype=bool), np.ones(m, dtype=bool), None, None)
        self.cur = math.inf  # bound of the node being searched (for the reported bound)
        while node is not None:
            self.nodes += 1
            node = self.node(*node)
            if node is not None:
                self.cur = self.last_bound
            self.snapshot(self.cur if node is not None else -math.inf)
            while node is None and self.heap:
                neg, _c, lo, up, cached, basis = heapq.heappop(self.heap)
                self.cur = -neg
                if -neg >= self.thr():
                    node = (lo, up, cached, basis)
        return self.proven_leaves

    def node(self, lo, up, cached, basis):
        out = None
        if cached is not None:
            y = cached[1]
            if np.all(y[~up] <= 1e-9) and np.all(y[lo] >= 1 - 1e-9):
                out = cached
        if out is None:
            out = self.solve(lo, up, basis)
        if out is None:
            return None
        bound, y, _xb, _rc, _al, _au, nbasis = out
        self.last_bound = bound
        if bound < self.thr():
            return None
        lo, up = lo.copy(), up.copy()
        self.fix(out, lo, up)
        if lo.sum() > self.p:
            return None
        free = up & ~lo
        frac = np.flatnonzero(free & (y > _EPS) & (y < 1 - _EPS))
        if len(frac) == 0:
            return self.integral_node(out, lo, up)
        # reliability branching
        f0, f1 = y[frac], 1.0 - y[frac]
        n = self.pc_n[:, frac]
        tot = self.pc_n.sum(axis=1)
        avg = np.where(tot > 0, self.pc_sum.sum(axis=1) / np.maximum(tot, 1), 1.0)
        unit = np.where(n > 0, self.pc_sum[:, frac] / np.maximum(n, 1), avg[:, None])
        est = np.maximum(unit[0] * f0, _EPS) * np.maximum(unit[1] * f1, _EPS)
        order = np.argsort(-est, kind="stable")
        cand = frac[order[: self.candidates]]
        est_of = dict(zip(frac.tolist(), est.tolist(), strict=True))
        best_j, best_s, best_o = -1, -1.0, (None, None)
        for j in cand.tolist():
            if lo[j] or not up[j]:
                continue
            if self.pc_n[:, j].min() >= self.reliable:
                if est_of[j] > best_s:
                    best_j, best_s, best_o = j, est_of[j], (None, None)
                continue
            u0 = up.copy()
            u0[j] = False
            l1 = lo.copy()
            l1[j] = True
            o0 = self.solve(lo, u0, nbasis, self.sb_iters)
            o1 = self.solve(l1, up, nbasis, self.sb_iters)
            thr = self.thr()
            b0 = o0[0] if o0 is not None else -math.inf
            b1 = o1[0] if o1 is not None else -math.inf
            # only a child solved to optimality (or infeasible) may be pruned
            e0 = o0 is None or o0[1] is not None
            e1 = o1 is None or o1[1] is not None
            if b0 < thr and b1 < thr and e0 and e1:
                return None
            if b0 < thr and e0:
                lo[j] = True
                continue
            if b1 < thr and e1:
                up[j] = False
                continue
            o0 = o0 if e0 else None
            o1 = o1 if e1 else None
            d0, d1 = max(bound - b0, 0.0), max(bound - b1, 0.0)
            self.pc_sum[0, j] += d0 / max(y[j], _EPS)
            self.pc_sum[1, j] += d1 / max(1 - y[j], _EPS)
            self.pc_n[:, j] += 1
            s = max(d0, _EPS) * max(d1, _EPS)
            if s > best_s:
                best_j, best_s, best_o = j, s, (o0, o1)
        if best_j < 0:
            return lo, up, None, nbasis  # fixings changed the node: search it again
        u0 = up.copy()
        u0[best_j] = False
        l1 = lo.copy()
        l1[best_j] = True
        o0, o1 = best_o
        b0 = bound if o0 is None else o0[0]
        self.push(min(bound, b0), lo, u0, o0, nbasis)
        # the LP object's basis is now a child's (or another candidate's): start the plunge
        # child from this node's basis unless its LP answer is at hand
        return l1, up, o1, nbasis

    def integral_node(self, out, lo, up):
        """Every free y is integral in the node's LP answer."""
        bound, y, xb, _rc, _al, _au, nbasis = out
        yb = y > 0.5
        sel = np.flatnonzero(yb)
        if np.all((xb < _EPS) | (xb > 1 - _EPS)):
            asg = self.model.assignment(yb, xb)
            v = single_source_value(self.a, self.w, self.cap, sel, asg)
            if v > self.lb:
                self.lb, self.best_sel, self.best_asg = v, sel, asg
            if v >= bound - 2 * self.tol(bound) - 1e-6:
                return None  # the LP optimum of the node is reached by a single-source answer
        if not self.exact_for(sel):
            self.proven_leaves = False
        if bound < self.thr():
            return None
        # no-good branching: the site sets of the node other than ``sel``
        mem = np.flatnonzero(yb & ~lo)
        lo_i = lo.copy()
        for s in mem.tolist():
            u = up.copy()
            u[s] = False
            self.push(bound, lo_i.copy(), u, None, nbasis)
            lo_i[s] = True
        if len(sel) >= self.p:
            return None
        # all of ``sel`` open, at least one more site: branch on a free site outside it
        rest = np.flatnonzero(up & ~lo_i)
        if len(rest) == 0:
            return None
        k = int(rest[0])
        l1 = lo_i.copy()
        l1[k] = True
        u0 = up.copy()
        u0[k] = False
        self.push(bound, lo_i, u0, None, nbasis)
        return l1, up, None, nbasis


def capmclp_bb(
    a: sp.csc_array,
    w: np.ndarray,
    p: int,
    cap: np.ndarray,
    start_sel: np.ndarray,
    start_assign: np.ndarray,
    *,
    cpu_budget_s: float = math.inf,
    deadline: float = math.inf,
    candidates: int = 5,
    reliable: int = 1,
    trace_every: float = 5.0,
    mip_time: float = 60.0,
    root_ipm: bool = True,
    sb_iters: int = 0,
) -> CapBBResult:
    """Branch-and-bound (see the module docstring) from a single-source start.

    ``a``: rows x sites coverage (0/1), ``w``: row weights (> 0 counted), ``cap``: per site.
    """
    a = sp.csc_array(a, dtype=np.float64)
    w = np.where(np.asarray(w, dtype=np.float64) > 0, w, 0.0)
    cap = np.asarray(cap, dtype=np.float64)
    s = _Search(
        a,
        w,
        cap,
        p,
        start_sel,
        start_assign,
        time.process_time() + cpu_budget_s,
        deadline,
        candidates,
        reliable,
        trace_every,
        mip_time,
        sb_iters,
    )
    if root_ipm:
        # the root LP by interior point with crossover (a basis for the dual simplex re-solves)
        s.h.setOptionValue("solver", "ipm")
        t0 = time.process_time()
        s.h.run()
        s.lp_seconds += time.process_time() - t0
        s.lps += 1
        s.h.setOptionValue("solver", "simplex")
        s.h.setOptionValue("simplex_strategy", 1)
    try:
        proven = s.run()
    except _Timeout:
        proven = False
    if proven:
        bound = s.lb
    else:
        tops = [-e[0] for e in s.heap]
        bound = max([*tops, getattr(s, "cur", math.inf), s.lb])
    s.snapshot(bound if math.isfinite(bound) else s.lb, force=True)
    return CapBBResult(
        np.sort(s.best_sel), s.best_asg, s.lb, proven, bound, s.nodes, s.lps, s.lp_seconds,
        s.mips, s.trace,
    )  # fmt: skip
