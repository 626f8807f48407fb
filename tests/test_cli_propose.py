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
    # the count printed is the one solved, after the screening (it said 7 before)
    assert "demand points x 6 candidates ..." in cap.err
    assert "x 7 candidates" not in cap.err
    # the proposals as a table too: CSV and a workbook with a bilingual header
    table = pd.read_csv(out / "proposals.csv", encoding="utf-8-sig")
    assert table["id"].tolist() == props["id"].tolist()
    assert {"rank", "population_added", "lon_wgs84", "lat_wgs84"} <= set(table.columns)
    assert table["lon_wgs84"].to_numpy() == pytest.approx(props.geometry.x.to_numpy(), abs=1e-6)
    book = pd.read_excel(out / "proposals.xlsx")
    # one header row: the Chinese label over the column's name
    assert (
        "经度(WGS-84)\nlon_wgs84" in book.columns
        and "新增覆盖人口\npopulation_added" in book.columns
    )
    assert len(book) == len(table)
    assert "proposals.csv, proposals.xlsx" in cap.out
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


# --- a small district by hand: a street grid every 250 m over 3 km x 1 km, three 1 km squares,
# one existing station S in C1 (as in test_propose.py)
CRS = "EPSG:32651"


@pytest.fixture(scope="module")
def district():
    # 12,000 residents in 4,800 households: 2.5 a household (not the national 2.62)
    from tests._district import make_district

    return make_district(households=(2000.0, 1200.0, 1600.0))


def _propose(district, candidates=None, **kw):
    from siting.propose import propose

    net, comm, sites, cands, ev = district
    kw.setdefault("radius", 600.0)
    return propose(
        ev, net, cands if candidates is None else candidates, communities=comm, sites=sites, **kw
    )


def test_capacity_uses_the_districts_persons_per_household(district) -> None:
    """A 1,000 m2 station was given 1,000 / 30 x 100 x 2.62 = 8,733 residents whatever the
    district's households said; here they say 2.5 a household."""
    net, comm, sites, cands, ev = district
    x2 = cands.iloc[[1]].assign(floor_area_m2=600.0)
    res = _propose(district, model="mclp", p=1, capacity=True, candidates=x2)
    # X2, 600 m2: 600 / 30 m2 per 100 households = 2,000 households x 2.5 = 5,000 residents
    assert res.stations["capacity_residents"].tolist() == [5000.0]
    assert res.stations["population_served"].tolist() == pytest.approx([4000.0])  # C3
    s = res.summary
    assert s["persons_per_household"] == 2.5
    assert "2.50 persons per household (the district's own" in s["persons_per_household_source"]
    # without households the national 2.62 (5,240), and the summary says so
    from siting._errors import SitingWarning

    bare = (net, comm.assign(households=float("nan")), sites, cands, ev)
    with pytest.warns(SitingWarning, match=r"households \(户数\) unknown for 3 of 3"):
        res2 = _propose(bare, model="mclp", p=1, capacity=True, candidates=x2)
    assert res2.stations["capacity_residents"].tolist() == [5240.0]
    assert "national average" in res2.summary["persons_per_household_source"]
    lines = _propose_lines(s, res.stations, "proven optimal")
    assert any(
        line.startswith("capacity: ") and "2.50 persons per household" in line for line in lines
    )
    # the reach line names the radius it counts at (the per-station gains use each site's own)
    assert any(line.startswith("within 600 m (--radius) the new stations reach ") for line in lines)
    assert f"{len(res.stations)} new stations, residents gained (within capacity):" in lines
    plain = _propose(district, model="mclp", p=1)
    assert plain.summary["persons_per_household"] is None


