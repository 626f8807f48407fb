"""Benchmark siting.locate side by side with a plain HiGHS model and PySAL spopt + CBC.

Usage::

    python bench/bench_locate.py [--quick] [--orlib DIR] [--cbc-limit 300] [--seed 1]

``--quick`` runs the 2,000 x 500 MCLP (p = 20) and the p-median only, with CBC limited to 60 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from instances import make_instance

from siting._locate_highs import solve_mip
from siting.locate import lscp, mclp, p_median


def plain_mclp_highs(cov: sp.csr_array, w: np.ndarray, p: int, limit: float):
    """Textbook MCLP (binary y and z, z_i <= sum_j a_ij y_j, sum y <= p) in HiGHS."""
    n, m = cov.shape
    a = sp.csc_array(cov, dtype=np.float64)
    con = sp.vstack(
        [sp.hstack([-a, sp.eye_array(n)]), sp.hstack([np.ones((1, m)), sp.csc_array((1, n))])],
        format="csc",
    )
    t = time.perf_counter()
    res = solve_mip(
        np.concatenate([np.zeros(m), w]),
        con,
        np.full(n + 1, -np.inf),
        np.concatenate([np.zeros(n), [p]]),
        np.zeros(n + m),
        np.ones(n + m),
        np.ones(n + m, dtype=bool),
        maximize=True,
        time_limit=limit,
    )
    return res.status, res.objective, time.perf_counter() - t


def plain_lscp_highs(cov: sp.csr_array, limit: float):
    n, m = cov.shape
    t = time.perf_counter()
    res = solve_mip(
        np.ones(m),
        sp.csc_array(cov, dtype=np.float64),
        np.ones(n),
        np.full(n, np.inf),
        np.zeros(m),
        np.ones(m),
        np.ones(m, dtype=bool),
        time_limit=limit,
    )
    return res.status, res.objective, time.perf_counter() - t


def spopt_mclp(inst, p: int, limit: float):
    import pulp
    from spopt.locate import MCLP

    dense = np.full(inst.coverage.shape, 2.0 * inst.radius)
    cd = sp.coo_array(inst.cover_dist)
    dense[cd.row, cd.col] = cd.data
    t = time.perf_counter()
    model = MCLP.from_cost_matrix(dense, inst.weights, inst.radius, p_facilities=p)
    try:
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit))
    except Exception as exc:  # spopt raises when CBC stops without a solution
        return "error: " + str(exc)[:40], float("nan"), time.perf_counter() - t
    sec = time.perf_counter() - t
    sel = np.array([j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5])
    cov = inst.coverage.toarray()
    obj = float(inst.weights[cov[:, sel].any(axis=1)].sum()) if len(sel) else 0.0
    # pulp's sol_status: 1 = proven optimal, 2 = integer feasible (stopped by the time limit)
    sol_status = getattr(model.problem, "sol_status", None)
    if sol_status == 1 and sec < limit * 0.98:
        status = "optimal"
    elif sol_status == 1:
        status = f"optimal? ({sec:.0f}s of {limit:.0f}s)"
    else:
        status = f"stopped at {limit:.0f}s"
    return status, obj, sec


def read_orlib(path: Path):
    from scipy.sparse.csgraph import shortest_path

    lines = path.read_text().split("\n")
    n, _m, p = (int(x) for x in lines[0].split())
    e: dict[tuple[int, int], float] = {}
    for ln in lines[1:]:
        if ln.strip():
            i, j, c = (int(x) for x in ln.split())
            e[(min(i, j) - 1, max(i, j) - 1)] = float(c)  # duplicate edges: last one wins
    keys = np.array(list(e))
    g = sp.csr_array((np.array(list(e.values())), (keys[:, 0], keys[:, 1])), shape=(n, n))
    return shortest_path(g, directed=False), p


KNOWN = {
    1: 5819,
    2: 4093,
    3: 4250,
    4: 3034,
    5: 1355,
    6: 7824,
    7: 5631,
    8: 4445,
    9: 2734,
    10: 1255,
    11: 7696,
    12: 6634,
    13: 4374,
    14: 2968,
    15: 1729,
}


def cpu() -> float:
    """CPU seconds of this process and its finished children (CBC runs as a child)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def timed(fn, *a, **k):
    """(result, wall s, cpu s, 1-min load average at the start)."""
    load = os.getloadavg()[0]
    c0, t0 = cpu(), time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0, cpu() - c0, load


