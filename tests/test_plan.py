"""Tests of the three-year upgrade plan on tiny hand-computed districts.

Layout used by most tests (metres, a made-up UTM frame), station standard: >= 1,000 m2,
ground floor >= 50%, radius 500 m, 30 m2 per 100 households; enlarge 6,000 yuan/m2, new
8,000 yuan/m2, fit-out 2,500 yuan/m2::

    site  area  ground  compliant  enlarge needs                 cost
    A     1200  1200    yes        -                             -
    C      800   800    no         +200 (area)                   1.2 M
    D      900   900    no         +100 (area)                   0.6 M
    E      400   400    no         +600 > 100% of 400: no        new 1000 m2 = 8.0 M
    F      700   300    no         +300 (area; share needs +100) 1.8 M
"""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
import shapely

from siting._errors import InputError
from siting.network import EuclideanNetwork
from siting.plan import PlanCosts, plan_chart, plan_upgrades

CRS = "EPSG:32651"
M = 1e6


def _sites(rows: list[tuple]) -> gpd.GeoDataFrame:
    """rows: (id, area, ground, compliant, population_served, x, y, community_id)."""
    ids, area, ground, ok, pop, x, y, cid = (list(c) for c in zip(*rows, strict=True))
    n = len(ids)
    area_a = np.array(area, float)
    return gpd.GeoDataFrame(
        {
            "site_id": ids,
            "name": [f"站{i}" for i in ids],
            "level": ["station"] * n,
            "status": ["existing"] * n,
            "floor_area_m2": area_a,
            "ground_floor_area_m2": np.array(ground, float),
            "compliant": np.array(ok, bool),
            "reasons": ["" if o else "面积不足" for o in ok],
            "required_floor_area_m2": np.full(n, 1000.0),
            "min_ground_floor_share": np.full(n, 0.5),
            "radius_m": np.full(n, 500.0),
            "population_served": np.array(pop, float),
            "street": ["东街道"] * n,
            "community_id": cid,
            "upgrade_year": np.full(n, np.nan),
        },
        geometry=shapely.points(np.array(x, float), np.array(y, float)),
        crs=CRS,
    )


def _base() -> SimpleNamespace:
    return SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 9000, 0, 0, "K1"),
                ("C", 800, 800, False, 5000, 3000, 0, "K2"),
                ("D", 900, 900, False, 1000, 6000, 0, "K3"),
                ("E", 400, 400, False, 500, 9000, 0, "K4"),
                ("F", 700, 300, False, 3000, 12000, 0, "K5"),
            ]
        )
    )


def _brute_min_cost(plan, compliant0: int, n0: int, targets, budget=None) -> float:
    """Least cost over every assignment site -> (nothing | option x year), no merges."""
    opts = plan.options
    by_site = [g for _, g in opts.groupby("site")]
    n_years = len(targets)
    best = np.inf
    choices = [
        [None] + [(r.candidate, r.cost_yuan, y) for r in g.itertuples() for y in range(n_years)]
        for g in by_site
    ]
    for combo in itertools.product(*choices):
        done = [c for c in combo if c is not None]
        used = [c[0] for c in done if c[0]]
        if len(used) != len(set(used)):
            continue
        per_year = [sum(c[1] for c in done if c[2] == y) for y in range(n_years)]
        if budget is not None and sum(per_year) > budget + 1e-6:
            continue
        ok = all(
            compliant0 + sum(1 for c in done if c[2] <= y) >= targets[y] * n0 - 1e-9
            for y in range(n_years)
        )
        if ok:
            best = min(best, sum(per_year))
    return best


def test_targets_met_at_least_cost_residents_first():
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), start_year=2025)
    # 3 of the 4 non-compliant sites are needed; the cheapest three are D, C, F (E needs a
    # new build); just in time, the site serving most residents first: C (5000), F, D
    assert plan.total_cost_yuan == pytest.approx(0.6 * M + 1.2 * M + 1.8 * M)
    assert plan.total_cost_yuan == pytest.approx(_brute_min_cost(plan, 1, 5, (0.4, 0.6, 0.8)))
    assert plan.actions["site_id"].tolist() == ["C", "F", "D"]
    assert plan.actions["year"].tolist() == [1, 2, 3]
    assert plan.actions["calendar_year"].tolist() == [2025, 2026, 2027]
    assert set(plan.actions["action"]) == {"enlarge"}
    assert plan.years["sites_compliant"].tolist() == [2, 3, 4]
    assert plan.years["compliance_rate"].tolist() == pytest.approx([0.4, 0.6, 0.8])
    assert plan.years["met"].all() and plan.feasible_within_budget
    assert plan.years["sites_short"].tolist() == [0, 0, 0]
    assert plan.status == "optimal"
    # E cannot grow from 400 to 1000 m2 in place (ratio 1.0): only "new" is offered
    e = plan.options[plan.options["site"] == 3]
    assert e["action"].tolist() == ["new"]
    assert e["cost_yuan"].iat[0] == pytest.approx(8 * M)


