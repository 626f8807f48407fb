"""Friction found in the browser trial: raw numbers in tables, the thresholds table (order,
"Infinity"), shapefiles uploaded as their parts, English column headers in the Chinese UI."""

from __future__ import annotations

import io
import json
import math
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from siting import settings
from siting._errors import InputError
from tests._apptest import APP, DEMO, needs_demo
from tests._apptest import start_app as _app


def _config(frame_element) -> dict:
    return json.loads(frame_element.proto.columns)


# ----------------------------------------------------------------------------- 1 number formats
def test_column_format_people_yuan_shares() -> None:
    from siting.ui.common import column_format

    f8 = np.dtype(float)
    assert column_format("population_covered", f8) == "%,.0f"
    assert column_format("population", np.dtype(np.int64)) == "%,.0f"
    assert column_format("capacity_residents", f8) == "%,.0f"
    assert column_format("max_population", f8) == "%,.0f"
    assert column_format("required_funding_yuan", f8) == "%,.0f"
    for share in ("coverage_rate", "covered_share", "compliance_rate", "ground_floor_share"):
        assert column_format(share, f8) == "percent", share
    assert column_format("coverage_rate", np.dtype(object)) is None  # text: left alone
    assert column_format("overloaded", np.dtype(bool)) is None
    assert column_format("floor_area_m2", f8) is None


@needs_demo
def test_street_table_shows_people_and_percentages_data_unchanged() -> None:
    from siting import pipeline

    at = _app()
    at.switch_page("page_compliance.py").run()
    assert not at.exception, [e.value for e in at.exception]
    streets = next(d for d in at.dataframe if "population_covered" in d.value.columns)
    cfg = _config(streets)
    assert cfg["population_covered"]["type_config"]["format"] == "%,.0f"
    assert cfg["population_covered"]["label"] == "覆盖人口"
    assert cfg["coverage_rate"]["type_config"]["format"] == "percent"
    sites = next(d for d in at.dataframe if "reasons" in d.value.columns)
    assert _config(sites)["population_served"]["type_config"]["format"] == "%,.0f"
    assert _config(sites)["ground_floor_share"]["type_config"]["format"] == "percent"
    # the data behind the display keeps its decimals (the workbooks are written from it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = pipeline.load_inputs()
        ev = pipeline.evaluate_inputs(
            inputs, pipeline.load_network(inputs.roads, inputs.communities)
        )
    shown = streets.value.set_index("street")
    direct = ev.streets.set_index("street")
    pd.testing.assert_series_equal(
        shown["population_covered"], direct["population_covered"], check_names=False
    )
    assert (shown["population_covered"] % 1 != 0).any()  # not rounded in the data


# ----------------------------------------------------------------------------- 2 thresholds
def test_thresholds_text_and_parse() -> None:
    from siting.standards import load_standard
    from siting.ui.thresholds import (
        NO_LIMIT,
        order_levels,
        overrides_from,
        parse_value,
        shown_values,
    )

    wide = pd.DataFrame(
        {"service_radius_m": [300.0, 500.0, 1000.0], "max_population": [3000.0, 25000.0, math.inf]},
        index=["point", "station", "district_center"],
    )
    wide = order_levels(wide)
    assert list(wide.index) == ["district_center", "station", "point"]
    shown, text_cols = shown_values(wide)
    assert text_cols == ["max_population"]
    assert list(shown["max_population"]) == [NO_LIMIT, "25000", "3000"]
    assert shown["service_radius_m"].dtype == float
    assert parse_value(NO_LIMIT) == math.inf and parse_value("no limit") == math.inf
    assert parse_value("1,500") == 1500.0 and parse_value("x") is None and parse_value("") is None

    base = load_standard(settings.DEFAULT_STANDARD)
    full = pd.DataFrame(
        {
            "max_population": [
                base.level(lv).max_population for lv in ("district_center", "station")
            ]
        },
        index=["district_center", "station"],
    )
    text, _ = shown_values(full)
    assert overrides_from(text, base, {}) == ({}, [])  # unchanged: no override
    text.loc["district_center", "max_population"] = "50000"
    text.loc["station", "max_population"] = "many"
    got, bad = overrides_from(text, base, {"station_max_population": 9000.0})
    assert got == {"district_center_max_population": 50000.0, "station_max_population": 9000.0}
    assert bad == ["station_max_population"]