def line(*cols):
    print(" | ".join(str(c) for c in cols), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--orlib", type=Path, default=None, help="folder with pmedN.txt")
    ap.add_argument("--orlib-max-n", type=int, default=300)
    ap.add_argument("--cbc-limit", type=float, default=300.0)
    ap.add_argument("--plain-limit", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--skip-mclp", action="store_true")
    ap.add_argument("--skip-pmedian", action="store_true")
    ap.add_argument("--cap-limit", type=float, default=60.0)
    args = ap.parse_args(argv)
    cbc = 60.0 if args.quick else args.cbc_limit
    inst = make_instance(2000, 500, seed=args.seed)
    w = inst.weights
    if args.skip_mclp:
        return _rest(args, cbc)
    print(f"# load average at start {os.getloadavg()}, {os.cpu_count()} CPUs")
    print(f"# MCLP 2,000 x 500, radius 1,000 m network, seed {args.seed}")
    line(
        "model",
        "p",
        "ours wall s",
        "cpu s",
        "load",
        "status",
        "objective",
        "plain HiGHS wall s",
        "cpu s",
        "objective",
        "spopt+CBC wall s",
        "cpu s",
        "objective",
        "x plain wall (cpu)",
        "x CBC wall (cpu)",
    )
    for p in (20,) if args.quick else (20, 50):
        ours, ot, oc, ol = timed(mclp, inst.coverage, w, p)
        (ps, po, _), pt, pc, _ = timed(plain_mclp_highs, inst.coverage, w, p, args.plain_limit)
        (cs, co, _), ct, cc, _ = timed(spopt_mclp, inst, p, cbc)
        line(
            "mclp",
            p,
            f"{ot:.2f}",
            f"{oc:.2f}",
            f"{ol:.1f}",
            ours.status,
            ours.objective,
            f"{pt:.2f} ({ps})",
            f"{pc:.2f}",
            po,
            f"{ct:.2f} ({cs})",
            f"{cc:.2f}",
            co,
            f"{pt / ot:.1f} ({pc / oc:.1f})",
            f"{'>=' if cs != 'optimal' else ''}{ct / ot:.1f} ({cc / oc:.1f})",
        )
        fx = np.argsort(-np.asarray(inst.coverage.sum(axis=0)).ravel())[:10]
        f, ft, fc, fl = timed(mclp, inst.coverage, w, p, fixed=fx)
        line("mclp fixed(10)", p, f"{ft:.2f}", f"{fc:.2f}", f"{fl:.1f}", f.status, f.objective)
        cap = np.full(inst.coverage.shape[1], 1.3 * w.sum() / (p + 10))
        c, ctt, ccc, cl = timed(mclp, inst.coverage, w, p, capacity=cap, time_limit=args.cap_limit)
        line(
            "mclp capacitated",
            p,
            f"{ctt:.2f}",
            f"{ccc:.2f}",
            f"{cl:.1f}",
            c.status,
            c.objective,
            f"gap {c.gap:.4f}",
        )
    ls = lscp(inst.coverage)
    line(
        "lscp",
        "-",
        f"{ls.solve_time_s:.2f}",
        ls.status,
        ls.objective,
        f"uncoverable rows {len(ls.uncoverable)}",
    )
    rows = np.asarray(inst.coverage.sum(axis=1)).ravel() > 0
    cov_ok = sp.csr_array(inst.coverage[np.flatnonzero(rows)])
    ls = lscp(cov_ok)
    ps, po, pt = plain_lscp_highs(cov_ok, args.plain_limit)
    line(
        "lscp (coverable rows)",
        "-",
        f"{ls.solve_time_s:.2f}",
        ls.status,
        ls.objective,
        f"{pt:.2f} ({ps})",
        po,
    )
    fxl = np.argsort(-np.asarray(cov_ok.sum(axis=0)).ravel())[:10]
    lf = lscp(cov_ok, fixed=fxl)
    line("lscp fixed(10)", "-", f"{lf.solve_time_s:.2f}", lf.status, lf.objective)
    # capacitated LSCP: every coverable row served whole, each site holding `f` times an
    # average site's share of the demand at the uncapacitated optimum
    wr = w[rows]
    for f in (3.0, 1.5):
        capl = np.full(cov_ok.shape[1], f * wr.sum() / ls.objective)
        lc, lt, lcc, lld = timed(lscp, cov_ok, capacity=capl, demand=wr, time_limit=args.cap_limit)
        line(
            f"lscp capacitated ({f:g}x)",
            "-",
            f"{lt:.2f}",
            f"{lcc:.2f}",
            f"{lld:.1f}",
            lc.status,
            lc.objective,
            f"gap {lc.gap:.4f}",
        )
    _rest(args, cbc)


def _rest(args, cbc) -> None:
    """p-median, the large MCLP and the OR-Library instances."""
    if not args.skip_pmedian:
        _pmedian(args)
    _large_and_orlib(args, cbc)


def _pmedian(args) -> None:
    print("\n# p-median 2,000 x 500, full network distances, weights = population")
    pm_inst = make_instance(2000, 500, seed=args.seed, full_distances=True)
    pm, t, c, ld = timed(p_median, pm_inst.full, 20, weights=pm_inst.weights, time_limit=300)
    line(
        "p_median",
        20,
        f"{t:.2f}",
        f"cpu {c:.2f}",
        f"load {ld:.1f}",
        pm.status,
        f"{pm.objective:.1f}",
        f"gap {pm.gap}",
    )
    fxm = pm.selected[:5]
    pmf = p_median(pm_inst.full, 15, weights=pm_inst.weights, fixed=fxm, time_limit=300)
    line("p_median fixed(5)+15", "-", f"{pmf.solve_time_s:.2f}", pmf.status, f"{pmf.objective:.1f}")
    # capacitated: each site holds 1.3 times an average site's share of the demand
    capm = np.full(pm_inst.full.shape[1], 1.3 * pm_inst.weights.sum() / 20)
    pmc, t, c, ld = timed(
        p_median,
        pm_inst.full,
        20,
        weights=pm_inst.weights,
        capacity=capm,
        time_limit=args.cap_limit,
    )
    line(
        "p_median capacitated",
        20,
        f"{t:.2f}",
        f"cpu {c:.2f}",
        f"load {ld:.1f}",
        pmc.status,
        f"{pmc.objective:.1f}",
        f"gap {pmc.gap}",
    )


def _large_and_orlib(args, cbc) -> None:
    if not args.quick and not args.skip_large:
        print("\n# MCLP 10,000 x 2,000, p = 50")
        big = make_instance(10_000, 2_000, seed=args.seed)
        ob, t, c, ld = timed(mclp, big.coverage, big.weights, 50, time_limit=60)
        (cs, co, _), ct, cc, _ = timed(spopt_mclp, big, 50, cbc)
        line(
            "mclp large",
            50,
            f"{t:.2f}",
            f"cpu {c:.2f}",
            f"load {ld:.1f}",
            ob.status,
            ob.objective,
            f"gap {ob.gap:.5f}",
            f"CBC {ct:.1f}s cpu {cc:.1f} ({cs})",
            co,
        )

    if args.orlib is not None:
        print(f"\n# OR-Library p-median ({args.orlib}), n <= {args.orlib_max_n}")
        line("instance", "n", "p", "wall s", "cpu s", "load", "status", "objective", "published")
        for k in range(1, 41):
            f = args.orlib / f"pmed{k}.txt"
            if not f.exists():
                continue
            n = int(f.read_text().split()[0])
            if n > args.orlib_max_n:
                continue
            d, p = read_orlib(f)
            s, t, c, ld = timed(p_median, d, p, time_limit=60)
            line(
                f"pmed{k}",
                n,
                p,
                f"{t:.2f}",
                f"cpu {c:.2f}",
                f"load {ld:.1f}",
                s.status,
                s.objective,
                KNOWN.get(k, "?"),
            )


if __name__ == "__main__":
    main()