def test_budget_too_small_reports_shortfall_and_budget_needed():
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=2.0 * M, start_year=2025)
    # 2.0 M buys D (0.6) and C (1.2), not F (1.8): one site short in year 3
    assert plan.total_cost_yuan == pytest.approx(1.8 * M)
    assert sorted(plan.actions["site_id"]) == ["C", "D"]
    assert plan.years["sites_short"].tolist() == [0, 0, 1]
    assert plan.years["met"].tolist() == [True, True, False]
    assert not plan.feasible_within_budget
    assert plan.budget_needed_yuan == pytest.approx(3.6 * M)
    assert "1 个站点" in plan.notes[0] and "3,600,000" in plan.notes[0]


def test_zero_budget_shortfall_every_year():
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=0.0)
    assert plan.actions.empty
    assert plan.years["sites_short"].tolist() == [1, 2, 3]
    assert plan.budget_needed_yuan == pytest.approx(3.6 * M)


def test_per_year_budgets_shape_the_schedule():
    # year 1 can afford only D (0.6 <= 0.7), year 2 C (1.2 <= 1.3), year 3 F (1.8 <= 2.0)
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=[0.7 * M, 1.3 * M, 2.0 * M])
    assert plan.actions[["year", "site_id"]].values.tolist() == [[1, "D"], [2, "C"], [3, "F"]]
    assert plan.years["cost_yuan"].tolist() == pytest.approx([0.6 * M, 1.2 * M, 1.8 * M])
    assert plan.years["budget_yuan"].tolist() == pytest.approx([0.7 * M, 1.3 * M, 2.0 * M])
    assert plan.years["met"].all()


def test_no_action_beyond_the_targets():
    # 1 of 5 compliant is 20%: a 20% target needs nothing, even free options stay unused
    plan = plan_upgrades(_base(), targets=(0.2, 0.2, 0.2))
    assert plan.actions.empty and plan.total_cost_yuan == 0


def _merge_case(sx: float = 300.0):
    """K1 | K2 touch, K3 stands apart.  A (compliant, 1,200 m2) in K1, B (500 m2) in K2 at
    ``sx`` m from A, G (500 m2) in K3. K1+K2 households 2,000+1,000 -> 900 m2 < 1,000 m2:
    A can take B's residents without growing (a free merge)."""
    comm = gpd.GeoDataFrame(
        {
            "id": ["K1", "K2", "K3"],
            "population": [5000.0, 2600.0, 2600.0],
            "households": [2000.0, 1000.0, 1000.0],
        },
        geometry=[
            shapely.box(-1000, -500, 0, 500),
            shapely.box(0, -500, 1000, 500),
            shapely.box(5000, -500, 6000, 500),
        ],
        crs=CRS,
    )
    ev = SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 5000, -100, 0, "K1"),
                ("B", 500, 500, False, 2600, sx - 100, 0, "K2"),
                ("G", 500, 500, False, 2600, 5500, 0, "K3"),
                ("H", 1000, 1000, True, 3000, 5600, 300, "K3b"),
            ]
        )
    )
    return ev, comm


def test_merge_only_touching_retires_noncompliant_and_shrinks_total():
    ev, comm = _merge_case()
    plan = plan_upgrades(ev, communities=comm, targets=(0.6, 0.6, 0.6))
    merges = plan.options[plan.options["action"] == "merge"]
    # only B (non-compliant, K2 touches K1) into A; never A retired, nothing for K3
    assert merges[["site", "other"]].values.tolist() == [[1, 0]]
    assert merges["cost_yuan"].tolist() == [0.0]
    # 2 of 4 compliant = 50%; retiring B: 2 of 3 = 67% >= 60% at no cost
    assert plan.actions["action"].tolist() == ["merge"]
    assert plan.actions["site_id"].tolist() == ["B"]
    assert plan.total_cost_yuan == 0
    assert plan.years["sites_total"].tolist() == [3, 3, 3]
    assert plan.years["sites_compliant"].tolist() == [2, 2, 2]
    assert plan.years["compliance_rate"].tolist() == pytest.approx([2 / 3] * 3)


def test_merge_and_enlarge_to_full_compliance():
    ev, comm = _merge_case()
    plan = plan_upgrades(ev, communities=comm, targets=(0.6, 0.8, 1.0))
    # B merged for free, G enlarged +500 m2 = 3.0 M (cheaper than B +500 too: 6.0 M)
    got = dict(zip(plan.actions["site_id"], plan.actions["action"], strict=True))
    assert got == {"B": "merge", "G": "enlarge"}
    assert plan.total_cost_yuan == pytest.approx(3.0 * M)
    assert plan.years["compliance_rate"].iat[-1] == pytest.approx(1.0)
    assert plan.years["sites_total"].iat[-1] == 3


def test_merge_needs_walking_reach_with_a_network():
    ev, comm = _merge_case(sx=900.0)  # B 900 m from A > 500 m station radius
    net = EuclideanNetwork(CRS)
    plan = plan_upgrades(ev, communities=comm, network=net, targets=(0.6, 0.6, 0.6))
    assert not (plan.options["action"] == "merge").any()
    ev2, comm2 = _merge_case(sx=300.0)
    plan2 = plan_upgrades(ev2, communities=comm2, network=net, targets=(0.6, 0.6, 0.6))
    assert (plan2.options["action"] == "merge").sum() == 1


