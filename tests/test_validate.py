"""Validation rules on their own: lenient numbers, columns, ids, choices, lon/lat, repairs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from siting import _validate as v
from siting import schema
from siting._errors import InputError, SitingWarning


def rows() -> v.Rows:
    return v.Rows("row", 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1200", 1200.0), ("1,200", 1200.0), ("1,234,567.5", 1234567.5), ("1200㎡", 1200.0), ("1200 m2", 1200.0),
     ("1200平方米", 1200.0), ("3000人", 3000.0), ("１２００", 1200.0), (" 12.5 ", 12.5), ("-3", -3.0)],
)  # fmt: skip
def test_parse_numbers_lenient(text, expected):
    numbers, bad = v.parse_numbers(pd.Series([text], dtype=object))
    assert numbers[0] == expected and not bad[0]


@pytest.mark.parametrize("text", ["1,2", "12 34", "1.200,5", "abc", "1200元", "1,2000"])
def test_parse_numbers_never_silently_wrong(text):
    numbers, bad = v.parse_numbers(pd.Series([text], dtype=object))
    assert bad[0] and np.isnan(numbers[0])


def test_parse_numbers_missing_is_not_bad():
    numbers, bad = v.parse_numbers(pd.Series(["", None, "  "], dtype=object))
    assert np.isnan(numbers).all() and not bad.any()
    numbers, bad = v.parse_numbers(pd.Series([True, 2], dtype=object))
    assert bad.tolist() == [True, False] and numbers[1] == 2


@settings(max_examples=100, deadline=None)
@given(st.integers(-(10**12), 10**12))
def test_thousands_separators_round_trip(n):
    numbers, bad = v.parse_numbers(pd.Series([f"{n:,}", str(n)], dtype=object))
    assert not bad.any() and numbers.tolist() == [float(n), float(n)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=8), st.floats(allow_nan=True), st.integers(), st.none()),
        max_size=8,
    )
)
def test_check_numbers_never_crashes_and_flags_every_unusable_value(values):
    problems = v.Problems("f.csv")
    out = v.check_numbers(
        problems, rows(), pd.Series(values, dtype=object), "population", required=True
    )
    assert out.shape == (len(values),)
    flagged = {p.where for p in problems.items}
    unusable = np.flatnonzero(~(np.isfinite(out) & (out >= 0)))
    # required: every row that is missing, not a number, not finite or negative is named
    assert {f"row {i + 2}" for i in unusable} <= flagged
    assert not (np.isfinite(out) & (out >= 0))[[int(w.split()[1]) - 2 for w in flagged]].any()


def test_problem_cap_summarises_the_rest():
    problems = v.Problems("f.csv")
    v.check_numbers(
        problems, rows(), pd.Series(["x"] * 25, dtype=object), "population", required=True
    )
    assert len(problems) == v.MAX_ROWS_PER_RULE + 1
    assert problems.items[-1].where == "5 more rows"


def test_resolve_columns_case_width_and_spaces():
    problems = v.Problems("f")
    mapping = v.resolve_columns(problems, [" ID ", "Population", "建筑面积（平方米）", "geometry"],
                                {**schema.COMMUNITY_COLUMNS, "floor": ("建筑面积(平方米)",)},
                                schema.COMMUNITY_REQUIRED)  # fmt: skip
    assert not problems
    assert mapping == {" ID ": "id", "Population": "population", "建筑面积（平方米）": "floor"}


def test_resolve_columns_missing_required():
    problems = v.Problems("f.csv")
    v.resolve_columns(
        problems, ["编号", "人数"], schema.COMMUNITY_COLUMNS, schema.COMMUNITY_REQUIRED
    )
    with pytest.raises(InputError, match=r"f\.csv: population: required column 'population' is missing \(columns "
                       r"found: '编号', '人数'\) - add it or rename a column to one of: population, pop"):  # fmt: skip
        problems.raise_if_any()


def test_check_ids_duplicates_name_rows():
    problems = v.Problems("f.csv")
    ids = v.check_ids(problems, rows(), pd.Series(["A", "B", "A", 7.0, None, "B "], dtype=object))
    assert ids.tolist() == ["A", "B", "A", "7", "", "B"]
    text = [str(p) for p in problems.items]
    assert "f.csv: row 6: id: id is missing - give every row its own id" in text
    assert "f.csv: rows 2, 4: id: id 'A' is used 2 times - give every row its own id" in text
    assert "f.csv: rows 3, 7: id: id 'B' is used 2 times - give every row its own id" in text


def test_check_choice_defaults_and_aliases():
    problems = v.Problems("f")
    out = v.check_choice(problems, rows(), pd.Series(["村", "", "Urban Village", "城中村"], dtype=object), "kind",
                         schema.KIND_ALIASES, schema.KINDS, schema.KIND_LABELS_ZH, default="residential")  # fmt: skip
    assert not problems and out.tolist() == [
        "village",
        "residential",
        "urban_village",
        "urban_village",
    ]


def test_allowed_text_lists_chinese_names():
    text = v.allowed_text(schema.LEVEL_ALIASES, schema.LEVELS, schema.LEVEL_LABELS_ZH)
    assert text.startswith("district_center (区级党群服务中心, 区级中心")
    assert "point (党群服务点, 点, 服务点" in text


def test_check_lonlat():
    problems = v.Problems("f")
    pts = np.array([[121.4, 31.2], [31.2, 121.4], [200.0, 10.0], [45.0, 80.0], [2.3, 48.8]])
    ok = v.check_lonlat(problems, rows(), np.hstack([pts, pts]))
    assert ok.tolist() == [True, False, False, False, True]
    assert [p.where for p in problems.items] == ["row 3", "row 5", "row 4"]
    assert "look swapped" in problems.items[0].what and "out of range" in problems.items[2].what


def test_looks_lonlat():
    assert v.looks_lonlat((121, 31, 122, 32))
    assert not v.looks_lonlat((350000, 3450000, 360000, 3460000))
    assert not v.looks_lonlat((np.nan, 1, 2, 3))


def test_repair_polygons_keeps_polygonal_parts():
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    line_like = Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])  # zero area
    values = np.array([box(0, 0, 1, 1), bowtie, line_like, None], dtype=object)
    out, repaired, collapsed = v.repair_polygons(values)
    assert repaired.tolist() == [False, True, False, False]
    assert collapsed.tolist() == [False, False, True, False]
    assert shapely.is_valid(out[1]) and out[1].area == pytest.approx(2.0)  # two triangles of 1
    assert values[1] is bowtie  # input not mutated
    with pytest.warns(SitingWarning, match=r"f: repaired 1 invalid .*: row 3 \(id=B\)"):
        v.warn_repaired(
            "f", v.Rows("row", 2, ids=np.array(["A", "B", "C", "D"], dtype=object)), repaired
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v.warn_repaired("f", rows(), np.zeros(4, dtype=bool))  # nothing to say


def test_warn_overlaps_hand_checked_areas():
    # A and B overlap on a 10 x 100 strip (1,000 m2); C only touches B; D overlaps A by 5 x 5 (noise)
    values = np.array([box(0, 0, 100, 100), box(90, 0, 190, 100), box(190, 0, 290, 100), box(-5, -5, 0.01, 0.01)],
                      dtype=object)  # fmt: skip
    with pytest.warns(
        SitingWarning, match=r"f: 1 pair\(s\) of communities overlap .*: A & B: 1,000 m2$"
    ):
        pairs = v.warn_overlaps("f", np.array(list("ABCD"), dtype=object), values)
    assert pairs.to_dict("records") == [{"id_a": "A", "id_b": "B", "overlap_m2": 1000.0}]


def test_check_not_larger_ignores_missing_and_negative_totals():
    problems = v.Problems("f")
    v.check_not_larger(problems, rows(), np.array([5.0, np.nan, 5.0, 5.0]), np.array([4.0, 1.0, -1.0, 6.0]),
                       "ground", "floor")  # fmt: skip
    assert [p.where for p in problems.items] == ["row 2"]
    assert problems.items[0].what == "5 is larger than floor 4"
