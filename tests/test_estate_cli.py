"""``siting estate`` on the demo district: messages for bad estates and proposed sites, the
``--crs`` option, strict JSON, lon/lat order, advice on a nearby station, warnings first."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from siting.cli import main
from siting.pipeline import demo_paths


def _run(argv: list[str]) -> tuple[int, str]:
    """Exit code and stdout + stderr interleaved as a terminal shows them."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(argv)
    return code, buf.getvalue()


def _demo_estate() -> gpd.GeoDataFrame:
    return gpd.read_file(demo_paths()["estate"], engine="pyogrio")


def _no_nan(c: str) -> None:
    raise ValueError(f"bare {c} in JSON")


def test_unclosed_ring_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    ring = [[121.2663, 30.8836], [121.2656, 30.8870], [121.2611, 30.8864], [121.2617, 30.8830]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "E1", "households": 2400},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, text = _run(["estate", "--estate", str(path), "--roads", "none", "--out", str(tmp_path)])
    assert code == 2
    assert f"error: {path}: feature 1 (id=E1): geometry: a polygon ring is not closed" in text
    assert "Traceback" not in text


def test_estate_far_away_is_outside_the_district(tmp_path: Path) -> None:
    est = _demo_estate()
    # about 5 degrees of longitude west: some 480 km from the demo district
    est = est.set_geometry(est.geometry.translate(xoff=-5.0))
    path = tmp_path / "far.geojson"
    est.to_file(path, driver="GeoJSON")
    code, text = _run(["estate", "--estate", str(path), "--roads", "none", "--out", str(tmp_path)])
    assert code == 2
    m = re.search(rf"error: {re.escape(str(path))}: feature 1[^:]*: geometry: the estate lies "
                  r"outside the district, ([\d,.]+) km from its nearest community", text)  # fmt: skip
    assert m and 400 < float(m.group(1).replace(",", "")) < 600
    assert "suggested location" not in text


def _metres_estate(tmp_path: Path) -> Path:
    """The demo estate in UTM 51N metres, written without a CRS member (as the trial had it)."""
    est = _demo_estate().to_crs("EPSG:32651")
    ring = [list(c) for c in est.geometry.iat[0].exterior.coords]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"households": 2400},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = tmp_path / "metres.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_crs_is_not_applied_to_the_demo_district(tmp_path: Path) -> None:
    path = _metres_estate(tmp_path)
    argv = ["estate", "--estate", str(path), "--crs", "EPSG:32651", "--roads", "none"]
    code, text = _run([*argv, "--out", str(tmp_path / "o")])
    assert code == 0, text
    assert "communities.gpkg" not in text


def test_crs_is_not_applied_to_district_files_with_their_own(tmp_path: Path) -> None:
    p = demo_paths()
    path = _metres_estate(tmp_path)
    argv = ["estate", "--communities", str(p["communities"]), "--sites", str(p["sites"])]
    argv += ["--estate", str(path), "--crs", "EPSG:32651", "--roads", "none"]
    code, text = _run([*argv, "--out", str(tmp_path / "o")])
    assert code == 0, text
    assert "communities.gpkg" not in text and "sites.gpkg" not in text


def test_proposed_site_with_three_points_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cand.csv"
    path.write_text(
        "id,floor_area_m2,lon,lat\nB1,100,121.2876,30.8984\nB2,100,121.3039,30.8951\n"
        "B3,100,121.2892,30.9151\n",
        encoding="utf-8",
    )
    argv = ["estate", "--proposed-site", str(path), "--roads", "none"]
    code, text = _run([*argv, "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"error: {path}: geometry: holds 3 features, expected one proposed site" in text


def test_proposed_site_without_floor_area_names_file_and_feature(tmp_path: Path) -> None:
    site = gpd.GeoDataFrame(
        {"id": ["E1"], "ground_floor_area_m2": [200.0]},
        geometry=[shapely.Point(121.2659009, 30.8850185)],
        crs=4326,
    )
    path = tmp_path / "site.geojson"
    site.to_file(path, driver="GeoJSON")
    argv = ["estate", "--proposed-site", str(path), "--roads", "none"]
    code, text = _run([*argv, "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"error: {path}: feature 1 (id=E1): floor_area_m2: the proposed site has no" in text


def test_demo_with_csv_site(tmp_path: Path) -> None:
    # one point without a ground-floor area, on the demo's walking network
    path = tmp_path / "site.csv"
    path.write_text("id,floor_area_m2,lon,lat\nP1,1200,121.2659009,30.8850185\n", encoding="utf-8")
    out = tmp_path / "o"
    code, text = _run(["estate", "--proposed-site", str(path), "--out", str(out)])
    assert code == 0, text
    res = json.loads((out / "estate.json").read_text(encoding="utf-8"), parse_constant=_no_nan)
    assert res["proposed"]["ground_floor_area_m2"] is None
    # lon first: 121.x E, then 30.x N
    m = re.search(r"suggested location \(lon, lat; WGS-84\): (\d+\.\d+)E (\d+\.\d+)N", text)
    assert m and 120 < float(m.group(1)) < 123 and 30 < float(m.group(2)) < 32
    sug = res["suggested"][0]
    assert float(m.group(1)) == pytest.approx(sug["lon"], abs=1e-6)
    # the demo's undersized station S0094 (640 m2) lies next to the suggestion: named, with
    # its area and the advice to share or enlarge it
    (near,) = [s for s in res["nearby_sites"] if s["id"] == "S0094"]
    assert near["floor_area_m2"] == 640.0 and near["below_standard"] is True
    assert near["walk_m"] < 200
    assert "existing station S0094 (640 m2, below the 1,000 m2 standard)" in text


def test_warnings_come_before_the_results(tmp_path: Path) -> None:
    code, text = _run(["estate", "--roads", "none", "--out", str(tmp_path)])
    assert code == 0
    assert text.index("warning: no road network given") < text.index("households ")
    assert text.rstrip().splitlines()[-1].startswith("wrote estate.json, map.html")


def test_households_implausibly_many_warns_and_goes_on(tmp_path: Path) -> None:
    code, text = _run(["estate", "--households", "10000000", "--out", str(tmp_path)])
    assert code == 0, text
    warning = "warning: --households 10,000,000: more than 10,000 households for one estate"
    assert text.count(warning) == 1  # checked early and in the check: printed once
    assert text.index(warning) < text.index("households 10,000,000 (~")


def test_households_not_whole_is_an_error_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siting.cli as cli

    def no_load(*args, **kwargs):
        raise AssertionError("data loaded before --households was checked")

    monkeypatch.setattr(cli, "_load", no_load)
    code, text = _run(["estate", "--households", "2400.5", "--out", str(tmp_path)])
    assert code == 2
    assert (
        "error: --households: 2400.5: households must be a whole number - give the planned "
        "number of households of the estate, e.g. --households 2400"
    ) in text


def test_households_not_whole_in_the_estate_file_names_it(tmp_path: Path) -> None:
    est = _demo_estate().assign(id="E7", households=2400.5)
    path = tmp_path / "half.geojson"
    est.to_file(path, driver="GeoJSON")
    code, text = _run(["estate", "--estate", str(path), "--roads", "none", "--out", str(tmp_path)])
    assert code == 2
    assert f"error: {path}: feature 1 (id=E7): households: 2400.5: must be a whole number" in text