def test_merge_survivor_grows_for_both_communities():
    ev, comm = _merge_case()
    comm["households"] = [3000.0, 1000.0, 1000.0]  # 4,000 households -> 1,200 m2 needed
    ev.sites.loc[0, ["floor_area_m2", "ground_floor_area_m2"]] = [1000.0, 1000.0]
    plan = plan_upgrades(ev, communities=comm, targets=(0.6, 0.6, 0.6))
    m = plan.options[plan.options["action"] == "merge"]
    assert m["added_m2"].tolist() == pytest.approx([200.0])
    assert m["cost_yuan"].tolist() == pytest.approx([1.2 * M])


def test_moves_use_each_building_once_within_radius():
    ev = SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 100, 0, 0, "K1"),
                ("P", 300, 300, False, 4000, 1000, 0, "K2"),
                ("Q", 300, 300, False, 3000, 1000, 200, "K3"),
            ]
        )
    )
    cands = gpd.GeoDataFrame(
        {
            "id": ["B1", "B2", "B3"],
            "name": ["旧小学", "远处仓库", "小房"],
            "floor_area_m2": [1100.0, 1500.0, 600.0],
            "ground_floor_area_m2": [600.0, 1500.0, 600.0],
        },
        geometry=shapely.points([[1100, 100], [1000, 900], [1000, 100]]),
        crs=CRS,
    )
    net = EuclideanNetwork(CRS)
    plan = plan_upgrades(
        ev, candidates=cands, network=net, targets=(1.0, 1.0, 1.0), start_year=2025
    )
    moves = plan.options[plan.options["action"] == "move"]
    # B2 is 900 m / 700 m away (> 500 m), B3 too small: only B1, for both P and Q
    assert sorted(moves["candidate"]) == ["B1", "B1"]
    assert moves["cost_yuan"].tolist() == pytest.approx([1100 * 2500.0] * 2)
    acts = plan.actions.set_index("site_id")["action"].to_dict()
    # B1 is used once; the other site builds new
    assert sorted(acts.values()) == ["move", "new"]
    assert plan.total_cost_yuan == pytest.approx(1100 * 2500.0 + 1000 * 8000.0)
    assert plan.total_cost_yuan == pytest.approx(_brute_min_cost(plan, 1, 3, (1.0, 1.0, 1.0)))


def test_max_enlarge_ratio_limits_enlarging():
    plan = plan_upgrades(_base(), targets=(1.0, 1.0, 1.0), costs=PlanCosts(max_enlarge_ratio=2.0))
    e = plan.options[plan.options["site"] == 3]
    assert sorted(e["action"]) == ["enlarge", "new"]  # +600 <= 2 x 400
    assert plan.total_cost_yuan == pytest.approx((1.2 + 0.6 + 3.6 + 1.8) * M)
    tight = plan_upgrades(_base(), targets=(1.0,) * 3, costs=PlanCosts(max_enlarge_ratio=0.2))
    # only D (+100 <= 180) may still enlarge; C (+200 > 160) and F (+300 > 140) must rebuild
    enl = tight.options[tight.options["action"] == "enlarge"]
    assert enl["site"].tolist() == [2]


def test_residents_first_among_equal_cost():
    ev = SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 1, 0, 0, "K1"),
                ("X", 900, 900, False, 100, 1000, 0, "K2"),
                ("Y", 900, 900, False, 8000, 2000, 0, "K3"),
                ("Z", 900, 900, False, 3000, 3000, 0, "K4"),
            ]
        )
    )
    plan = plan_upgrades(ev, targets=(0.5, 0.75, 1.0))
    assert plan.actions[["year", "site_id"]].values.tolist() == [[1, "Y"], [2, "Z"], [3, "X"]]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"targets": (0.8, 0.6)}, "do not decrease"),
        ({"targets": (0.6, 1.2)}, "shares in 0-1"),
        ({"targets": ()}, "targets"),
        ({"budget": -5.0}, "non-negative"),
        ({"budget": [1e6, 1e6]}, "figure per year"),
        ({"budget": float("nan")}, "budget"),
        ({"budget": float("inf")}, "non-negative figure"),
        ({"budget": [1e6, float("inf"), 1e6]}, "non-negative figure"),
    ],
)
def test_bad_targets_and_budget(kw, match):
    with pytest.raises(InputError, match=match):
        plan_upgrades(_base(), **kw)


def test_plan_chart_writes_png(tmp_path):
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=2.0 * M)
    out = tmp_path / "plan.png"
    plan_chart(plan, out, baseline=0.2)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


