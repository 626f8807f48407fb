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

Upgrades already scheduled in the site data (``upgrade_year``, a calendar year or a programme
year) are fixed: listed with action ``scheduled`` (已排期) in their year, costed by the same
cost model (the cheapest way to bring the site itself to standard) and counted against that
year's budget and in the totals; one scheduled before year 1 is listed as year 0, outside the
totals; one scheduled after the last year is planned like the others. A single budget figure
is one total for all years (the years table shows what is left of it), not a yearly amount.
Year 1 is next calendar year unless ``start_year`` is given (plans are budgeted the year
before they run).

Costs per m² are planner-set assumptions (:class:`PlanCosts`), not figures from the sources.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from siting import schema
from siting._compliance import default_start_year
from siting._errors import InputError
from siting.candidates import screen
from siting.standards import Standard, load_standard

logger = logging.getLogger(__name__)

#: Held while file descriptor 1 is redirected (:func:`_milp`): fd 1 belongs to the whole
#: process, and two solves redirecting it at once (the app runs one per session thread) could
#: leave it pointing at the other's deleted temporary file.
_FD1_LOCK = threading.Lock()

__all__ = [
    "PLAN_LABELS_ZH",
    "Plan",
    "PlanCosts",
    "check_budget",
    "default_start_year",
    "plan_chart",
    "plan_upgrades",
    "write_plan_xlsx",
]

ACTION_ZH = {
    "enlarge": "原址扩建",
    "move": "迁址",
    "merge": "多社区一中心合并",
    "new": "新建",
    "split": "分设新站",
    "scheduled": "已排期",
}