def _edit(at, editor, row: int, column: str, value) -> None:
    """Edit one cell of an ``st.data_editor`` (as the browser sends it) and rerun."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    ws = at._tree.get_widget_states()
    state = WidgetState(id=editor.proto.id)
    state.string_value = json.dumps(
        {"edited_rows": {str(row): {column: value}}, "added_rows": [], "deleted_rows": []}
    )
    ws.widgets.append(state)
    at._run(ws)
    assert not at.exception, [e.value for e in at.exception]


@needs_demo
def test_threshold_table_order_no_limit_and_edit_reaches_evaluation() -> None:
    from siting.schema import LEVEL_LABELS_ZH, LEVELS
    from siting.ui.thresholds import NO_LIMIT

    at = _app()
    at.switch_page("page_data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    editor = next(d for d in at.dataframe if "最大服务人口" in d.value.columns)
    frame = editor.value
    assert list(frame.index) == [LEVEL_LABELS_ZH[lv] for lv in LEVELS]  # 区级, 街镇, 站, 点
    assert frame.loc[LEVEL_LABELS_ZH["district_center"], "最大服务人口"] == NO_LIMIT
    assert "Infinity" not in frame.astype(str).to_string()
    row = list(LEVELS).index("district_center")
    _edit(at, editor, row, "最大服务人口", "50000")
    assert at.session_state["cfg"]["overrides"] == {"district_center_max_population": 50000.0}
    at.switch_page("page_compliance.py").run()
    assert not at.exception, [e.value for e in at.exception]
    sites = next(d.value for d in at.dataframe if "reasons" in d.value.columns)
    district = sites[sites["level"] == "district_center"]
    assert len(district) and (district["max_population"] == 50000.0).all()


# ----------------------------------------------------------------------------- 3 shapefile parts
def _shapefile_parts(tmp_path: Path, stem: str = "社区") -> dict[str, bytes]:
    comm = gpd.read_file(DEMO / "communities.gpkg", engine="pyogrio")
    comm = comm.rename(columns={"households": "户数", "party_members": "党员数"})
    comm.to_file(tmp_path / f"{stem}.shp", engine="pyogrio", encoding="utf-8")
    return {p.suffix[1:]: p.read_bytes() for p in tmp_path.glob(f"{stem}.*")}


def test_combine_shapefile_zips_parts_and_names_missing_ones() -> None:
    from siting.ui.uploads import combine_shapefile

    assert combine_shapefile([("a.gpkg", b"x")]) == ("a.gpkg", b"x", "a.gpkg")
    assert combine_shapefile([("a.shp", b"x")]) == ("a.shp", b"x", "a.shp")  # as before
    name, data, shown = combine_shapefile(
        [("c.shp", b"1"), ("c.dbf", b"2"), ("c.shx", b"3"), ("c.prj", b"4")]
    )
    assert (name, shown) == ("c.zip", "c.shp")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["c.dbf", "c.prj", "c.shp", "c.shx"]
        assert zf.read("c.dbf") == b"2"
    with pytest.raises(InputError) as err:
        combine_shapefile([("c.shp", b"1"), ("c.prj", b"4")])
    assert ".dbf, .shx" in err.value.problems[0].what
    with pytest.raises(InputError, match="different names"):
        combine_shapefile([("c.shp", b"1"), ("d.dbf", b"2"), ("c.shx", b"3")])
    with pytest.raises(InputError, match="not the parts of one shapefile"):
        combine_shapefile([("c.gpkg", b"1"), ("d.csv", b"2")])


@needs_demo
def test_shapefile_parts_upload_loads_like_the_gpkg(tmp_path: Path) -> None:
    from siting import pipeline

    parts = _shapefile_parts(tmp_path)
    at = _app()
    at.switch_page("page_data.py").run()
    box = at.file_uploader(key="up_communities")
    assert box.accept_multiple_files and ".dbf" in box.allowed_type
    box.set_value([(f"社区.{e}", parts[e], "application/octet-stream") for e in parts])
    at.file_uploader(key="up_sites").set_value(
        ("站点.gpkg", (DEMO / "sites.gpkg").read_bytes(), "application/octet-stream")
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e for e in at.error], [e.value for e in at.error]
    assert at.session_state["cfg"]["files"]["communities"]["name"] == "社区.shp"
    assert any("✔ 社区.shp" in c.value for c in at.caption)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = len(pipeline.load_inputs(DEMO / "communities.gpkg", DEMO / "sites.gpkg").communities)
    assert any(f"已载入 {n} 个社区" in s.value for s in at.success), [s.value for s in at.success]

    # the parts without the attribute table: a problem naming the missing parts
    box = at.file_uploader(key="up_communities")
    box.set_value([(f"社区.{e}", parts[e], "application/octet-stream") for e in ("shp", "prj")])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    problems = next(d.value for d in at.dataframe if "问题" in " ".join(map(str, d.value.columns)))
    assert ".dbf, .shx" in " ".join(problems.astype(str).to_numpy().ravel())


@needs_demo
def test_lone_shp_still_says_the_dbf_is_missing(tmp_path: Path) -> None:
    parts = _shapefile_parts(tmp_path)
    at = _app()
    at.switch_page("page_data.py").run()
    at.file_uploader(key="up_communities").set_value(
        ("社区.shp", parts["shp"], "application/octet-stream")
    )
    at.file_uploader(key="up_sites").set_value(
        ("站点.gpkg", (DEMO / "sites.gpkg").read_bytes(), "application/octet-stream")
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(
        " ".join(d.value.astype(str).to_numpy().ravel()) for d in at.dataframe if len(d.value)
    )
    assert "社区.dbf is missing" in text


# ----------------------------------------------------------------------------- 4 headers
@needs_demo
def test_proposal_and_plan_headers_in_the_session_language() -> None:
    at = _app()
    at.switch_page("page_proposals.py").run()
    next(c for c in at.checkbox if c.label == "按建筑面积限定服务人口").check().run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d for d in at.dataframe if "capacity_residents" in d.value.columns)
    cfg = _config(table)
    assert cfg["capacity_residents"]["label"] == "可服务人口(按面积)"
    assert cfg["capacity_residents"]["type_config"]["format"] == "%,.0f"
    if "action" in table.value.columns:
        assert cfg["action"]["label"] == "措施"

    at.switch_page("page_compliance.py").run()
    next(b for b in at.button if b.label == "计算提升计划").click().run()
    assert not at.exception, [e.value for e in at.exception]
    years = next(d for d in at.dataframe if "upgrades" in d.value.columns)
    actions = next(d for d in at.dataframe if "action_zh" in d.value.columns)
    assert _config(years)["upgrades"]["label"] == "改造站点数"
    assert _config(years)["scheduled_cost_yuan"]["label"] == "其中已排期费用(元)"
    assert _config(years)["scheduled_cost_yuan"]["type_config"]["format"] == "%,.0f"
    assert _config(actions)["action"]["label"] == "改造方式(代码)"

    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception, [e.value for e in at.exception]
    years = next(d for d in at.dataframe if "upgrades" in d.value.columns)
    assert _config(years)["upgrades"]["label"] == "Upgrades"
    assert _config(years)["scheduled_cost_yuan"]["label"] == "Of which already scheduled (yuan)"


@needs_demo
def test_scenario_list_shows_rates_as_percentages(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SITING_STORE", str(tmp_path / "scen.sqlite"))
    at = _app()
    at.switch_page("page_scenarios.py").run()
    at.text_input(key="scen_name").input("示例")
    at.button[0].click().run()  # the form's save button
    assert not at.exception, [e.value for e in at.exception]
    listed = next(d for d in at.dataframe if "coverage_rate" in d.value.columns)
    cfg = _config(listed)
    assert cfg["coverage_rate"]["type_config"]["format"] == "percent"
    assert cfg["compliance_rate"]["type_config"]["format"] == "percent"
    assert 0 < float(listed.value["coverage_rate"].iloc[0]) < 1  # the stored share, unchanged


def test_figure_text() -> None:
    from siting.ui.common import figure_text

    assert figure_text("coverage_rate", 0.7512) == "75.1%"
    assert figure_text("summary.compliance_rate", -0.05, difference=True) == "-5.0 pp"
    assert figure_text("population_covered", 103065.4361) == "103,065"
    assert figure_text("population_covered", 1500.6, difference=True) == "+1,501"
    assert figure_text("sites_total", 12) == "12"
    assert figure_text("standard", "shanghai") == "shanghai"
    assert figure_text("coverage_rate", None) == "" and figure_text("x", float("nan")) == ""


@needs_demo
def test_scenario_compare_shows_percentages(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SITING_STORE", str(tmp_path / "scen.sqlite"))
    at = _app()
    at.switch_page("page_scenarios.py").run()
    at.text_input(key="scen_name").input("五百")
    at.button[0].click().run()
    at.session_state["cfg"]["overrides"] = {"station_service_radius_m": 300.0}
    at.text_input(key="scen_name").input("三百")
    at.button[0].click().run()
    at.selectbox(key="scen_a").set_value("五百")
    at.selectbox(key="scen_b").set_value("三百")
    at.button(key="scen_compare_btn").click().run()
    assert not at.exception, [e.value for e in at.exception]
    diff = at.dataframe[-1].value.set_index("item")
    assert str(diff.loc["coverage_rate", "a"]).endswith("%")
    assert str(diff.loc["coverage_rate", "difference"]).endswith(" pp")


@needs_demo
def test_threshold_table_in_english_warns_of_unreadable_cells(monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from siting.schema import LEVELS
    from siting.ui import i18n
    from siting.ui.thresholds import NO_LIMIT

    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lang"] = "en"  # from the start (the radios' options change with it)
    # the test thread formats the radios' values too, with no session: English there as well
    monkeypatch.setattr(i18n, "lang", lambda: "en")
    at.run()
    at.switch_page("page_data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    col = "Max population served"
    editor = next(d for d in at.dataframe if col in d.value.columns)
    assert list(editor.value.index) == ["district center", "street center", "station", "point"]
    assert editor.value.iloc[0][col] == NO_LIMIT
    _edit(at, editor, list(LEVELS).index("station"), col, "many")
    assert any("not numbers" in w.value and "station_max_population" in w.value for w in at.warning)
    assert at.session_state["cfg"]["overrides"] == {}