def test_overloaded_station_is_split_not_rebuilt_bigger():
    """C serves 30,000 residents (station maximum 25,000) and 6,000 households: one new station
    shares its catchment (k = ceil(30,000 / 25,000) - 1 = 1); each of the two needs
    max(1,000, 3,000 / 100 x 30 = 900) = 1,000 m2; C enlarges +200 m2 (1.2 M) and the new one
    costs 1,000 x 8,000 = 8.0 M. Compliant 2 -> 4 (C and the new one) of 3 -> 4 sites."""
    ev = SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 9000, 0, 0, "K1"),
                ("B", 1100, 1100, True, 9000, 1000, 0, "K2"),
                ("C", 800, 800, False, 30000, 3000, 0, "K3"),
            ]
        ).assign(
            households_served=[3000.0, 3000.0, 6000.0],
            max_population=[25000.0, 25000.0, 25000.0],
        )
    )
    plan = plan_upgrades(ev, targets=(1.0, 1.0, 1.0))
    c_opts = plan.options[plan.options["site"] == 2]
    assert c_opts["action"].tolist() == ["split"]  # no single bigger building, no move
    assert c_opts["new_sites"].tolist() == [1]
    assert c_opts["cost_yuan"].tolist() == pytest.approx([9.2 * M])
    assert c_opts["added_m2"].tolist() == pytest.approx([1200.0])
    assert "分设 1 个新站" in c_opts["detail"].iat[0] and "+200 m²" in c_opts["detail"].iat[0]
    assert plan.actions["action"].tolist() == ["split"]
    assert plan.actions["new_sites"].tolist() == [1]
    assert plan.years["sites_total"].tolist() == [4, 4, 4]
    assert plan.years["sites_compliant"].tolist() == [4, 4, 4]
    assert plan.total_cost_yuan == pytest.approx(9.2 * M)
    # 61,000 residents on a cramped 400 m2 site: k = 2, each 1,000 m2, C rebuilt (+600 > 400)
    ev.sites.loc[2, ["floor_area_m2", "ground_floor_area_m2", "population_served"]] = [
        400.0,
        400.0,
        61000.0,
    ]
    opt = plan_upgrades(ev, targets=(1.0,) * 3).options
    split = opt[opt["site"] == 2].iloc[0]
    assert split["new_sites"] == 2
    assert split["cost_yuan"] == pytest.approx(3 * 1000 * 8000)
    assert "原址重建 1,000 m²" in split["detail"]


def test_split_counts_in_the_yearly_rate():
    """With targets 0.6 / 0.8 / 1.0 over A (ok), C (overloaded, split +1 site) and D (+100 m2):
    year 1 needs 0.6: D alone gives 2/3, C alone 3/4; year 2 needs 0.8: only both (4/4). One
    action a year at the same total cost either way, so the site serving more residents (C, the
    split) comes first."""
    ev = SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 9000, 0, 0, "K1"),
                ("C", 800, 800, False, 30000, 3000, 0, "K3"),
                ("D", 900, 900, False, 1000, 6000, 0, "K4"),
            ]
        ).assign(households_served=[3000.0, 6000.0, 300.0], max_population=[25000.0] * 3)
    )
    plan = plan_upgrades(ev, targets=(0.6, 0.8, 1.0))
    assert plan.feasible_within_budget and plan.years["met"].all()
    assert plan.years["compliance_rate"].iat[-1] == pytest.approx(1.0)
    assert plan.years["sites_total"].iat[-1] == 4
    by_site = dict(zip(plan.actions["site_id"], plan.actions["year"], strict=True))
    assert by_site == {"C": 1, "D": 2}
    assert plan.years["sites_total"].tolist() == [4, 4, 4]
    assert plan.years["compliance_rate"].tolist() == pytest.approx([0.75, 1.0, 1.0])
    assert plan.total_cost_yuan == pytest.approx(0.6 * M + 9.2 * M)


# --- upgrades already scheduled in the site data (upgrade_year) --------------------------


def _scheduled(year: float) -> SimpleNamespace:
    """_base() with C's upgrade already scheduled (C: +200 m2 in place = 1.2 M)."""
    ev = _base()
    ev.sites.loc[ev.sites["site_id"] == "C", "upgrade_year"] = year
    return ev


def test_scheduled_upgrade_is_listed_costed_and_counted():
    """Targets 2/5, 3/5, 4/5 compliant. C is scheduled in 2026 (programme year 2), so year 1
    needs one upgrade (F, more residents than D, same total), year 2 none, year 3 one more
    (D): F 1.8 M + C 1.2 M (scheduled, estimated like an enlargement) + D 0.6 M = 3.6 M."""
    plan = plan_upgrades(_scheduled(2026), targets=(0.4, 0.6, 0.8), start_year=2025)
    a = plan.actions
    assert a[["year", "site_id", "action"]].values.tolist() == [
        [1, "F", "enlarge"],
        [2, "C", "scheduled"],
        [3, "D", "enlarge"],
    ]
    c = a[a["site_id"] == "C"].iloc[0]
    assert c["action_zh"] == "已排期" and c["calendar_year"] == 2026
    assert c["cost_yuan"] == pytest.approx(1.2 * M) and c["added_m2"] == pytest.approx(200)
    assert c["detail"] == (
        "数据中已排期 2026 年；费用按原址扩建 +200 m²（一层）估算 / scheduled in the site data "
        "for 2026; cost estimated as enlarging in place +200 m² (ground floor)"
    )
    assert plan.years["cost_yuan"].tolist() == pytest.approx([1.8 * M, 1.2 * M, 0.6 * M])
    assert plan.years["scheduled_cost_yuan"].tolist() == pytest.approx([0, 1.2 * M, 0])
    assert plan.years["upgrades"].tolist() == [1, 1, 1]
    assert plan.years["sites_compliant"].tolist() == [2, 3, 4]
    assert plan.total_cost_yuan == pytest.approx(3.6 * M)
    assert plan.budget_needed_yuan == pytest.approx(3.6 * M)
    s = plan.summary()
    assert s["scheduled_cost_yuan"] == pytest.approx(1.2 * M) and s["actions_scheduled"] == 1
    assert any("已排期" in n and "1,200,000" in n and "Already scheduled" in n for n in plan.notes)