def test_radius_beyond_a_walk_warns(district) -> None:
    from siting._errors import SitingWarning

    with pytest.warns(SitingWarning, match=r"--radius 50,000 m is beyond a plausible walk"):
        _propose(district, model="mclp", p=1, radius=50_000.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        _propose(district, model="mclp", p=1, radius=3000.0)  # at the limit: no warning


def test_candidates_on_existing_stations_are_left_out_and_named(district) -> None:
    import shapely

    from siting._errors import InputError, SitingWarning

    cands = district[3]
    # the sites file given as candidates: S itself, and a building 20 m from it
    on_site = gpd.GeoDataFrame(
        {
            "id": ["S", "B20"],
            "name": ["一社区站", "隔壁"],
            "source": ["file"] * 2,
            "floor_area_m2": [1200.0, 500.0],
            "ground_floor_area_m2": [float("nan")] * 2,
        },
        geometry=shapely.points([[500, 500], [520, 500]]),
        crs=CRS,
    )
    both = pd.concat([cands, on_site], ignore_index=True)
    with pytest.warns(SitingWarning) as rec:
        res = _propose(district, model="mclp", p=3, candidates=both, candidates_label="sites.csv")
    text = " ".join(str(w.message) for w in rec)
    assert "sites.csv: left out 2 candidate(s) within 30 m of an existing station" in text
    assert "S at S (0 m), B20 at S (20 m)" in text and "siting plan" in text
    assert not {"S", "B20"} & set(res.stations["id"])
    assert res.summary["candidates"] == 3
    # only existing sites given: an error, not a proposal of them as [new]
    with pytest.raises(InputError, match="every candidate lies on an existing site"):
        _propose(district, model="mclp", p=1, candidates=on_site, candidates_label="sites.csv")
    # 40 m away is a place of its own
    away = on_site.iloc[[1]].set_geometry(shapely.points([[540, 500]]), crs=CRS)
    assert _propose(district, model="mclp", p=1, candidates=away).summary["candidates"] == 1


def test_status_never_says_zero_percent_next_to_a_longer_time_limit() -> None:
    from siting.cli import _status_text

    # a 3e-8 gap is the solver's noise: optimal within tolerance, no advice to wait longer
    zh, en = _status_text("feasible", 3e-8, 10)
    assert "optimal within the solver's tolerance (proven gap 3e-08" in en
    assert "0.00%" not in en and "narrows" not in en and "容差" in zh
    # small but real gaps keep their digits
    assert "at most 0.005% from the optimum" in _status_text("feasible", 5e-5, 10)[1]
    assert "at most 1.23% from the optimum" in _status_text("feasible", 0.0123, 10)[1]
    assert _status_text("optimal", 0.0, 10)[1] == "proven optimal"


def test_proposals_table_in_the_users_coordinates(tmp_path: Path) -> None:
    import shapely

    from siting.coords import wgs84_to_gcj02
    from siting.propose import proposals_table, write_proposals

    st = gpd.GeoDataFrame(
        {"rank": [1], "id": ["K1"], "name": ["甲"], "population_added": [873.0]},
        geometry=[shapely.Point(121.47, 31.23)],
        crs=4326,
    ).to_crs(CRS)
    t = proposals_table(st, "gcj02")
    gx, gy = wgs84_to_gcj02(121.47, 31.23)
    assert t["lon_wgs84"].iat[0] == pytest.approx(121.47, abs=1e-6)
    assert (t["lon_gcj02"].iat[0], t["lat_gcj02"].iat[0]) == pytest.approx(
        (float(gx), float(gy)), abs=1e-6
    )
    assert "lon_gcj02" not in proposals_table(st, "wgs84")
    csv, xlsx = write_proposals(st, tmp_path, "gcj02")
    assert pd.read_csv(csv)["lat_gcj02"].iat[0] == pytest.approx(float(gy), abs=1e-6)
    import openpyxl

    header = [c.value for c in openpyxl.load_workbook(xlsx).worksheets[0][1]]
    assert any("经度(GCJ-02 高德)" in str(h) and "lon_gcj02" in str(h) for h in header)


def test_warnings_print_when_they_happen(monkeypatch) -> None:
    """A warning comes before the output it concerns (it used to come after everything)."""
    import io
    import sys

    from siting import cli
    from siting._errors import warn

    def command(args) -> int:  # type: ignore[no-untyped-def]
        warn("first")
        print("result line")
        warn("first")  # once
        return 0

    buf = io.StringIO()
    monkeypatch.setattr(cli, "cmd_scenario", command)
    monkeypatch.setattr(sys, "stdout", buf)
    monkeypatch.setattr(sys, "stderr", buf)
    assert cli.main(["scenario", "list"]) == 0
    text = buf.getvalue()
    assert text.index("warning: first") < text.index("result line")
    assert text.count("warning: first") == 1


def test_lscp_says_p_is_not_used(monkeypatch, capsys, tmp_path) -> None:
    from siting import cli
    from siting._errors import InputError

    def stop(args):  # type: ignore[no-untyped-def]
        raise InputError.one("", "", "--roads", "stop here", "-")

    monkeypatch.setattr(cli, "_load", stop)
    argv = ["propose", "--model", "lscp", "--p", "3", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "warning: --p 3 is not used by --model lscp" in err
    assert err.index("warning: --p 3") < err.index("error: ")
    assert cli.main(["propose", "--model", "lscp", "--out", str(tmp_path)]) == 2
    assert "--p" not in capsys.readouterr().err.split("error:")[0]
