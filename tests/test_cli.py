"""The ``siting`` command end to end on the bundled demo: every subcommand, its files, and that
the CLI's figures equal the engine's (so the app, the CLI and the report agree)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from siting import pipeline
from siting.cli import main


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def demo_eval(tmp_path_factory: pytest.TempPathFactory):
    """The demo evaluated through the pipeline (the reference for the CLI's figures)."""
    import os

    os.environ.setdefault("SITING_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    inputs = pipeline.load_inputs()
    network = pipeline.load_network(inputs.roads, inputs.communities)
    return inputs, network, pipeline.evaluate_inputs(inputs, network)


@pytest.fixture(scope="module")
def evaluate_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evaluate")
    assert main(["evaluate", "--out", str(out)]) == 0
    return out


def test_evaluate_writes_every_output(evaluate_out: Path) -> None:
    names = {p.name for p in evaluate_out.iterdir()}
    assert names >= {
        "summary.json",
        "sites.csv",
        "communities.csv",
        "streets.csv",
        "gaps.geojson",
        "report.xlsx",
        "map.html",
    }
    assert not [n for n in names if n.endswith(".tmp")]


def test_evaluate_summary_equals_the_engine(evaluate_out: Path, demo_eval) -> None:
    inputs, _, ev = demo_eval
    s = json.loads((evaluate_out / "summary.json").read_text(encoding="utf-8"))
    for key in (
        "population_total",
        "population_covered",
        "coverage_rate",
        "sites_total",
        "sites_compliant",
        "compliance_rate",
    ):
        assert s[key] == pytest.approx(ev.summary[key], rel=1e-9), key
    assert s["distance_mode"] == "network"
    assert s["population_total"] == pytest.approx(inputs.communities["population"].sum())
    assert 0 < s["coverage_rate"] < 1 and 0 < s["compliance_rate"] < 1
    # compliance counts the levels with an area standard, not the points
    assert s["compliance_levels"] == ["district_center", "street_center", "station"]
    assert s["sites_total"] == sum(
        s["by_level"][lv]["sites_total"] for lv in s["compliance_levels"]
    )
    assert set(s["by_street"]) == set(inputs.communities["street"])


def test_evaluate_tables(evaluate_out: Path, demo_eval) -> None:
    _, _, ev = demo_eval
    sites = pd.read_csv(evaluate_out / "sites.csv", encoding="utf-8-sig")
    for col in (
        "site_id",
        "name",
        "level",
        "floor_area_m2",
        "ground_floor_area_m2",
        "compliant",
        "reasons",
        "population_served",
        "population_in_radius",
    ):
        assert col in sites.columns
    assert len(sites) == len(ev.sites)
    # WGS-84 coordinates, so a reader can check where each site is
    back = gpd.GeoSeries(gpd.points_from_xy(sites["lon"], sites["lat"]), crs=4326)
    assert back.to_crs(ev.sites.crs).distance(ev.sites.geometry.reset_index(drop=True)).max() < 0.5
    bad = sites[~sites["compliant"]]
    assert len(bad) and bad["reasons"].str.len().gt(0).all()  # every failing site says why
    comm = pd.read_csv(evaluate_out / "communities.csv", encoding="utf-8-sig")
    for col in (
        "community_id",
        "name",
        "population",
        "nearest_site_id",
        "nearest_site_distance_m",
        "covered_share",
    ):
        assert col in comm.columns
    assert comm["covered_share"].between(0, 1).all()
    gaps = gpd.read_file(evaluate_out / "gaps.geojson")
    assert gaps.crs.to_epsg() == 4326 and len(gaps) == len(ev.gaps)


def test_evaluate_workbook_and_map(evaluate_out: Path) -> None:
    wb = openpyxl.load_workbook(evaluate_out / "report.xlsx", read_only=True)
    assert {"汇总", "站点", "社区", "街镇"} <= set(wb.sheetnames)
    header = [c.value for c in next(wb["站点"].iter_rows(max_row=1))]
    assert "建筑面积(m²)" in header
    html = (evaluate_out / "map.html").read_text(encoding="utf-8")
    for text in ("社区覆盖率", "达标", "服务范围"):  # in HTML or as JSON escapes in the script
        assert text in html or json.dumps(text)[1:-1] in html, text
    assert "cdn.jsdelivr.net/npm/leaflet" not in html  # Leaflet inlined: works offline


def test_propose_on_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p"
    assert main(["propose", "--p", "3", "--candidates", "auto", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["status"] == "optimal" and s["new_stations"] == 3
    assert s["coverage_rate_after"] > s["coverage_rate_before"]
    props = gpd.read_file(out / "proposals.geojson")
    assert len(props) == 3 and (props["population_added"] > 0).all()
    assert (out / "map.html").exists()
    assert "coverage" in capsys.readouterr().out


def test_plan_on_demo_meets_targets(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    assert main(["plan", "--start-year", "2027", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    years = s["years"]
    assert [y["target_rate"] for y in years] == [0.6, 0.8, 1.0]
    assert all(y["met"] for y in years)
    assert [y["calendar_year"] for y in years] == [2027, 2028, 2029]
    for name in ("plan.csv", "plan.xlsx", "plan.png"):
        assert (out / name).stat().st_size > 0


def test_plan_budget_shortfall_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan"
    assert main(["plan", "--budget", "1000000", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert not s["feasible_within_budget"]
    assert s["budget_needed_yuan"] > 1_000_000
    assert "NOT met" in capsys.readouterr().out


def test_estate_on_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "e"
    assert main(["estate", "--out", str(out)]) == 0
    res = json.loads((out / "estate.json").read_text(encoding="utf-8"))
    # the demo developer offers 650 m2 with 200 m2 on the ground floor for 2,400 households
    assert res["required_floor_area_m2"] == pytest.approx(1000.0)
    assert res["required_by_households_m2"] == pytest.approx(720.0)
    assert res["passed"] is False
    assert any("650" in r for r in res["reasons"])
    assert len(res["suggested"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_scenarios_save_list_compare_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s.sqlite")
    assert (
        main(
            [
                "evaluate",
                "--roads",
                "none",
                "--out",
                str(tmp_path / "a"),
                "--save",
                "now",
                "--store",
                store,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--roads",
                "none",
                "--standard",
                "gb50180",
                "--out",
                str(tmp_path / "b"),
                "--save",
                "gb",
                "--store",
                store,
            ]
        )
        == 0
    )
    # re-saving without --description keeps the description; a new one replaces it
    base = ["evaluate", "--roads", "none", "--out", str(tmp_path / "a"), "--store", store]
    assert main([*base, "--save", "now", "--description", "现状 2026"]) == 0
    assert main([*base, "--save", "now"]) == 0
    capsys.readouterr()
    assert main(["scenario", "show", "now", "--store", store]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["version"], shown["description"]) == (3, "现状 2026")
    capsys.readouterr()
    assert main(["scenario", "list", "--store", store]) == 0
    listed = capsys.readouterr().out
    assert "now" in listed and "gb" in listed
    assert main(["scenario", "compare", "now", "gb", "--store", store]) == 0
    cmp = capsys.readouterr().out
    assert "coverage_rate" in cmp and "gb50180" in cmp
    assert main(["scenario", "delete", "gb", "--store", store]) == 0
    assert main(["scenario", "show", "gb", "--store", store]) == 2
    assert "error:" in capsys.readouterr().err


def test_straight_line_mode_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--roads", "none", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "euclidean" in captured.out
    assert "straight-line" in captured.err
    s = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert s["distance_mode"] == "euclidean"
    # the headline says what the site count counts ("sites 26" read as all 30 sites)
    n, points = s["sites_total"], s["sites_all_levels"] - s["sites_total"]
    assert points > 0  # the demo has service points
    head = captured.out.splitlines()
    assert head[0].startswith(
        f"communities {s['communities_total']}, sites {n} centres and stations (+{points} points"
    )
    assert f"({s['sites_compliant']}/{n} centres and stations)" in head[1]


def test_sites_text_counts() -> None:
    from siting.cli import _sites_text

    s = {"sites_total": 26, "sites_all_levels": 30, "sites_planned": 0}
    assert _sites_text(s) == "sites 26 centres and stations (+4 points)"
    s = {"sites_total": 5, "sites_all_levels": 6, "sites_planned": 2}
    assert _sites_text(s) == "sites 5 centres and stations (+1 point, +2 planned)"
    assert _sites_text({"sites_total": 3, "sites_all_levels": 3}) == (
        "sites 3 centres and stations"
    )


def test_closed_stdout_is_quiet(tmp_path: Path) -> None:
    """`siting scenario list | head -1` gave a BrokenPipeError traceback: now nothing on
    stderr and exit 141 (128 + SIGPIPE, as a shell reports a tool the closed pipe stopped)."""
    import os

    from siting.cli import EXIT_BROKEN_PIPE

    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line is written
    env = {**os.environ, "SITING_STORE": str(tmp_path / "s.sqlite")}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "siting", "scenario", "list"],
            stdout=write,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == EXIT_BROKEN_PIPE == 141


def test_estate_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["estate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--standard NAME|PATH standards profile" in text
    assert "--out DIR output folder for estate.json and map.html (default: out/estate)" in text


def test_estate_suggestion_in_the_users_coordinates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --coords gcj02 the suggestion was printed in WGS-84 without saying so (~500 m off
    in AMap): now in GCJ-02 first, and the WGS-84 line labelled."""
    import re

    from siting.coords import wgs84_to_gcj02

    assert main(["estate", "--coords", "gcj02", "--roads", "none", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out

    def where(label: str) -> tuple[float, float]:
        m = re.search(rf"suggested location \(lon, lat; {label}[^)]*\): ([\d.]+)E ([\d.]+)N", out)
        assert m, out
        return float(m.group(1)), float(m.group(2))

    gx, gy = where("GCJ-02")
    wx, wy = where("WGS-84")
    ex, ey = wgs84_to_gcj02(wx, wy)
    assert (gx, gy) == pytest.approx((float(ex), float(ey)), abs=2e-6)
    assert abs(gx - wx) > 1e-3  # the shift is real (hundreds of metres)
    assert "as your input --coords gcj02" in out
    # WGS-84 input: one line, labelled
    from siting.cli import _location_lines

    assert _location_lines("x", 121.5, 31.2, "wgs84") == [
        "x (lon, lat; WGS-84): 121.500000E 31.200000N"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--communities", "nope.gpkg", "--sites", "nope.csv"], "file not found"),
        (["evaluate", "--communities", "x.gpkg"], "only one of --communities and --sites"),
        (["plan", "--targets", "0.6,abc,1"], "not a list of numbers"),
        (["plan", "--targets", "0.9,0.8,1.0"], "do not decrease"),
        (
            ["propose", "--p", "0", "--roads", "none", "--candidates", "data/demo/candidates.gpkg"],
            "must be >= 1",
        ),
        (["estate", "--households", "-5", "--roads", "none"], "positive number"),
        (["scenario", "show"], "takes 1 name"),
        (["evaluate", "--spacing", "0"], "--spacing: 0.0: must be a positive number"),
        (["propose", "--time-limit", "-1"], "--time-limit: -1.0: must be a positive number"),
        (["evaluate", "--save", " "], "a scenario needs a name"),
        (["plan", "--start-year", "26"], "is not a calendar year"),
        (["plan", "--max-enlarge", "-1"], "--max-enlarge: -1.0: must be a number >= 0"),
        (["plan", "--cost-new", "inf"], "--cost-new: inf: must be a number >= 0"),
        (
            [
                "propose",
                "--p",
                "500",
                "--roads",
                "none",
                "--candidates",
                "data/demo/candidates.gpkg",
            ],
            "only 52 candidate locations",
        ),
    ],
)
def test_user_mistakes_exit_2(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("SITING_STORE", str(tmp_path / "store.sqlite"))
    code = main([*argv, "--out", str(tmp_path / "o")] if argv[0] != "scenario" else argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") or "\nerror: " in err
    assert message in err
    assert "Traceback" not in err


def test_out_must_be_a_writable_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "taken.csv"
    afile.write_text("x", encoding="utf-8")
    assert main(["evaluate", "--roads", "none", "--out", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a file, not a folder" in err and "Traceback" not in err
    assert afile.read_text(encoding="utf-8") == "x"  # nothing the user saved is touched


def test_python_dash_m_and_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "siting", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    for cmd in ("evaluate", "map", "demo", "propose", "plan", "estate", "scenario"):
        assert cmd in proc.stdout


def test_sites_coords_applies_to_the_sites_only(tmp_path: Path) -> None:
    from siting import coords
    from siting.pipeline import demo_paths

    d = demo_paths()
    table = pd.read_csv(d["sites"].with_suffix(".csv"))
    lon, lat = coords.wgs84_to_gcj02(table["经度"].to_numpy(), table["纬度"].to_numpy())
    gcj = tmp_path / "sites_gcj.csv"
    table.assign(经度=lon, 纬度=lat).to_csv(gcj, index=False)
    a = pipeline.load_inputs(d["communities"], d["sites"], roads="none")
    b = pipeline.load_inputs(d["communities"], gcj, roads="none", sites_coords="gcj02")
    assert (a.communities.geometry.geom_equals_exact(b.communities.geometry, 1e-6)).all()
    assert a.sites.distance(b.sites).max() < 0.05  # metres
    assert list(a.sites["community_id"]) == list(b.sites["community_id"])