def test_scheduled_rebuild_detail_names_the_method_in_both_languages():
    """E (400 m2) cannot grow to 1,000 m2 in place: its scheduled upgrade is costed as a new
    1,000 m2 building, 8.0 M, and both languages say so."""
    ev = _base()
    ev.sites.loc[ev.sites["site_id"] == "E", "upgrade_year"] = 2025
    plan = plan_upgrades(ev, targets=(0.4,), start_year=2025)
    e = plan.actions[plan.actions["site_id"] == "E"].iloc[0]
    assert e["cost_yuan"] == pytest.approx(8 * M)
    assert e["detail"] == (
        "数据中已排期 2025 年；费用按新建 1,000 m²估算 / scheduled in the site data for 2025; "
        "cost estimated as a new building of 1,000 m²"
    )


def test_scheduled_upgrade_takes_its_share_of_the_budget():
    """A 2.0 M total: C's scheduled 1.2 M leaves 0.8 M, enough for D (0.6) but not F (1.8):
    one site short in year 3; every target needs 3.6 M, 1.6 M more than the budget."""
    plan = plan_upgrades(_scheduled(2), targets=(0.4, 0.6, 0.8), budget=2.0 * M, start_year=2025)
    assert sorted(plan.actions["site_id"]) == ["C", "D"]
    assert plan.total_cost_yuan == pytest.approx(1.8 * M)
    assert plan.years["sites_short"].tolist() == [0, 0, 1]
    assert plan.budget_needed_yuan == pytest.approx(3.6 * M)
    assert plan.budget_shortfall_yuan == pytest.approx(1.6 * M)
    assert plan.summary()["budget_shortfall_yuan"] == pytest.approx(1.6 * M)
    assert "尚差 1,600,000 元" in plan.notes[0] and "1,600,000 yuan short" in plan.notes[0]
    # zero budget: the scheduled upgrade still happens (it is in the data) and is costed
    zero = plan_upgrades(_scheduled(2), targets=(0.4, 0.6, 0.8), budget=0.0, start_year=2025)
    assert zero.actions["site_id"].tolist() == ["C"]
    assert zero.years["cost_yuan"].tolist() == pytest.approx([0, 1.2 * M, 0])
    assert zero.total_cost_yuan == pytest.approx(1.2 * M)
    assert zero.budget_needed_yuan == pytest.approx(3.6 * M)
    assert not zero.feasible_within_budget
    assert any("超出总预算 1,200,000" in n and "by 1,200,000 yuan" in n for n in zero.notes)
    # per-year budgets: 1.0 M in year 2 is below C's 1.2 M
    per = plan_upgrades(
        _scheduled(2), targets=(0.4, 0.6, 0.8), budget=[1.0 * M, 1.0 * M, 1.0 * M], start_year=2025
    )
    assert per.years["budget_left_yuan"].iat[1] == pytest.approx(-0.2 * M)
    assert any("当年预算 200,000" in n for n in per.notes)


def test_scheduled_before_or_after_the_programme():
    # scheduled in 2024, before a 2025 start: compliant from year 1, listed as year 0, its
    # cost outside the programme's totals
    plan = plan_upgrades(_scheduled(2024), targets=(0.4, 0.6, 0.8), start_year=2025)
    c = plan.actions[plan.actions["site_id"] == "C"].iloc[0]
    assert (c["year"], c["calendar_year"], c["action"]) == (0, 2024, "scheduled")
    assert plan.years["sites_compliant"].iat[0] == 2
    # C counts in year 1, so F and D are needed in years 2 and 3: 2.4 M
    assert plan.total_cost_yuan == pytest.approx(2.4 * M)
    assert any("year 0" in n for n in plan.notes)
    # scheduled in 2030, after 2025-2027: planned like the others (C, cheaper than F, is used)
    late = plan_upgrades(_scheduled(2030), targets=(0.4, 0.6, 0.8), start_year=2025)
    assert "scheduled" not in set(late.actions["action"])
    assert late.total_cost_yuan == pytest.approx(3.6 * M)
    assert any("after 2027" in n for n in late.notes)


