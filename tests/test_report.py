"""Tests of siting.report: the evaluation workbook and the generic table writer."""

from __future__ import annotations

import math

import numpy as np
import openpyxl
import pandas as pd
import pytest
from _evalfixture import make_evaluation, make_real_evaluation
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from siting import report
from siting.report import SHEETS, write_evaluation_xlsx, write_table_xlsx
from siting.schema import LEVEL_LABELS_ZH


@pytest.fixture(scope="module")
def ev():
    return make_evaluation()


@pytest.fixture(scope="module")
def wb(ev, tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    write_evaluation_xlsx(ev, path)
    return openpyxl.load_workbook(path)


def table(ws) -> pd.DataFrame:
    """A data sheet back as a frame keyed by the canonical names of row 2."""
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[2:], columns=rows[1], dtype=object)


def test_sheets_and_headers(wb):
    assert wb.sheetnames == ["汇总", "站点", "社区", "街镇", "缺口", "三年目标"]
    assert list(SHEETS) == wb.sheetnames
    heads = {ws.title: [c.value for c in ws[1]] for ws in wb}
    assert heads["站点"][:8] == ["站点编号", "名称", "层级", "状态", "建筑面积(m²)",
                               "一层面积(m²)", "一层面积占比", "是否达标"]  # fmt: skip
    assert "不达标原因" in heads["站点"] and "服务人口" in heads["站点"]
    assert {"社区编号", "覆盖率(站及以上)", "最近站点距离(m)", "缺什么"} <= set(heads["社区"])
    assert {"街镇", "覆盖率", "达标率"} <= set(heads["街镇"])
    assert {"未覆盖人口", "涉及社区", "排名"} <= set(heads["缺口"])
    assert {"年度", "目标达标率", "是否达到目标"} <= set(heads["三年目标"])
    for ws in wb:
        keys = [c.value for c in ws[2]]
        assert "geometry" not in keys
        assert ws.freeze_panes == "A3"
    assert [c.value for c in wb["站点"][2]][:3] == ["site_id", "name", "level"]
    assert wb["站点"].auto_filter.ref == "A2:U5"


def test_values_equal_frames(wb, ev):
    sites = table(wb["站点"])
    expect = ev.sites.drop(columns="geometry").reset_index(drop=True)
    for col in ("floor_area_m2", "ground_floor_share", "population_served", "shortfall_m2"):
        assert sites[col].tolist() == pytest.approx(expect[col].tolist())
    assert sites["site_id"].tolist() == expect["site_id"].tolist()
    assert sites["level"].tolist() == [LEVEL_LABELS_ZH[v] for v in expect["level"]]
    assert sites["compliant"].tolist() == ["是", "否", "是"]
    assert sites["reasons"].tolist() == [r or None for r in expect["reasons"]]
    comm = table(wb["社区"])
    assert comm["covered_share"].tolist() == pytest.approx(ev.communities["covered_share"])
    assert comm["coverage_status"].tolist() == ["已覆盖", "部分覆盖", "缺口"]
    assert comm["kind"].tolist() == ["居民区", "居民区", "村"]
    streets = table(wb["街镇"])
    pd.testing.assert_frame_equal(
        streets.drop(columns=[]).astype({"sites_total": "int64"})[["street", "sites_total"]],
        ev.streets[["street", "sites_total"]].astype({"street": object}),
        check_dtype=False,
    )
    traj = table(wb["三年目标"])
    assert traj["target_rate"].tolist()[0] is None  # NaN is an empty cell
    assert traj["target_rate"].tolist()[1:] == pytest.approx([0.6, 0.8, 1.0])
    assert len(table(wb["缺口"])) == 2


def test_number_formats(wb):
    ws = wb["站点"]
    keys = [c.value for c in ws[2]]

    def fmt(sheet, key, row=3):
        s = wb[sheet]
        col = [c.value for c in s[2]].index(key) + 1
        return s.cell(row, col).number_format

    assert fmt("站点", "ground_floor_share") == "0.0%"
    assert fmt("站点", "floor_area_m2") == "#,##0"
    assert fmt("站点", "required_funding_yuan") == "#,##0"
    assert fmt("社区", "covered_share") == "0.0%"
    assert fmt("社区", "nearest_site_distance_m") == "#,##0"
    assert fmt("街镇", "coverage_rate") == "0.0%"
    assert fmt("三年目标", "compliance_rate") == "0.0%"
    assert fmt("三年目标", "year") == "0"
    assert "reasons" in keys


def test_non_compliant_highlighted(wb):
    ws = wb["站点"]
    fills = [ws.cell(r, 1).fill.fgColor.rgb for r in (3, 4, 5)]
    assert fills[1].endswith("FFC7CE")
    assert not fills[0].endswith("FFC7CE") and not fills[2].endswith("FFC7CE")
    assert ws.cell(4, 9).fill.fgColor.rgb.endswith("FFC7CE")  # the whole row
    traj = wb["三年目标"]
    assert traj.cell(3, 1).fill.fgColor.rgb.endswith("FFC7CE")  # year 0: met is False


