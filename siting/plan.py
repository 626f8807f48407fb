"""The three-year upgrade plan (三年行动计划): which sites to bring up to standard, how, and when.

For every non-compliant site of the programme levels (sites with a floor-area standard: street
centers and stations by default) the options are:

- **enlarge in place** (原址扩建): add ``max(required - area, area - 2 x ground)`` m², all on the
  ground floor, so both the area and the ground-floor share are met; only where the addition is
  at most ``max_enlarge_ratio`` of the present area (cramped old sites cannot grow fivefold);
- **move** (迁址) to a candidate building (vacant public building) within the site's walking
  radius whose floor area and ground floor meet the standard; each building used once;
- **merge** (多社区一中心, seed 002): adjacent communities share one center: the other site is
  retired and the survivor is enlarged to cover both communities' households; allowed when the
  communities touch, their combined population stays within the station's maximum and (with a
  distance provider) the retired site is within the station's walking radius of the survivor,
  so its residents keep a station within reach;
- **build new** (新建): a new site of the required area; always possible, the most expensive;
- **split** (分设新站) for an overloaded site (serving more residents than its level's maximum):
  ``k = ceil(served / maximum) - 1`` new sites of the same level share its catchment, each sized
  for its share of the households, and the site itself is enlarged (or rebuilt) to its share.
  An overloaded site gets no other option: a bigger building in the same place would still
  serve too many residents. The new sites count in the programme (total + k, compliant + k + 1);
  where to put them is what ``siting propose`` answers.

A mixed-integer programme (HiGHS through :func:`scipy.optimize.milp`) picks one option and a
year per site so that, in every year y, compliant / total >= target_y (merges shrink the total),
at least cost; with a budget (total or per year) that cannot reach a target, the shortfall in
sites is minimised first and reported together with the budget the targets would need. Among
plans of equal cost a second solve brings the sites serving the most residents forward
(residents benefit first).

Costs per m² are planner-set assumptions (:class:`PlanCosts`), not figures from the sources.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from siting import schema
from siting._errors import InputError
from siting.standards import Standard, load_standard

logger = logging.getLogger(__name__)

__all__ = ["Plan", "PlanCosts", "plan_chart", "plan_upgrades"]

ACTION_ZH = {
    "enlarge": "原址扩建",
    "move": "迁址",
    "merge": "多社区一中心合并",
    "new": "新建",
    "split": "分设新站",
}


@dataclass(frozen=True)
class PlanCosts:
    """Cost assumptions in yuan per m² (change them to local figures).

    Parameters
    ----------
    enlarge_per_m2
        Extending an existing site (construction and fit-out).
    fitout_per_m2
        Fitting out a vacant public building the site moves into (whole building area).
    new_per_m2
        Building a new site (construction, not land).
    max_enlarge_ratio
        Largest addition in place, as a share of the present floor area.
    """

    enlarge_per_m2: float = 6000.0
    fitout_per_m2: float = 2500.0
    new_per_m2: float = 8000.0
    max_enlarge_ratio: float = 1.0


@dataclass(frozen=True)
class Plan:
    """A schedule of upgrades by year.

    ``actions``: one row per scheduled upgrade (``year, site_id, name, level, street,
    community_id, action, action_zh, detail, added_m2, new_sites, cost_yuan, population_served``).
    ``years``: ``year, calendar_year, target_rate, compliance_rate, sites_compliant,
    sites_total, met, cost_yuan, budget_yuan, sites_short, budget_needed_yuan``.
    ``options``: every option considered (for explaining why one was chosen).
    """

    actions: pd.DataFrame
    years: pd.DataFrame
    options: pd.DataFrame
    status: str
    feasible_within_budget: bool
    total_cost_yuan: float
    budget_needed_yuan: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "status": self.status,
            "feasible_within_budget": self.feasible_within_budget,
            "total_cost_yuan": self.total_cost_yuan,
            "budget_needed_yuan": self.budget_needed_yuan,
            "actions": len(self.actions),
            "years": self.years.replace({np.nan: None}).to_dict(orient="records"),
            "notes": self.notes,
        }


def _added_area(area: np.ndarray, ground: np.ndarray, required: np.ndarray, share: np.ndarray):
    """m² to add on the ground floor so that area >= required and ground >= share x area."""
    g = np.where(np.isfinite(ground), ground, area)  # unknown ground floor: not counted short
    # (ground + a) >= s (area + a)  <=>  a >= (s area - ground) / (1 - s)
    with np.errstate(divide="ignore", invalid="ignore"):
        for_share = np.where(share < 1, (share * area - g) / (1 - share), np.inf)
    return np.maximum.reduce([np.zeros_like(area), required - area, for_share])


def _options(
    sites: gpd.GeoDataFrame,
    todo: np.ndarray,
    communities: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame | None,
    network: Any,
    std: Standard,
    costs: PlanCosts,
) -> pd.DataFrame:
    """Every upgrade option of the sites to do, one row each."""
    rows: list[dict[str, Any]] = []
    area = sites["floor_area_m2"].to_numpy(dtype=float)
    ground = sites["ground_floor_area_m2"].to_numpy(dtype=float)
    required = sites["required_floor_area_m2"].to_numpy(dtype=float)
    share = sites["min_ground_floor_share"].to_numpy(dtype=float)
    added = _added_area(area, ground, required, share)
    ids = sites["site_id"].to_numpy()
    extra = _extra_sites(sites)
    for i in np.flatnonzero(todo):
        if extra[i] > 0:
            rows.append(_split_option(sites, int(i), int(extra[i]), std, costs))
            continue
        if added[i] <= costs.max_enlarge_ratio * area[i]:
            rows.append(
                {
                    "site": i,
                    "action": "enlarge",
                    "other": -1,
                    "candidate": "",
                    "added_m2": added[i],
                    "cost_yuan": added[i] * costs.enlarge_per_m2,
                    "detail": f"原址扩建 +{added[i]:,.0f} m²（一层）",
                }
            )
        new_area = max(required[i], std.levels[sites["level"].iat[i]].min_floor_area_m2)
        rows.append(
            {
                "site": i,
                "action": "new",
                "other": -1,
                "candidate": "",
                "added_m2": new_area,
                "cost_yuan": new_area * costs.new_per_m2,
                "detail": f"新建 {new_area:,.0f} m²",
            }
        )

    # moves to candidate buildings within the site's radius
    if candidates is not None and len(candidates) and todo.any():
        c_area = candidates["floor_area_m2"].to_numpy(dtype=float)
        c_ground = candidates["ground_floor_area_m2"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            c_share = np.where(c_area > 0, c_ground / c_area, np.nan)
        idx = np.flatnonzero(todo & (extra == 0))  # an overloaded site is split, not moved
        radius = sites["radius_m"].to_numpy(dtype=float)[idx]
        sxy = shapely.get_coordinates(sites.geometry.values[idx])
        cxy = shapely.get_coordinates(candidates.geometry.values)
        d = network.distances(sxy, cxy, float(radius.max())).tocoo()
        for r, c, dist in zip(d.row, d.col, d.data, strict=True):
            i = idx[r]
            ok_share = not np.isfinite(c_share[c]) or c_share[c] >= share[i]
            if dist <= radius[r] and c_area[c] >= required[i] and ok_share:
                rows.append(
                    {
                        "site": i,
                        "action": "move",
                        "other": -1,
                        "candidate": str(candidates["id"].iat[c]),
                        "added_m2": c_area[c],
                        "cost_yuan": c_area[c] * costs.fitout_per_m2,
                        "detail": f"迁至 {candidates['name'].iat[c]}（{candidates['id'].iat[c]}，"
                        f"{c_area[c]:,.0f} m²，步行 {dist:,.0f} m）",
                    }
                )

    # merges of adjacent communities' stations (多社区一中心)
    if communities is not None and len(communities):
        rows += _merge_options(sites, todo, communities, std, costs, ids, network)
    cols = ["site", "action", "other", "candidate", "added_m2", "cost_yuan", "detail", "new_sites"]
    out = pd.DataFrame(rows, columns=cols)
    out["new_sites"] = out["new_sites"].fillna(0).astype(np.int64)
    return out


def _extra_sites(sites: pd.DataFrame) -> np.ndarray:
    """New sites an overloaded site needs to share its catchment: ceil(served / max) - 1."""
    if "population_served" not in sites or "max_population" not in sites:
        return np.zeros(len(sites), dtype=np.int64)
    pop = sites["population_served"].to_numpy(dtype=float)
    cap = sites["max_population"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.ceil(pop / cap) - 1
    return np.where(np.isfinite(k) & (k > 0) & (cap > 0), k, 0).astype(np.int64)


def _split_option(
    sites: pd.DataFrame, i: int, k: int, std: Standard, costs: PlanCosts
) -> dict[str, Any]:
    """Site ``i`` keeps 1/(k+1) of its catchment, k new sites of its level take the rest."""
    lvl = std.levels[sites["level"].iat[i]]
    hh = float(sites["households_served"].iat[i]) if "households_served" in sites else 0.0
    each = max(lvl.min_floor_area_m2, hh / (k + 1) / 100.0 * lvl.min_m2_per_100_households)
    area = float(sites["floor_area_m2"].iat[i])
    add = float(
        _added_area(
            np.array([area]),
            np.array([float(sites["ground_floor_area_m2"].iat[i])]),
            np.array([each]),
            np.array([float(sites["min_ground_floor_share"].iat[i])]),
        )[0]
    )
    if add <= costs.max_enlarge_ratio * area:
        own, own_cost, own_m2 = f"原址扩建 +{add:,.0f} m²（一层）", add * costs.enlarge_per_m2, add
    else:
        own, own_cost, own_m2 = f"原址重建 {each:,.0f} m²", each * costs.new_per_m2, each
    pop = float(sites["population_served"].iat[i])
    return {
        "site": i,
        "action": "split",
        "other": -1,
        "candidate": "",
        "added_m2": own_m2 + k * each,
        "cost_yuan": own_cost + k * each * costs.new_per_m2,
        "detail": f"服务 {pop:,.0f} 人超上限 {lvl.max_population:,.0f}：分设 {k} 个新站"
        f"（各 {each:,.0f} m²，每站约 {pop / (k + 1):,.0f} 人）；{own}",
        "new_sites": k,
    }


def _merge_options(sites, todo, communities, std, costs, ids, network) -> list[dict[str, Any]]:
    st = std.levels[schema.STATION]
    is_station = (sites["level"] == schema.STATION).to_numpy() & (
        sites["status"] == schema.EXISTING
    ).to_numpy()
    comm = communities.set_index("id")
    cid = sites["community_id"].astype(str).to_numpy()
    ok = is_station & np.isin(cid, comm.index.to_numpy())
    # one station per community takes part (the largest)
    cand = sites[ok].assign(_i=np.flatnonzero(ok)).sort_values("floor_area_m2", ascending=False)
    cand = cand.drop_duplicates("community_id")
    if len(cand) < 2:
        return []
    geoms = comm.loc[cand["community_id"].astype(str), "geometry"].to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="touches")
    keep = a < b
    a, b = a[keep], b[keep]
    pop = comm["population"].reindex(cand["community_id"].astype(str)).fillna(0).to_numpy()
    hh = comm["households"].reindex(cand["community_id"].astype(str)).fillna(0).to_numpy()
    gi = cand["_i"].to_numpy()
    area = sites["floor_area_m2"].to_numpy(dtype=float)
    ground = sites["ground_floor_area_m2"].to_numpy(dtype=float)
    near: set[tuple[int, int]] | None = None
    if network is not None and len(a):
        # the retired site's residents must keep a station within walking reach
        xy = shapely.get_coordinates(sites.geometry.values[gi])
        d = network.distances(xy, xy, float(st.service_radius_m)).tocoo()
        near = set(zip(d.row.tolist(), d.col.tolist(), strict=True))
    rows = []
    for x, y in zip(a, b, strict=True):
        if pop[x] + pop[y] > st.max_population:
            continue
        if near is not None and (x, y) not in near and (y, x) not in near:
            continue
        need = max(st.min_floor_area_m2, (hh[x] + hh[y]) / 100.0 * st.min_m2_per_100_households)
        for keep_i, drop_i in ((gi[x], gi[y]), (gi[y], gi[x])):
            if not todo[drop_i]:
                continue  # only a non-compliant site is retired
            add = float(
                _added_area(
                    area[keep_i : keep_i + 1],
                    ground[keep_i : keep_i + 1],
                    np.array([need]),
                    np.array([st.min_ground_floor_share]),
                )[0]
            )
            if add > costs.max_enlarge_ratio * area[keep_i]:
                continue
            rows.append(
                {
                    "site": drop_i,
                    "action": "merge",
                    "other": keep_i,
                    "candidate": "",
                    "added_m2": add,
                    "cost_yuan": add * costs.enlarge_per_m2,
                    "detail": f"并入 {ids[keep_i]}（多社区一中心，扩建 +{add:,.0f} m²）",
                }
            )
    return rows


def plan_upgrades(
    evaluation: Any,
    *,
    communities: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    network: Any = None,
    standard: Standard | str = "default",
    targets: tuple[float, ...] | list[float] | None = None,
    budget: float | list[float] | None = None,
    costs: PlanCosts | None = None,
    start_year: int | None = None,
    levels: tuple[str, ...] | None = None,
    time_limit: float = 60.0,
) -> Plan:
    """Schedule upgrades so each year's compliance target is met at least cost.

    Among the least-cost plans, each year does what its target needs (spending follows the
    targets) and the sites serving the most residents are upgraded first.

    Parameters
    ----------
    evaluation
        An :class:`~siting.evaluate.Evaluation` (its ``sites`` frame is used).
    communities
        Canonical communities (for merges of adjacent communities).
    candidates
        Candidate buildings with ``floor_area_m2`` (for moves).
    network
        Distance provider (for moves within walking radius).
    standard
        Standards profile (targets default to its programme targets).
    targets
        Compliance target per programme year, e.g. ``(0.6, 0.8, 1.0)``.
    budget
        Total budget in yuan, or one figure per year; None for no limit.
    costs
        Cost assumptions.
    start_year
        Calendar year of programme year 1.
    levels
        Levels under the programme (default: those with a floor-area minimum in the standard,
        the same as the evaluation's compliance rate).
    time_limit
        Solver time limit per solve, seconds.

    Raises
    ------
    InputError
        Targets outside 0-1 or decreasing, a negative budget, or a budget list whose length
        is not the number of years.
    """
    import datetime as _dt

    std = load_standard(standard) if not isinstance(standard, Standard) else standard
    costs = costs or PlanCosts()
    tg = tuple(float(t) for t in (std.targets if targets is None else targets))
    if not tg or any(not 0 <= t <= 1 for t in tg) or any(b < a for a, b in itertools.pairwise(tg)):
        raise InputError.one(
            "",
            "",
            "--targets",
            f"targets {list(tg)} must be shares in 0-1 that do not decrease",
            "give e.g. --targets 0.6,0.8,1.0",
        )
    n_years = len(tg)
    if budget is None:
        budgets = None
    else:
        b = [float(x) for x in np.atleast_1d(np.asarray(budget, dtype=float))]
        if any(x < 0 or math.isnan(x) for x in b) or len(b) not in (1, n_years):
            raise InputError.one(
                "",
                "",
                "--budget",
                f"budget {b} must be one total or one non-negative figure per year ({n_years})",
                "give e.g. --budget 5000000 or --budget 2e6,2e6,1e6",
            )
        budgets = b
    start = _dt.date.today().year if start_year is None else int(start_year)

    sites = evaluation.sites
    levels = std.programme_levels() if levels is None else tuple(levels)
    sites = sites[sites["level"].isin(levels) & (sites["status"] == schema.EXISTING)]
    sites = sites.reset_index(drop=True)
    n = len(sites)
    compliant = sites["compliant"].to_numpy(dtype=bool)
    up = pd.to_numeric(sites["upgrade_year"], errors="coerce").to_numpy(dtype=float)
    prog = np.where(up >= 1000, up - start + 1, up)
    pre = ~compliant & np.isfinite(prog)  # already scheduled by the user
    todo = ~compliant & ~pre
    pre_by_year = np.array(
        [(pre & (np.maximum(prog, 1) <= y)).sum() for y in range(1, n_years + 1)]
    )

    opts = _options(sites, todo, communities, candidates, network, std, costs)
    if len(opts):  # a survivor already scheduled by the user would be counted twice
        opts = opts[(opts["other"] < 0) | ~pre[np.maximum(opts["other"].to_numpy(), 0)]]
        opts = opts.reset_index(drop=True)
    n_opt = len(opts)
    k = n_opt * n_years  # x[o, y] at o * n_years + y
    nv = k + n_years  # + short_y
    c0, n0 = int(compliant.sum()), n

    rows_a: list[sparse.coo_array] = []
    lb: list[float] = []
    ub: list[float] = []
    site_of = opts["site"].to_numpy(dtype=np.int64)
    other = opts["other"].to_numpy(dtype=np.int64)
    is_merge = (opts["action"] == "merge").to_numpy()
    new_sites = opts["new_sites"].to_numpy(dtype=float)
    # a merge retires a non-compliant site (total - 1) and enlarges the survivor to cover both
    # communities, so a non-compliant survivor becomes compliant (+1); a split adds k compliant
    # sites (total + k, compliant + k + 1)
    gain = np.where(is_merge, (~compliant[np.maximum(other, 0)]).astype(float), 1.0 + new_sites)
    grow = new_sites - is_merge  # change in the number of sites
    cost = opts["cost_yuan"].to_numpy(dtype=float)

    def add(mat: sparse.coo_array, lo: float | np.ndarray, hi: float | np.ndarray) -> None:
        rows_a.append(mat)
        m = mat.shape[0]
        lb.extend(np.broadcast_to(lo, (m,)).tolist())
        ub.extend(np.broadcast_to(hi, (m,)).tolist())

    col = np.arange(n_opt)[:, None] * n_years + np.arange(n_years)[None, :]
    # each site acts at most once (as the one upgraded, moved, retired or merged into)
    involve_r = np.concatenate([np.repeat(site_of, n_years), np.repeat(other[is_merge], n_years)])
    involve_c = np.concatenate([col.ravel(), col[is_merge].ravel()])
    m = sparse.coo_array((np.ones(len(involve_r)), (involve_r, involve_c)), shape=(n, nv))
    add(m, 0.0, 1.0)
    # each candidate building used once
    cand = opts["candidate"].to_numpy()
    used = np.flatnonzero(cand != "")
    if len(used):
        codes, uniq = pd.factorize(cand[used])
        m = sparse.coo_array(
            (np.ones(len(used) * n_years), (np.repeat(codes, n_years), col[used].ravel())),
            shape=(len(uniq), nv),
        )
        add(m, 0.0, 1.0)
    # yearly targets: c0 + pre_y + sum_{y'<=y} gain x + short_y >= t_y (n0 + sum_{y'<=y} grow x)
    r_i, c_i, v_i = [], [], []
    for y in range(n_years):
        for yy in range(y + 1):
            r_i.append(np.full(n_opt, y))
            c_i.append(col[:, yy])
            v_i.append(gain - tg[y] * grow)
        r_i.append(np.array([y]))
        c_i.append(np.array([k + y]))
        v_i.append(np.array([1.0]))
    m = sparse.coo_array(
        (np.concatenate(v_i), (np.concatenate(r_i), np.concatenate(c_i))), shape=(n_years, nv)
    )
    rhs = np.array([tg[y] * n0 - c0 - pre_by_year[y] for y in range(n_years)]) - 1e-7
    add(m, rhs, np.inf)
    # budget
    if budgets is not None:
        if len(budgets) == 1:
            m = sparse.coo_array(
                (np.repeat(cost, n_years), (np.zeros(k, int), col.ravel())), shape=(1, nv)
            )
            add(m, -np.inf, budgets[0])
        else:
            m = sparse.coo_array(
                (np.repeat(cost, n_years), (np.tile(np.arange(n_years), n_opt), col.ravel())),
                shape=(n_years, nv),
            )
            add(m, -np.inf, np.array(budgets))
    a_mat = sparse.vstack(rows_a).tocsr()
    lin = LinearConstraint(a_mat, np.array(lb), np.array(ub))
    integrality = np.concatenate([np.ones(k), np.zeros(n_years)])
    bounds = Bounds(np.zeros(nv), np.concatenate([np.ones(k), np.full(n_years, np.inf)]))

    big = max(float(cost.sum()), 1.0) * 10.0 + 1.0
    c_cost = np.concatenate([np.repeat(cost, n_years), np.full(n_years, big)])
    res = milp(
        c_cost,
        integrality=integrality,
        bounds=bounds,
        constraints=lin,
        options={"time_limit": time_limit, "mip_rel_gap": 1e-6},
    )
    if res.x is None:
        raise RuntimeError(f"plan solver failed: {res.message}")  # a bug: the model is feasible
    status = "optimal" if res.status == 0 else "feasible"
    x = np.round(res.x[:k]).reshape(n_opt, n_years)
    plan_cost = float(cost @ x.sum(axis=1))
    short = res.x[k:]

    # Among plans of the same cost (and shortfall): no action that no target needs (a free
    # merge would otherwise close a station for nothing), each year does what its target needs
    # and no more (spending follows the targets), and within that the sites serving the most
    # residents come first. Every action costs (years before the last + 1), slightly less for
    # sites serving more residents; the residents' term, below 1 in total, only breaks ties.
    pop = sites["population_served"].to_numpy(dtype=float)[site_of]
    pop = np.where(np.isfinite(pop), pop, 0.0)
    pop_n = pop / max(float(pop.max()) if len(pop) else 1.0, 1.0)
    early = np.arange(n_years, 0, -1, dtype=float)  # years before the last, + 1
    eps = 1.0 / (n_opt * n_years + 1.0)
    c_pop = np.concatenate(
        [(early[None, :] * (1.0 - eps * pop_n[:, None])).ravel(), np.zeros(n_years)]
    )
    cap = sparse.coo_array(c_cost[None, :])
    lin2 = [lin, LinearConstraint(cap, -np.inf, float(c_cost @ res.x) * (1 + 1e-9) + 1e-6)]
    res2 = milp(
        c_pop,
        integrality=integrality,
        bounds=bounds,
        constraints=lin2,
        options={"time_limit": time_limit, "mip_rel_gap": 1e-6},
    )
    if res2.x is not None:
        x = np.round(res2.x[:k]).reshape(n_opt, n_years)
        short = res2.x[k:]
        if res2.status != 0:
            status = "feasible"

    needed = plan_cost
    if budgets is not None and short.sum() > 1e-6:
        needed = _budget_needed(
            c_cost, integrality, bounds, rows_a, lb, ub, budgets, n_years, time_limit
        )
    return _result(
        sites,
        opts,
        x,
        short,
        tg,
        n0,
        c0,
        pre_by_year,
        grow,
        gain,
        cost,
        budgets,
        start,
        status,
        needed,
        levels,
    )


def _budget_needed(c_cost, integrality, bounds, rows_a, lb, ub, budgets, n_years, time_limit):
    """Cost of meeting every target with no budget limit (the budget rows dropped)."""
    keep = len(rows_a) - 1
    m = sparse.vstack(rows_a[:keep]).tocsr()
    n_b = 1 if len(budgets) == 1 else n_years
    lin = LinearConstraint(m, np.array(lb[: len(lb) - n_b]), np.array(ub[: len(ub) - n_b]))
    res = milp(
        c_cost,
        integrality=integrality,
        bounds=bounds,
        constraints=lin,
        options={"time_limit": time_limit},
    )
    k = len(c_cost) - n_years
    return float(c_cost[:k] @ np.round(res.x[:k])) if res.x is not None else math.nan


def _result(
    sites,
    opts,
    x,
    short,
    tg,
    n0,
    c0,
    pre_by_year,
    grow,
    gain,
    cost,
    budgets,
    start,
    status,
    needed,
    levels,
) -> Plan:
    n_years = len(tg)
    o_idx, y_idx = np.nonzero(x > 0.5)
    chosen = opts.iloc[o_idx].assign(year=y_idx + 1)
    s = sites.iloc[chosen["site"].to_numpy()]
    actions = pd.DataFrame(
        {
            "year": chosen["year"].to_numpy(),
            "calendar_year": chosen["year"].to_numpy() + start - 1,
            "site_id": s["site_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "level": s["level"].to_numpy(),
            "street": s["street"].to_numpy(),
            "community_id": s["community_id"].to_numpy(),
            "action": chosen["action"].to_numpy(),
            "action_zh": chosen["action"].map(ACTION_ZH).to_numpy(),
            "detail": chosen["detail"].to_numpy(),
            "added_m2": chosen["added_m2"].to_numpy(dtype=float),
            "new_sites": chosen["new_sites"].to_numpy(dtype=np.int64),
            "cost_yuan": chosen["cost_yuan"].to_numpy(dtype=float),
            "population_served": s["population_served"].to_numpy(dtype=float),
            "reasons_now": s["reasons"].to_numpy(),
        }
    ).sort_values(["year", "population_served"], ascending=[True, False], ignore_index=True)

    years = []
    for y in range(n_years):
        done = x[:, : y + 1].sum(axis=1)
        good = c0 + pre_by_year[y] + float(gain @ done)
        total = n0 + float(grow @ done)
        rate = good / total if total else math.nan
        spent = float(cost @ x[:, y])
        bud = None if budgets is None else (budgets[0] if len(budgets) == 1 else budgets[y])
        years.append(
            {
                "year": y + 1,
                "calendar_year": start + y,
                "target_rate": tg[y],
                "compliance_rate": rate,
                "sites_compliant": round(good),
                "sites_total": round(total),
                "met": bool(rate >= tg[y] - 1e-9),
                "cost_yuan": spent,
                "budget_yuan": bud,
                # sites that would still have to become compliant to meet the target
                "sites_short": max(math.ceil(tg[y] * total - good - 1e-6), 0),
            }
        )
    yrs = pd.DataFrame(years)
    total_cost = float(actions["cost_yuan"].sum())
    ok = bool(yrs["met"].all())
    notes = []
    if not ok:
        notes.append(
            f"预算不足：目标未全部达成，按目标尚缺 {int(yrs['sites_short'].max())} 个站点达标；"
            f"达成全部目标约需 {needed:,.0f} 元（当前方案 {total_cost:,.0f} 元）"
        )
    base = c0 / n0 if n0 else math.nan
    names = "、".join(schema.LEVEL_LABELS_ZH[lv] for lv in levels)
    notes.append(f"现状达标率 {base:.0%}（{c0}/{n0}），计入层级：{names}")
    return Plan(actions, yrs, opts, status, ok, total_cost, float(needed), notes)


def plan_chart(plan: Plan, path: Any, *, baseline: float | None = None) -> None:
    """Bar chart of the compliance rate reached each year against the targets (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    cjk = next(
        (f for f in ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP") if f in names),
        None,
    )
    y = plan.years
    labels = [f"{int(c)}" for c in y["calendar_year"]]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk, "DejaVu Sans"]
    ax.bar(
        labels,
        y["compliance_rate"] * 100,
        color=np.where(y["met"], "#2e7d32", "#c62828"),
        label="达标率 compliance" if cjk else "compliance",
    )
    ax.plot(labels, y["target_rate"] * 100, "k--o", label="目标 target" if cjk else "target")
    if baseline is not None:
        ax.axhline(baseline * 100, color="grey", lw=1, label="现状 now" if cjk else "now")
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title("三年达标计划 three-year plan" if cjk else "three-year plan")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
