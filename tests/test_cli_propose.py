"""`siting propose` on the demo: what it prints and writes for a planner's own candidates file."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siting import pipeline
from siting.cli import _propose_lines, main

DEMO = pipeline.demo_paths()
needs_demo = pytest.mark.skipif(not DEMO["candidates"].exists(), reason="demo data missing")


@needs_demo
def test_own_candidates_far_point_named_and_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = gpd.read_file(DEMO["candidates"]).to_crs(4326).head(6)
    rows = pd.DataFrame(
        {
            "id": [*list(demo["id"]), "BJ1"],
            "name": [*list(demo["name"]), "北京的点"],
            "lon": [*list(demo.geometry.x), 116.397],
            "lat": [*list(demo.geometry.y), 39.908],
        }
    )
    path = tmp_path / "vacant.csv"
    rows.to_csv(path, index=False)
    out = tmp_path / "p"
    code = main(["propose", "--p", "2", "--candidates", str(path), "--out", str(out)])
    assert code == 0
    cap = capsys.readouterr()
    assert "warning: vacant.csv: left out 1 more than 200 m outside the district (BJ1:" in cap.err
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["candidates"] == 6
    props = gpd.read_file(out / "proposals.geojson")
    assert "BJ1" not in set(props["id"])
    assert f"within {s['radius_m']:,.0f} m of a station:" in cap.out
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "Proposed stations: MCLP" in html


def test_printed_lines_explain_gap_shortfall_and_unreachable() -> None:
    s = {
        "model": "mclp",
        "radius_m": 500.0,
        "capacity": False,
        "solve_time_s": 1.25,
        "coverage_rate_before": 0.5,
        "coverage_rate_after": 0.6,
        "distance_mode": "network",
        "coverage_rate_within_radius_before": 0.5,
        "coverage_rate_within_radius_after": 0.62,
        "population_reached_by_model": 1234.0,
        "population_unreachable": 800.0,
        "new_stations_asked": 30,
        "new_stations": 25,
    }
    stations = pd.DataFrame(
        {
            "rank": range(1, 26),
            "id": [f"K{i}" for i in range(25)],
            "name": "x",
            "action": "new",
            "population_added": 10.0,
        }
    )
    lines = _propose_lines(s, stations, "best within --time-limit 60 s, at most 1.50% ...")
    text = "\n".join(lines)
    assert lines[0].startswith("mclp: best within --time-limit 60 s, at most 1.50%")
    assert "within 500 m of a station: 50.0% -> 62.0%" in text
    assert "800 residents are beyond 500 m of every candidate" in text
    assert "25 of the 30 stations asked" in text
    assert "  20. K19 x [new] +10 residents" in text
    assert "K20" not in text and "... and 5 more (all in proposals.geojson)" in text
    assert "built to the station standard" in text


@needs_demo
def test_unknown_gap_is_said_and_json_stays_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import siting.locate as locate

    real = locate.mclp

    def no_bound(*args, **kwargs):  # an answer without a proven bound
        return dataclasses.replace(real(*args, **kwargs), status="feasible", gap=float("inf"))

    monkeypatch.setattr(locate, "mclp", no_bound)
    out = tmp_path / "p"
    assert main(["propose", "--p", "2", "--candidates", "auto", "--out", str(out)]) == 0
    text = (out / "summary.json").read_text(encoding="utf-8")
    s = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert s["status"] == "feasible" and s["gap"] is None
    assert "distance to the optimum unknown" in capsys.readouterr().out


def test_printed_lines_with_capacity_and_walk() -> None:
    s = {
        "model": "pmedian",
        "radius_m": 500.0,
        "capacity": True,
        "solve_time_s": 2.0,
        "coverage_rate_before": 0.5,
        "coverage_rate_after": 0.7,
        "distance_mode": "network",
        "coverage_rate_within_radius_before": 0.5,
        "coverage_rate_within_radius_after": 0.7,
        "coverage_rate_after_within_capacity": 0.55,
        "mean_walk_m": 412.4,
        "new_stations_asked": 1,
        "new_stations": 1,
    }
    stations = pd.DataFrame(
        {"rank": [1], "id": ["K1"], "name": "x", "action": "new", "population_added": 873.0}
    )
    text = "\n".join(_propose_lines(s, stations, "proven optimal"))
    assert "coverage (each site's own service radius, ignoring capacity): 50.0% -> 70.0%" in text
    assert "coverage within the new stations' capacity: 50.0% -> 55.0%" in text
    assert "average walk to the assigned site: 412 m" in text
    assert "residents gained (within capacity):\n  1. K1 x [new] +873 residents" in text


@needs_demo
def test_own_candidate_in_the_demo_river_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shapely

    from siting.candidates import water_areas

    comm = gpd.read_file(DEMO["communities"])
    crs = comm.estimate_utm_crs()
    comm = comm.to_crs(crs)
    water = water_areas(None, crs, demo=True)
    assert len(water) > 0  # the demo's river
    near = shapely.intersection(
        shapely.union_all(water.values), shapely.union_all(comm.geometry.values).buffer(150)
    )
    wet = gpd.GeoSeries([near.representative_point()], crs=crs).to_crs(4326)
    demo = gpd.read_file(DEMO["candidates"]).to_crs(4326).head(4)
    rows = pd.DataFrame(
        {
            "id": [*demo["id"], "W1"],
            "name": [*demo["name"], "河中"],
            "lon": [*demo.geometry.x, wet.x.iat[0]],
            "lat": [*demo.geometry.y, wet.y.iat[0]],
        }
    )
    path = tmp_path / "vacant.csv"
    rows.to_csv(path, index=False)
    out = tmp_path / "p"
    assert main(["propose", "--p", "1", "--candidates", str(path), "--out", str(out)]) == 0
    assert "in water (W1)" in capsys.readouterr().err
    assert "W1" not in set(gpd.read_file(out / "proposals.geojson")["id"])