def test_summary_sheet(wb, ev):
    rows = {}
    for r in wb["汇总"].iter_rows(min_row=3, values_only=True):
        if r[0] is None:  # the scalar block ends at the first empty row
            break
        rows[r[2]] = r
    assert rows["coverage_rate"][0] == "覆盖率"
    assert rows["coverage_rate"][1] == pytest.approx(ev.summary["coverage_rate"])
    assert rows["population_total"][1] == 23000
    assert rows["targets"][1] == "60% / 80% / 100%"
    assert rows["distance_mode"][1] == "直线 euclidean"
    ws = wb["汇总"]
    col_b = {ws.cell(r, 3).value: ws.cell(r, 2).number_format for r in range(3, len(rows) + 3)}
    assert col_b["coverage_rate"] == "0.0%" and col_b["population_total"] == "#,##0"
    values = [c for row in ws.iter_rows(values_only=True) for c in row]
    assert "按层级 by level" in values and "按街镇 by street" in values
    assert "党群服务站" in values  # by_level rows translated


def test_real_evaluation_workbook(tmp_path):
    ev = make_real_evaluation()
    path = write_evaluation_xlsx(ev, tmp_path / "real.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(SHEETS)
    sites = table(wb["站点"])
    assert sites["site_id"].tolist() == ev.sites["site_id"].tolist()
    assert sites["population_served"].tolist() == pytest.approx(ev.sites["population_served"])
    expect = ["是" if c else "否" for c in ev.sites["compliant"]]
    assert sites["compliant"].tolist() == expect
    comm = table(wb["社区"])
    assert comm["covered_share"].tolist() == pytest.approx(ev.communities["covered_share"])
    summary = [r for r in wb["汇总"].iter_rows(values_only=True)]
    assert any(r[0] == "三年目标 targets by year" for r in summary)
    assert "calendar_year" in [c.value for c in wb["三年目标"][2]]


def test_failed_write_leaves_no_partial_file(ev, tmp_path, monkeypatch):
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"old report")

    def broken_save(self, filename):
        with open(filename, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(Workbook, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_evaluation_xlsx(ev, target)
    assert target.read_bytes() == b"old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]
    new = tmp_path / "new.xlsx"
    with pytest.raises(OSError):
        write_table_xlsx({"a": pd.DataFrame({"x": [1]})}, new)
    assert not new.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


def test_atomic_path_success(tmp_path):
    out = tmp_path / "sub" / "a.txt"
    with report.atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp != out
        tmp.write_text("ok")
        assert not out.exists()
    assert out.read_text() == "ok"
    assert out.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert [p.name for p in out.parent.iterdir()] == ["a.txt"]


def test_write_table_xlsx(tmp_path):
    plan = pd.DataFrame(
        {"site_id": ["S1", "S2"], "upgrade_year": [1.0, np.nan], "cost_yuan": [3e5, 1.5e6],
         "compliant": [False, True], "geometry": [None, None]}
    )  # fmt: skip
    props = pd.DataFrame({"candidate_id": ["K1"], "population_added": [2500.0], "x": [1]})
    path = write_table_xlsx(
        {"三年计划 plan": plan, "proposals/new: [1]": props, "a" * 40: props},
        tmp_path / "t.xlsx",
        labels={"x": "自定义"},
        highlight={"三年计划 plan": "compliant"},
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["三年计划 plan", "proposals_new_ _1_", "a" * 31]
    ws = wb["三年计划 plan"]
    assert [c.value for c in ws[1]] == ["站点编号", "提升年份", "费用(元)", "是否达标"]
    assert [c.value for c in ws[3]] == ["S1", 1, 300000, "否"]
    assert ws.cell(4, 2).value is None
    assert ws.cell(3, 3).number_format == "#,##0"
    assert ws.cell(3, 1).fill.fgColor.rgb.endswith("FFC7CE")
    assert not ws.cell(4, 1).fill.fgColor.rgb.endswith("FFC7CE")
    assert [c.value for c in wb["proposals_new_ _1_"][1]] == ["候选点编号", "新增覆盖人口",
                                                             "自定义"]  # fmt: skip


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=False, width=32),
            st.integers(-(10**9), 10**9),
            st.text(alphabet="abc站点社区 ,;", max_size=12),
        ),
        min_size=0,
        max_size=15,
    )
)
def test_round_trip_property(tmp_path_factory, rows):
    df = pd.DataFrame(rows, columns=["coverage_rate", "population", "name"])
    path = write_table_xlsx({"t": df}, tmp_path_factory.mktemp("p") / "t.xlsx")
    back = list(openpyxl.load_workbook(path)["t"].iter_rows(min_row=3, values_only=True))
    assert len(back) == len(df)
    for (rate, pop, name), (b_rate, b_pop, b_name) in zip(rows, back, strict=True):
        if math.isnan(rate):
            assert b_rate is None
        else:
            assert b_rate == pytest.approx(rate)
        assert b_pop == pop
        assert (b_name or "") == name