def test_target_no_plan_can_reach_says_so_without_nan():
    """C is scheduled in 2027 (year 3) and cannot move earlier, so 100% in 2025 and 2026 is
    out of reach at any cost: one site short in each. The rest is done in year 1: E new
    8.0 M + F 1.8 M + D 0.6 M, with C's 1.2 M in year 3, 11.6 M."""
    import json

    for budget in (None, 100 * M):
        plan = plan_upgrades(
            _scheduled(2027), targets=(1.0, 1.0, 1.0), budget=budget, start_year=2025
        )
        assert plan.years["sites_short"].tolist() == [1, 1, 0]
        assert plan.total_cost_yuan == pytest.approx(11.6 * M)
        assert plan.status == "optimal"
        note = plan.notes[0]
        assert note.startswith("目标未达成：2025 年尚缺 1 个站点达标。任何预算都无法达成全部目标")
        assert "Targets not met: 1 sites short in 2025. No budget meets every target" in note
        assert (
            "预算不足" not in note
            and "Budget short" not in note
            and re.search(r"\bnan\b", note, re.I) is None
        )
        s = plan.summary()
        assert s["budget_needed_yuan"] is None and s["targets_reachable"] is False
        assert s["budget_shortfall_yuan"] is None if budget else s["budget_shortfall_yuan"] == 0
        json.dumps(s, allow_nan=False, default=float)
        table = plan.notes_table().set_index("item")["value"]
        assert table["budget_needed_yuan"] == "任何预算都无法达成 none does"


def test_cost_of_targets_not_known_is_said_not_nan(plan_second_solve_finds_nothing):
    """The solve without the budget finds no plan (as at a time limit): the cost of meeting
    every target is not known, and no 'nan' reaches the note or the JSON."""
    import json

    calls = plan_second_solve_finds_nothing
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=2.0 * M, start_year=2025)
    assert len(calls) == 2 and plan.years["sites_short"].tolist() == [0, 0, 1]
    note = plan.notes[0]
    assert note.startswith("目标未达成：2027 年尚缺 1 个站点达标。求解时限内未找到")
    assert (
        "the cost of meeting them is not known" in note
        and re.search(r"\bnan\b", note, re.I) is None
    )
    s = plan.summary()
    assert s["budget_needed_yuan"] is None and s["budget_shortfall_yuan"] is None
    assert s["targets_reachable"] is None
    json.dumps(s, allow_nan=False, default=float)


@pytest.mark.parametrize("budget", [None, 2.5 * M])
def test_fraction_of_a_site_short_is_not_traded_for_cost(budget):
    """60.1% of 5 sites is 3.005: 4 compliant needed, 3 of the 4 non-compliant sites. Weighing
    the shortfall (0.005 of a site) against cost chose C and D alone (1.8 M, target missed)
    although F (1.8 M more) meets it: the shortfall comes first. With 2.5 M the target cannot
    be met; every target needs 3.6 M."""
    plan = plan_upgrades(_base(), targets=(0.601,), budget=budget, start_year=2025)
    if budget is None:
        assert sorted(plan.actions["site_id"]) == ["C", "D", "F"]
        assert plan.years["met"].all() and plan.status == "optimal"
        assert plan.total_cost_yuan == pytest.approx(3.6 * M)
        assert plan.total_cost_yuan == pytest.approx(_brute_min_cost(plan, 1, 5, (0.601,)))
    else:
        assert sorted(plan.actions["site_id"]) == ["C", "D"]
        assert plan.years["sites_short"].tolist() == [1]
        assert plan.budget_needed_yuan == pytest.approx(3.6 * M)
        assert "尚差 1,100,000 元" in plan.notes[0]


# --- budgets, start year, outputs ---------------------------------------------------------


def test_one_total_budget_is_not_shown_as_each_years_budget():
    """2.0 M for all three years: C (1.2 M) in year 1, D (0.6 M) in year 2; left 0.8, 0.2, 0.2."""
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=2.0 * M, start_year=2025)
    assert plan.actions[["year", "site_id"]].values.tolist() == [[1, "C"], [2, "D"]]
    assert plan.years["budget_yuan"].isna().all()
    assert plan.years["budget_left_yuan"].tolist() == pytest.approx([0.8 * M, 0.2 * M, 0.2 * M])
    assert plan.years["cumulative_cost_yuan"].tolist() == pytest.approx([1.2 * M, 1.8 * M, 1.8 * M])
    s = plan.summary()
    assert s["budget_kind"] == "total" and s["budget_total_yuan"] == pytest.approx(2.0 * M)
    assert [y["budget_yuan"] for y in s["years"]] == [None, None, None]
    assert any("3 年合计（非每年）" in n and "not per year" in n for n in plan.notes)
    per = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=[0.7 * M, 1.3 * M, 2.0 * M])
    assert per.summary()["budget_kind"] == "per_year"
    assert per.summary()["budget_total_yuan"] == pytest.approx(4.0 * M)
    assert per.years["budget_left_yuan"].tolist() == pytest.approx([0.1 * M, 0.1 * M, 0.2 * M])


def test_default_start_year_is_next_year():
    import datetime as dt

    from siting.plan import default_start_year

    assert default_start_year(dt.date(2026, 11, 22)) == 2027
    assert default_start_year(dt.date(2027, 1, 5)) == 2028
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8))
    assert plan.years["calendar_year"].tolist()[0] == dt.date.today().year + 1
    assert plan_upgrades(_base(), targets=(0.4,), start_year=2026).years[
        "calendar_year"
    ].tolist() == [2026]