#: Chinese headers of every column of the plan's tables (plan.xlsx).
PLAN_LABELS_ZH = {
    "year": "计划第几年",
    "calendar_year": "年份",
    "site_id": "站点编号",
    "name": "名称",
    "level": "层级",
    "street": "街镇",
    "community_id": "社区编号",
    "action": "改造方式(代码)",
    "action_zh": "改造方式",
    "detail": "改造内容",
    "added_m2": "新增或使用面积(m²)",
    "new_sites": "分设新站数",
    "cost_yuan": "费用(元)",
    "population_served": "服务人口",
    "reasons_now": "现状不达标原因",
    "target_rate": "目标达标率",
    "compliance_rate": "达标率",
    "sites_compliant": "达标站点数",
    "sites_total": "站点总数",
    "met": "是否达到目标",
    "upgrades": "改造站点数",
    "scheduled_cost_yuan": "其中已排期费用(元)",
    "cumulative_cost_yuan": "累计费用(元)",
    "budget_yuan": "当年预算(元)",
    "budget_left_yuan": "剩余预算(元)",
    "sites_short": "尚缺达标站点数",
    "item": "项目",
    "label_zh": "说明",
    "label_en": "说明(英文)",
    "value": "数值",
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

    ``actions``: one row per upgrade (``year, calendar_year, site_id, name, level, street,
    community_id, action, action_zh, detail, added_m2, new_sites, cost_yuan, population_served,
    reasons_now``); upgrades already scheduled in the site data (``upgrade_year``) are rows
    with action ``scheduled`` (已排期), their cost estimated by the same cost model (year 0:
    scheduled before the programme, outside its totals).
    ``years``: ``year, calendar_year, target_rate, compliance_rate, sites_compliant,
    sites_total, met, upgrades, cost_yuan`` (scheduled upgrades included),
    ``scheduled_cost_yuan, cumulative_cost_yuan, budget_yuan`` (that year's budget; empty for
    one total), ``budget_left_yuan`` (one total: what is left of it at the end of the year;
    per year: that year's budget less its cost), ``sites_short``.
    ``options``: every option considered (for explaining why one was chosen).
    ``budget_needed_yuan``: cost of meeting every target; ``inf`` if no plan meets them at any
    cost (proven), ``nan`` if not known (solver time limit); ``None`` in :meth:`summary` for
    both, with ``targets_reachable`` False or None.
    """

    actions: pd.DataFrame
    years: pd.DataFrame
    options: pd.DataFrame
    status: str
    feasible_within_budget: bool
    total_cost_yuan: float
    budget_needed_yuan: float
    notes: list[str] = field(default_factory=list)
    budget_total_yuan: float | None = None
    budget_per_year: bool = False

    @property
    def budget_shortfall_yuan(self) -> float:
        """Budget needed for every target less the budget given (0 if enough or no budget;
        nan if no budget meets every target or the budget needed is not known)."""
        if self.budget_total_yuan is None:
            return 0.0
        if not math.isfinite(self.budget_needed_yuan):
            return math.nan
        return max(self.budget_needed_yuan - self.budget_total_yuan, 0.0)

    def notes_table(self) -> pd.DataFrame:
        """The totals and the notes, Chinese and English side by side (the workbook's notes
        sheet): ``item, label_zh, label_en, value``."""
        sm = self.summary()
        kind_zh = {None: "无限额", "total": "合计（各年共用）", "per_year": "分年"}
        kind_en = {None: "no limit", "total": "one total for all years", "per_year": "per year"}
        rows = [
            ("total_cost_yuan", "计划总费用(元)", "total cost (yuan)", sm["total_cost_yuan"]),
            (
                "scheduled_cost_yuan",
                "其中已排期改造(元)",
                "of which already scheduled (yuan)",
                sm["scheduled_cost_yuan"],
            ),
            ("actions", "改造站点数", "upgrades", sm["actions"]),
            (
                "actions_scheduled",
                "其中已排期",
                "of which already scheduled",
                sm["actions_scheduled"],
            ),
            ("budget_kind", kind_zh[sm["budget_kind"]], kind_en[sm["budget_kind"]], None),
            ("budget_total_yuan", "预算合计(元)", "budget, total (yuan)", sm["budget_total_yuan"]),
            (
                "budget_needed_yuan",
                "达成全部目标所需(元)",
                "needed to meet every target (yuan)",
                {
                    True: sm["budget_needed_yuan"],
                    False: "任何预算都无法达成 none does",
                    None: "未知 not known",
                }[sm["targets_reachable"]],
            ),
            (
                "budget_shortfall_yuan",
                "预算缺口(元)",
                "budget shortfall (yuan)",
                sm["budget_shortfall_yuan"],
            ),
            (
                "feasible_within_budget",
                "预算内达成全部目标",
                "every target met within budget",
                "是 yes" if sm["feasible_within_budget"] else "否 no",
            ),
            ("status", "求解状态", "solver status", sm["status"]),
        ]
        rows = [
            (k, zh, en, round(v) if isinstance(v, float) and math.isfinite(v) else v)
            for k, zh, en, v in rows
        ]
        for i, note in enumerate(self.notes, start=1):
            zh, _, en = note.partition("\n")
            rows.append((f"note_{i}", zh, en, None))
        return pd.DataFrame(rows, columns=["item", "label_zh", "label_en", "value"])

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (no NaN or infinity: None instead)."""
        kind = None
        if self.budget_total_yuan is not None:
            kind = "per_year" if self.budget_per_year else "total"
        sched = self.actions["action"] == "scheduled"
        return {
            "status": self.status,
            "feasible_within_budget": self.feasible_within_budget,
            "total_cost_yuan": self.total_cost_yuan,
            "scheduled_cost_yuan": float(
                self.actions.loc[sched & (self.actions["year"] >= 1), "cost_yuan"].sum()
            ),
            "budget_kind": kind,
            "budget_total_yuan": self.budget_total_yuan,
            "budget_needed_yuan": _finite(self.budget_needed_yuan),
            "budget_shortfall_yuan": _finite(self.budget_shortfall_yuan),
            # False: no plan meets every target at any cost; None: not known (time limit)
            "targets_reachable": _reachable(self.budget_needed_yuan),
            "actions": len(self.actions),
            "actions_scheduled": int(sched.sum()),
            "years": self.years.replace({np.nan: None}).to_dict(orient="records"),
            "notes": self.notes,
        }


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _reachable(needed: float) -> bool | None:
    """Whether some plan meets every target: the budget it needs is known (True), infinite
    (False: none at any cost) or not known (None: the solver stopped at its time limit)."""
    return True if math.isfinite(needed) else None if math.isnan(needed) else False


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


def check_budget(budget: float | list[float] | None, n_years: int) -> list[float] | None:
    """The budget as a list of floats: one total, or one figure per year.

    Raises
    ------
    InputError
        A figure that is negative or not finite, or a list whose length is neither 1 nor
        ``n_years``.
    """
    if budget is None:
        return None
    b = [float(x) for x in np.atleast_1d(np.asarray(budget, dtype=float))]
    if not b or any(not (math.isfinite(x) and x >= 0) for x in b) or len(b) not in (1, n_years):
        raise InputError.one(
            "",
            "",
            "--budget",
            f"budget {b} must be one total or one non-negative figure per year ({n_years})",
            "give e.g. --budget 50000000 (one total) or --budget 2e7,2e7,1e7 (one per year)",
        )
    return b


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
    water: gpd.GeoSeries | None = None,
    candidates_label: str = "candidates",
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
        Calendar year of programme year 1 (default: next calendar year, see
        :func:`default_start_year`).
    levels
        Levels under the programme (default: those with a floor-area minimum in the standard,
        the same as the evaluation's compliance rate).
    time_limit
        Solver time limit per solve, seconds.
    water
        Water polygons: with ``communities``, candidates in water or more than 200 m outside
        the district are left out, each named in a warning, as by ``siting propose`` (see
        :func:`siting.candidates.screen`).
    candidates_label
        The candidates' file name, for messages.

    Raises
    ------
    InputError
        Targets outside 0-1 or decreasing, a negative budget, a budget list whose length
        is not the number of years, or candidates none of which lies in the district on land.
    """

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
    budgets = check_budget(budget, n_years)
    start = default_start_year() if start_year is None else int(start_year)
    if candidates is not None and communities is not None and len(communities):
        candidates = screen(candidates, communities, water=water, label=candidates_label)
    if candidates is not None and len(candidates) and hasattr(network, "snap"):
        # one warning naming the buildings far from every street (the distance queries are quiet)
        network.snap(candidates.geometry, label="candidate buildings", ids=candidates["id"])

    sites = evaluation.sites
    levels = std.programme_levels() if levels is None else tuple(levels)
    sites = sites[sites["level"].isin(levels) & (sites["status"] == schema.EXISTING)]
    sites = sites.reset_index(drop=True)
    n = len(sites)
    compliant = sites["compliant"].to_numpy(dtype=bool)
    up = pd.to_numeric(sites["upgrade_year"], errors="coerce").to_numpy(dtype=float)
    prog = np.ceil(np.where(up >= 1000, up - start + 1, up))
    # already scheduled in the site data (upgrade_year): fixed, in their year; one scheduled
    # after the programme's last year is planned like any other (the plan may bring it forward)
    pre = ~compliant & np.isfinite(prog) & (prog <= n_years)
    todo = ~compliant & ~pre
    pre_year = np.where(pre, np.maximum(prog, 0), -1).astype(np.int64)  # 0: before year 1
    pre_by_year = np.array([(pre & (pre_year <= y)).sum() for y in range(1, n_years + 1)])
    pre_cost, pre_opt = _scheduled_costs(sites, pre, std, costs)
    pre_cost_by_year = np.array([pre_cost[pre_year == y].sum() for y in range(1, n_years + 1)])
    n_later = int((~compliant & np.isfinite(prog) & (prog > n_years)).sum())

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
    # budget, less what the scheduled upgrades already take from it
    if budgets is not None:
        if len(budgets) == 1:
            m = sparse.coo_array(
                (np.repeat(cost, n_years), (np.zeros(k, int), col.ravel())), shape=(1, nv)
            )
            add(m, -np.inf, max(budgets[0] - float(pre_cost_by_year.sum()), 0.0))
        else:
            m = sparse.coo_array(
                (np.repeat(cost, n_years), (np.tile(np.arange(n_years), n_opt), col.ravel())),
                shape=(n_years, nv),
            )
            add(m, -np.inf, np.maximum(np.array(budgets) - pre_cost_by_year, 0.0))
    a_mat = sparse.vstack(rows_a).tocsr()
    lin = LinearConstraint(a_mat, np.array(lb), np.array(ub))
    integrality = np.concatenate([np.ones(k), np.zeros(n_years)])
    bounds = Bounds(np.zeros(nv), np.concatenate([np.ones(k), np.full(n_years, np.inf)]))

    cost_cols = np.repeat(cost, n_years)
    res, hold, proven = _fewest_short_then_cheapest(
        cost_cols, n_years, integrality, bounds, [lin], time_limit
    )
    if res is None:
        raise RuntimeError("plan solver failed")  # a bug: the model is feasible (x = 0)
    status = "optimal" if proven else "feasible"
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
    res2 = _milp(
        c_pop,
        integrality=integrality,
        bounds=bounds,
        constraints=[lin, *hold],
        options={"time_limit": time_limit, "mip_rel_gap": 1e-6},
    )
    if res2.x is not None:
        x = np.round(res2.x[:k]).reshape(n_opt, n_years)
        short = res2.x[k:]
        if res2.status != 0:
            status = "feasible"

    # cost of meeting every target: this plan's, or (a budget left targets unmet) that of the
    # same model without the budget rows; inf: no plan meets them at any cost (proven), nan:
    # not known (the solver stopped at its time limit)
    needed = plan_cost
    if short.sum() > 1e-6:
        if budgets is not None:
            n_b = 1 if len(budgets) == 1 else n_years
            free = LinearConstraint(
                sparse.vstack(rows_a[:-1]).tocsr(),
                np.array(lb[: len(lb) - n_b]),
                np.array(ub[: len(ub) - n_b]),
            )
            res_f, _, proven_f = _fewest_short_then_cheapest(
                cost_cols, n_years, integrality, bounds, [free], time_limit
            )
        else:
            res_f, proven_f = res, proven
        if res_f is None:
            needed = math.nan
        elif res_f.x[k:].sum() > 1e-6:
            needed = math.inf if proven_f else math.nan
        else:
            needed = float(cost_cols @ np.round(res_f.x[:k]))
    sched = _scheduled_rows(sites, pre, pre_year, pre_cost, pre_opt, start)
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
        needed + float(pre_cost_by_year.sum()),
        levels,
        sched,
        n_later,
    )


def _milp(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.milp` with HiGHS's C++ debug prints kept off stdout.

    Some HiGHS builds print ``HighsMipSolverData::transformNewIntegerFeasibleSolution ...``
    straight to the process's stdout (C++ ``printf``, not through ``output_flag``), which no
    option silences. stdout (file descriptor 1) is sent to a temporary file during the solve;
    afterwards the HiGHS debug lines are logged at debug level and anything else (another
    thread's output, a real message) is written back to stdout unchanged. Solver failures are
    reported by the result's status, as before. Solves in several threads take turns
    (``_FD1_LOCK``): fd 1 is shared by the whole process.
    """
    import os
    import sys
    import tempfile

    try:
        os.fstat(1)
    except OSError:  # no fd 1 at all: nothing to keep clean
        return milp(*args, **kwargs)
    with _FD1_LOCK, tempfile.TemporaryFile() as tmp:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(tmp.fileno(), 1)
            try:
                res = milp(*args, **kwargs)
            finally:
                with contextlib.suppress(AttributeError, ValueError, OSError):
                    sys.stdout.flush()
                os.dup2(saved, 1)
        finally:
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("utf-8", errors="replace")
    keep = []
    for line in text.splitlines(keepends=True):
        if line.startswith("HighsMipSolverData::"):
            logger.debug("HiGHS: %s", line.rstrip())
        else:
            keep.append(line)
    if keep:
        os.write(1, "".join(keep).encode("utf-8"))
    return res


def _scheduled_costs(
    sites: pd.DataFrame, pre: np.ndarray, std: Standard, costs: PlanCosts
) -> tuple[np.ndarray, list[dict[str, Any] | None]]:
    """Estimated cost of each upgrade already scheduled in the site data, by the plan's own
    cost model: the cheapest way to bring the site itself to standard (enlarge in place, or
    rebuild if the addition is beyond ``max_enlarge_ratio``; an overloaded site: its split)."""
    cost = np.zeros(len(sites))
    best: list[dict[str, Any] | None] = [None] * len(sites)
    if not pre.any():
        return cost, best
    # the data's upgrade brings the site itself to standard (no split: counted as one site)
    plain = sites.drop(columns=["max_population"], errors="ignore")
    opts = _options(plain, pre, None, None, None, std, costs)
    for i, g in opts.groupby("site"):
        r = g.loc[g["cost_yuan"].idxmin()]
        cost[int(i)] = float(r["cost_yuan"])
        best[int(i)] = r.to_dict()
    return cost, best


def _scheduled_rows(sites, pre, pre_year, pre_cost, pre_opt, start) -> pd.DataFrame:
    """One action row per upgrade already scheduled in the site data (action ``scheduled``)."""
    idx = np.flatnonzero(pre)
    s = sites.iloc[idx]
    cal = pd.to_numeric(s["upgrade_year"], errors="coerce").to_numpy(dtype=float)
    cal = np.where(cal >= 1000, cal, pre_year[idx] + start - 1).astype(np.int64)
    detail = []
    for i, c in zip(idx, cal, strict=True):
        o = pre_opt[i] or {}
        zh, en = f"数据中已排期 {c} 年", f"scheduled in the site data for {c}"
        if o:
            detail.append(f"{zh}；费用按{o['detail']}估算 / {en}; cost estimated as {_en(o)}")
        else:
            detail.append(f"{zh}；费用未能估算 / {en}; cost not estimated")
    return pd.DataFrame(
        {
            "year": pre_year[idx],
            "calendar_year": cal,
            "site_id": s["site_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "level": s["level"].to_numpy(),
            "street": s["street"].to_numpy(),
            "community_id": s["community_id"].to_numpy(),
            "action": "scheduled",
            "action_zh": ACTION_ZH["scheduled"],
            "detail": detail,
            "added_m2": [float((pre_opt[i] or {}).get("added_m2", math.nan)) for i in idx],
            "new_sites": np.zeros(len(idx), dtype=np.int64),
            "cost_yuan": pre_cost[idx],
            "population_served": s["population_served"].to_numpy(dtype=float),
            "reasons_now": s["reasons"].to_numpy(),
        }
    )


def _en(o: dict[str, Any]) -> str:
    """English for the cost method of a scheduled upgrade (the option's ``detail`` is Chinese):
    an enlargement in place or a new building (no candidates, communities or split there)."""
    m2 = float(o["added_m2"])
    if o["action"] == "enlarge":
        return f"enlarging in place +{m2:,.0f} m² (ground floor)"
    if o["action"] == "new":
        return f"a new building of {m2:,.0f} m²"
    return str(o["action"])


def _fewest_short_then_cheapest(
    cost_cols: np.ndarray,
    n_years: int,
    integrality: np.ndarray,
    bounds: Bounds,
    constraints: list[LinearConstraint],
    time_limit: float,
) -> tuple[Any, list[LinearConstraint], bool]:
    """The plan with the fewest sites short of the targets (the sum of ``short_y``, the last
    ``n_years`` variables), and among those the cheapest.

    One solve of cost + a large weight x shortfall settles it when that plan meets every
    target. Otherwise the weight alone does not: a target such as 60.1% of 5 sites is missed
    by 0.005 of a site, whose weight can be below the cost of the site that meets it, so the
    shortfall is minimised first and the cost second. Returns the solver's result (None if
    it found no plan), constraints that hold any other plan to the same shortfall and cost
    (for tie-breaks) and whether every solve was proven optimal.
    """
    k = len(cost_cols)
    opts = {"time_limit": time_limit, "mip_rel_gap": 1e-6}
    kw = {"integrality": integrality, "bounds": bounds, "options": opts}
    big = max(float(cost_cols.sum()), 1.0) * 10.0 + 1.0
    res = _milp(np.concatenate([cost_cols, np.full(n_years, big)]), constraints=constraints, **kw)
    if res.x is None:
        return None, [], False
    proven = res.status == 0
    c_short = np.concatenate([np.zeros(k), np.ones(n_years)])
    c_cost = np.concatenate([cost_cols, np.zeros(n_years)])
    if res.x[k:].sum() > 1e-6:
        res_s = _milp(c_short, constraints=constraints, **kw)
        if res_s.x is not None and res_s.x[k:].sum() < res.x[k:].sum() - 1e-6:
            least = float(res_s.x[k:].sum())
            cap = LinearConstraint(sparse.coo_array(c_short[None, :]), -np.inf, least + 1e-6)
            res_c = _milp(c_cost, constraints=[*constraints, cap], **kw)
            res = res_c if res_c.x is not None else res_s
            proven = res_s.status == 0 and res_c.x is not None and res_c.status == 0
        else:
            proven = proven and res_s.x is not None and res_s.status == 0
    hold = [
        LinearConstraint(
            sparse.coo_array(c_short[None, :]), -np.inf, float(res.x[k:].sum()) + 1e-6
        ),
        LinearConstraint(
            sparse.coo_array(c_cost[None, :]),
            -np.inf,
            float(cost_cols @ res.x[:k]) * (1 + 1e-9) + 1e-6,
        ),
    ]
    return res, hold, proven


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
    sched,
    n_later,
) -> Plan:
    n_years = len(tg)
    o_idx, y_idx = np.nonzero(x > 0.5)
    chosen = opts.iloc[o_idx].assign(year=y_idx + 1)
    s = sites.iloc[chosen["site"].to_numpy()]
    planned = pd.DataFrame(
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
    )
    actions = pd.concat([df for df in (planned, sched) if len(df)] or [planned], ignore_index=True)
    actions = actions.astype({"year": np.int64, "calendar_year": np.int64, "new_sites": np.int64})
    actions = actions.sort_values(
        ["year", "population_served"], ascending=[True, False], ignore_index=True
    )
    is_sched = (actions["action"] == "scheduled").to_numpy()
    total_budget = None if budgets is None else float(sum(budgets))

    years = []
    spent_to_date = 0.0
    for y in range(n_years):
        done = x[:, : y + 1].sum(axis=1)
        good = c0 + pre_by_year[y] + float(gain @ done)
        total = n0 + float(grow @ done)
        rate = good / total if total else math.nan
        in_year = (actions["year"] == y + 1).to_numpy()
        sched_cost = float(actions.loc[in_year & is_sched, "cost_yuan"].sum())
        spent = float(cost @ x[:, y]) + sched_cost
        spent_to_date += spent
        if budgets is None:
            bud = left = None
        elif len(budgets) == 1:  # one total for all years: what is left of it after year y
            bud, left = None, budgets[0] - spent_to_date
        else:
            bud, left = budgets[y], budgets[y] - spent
        years.append(
            {
                "year": y + 1,
                "calendar_year": start + y,
                "target_rate": tg[y],
                "compliance_rate": rate,
                "sites_compliant": round(good),
                "sites_total": round(total),
                "met": bool(rate >= tg[y] - 1e-9),
                "upgrades": int(in_year.sum()),
                "cost_yuan": spent,
                "scheduled_cost_yuan": sched_cost,
                "cumulative_cost_yuan": spent_to_date,
                "budget_yuan": bud,
                "budget_left_yuan": left,
                # sites that would still have to become compliant to meet the target
                "sites_short": max(math.ceil(tg[y] * total - good - 1e-6), 0),
            }
        )
    yrs = pd.DataFrame(years)
    in_prog = (actions["year"] >= 1).to_numpy()
    total_cost = float(actions.loc[in_prog, "cost_yuan"].sum())
    met = bool(yrs["met"].all())
    within = budgets is None or bool((yrs["budget_left_yuan"] >= -0.5).all())
    notes = []
    cal = f"{start}-{start + n_years - 1}"
    if not met:
        worst = int(yrs["sites_short"].idxmax())
        n_short, y_short = int(yrs["sites_short"].iat[worst]), int(yrs["calendar_year"].iat[worst])
        zh = f"{y_short} 年尚缺 {n_short} 个站点达标。"
        en = f"{n_short} sites short in {y_short}. "
        if math.isfinite(needed) and total_budget is not None:
            zh = f"预算不足：目标未全部达成，{zh}达成全部目标约需 {needed:,.0f} 元"
            en = (
                f"Budget short: the targets are not all met, {en}"
                f"Meeting every target needs about {needed:,.0f} yuan"
            )
            if needed - total_budget > 0.5:
                gap = needed - total_budget
                zh += f"，预算 {total_budget:,.0f} 元，尚差 {gap:,.0f} 元"
                en += f"; the budget is {total_budget:,.0f} yuan: {gap:,.0f} yuan short"
            elif len(budgets) > 1:
                zh += f"，预算合计 {total_budget:,.0f} 元够用，但各年分配不足（前几年需要更多）"
                en += (
                    f"; the budget's total {total_budget:,.0f} yuan would do, but not its "
                    "split by year (the early years need more)"
                )
        elif math.isnan(needed):
            zh = f"目标未达成：{zh}求解时限内未找到达成全部目标的方案，所需费用未知"
            en = (
                f"Targets not met: {en}No plan meeting every target was found within the "
                "solver's time limit: the cost of meeting them is not known"
            )
        elif math.isinf(needed):
            zh = (
                f"目标未达成：{zh}任何预算都无法达成全部目标：现有可选改造（数据中已排期的站点"
                "按其年份）达不到目标"
            )
            en = (
                f"Targets not met: {en}No budget meets every target: the upgrades available "
                "(sites already scheduled in the data stay in their year) cannot reach them"
            )
        else:
            zh, en = f"目标未达成：{zh}", f"Targets not met: {en}"
        zh += f"（本方案支出 {total_cost:,.0f} 元）。"
        en += f" (this plan spends {total_cost:,.0f} yuan)."
        notes.append(f"{zh}\n{en}")
    if budgets is not None and len(budgets) == 1:
        notes.append(
            f"预算 {budgets[0]:,.0f} 元为 {n_years} 年合计（非每年），按需逐年支用；"
            "年度表“剩余预算”为该年末余额。\n"
            f"The budget of {budgets[0]:,.0f} yuan is one total for the {n_years} years "
            "(not per year), drawn as needed; budget_left_yuan in the years table is what is "
            "left of it at the end of each year."
        )
    if is_sched.any():
        sy = actions.loc[is_sched & in_prog]
        counts = sy["calendar_year"].value_counts().sort_index()
        by = "、".join(f"{c} 年 {k} 个" for c, k in counts.items())
        by_en = ", ".join(f"{k} in {c}" for c, k in counts.items())
        c_s = float(sy["cost_yuan"].sum())
        if len(sy):
            notes.append(
                f"已排期：{len(sy)} 个站点在站点数据中已定提升年份（{by}），"
                f"列入计划（动作“已排期”），按同一费用标准估算 {c_s:,.0f} 元，"
                "计入当年费用、预算和合计。\n"
                f"Already scheduled: {len(sy)} sites have an upgrade_year in the site data "
                f"({by_en}); they are listed (action 'scheduled') and their cost, estimated "
                f"with the same cost assumptions, {c_s:,.0f} yuan, counts in that year's "
                "cost, in the budget and in the totals."
            )
        before = actions.loc[is_sched & ~in_prog]
        if len(before):
            c_b = float(before["cost_yuan"].sum())
            notes.append(
                f"{len(before)} 个站点已排期在 {start} 年之前：自第 1 年起计为达标，估算费用 "
                f"{c_b:,.0f} 元不计入本计划的预算和合计（第 0 年）。\n"
                f"{len(before)} sites are scheduled before {start}: compliant from year 1; "
                f"their estimated cost, {c_b:,.0f} yuan, is outside this plan's budget and "
                "totals (listed as year 0)."
            )
    changed = _sites_added_note(planned, chosen, sites, n0, yrs)
    if changed:
        notes.append(changed)
    if budgets is not None:
        over_rows = yrs[yrs["budget_left_yuan"] < -0.5]
        if len(budgets) == 1:
            over_rows = over_rows.tail(1)  # one total: the overrun at the end
        for r in over_rows.itertuples():
            over = -float(r.budget_left_yuan)
            notes.append(
                f"超出预算：{'至 ' if len(budgets) == 1 else ''}{r.calendar_year} 年，"
                f"已排期的改造即超出{'总' if len(budgets) == 1 else '当年'}预算 {over:,.0f} 元。\n"
                f"Over budget: {'by' if len(budgets) == 1 else 'in'} {r.calendar_year} the "
                f"already scheduled upgrades alone exceed the "
                f"{'total' if len(budgets) == 1 else 'year' + chr(39) + 's'} budget by "
                f"{over:,.0f} yuan."
            )
    if n_later:
        last = start + n_years - 1
        notes.append(
            f"{n_later} 个站点已排期在 {last} 年之后，按未排期处理（可提前）。\n"
            f"{n_later} sites scheduled after {last} are planned like the others "
            "(the plan may bring them forward)."
        )
    base = c0 / n0 if n0 else math.nan
    names = "、".join(schema.LEVEL_LABELS_ZH[lv] for lv in levels)
    notes.append(
        f"计划期 {cal}（第 1 年 = {start} 年）；现状达标率 {base:.0%}（{c0}/{n0}），"
        f"计入层级：{names}\n"
        f"Programme {cal} (year 1 = {start}); compliance now {base:.0%} ({c0}/{n0}), levels "
        f"counted: {', '.join(levels)}"
    )
    return Plan(
        actions,
        yrs,
        opts,
        status,
        met and within,
        total_cost,
        float(needed),
        notes,
        budget_total_yuan=total_budget,
        budget_per_year=budgets is not None and len(budgets) > 1,
    )


def _listed(items: list[str], sep: str, more: str) -> str:
    """The first 10 items joined by ``sep``; ``more`` (formatted with the rest's count) after."""
    shown = sep.join(items[:10])
    return shown + (more.format(len(items) - 10) if len(items) > 10 else "")


def _sites_added_note(planned, chosen, sites, n0, yrs) -> str | None:
    """The note on the sites the plan adds (splits of overloaded sites: new stations still to
    be placed) and retires (多社区一中心 merges), with the number of sites before and after;
    None when it adds and retires none."""
    is_merge = (chosen["action"] == "merge").to_numpy()
    into = np.full(len(planned), "", dtype=object)
    into[is_merge] = sites["site_id"].to_numpy()[chosen["other"].to_numpy()[is_merge]]
    rows = planned.assign(merged_into=into).sort_values(["calendar_year", "site_id"])
    split = rows[rows["action"] == "split"]
    merged = rows[rows["action"] == "merge"]
    if not len(split) and not len(merged):
        return None
    zh, en = [], []
    if len(split):
        k = int(split["new_sites"].sum())
        items_zh = [
            f"{r.site_id} {r.calendar_year} 年分设 {r.new_sites} 个" for r in split.itertuples()
        ]
        items_en = [f"{r.site_id}: {r.new_sites} in {r.calendar_year}" for r in split.itertuples()]
        zh.append(
            f"分设新站 {k} 个：{len(split)} 个站点服务人口超过其层级上限（"
            + _listed(items_zh, "、", "等，另 {} 个")
            + "），新站位置待定（可用 siting propose 选址）"
        )
        who = f"{len(split)} sites serve" if len(split) != 1 else "1 site serves"
        en.append(
            f"{k} new station{'s' if k != 1 else ''} from splits: {who} more residents than "
            "their level's maximum (" + _listed(items_en, ", ", " and {} more") + "); where the "
            "new stations go is for siting propose"
        )
    if len(merged):
        items_zh = [
            f"{r.site_id} {r.calendar_year} 年并入 {r.merged_into}" for r in merged.itertuples()
        ]
        items_en = [
            f"{r.site_id} into {r.merged_into} in {r.calendar_year}" for r in merged.itertuples()
        ]
        zh.append(
            f"多社区一中心撤并 {len(merged)} 个站点（"
            + _listed(items_zh, "、", "等，另 {} 个")
            + "）"
        )
        en.append(
            f"{len(merged)} site{'s' if len(merged) != 1 else ''} retired, merged into a "
            "neighbouring community's station (" + _listed(items_en, ", ", " and {} more") + ")"
        )
    end, last = int(yrs["sites_total"].iat[-1]), int(yrs["calendar_year"].iat[-1])
    zh.append(f"至 {last} 年计入层级的站点由 {n0} 个变为 {end} 个")
    en.append(f"sites counted: {n0} now, {end} by {last}")
    text_en = "; ".join(en)
    return "；".join(zh) + "。\n" + text_en[0].upper() + text_en[1:] + "."


def write_plan_xlsx(plan: Plan, path: Any) -> Any:
    """plan.xlsx: the upgrades, the years and a notes sheet (totals, shortfall, budget use).

    One header row per sheet, "Chinese name / canonical name" in each cell, so
    ``pandas.read_excel`` reads the tables as they are.
    """
    from siting.report import write_table_xlsx

    return write_table_xlsx(
        {"计划 plan": plan.actions, "年度 years": plan.years, "说明 notes": plan.notes_table()},
        path,
        labels=PLAN_LABELS_ZH,
        highlight={"年度 years": "met"},
        one_header_row=True,
    )


def _cjk_font() -> str | None:
    """A CJK font matplotlib can use (registered from the system's fonts if its cache is
    older than the font), or None."""
    from pathlib import Path

    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for f in ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP"):
        if f in names:
            return f
    keys = ("wqy", "notosanscjk", "notoserifcjk", "simhei", "droidsansfallback")
    for path in sorted(font_manager.findSystemFonts()):
        if any(k in Path(path).name.lower().replace("-", "") for k in keys):
            try:
                font_manager.fontManager.addfont(path)
                return str(font_manager.FontProperties(fname=path).get_name())
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def _yuan_short(v: float) -> str:
    """1.47 亿 / 2,350 万 (for chart labels)."""
    if abs(v) >= 1e8:
        return f"{v / 1e8:.2f} 亿"
    return f"{v / 1e4:,.0f} 万"


def plan_chart(plan: Plan, path: Any, *, baseline: float | None = None) -> None:
    """Bar chart of the compliance rate reached each year against the targets, with each
    year's cost (and budget) under the year (PNG); Chinese first, English second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    cjk = _cjk_font()

    def tr(zh: str, en: str) -> str:
        return f"{zh} {en}" if cjk else en

    y = plan.years
    labels = []
    for r in y.itertuples():
        lab = f"{int(r.calendar_year)}\n" + (
            f"{_yuan_short(r.cost_yuan)}元" if cjk else f"{r.cost_yuan / 1e6:,.1f} M yuan"
        )
        if r.budget_yuan is not None and np.isfinite(r.budget_yuan):
            lab += "\n" + (
                f"预算 {_yuan_short(r.budget_yuan)}元"
                if cjk
                else f"budget {r.budget_yuan / 1e6:,.1f} M"
            )
        labels.append(lab)
    quiet = logging.getLogger("matplotlib.font_manager")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "weight normal not found, using 500" for a .ttc font
    try:
        _draw_plan_chart(plt, Patch, plan, path, baseline, cjk, tr, labels)
    finally:
        quiet.setLevel(level)


def _draw_plan_chart(plt, Patch, plan, path, baseline, cjk, tr, labels) -> None:
    y = plan.years
    with plt.rc_context({"font.sans-serif": [cjk, "DejaVu Sans"]} if cjk else {}):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
        met = y["met"].to_numpy(dtype=bool)
        ax.bar(labels, y["compliance_rate"] * 100, color=np.where(met, "#2e7d32", "#c62828"))
        (target,) = ax.plot(labels, y["target_rate"] * 100, "k--o")
        handles = [
            Patch(color="#2e7d32", label=tr("达标率（达到目标）", "compliance, target met")),
            Patch(color="#c62828", label=tr("达标率（未达标）", "compliance, not met")),
            target,
        ]
        target.set_label(tr("目标", "target"))
        if baseline is not None:
            handles.append(ax.axhline(baseline * 100, color="grey", lw=1, label=tr("现状", "now")))
        ax.set_ylim(0, 105)
        ax.set_ylabel(tr("达标率 %", "compliance %"))
        total = (
            f"合计 {_yuan_short(plan.total_cost_yuan)}元 total {plan.total_cost_yuan / 1e6:,.1f} M yuan"
            if cjk
            else f"total {plan.total_cost_yuan / 1e6:,.1f} M yuan"
        )
        b = plan.budget_total_yuan
        if b is not None:
            total += (
                f"；预算合计 {_yuan_short(b)}元 budget {b / 1e6:,.1f} M"
                if cjk
                else f"; budget {b / 1e6:,.1f} M"
            )
        title = tr("三年达标计划", "three-year plan")
        ax.set_title(f"{title}\n{total}", fontsize=10)
        ax.set_xlabel(tr("年份 / 当年费用", "year / cost that year"), fontsize=8)
        # the legend below the axes: it never covers a bar
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.28),
            ncol=2,
            fontsize=8,
            frameon=False,
        )
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
