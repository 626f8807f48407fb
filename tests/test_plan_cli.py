"""`siting plan` on the bundled demo: outputs, messages, stdout kept clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from siting.cli import main


def test_plan_budget_total_outputs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import siting.plan as plan_mod

    real = plan_mod.milp

    def noisy(*args, **kwargs):  # what some HiGHS builds print from C++, straight to fd 1
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_mod, "milp", noisy)
    out = tmp_path / "plan"
    assert main(["plan", "--budget", "2e7,2e7,1e7", "--start-year", "2026", "--out", str(out)]) == 0
    text = capfd.readouterr().out
    # HiGHS debug lines were printed here (trial, 22 Nov 2026); the fake solver above prints one
    assert "Highs" not in text and "year 1 (2026)" in text
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sites = pd.read_csv(out / "plan.csv")
    sched = sites[sites["action"] == "scheduled"]
    # the demo's sites with an upgrade_year in 2027-2028 that are not compliant now
    assert len(sched) > 0 and set(sched["calendar_year"]) <= {2027, 2028}
    assert s["actions_scheduled"] == len(sched)
    assert s["scheduled_cost_yuan"] == pytest.approx(sched["cost_yuan"].sum())
    assert s["total_cost_yuan"] == pytest.approx(sites["cost_yuan"].sum())
    assert s["budget_kind"] == "per_year"
    assert s["budget_shortfall_yuan"] == pytest.approx(s["budget_needed_yuan"] - 5e7)
    assert f"{s['budget_shortfall_yuan']:,.0f} yuan short" in text
    assert (out / "plan_notes.txt").read_text(encoding="utf-8").startswith("预算不足")
    assert len(pd.read_csv(out / "plan_years.csv")) == 3
    assert "already scheduled" in text


def test_plan_default_start_year_is_printed(tmp_path: Path, capsys) -> None:
    import datetime as dt

    out = tmp_path / "plan"
    assert main(["plan", "--out", str(out)]) == 0
    nxt = dt.date.today().year + 1
    assert f"year 1 is {nxt} (next year, by default)" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["years"][0]["calendar_year"] == nxt


@pytest.mark.parametrize(
    ("argv", "message", "not_in"),
    [
        (["plan", "--budget", "5千万"], "--budget 50000000", "0.6,0.8"),
        (["plan", "--targets", "0.6,x,1"], "--targets 0.6,0.8,1.0", "yuan"),
        (["plan", "--budget", "1e7,1e7"], "one total or one non-negative figure per year", "0.6"),
    ],
)
def test_plan_option_messages(argv, message, not_in, capsys) -> None:
    assert main([*argv, "--roads", "none"]) == 2
    err = capsys.readouterr().err
    assert message in err and not_in not in err


@pytest.mark.parametrize("budget", ["inf", "1e7,-1,1e7", "nan", "1e7,1e7"])
def test_plan_budget_checked_before_loading(budget, monkeypatch, capsys) -> None:
    """The CLI checks --budget with plan.check_budget (the same check as plan_upgrades) before
    loading and evaluating the data."""
    import siting.cli as cli

    def no_load(*args, **kwargs):
        raise AssertionError("data loaded before the budget was checked")

    monkeypatch.setattr(cli, "_load", no_load)
    assert main(["plan", "--budget", budget]) == 2
    err = capsys.readouterr().err
    assert "one total or one non-negative figure per year (3)" in err


def _strict_json(path: Path) -> dict:
    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} in {path.name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constant)


def test_plan_unreachable_targets_no_nan_no_budget_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo has sites scheduled in 2027-2028 that are not compliant now: 100% in 2026 is
    out of reach at any cost. No budget was given, so the note does not blame one."""
    out = tmp_path / "plan"
    argv = ["plan", "--targets", "1,1,1", "--start-year", "2026", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    s = _strict_json(out / "summary.json")
    assert s["budget_needed_yuan"] is None and s["targets_reachable"] is False
    assert not s["years"][0]["met"]
    notes = (out / "plan_notes.txt").read_text(encoding="utf-8")
    assert notes.startswith("目标未达成：2026 年尚缺")
    assert "No budget meets every target" in text
    assert "Budget short" not in text and re.search(r"\bnan\b", text, re.I) is None


def test_plan_cost_not_known_writes_null_not_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plan_second_solve_finds_nothing: list
) -> None:
    """The solve without the budget finds nothing (as at a time limit): summary.json says null
    (it held NaN, which is not JSON) and the note says the cost is not known."""
    calls = plan_second_solve_finds_nothing
    out = tmp_path / "plan"
    assert main(["plan", "--budget", "1e6", "--start-year", "2026", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    s = _strict_json(out / "summary.json")
    assert len(calls) == 2
    assert s["budget_needed_yuan"] is None and s["budget_shortfall_yuan"] is None
    assert s["targets_reachable"] is None
    assert (
        "the cost of meeting them is not known" in text
        and re.search(r"\bnan\b", text, re.I) is None
    )


def test_start_year_in_the_past_warns(tmp_path, capsys):
    import datetime as dt

    this_year = dt.date.today().year
    assert main(["plan", "--start-year", "2020", "--out", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "warning: --start-year 2020 is in the past" in err and f"({this_year})" in err
    assert main(["plan", "--start-year", str(this_year), "--out", str(tmp_path / "q")]) == 0
    assert "in the past" not in capsys.readouterr().err


def _vacant_with_far_and_wet(tmp_path: Path, keep_demo: bool = True) -> Path:
    """The demo's first vacant buildings, one in Beijing (BJ1) and one in the demo's river
    (W1), as a planner's CSV."""
    import geopandas as gpd
    import shapely

    from siting import pipeline
    from siting.candidates import water_areas

    paths = pipeline.demo_paths()
    comm = gpd.read_file(paths["communities"])
    crs = comm.estimate_utm_crs()
    comm = comm.to_crs(crs)
    water = water_areas(None, crs, demo=True)
    near = shapely.intersection(
        shapely.union_all(water.values), shapely.union_all(comm.geometry.values).buffer(150)
    )
    wet = gpd.GeoSeries([near.representative_point()], crs=crs).to_crs(4326)
    demo = gpd.read_file(paths["candidates"]).to_crs(4326).head(6 if keep_demo else 0)
    rows = pd.DataFrame(
        {
            "id": [*demo["id"], "BJ1", "W1"],
            "name": [*demo["name"], "北京的点", "河中"],
            "lon": [*demo.geometry.x, 116.397, wet.x.iat[0]],
            "lat": [*demo.geometry.y, 39.908, wet.y.iat[0]],
            "floor_area_m2": [*demo["floor_area_m2"], 1500.0, 1500.0],
        }
    )
    path = tmp_path / "vacant.csv"
    rows.to_csv(path, index=False)
    return path


def test_plan_own_candidates_screened_as_propose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--candidates PATH: a building in another city or in the river is left out with a
    warning naming it (as `siting propose` does); none left is an error."""
    path = _vacant_with_far_and_wet(tmp_path)
    out = tmp_path / "plan"
    argv = ["plan", "--candidates", str(path), "--start-year", "2027", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: vacant.csv: left out 1 more than 200 m outside the district (BJ1:" in err
    assert "1 in water (W1)" in err
    details = " ".join(pd.read_csv(out / "plan.csv")["detail"].astype(str))
    assert "BJ1" not in details and "W1" not in details
    only_bad = _vacant_with_far_and_wet(tmp_path, keep_demo=False)
    assert main(["plan", "--candidates", str(only_bad), "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "error: vacant.csv: geometry: no candidate lies inside the district on land" in err
    assert "BJ1" in err and "W1" in err


def test_plan_prints_sites_added_by_splits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo plan splits overloaded stations (new stations still to be placed) and merges
    one: stdout says how many sites each adds or retires, Chinese first, then English."""
    out = tmp_path / "plan"
    assert main(["plan", "--start-year", "2027", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    plan = pd.read_csv(out / "plan.csv")
    split = plan[plan["action"] == "split"]
    assert len(split) > 0, "the demo has overloaded stations"
    k = int(split["new_sites"].sum())
    lines = text.splitlines()
    zh = next(i for i, line in enumerate(lines) if line.startswith(f"分设新站 {k} 个"))
    en = lines[zh + 1]
    assert en.startswith(f"{k} new station")
    assert all(f"{r.site_id}: {r.new_sites} in {r.calendar_year}" in en for r in split.itertuples())
    years = pd.read_csv(out / "plan_years.csv")
    n_merged = int((plan["action"] == "merge").sum())
    now = int(years["sites_total"].iat[-1]) - k + n_merged
    assert en.endswith(f"sites counted: {now} now, {years['sites_total'].iat[-1]} by 2029.")