def test_highs_debug_print_kept_off_stdout(monkeypatch, capfd):
    """HiGHS's C++ printf goes to fd 1 whatever its options; _milp keeps it off stdout and
    passes anything else through."""
    import os

    import siting.plan as plan_mod

    def noisy(*args, **kwargs):
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\n")
        os.write(1, b"something else\n")
        return "result"

    monkeypatch.setattr(plan_mod, "milp", noisy)
    print("before", flush=True)
    assert plan_mod._milp() == "result"
    out = capfd.readouterr().out
    assert "HighsMipSolverData" not in out
    assert out == "before\nsomething else\n"


def test_concurrent_solves_leave_stdout_where_it_was(monkeypatch, capfd):
    """Two threads solving at once (the app: one per session). Without a lock the second
    saves fd 1 while it points at the first's temporary file and restores it last, leaving
    stdout on a deleted file. The second fake solve starts while the first is under way and
    returns only once fd 1 is back on its target (or after 2 s: with the lock it runs after
    the first has finished, and the first waits 2 s for it in vain)."""
    import os
    import threading

    import siting.plan as plan_mod

    def ident(fd: int) -> tuple[int, int]:
        st = os.fstat(fd)
        return st.st_dev, st.st_ino

    original = ident(1)
    first_in, second_in = threading.Event(), threading.Event()

    def fake(which: str) -> str:
        os.write(1, f"HighsMipSolverData::{which}\nout {which}\n".encode())
        if which == "first":
            first_in.set()
            second_in.wait(2.0)
        else:
            second_in.set()
            for _ in range(200):  # until the first has put fd 1 back
                if ident(1) == original:
                    break
                threading.Event().wait(0.01)
        return which

    monkeypatch.setattr(plan_mod, "milp", fake)
    results: dict[str, str] = {}

    def run(which: str) -> None:
        results[which] = plan_mod._milp(which)

    keep = os.dup(1)
    try:
        t1 = threading.Thread(target=run, args=("first",))
        t1.start()
        assert first_in.wait(5.0)
        t2 = threading.Thread(target=run, args=("second",))
        t2.start()
        t1.join()
        t2.join()
        now = ident(1)
    finally:
        os.dup2(keep, 1)
        os.close(keep)
    assert results == {"first": "first", "second": "second"}
    assert now == original
    out = capfd.readouterr().out
    assert sorted(out.splitlines()) == ["out first", "out second"]


def test_plan_xlsx_one_header_row_all_translated_with_notes(tmp_path):
    import pandas as pd

    from siting.plan import write_plan_xlsx

    plan = plan_upgrades(_scheduled(2), targets=(0.4, 0.6, 0.8), budget=2.0 * M, start_year=2025)
    path = write_plan_xlsx(plan, tmp_path / "plan.xlsx")
    acts = pd.read_excel(path, sheet_name="计划 plan")
    years = pd.read_excel(path, sheet_name="年度 years")
    notes = pd.read_excel(path, sheet_name="说明 notes")
    for frame, src in ((acts, plan.actions), (years, plan.years)):
        assert len(frame) == len(src)  # no header row read as data
        # every header "Chinese\ncanonical", the Chinese part translated
        assert [c.split("\n")[1] for c in frame.columns] == list(src.columns)
        assert all(c.split("\n")[0] != c.split("\n")[1] for c in frame.columns)
    assert acts.iloc[:, 0].tolist() == plan.actions["year"].tolist()
    text = "\n".join(map(str, notes.to_numpy().ravel()))
    assert "尚差 1,600,000 元" in text and "1,600,000 yuan short" in text
    shortfall = notes[notes.iloc[:, 0] == "budget_shortfall_yuan"].iloc[0, 3]
    assert shortfall == pytest.approx(1.6 * M)


def test_plan_chart_bilingual_legend_below_with_not_met_and_cost(tmp_path, monkeypatch):
    import matplotlib.figure

    from siting.plan import _cjk_font

    if _cjk_font() is None:
        pytest.skip("no CJK font on this machine")
    seen = {}
    real = matplotlib.figure.Figure.savefig

    def grab(fig, *a, **k):  # measured while the chart's fonts are in effect
        fig.canvas.draw()
        ax = fig.axes[0]
        seen["legend"] = ax.get_legend().get_window_extent()
        seen["axes"] = ax.get_window_extent()
        seen["fig"] = fig
        return real(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", grab)
    plan = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), budget=2.0 * M, start_year=2025)
    plan_chart(plan, tmp_path / "plan.png", baseline=0.2)
    ax = seen["fig"].axes[0]
    leg = ax.get_legend()
    texts = [t.get_text() for t in leg.get_texts()]
    assert any("未达标" in t and "not met" in t for t in texts)
    assert all(t.split()[0][0] > "\u2e80" for t in texts)  # Chinese first
    # the legend is below the axes: it covers no bar
    assert seen["legend"].y1 < seen["axes"].y0
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "2025\n120 万元" and ticks[1] == "2026\n60 万元"  # C 1.2 M, D 0.6 M
    assert "200 万元" in ax.get_title()  # the budget total


