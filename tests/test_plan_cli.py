"""`siting plan` on the bundled demo: outputs, messages, stdout kept clean."""

from __future__ import annotations

import json
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