# --- candidate buildings screened as by `siting propose`; sites added and retired -----------


def _screen_case():
    """One community (0-1,000 m square); P (300 m2, too small to double) at (900, 500).
    Buildings of 1,100 m2 within P's 500 m: IN (100 m, inside), FAR (400 m, but 300 m east of
    the district) and WET (300 m, inside but in a pond)."""
    comm = gpd.GeoDataFrame(
        {"id": ["K1"], "population": [9000.0], "households": [3000.0]},
        geometry=[shapely.box(0, 0, 1000, 1000)],
        crs=CRS,
    )
    ev = SimpleNamespace(
        sites=_sites(
            [
                ("A", 1200, 1200, True, 5000, 100, 100, "K1"),
                ("P", 300, 300, False, 4000, 900, 500, "K1"),
            ]
        )
    )
    cands = gpd.GeoDataFrame(
        {
            "id": ["IN", "FAR", "WET"],
            "name": ["旧小学", "外区仓库", "湖心亭"],
            "floor_area_m2": [1100.0] * 3,
            "ground_floor_area_m2": [600.0] * 3,
        },
        geometry=shapely.points([[800, 500], [1300, 500], [900, 800]]),
        crs=CRS,
    )
    water = gpd.GeoSeries([shapely.box(850, 750, 950, 850)], crs=CRS)
    return ev, comm, cands, water


def test_candidates_in_water_or_outside_the_district_are_left_out_and_named():
    from siting._errors import SitingWarning

    ev, comm, cands, water = _screen_case()
    net = EuclideanNetwork(CRS)
    kw = {"communities": comm, "network": net, "targets": (1.0,) * 3, "water": water}
    with pytest.warns(SitingWarning) as rec:
        plan = plan_upgrades(ev, candidates=cands, candidates_label="vacant.csv", **kw)
    moves = plan.options[plan.options["action"] == "move"]
    assert moves["candidate"].tolist() == ["IN"]  # FAR and WET were options before
    text = " ".join(str(w.message) for w in rec)
    assert "vacant.csv: left out 1 more than 200 m outside the district (FAR: 0.3 km away)" in text
    assert "1 in water (WET)" in text
    assert plan.actions["detail"].str.contains("旧小学").all()  # 1,100 x 2,500 < new 8.0 M
    # none left: an error naming what is wrong, as `siting propose` gives
    with pytest.raises(InputError, match="no candidate lies inside the district on land"):
        plan_upgrades(ev, candidates=cands[cands["id"] != "IN"], **kw)


def test_note_names_sites_added_by_splits_and_retired_by_merges():
    """C (30,000 residents, station maximum 25,000) is split: one new station; B is merged
    into A (K1 and K2 touch, 2,000 + 1,000 households fit A): sites 4 -> 4 + 1 - 1 = 4."""
    ev, comm = _merge_case()
    ev.sites = _sites(
        [
            ("A", 1200, 1200, True, 5000, -100, 0, "K1"),
            ("B", 500, 500, False, 2600, 200, 0, "K2"),
            ("C", 800, 800, False, 30000, 5500, 0, "K3"),
            ("H", 1000, 1000, True, 3000, 5600, 300, "K3b"),
        ]
    ).assign(households_served=[2000.0, 1000.0, 6000.0, 1000.0], max_population=[25000.0] * 4)
    plan = plan_upgrades(ev, communities=comm, targets=(1.0,) * 3, start_year=2027)
    assert sorted(plan.actions["action"]) == ["merge", "split"]
    note = next(n for n in plan.notes if "分设新站" in n)
    zh, en = note.split("\n")
    assert "分设新站 1 个" in zh and "C 2027 年分设 1 个" in zh and "B 2027 年并入 A" in zh
    assert "由 4 个变为 4 个" in zh
    assert en.startswith("1 new station from splits: 1 site serves more residents")
    assert "(C: 1 in 2027)" in en and "1 site retired" in en and "(B into A in 2027)" in en
    assert en.endswith("sites counted: 4 now, 4 by 2029.")
    # no split and no merge: no such note
    plain = plan_upgrades(_base(), targets=(0.4, 0.6, 0.8), start_year=2025)
    assert not any("分设新站" in n or "多社区一中心" in n for n in plain.notes)


def test_candidate_buildings_far_from_streets_are_checked_once_with_their_ids():
    """The plan checks the screened candidate buildings against the streets once, by their ids
    (the network's distance queries stay quiet)."""
    from siting._errors import SitingWarning

    ev, comm, cands, water = _screen_case()
    calls = []

    class Net(EuclideanNetwork):
        def snap(self, points, *, label="points", ids=None, warn_distance=None):
            calls.append((label, list(ids), len(points)))

    kw = {"communities": comm, "network": Net(CRS), "targets": (1.0,) * 3, "water": water}
    with pytest.warns(SitingWarning):  # FAR and WET are left out by the screening
        plan_upgrades(ev, candidates=cands, candidates_label="vacant.csv", **kw)
    assert calls == [("candidate buildings", ["IN"], 1)]
