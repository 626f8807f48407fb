"""Hypothesis fuzzing of the loaders' validation with in-memory frames of hostile values.

Random ids, populations, kinds, levels and areas (text, numbers, None, NaN, inf, negative, huge,
Chinese, booleans) go through :func:`siting.io.load_communities` and
:func:`siting.io.load_sites`. Either a canonical frame comes back and its invariants hold, or an
:class:`InputError` whose every problem names the file, the field, what is wrong and the fix;
never another exception.
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from siting import io as sio
from siting import schema
from siting._errors import InputError, SitingWarning

TEXT = st.text(
    alphabet=st.sampled_from(list("aZ09 .,-_/") + list("社区幸福里站点党群服务中心㎡人")),
    max_size=8,
)
SPECIAL = st.sampled_from(
    ["", " ", "nan", "NaN", "inf", "-inf", "1e400", "-5", "abc", "1,200", "300㎡", "3000人",
     "1,2", "幸福里", "0", "1e308", "  42 ", "１２３"]
)  # fmt: skip
VALUE = st.one_of(
    TEXT,
    SPECIAL,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
)
#: Mostly plausible numbers, sometimes anything: so that valid frames also come back.
NUMBER = st.one_of(
    st.integers(min_value=0, max_value=100_000),
    st.floats(min_value=0, max_value=1e6),
    VALUE,
)
LEVEL = st.one_of(st.sampled_from([*schema.LEVEL_ALIASES, *schema.LEVELS, "STATION"]), VALUE)
KIND = st.one_of(st.sampled_from([*schema.KIND_ALIASES, *schema.KINDS]), VALUE)
ID = st.one_of(
    st.sampled_from(["C1", "C1", "幸福里社区", "17", "17.0", " 17 "]),
    TEXT,
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
)
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def column(values: list[object]) -> pd.Series:
    """An object column holding the values as given (mixed types on purpose)."""
    return pd.Series(values, dtype=object)


def check_error(err: InputError, file: str) -> None:
    assert err.problems
    for p in err.problems:
        assert p.file == file, p
        assert p.field.strip(), p
        assert p.what.strip(), p
        assert p.fix.strip(), p


def load(loader, frame, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SitingWarning)  # repairs and assumptions are fine here
        return loader(frame, name="fuzz", **kwargs)


def check_common(out: gpd.GeoDataFrame, n: int) -> None:
    assert len(out) == n
    ids = out["id"].tolist()
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == n
    assert out.crs is not None and out.crs.is_projected
    assert out.geometry.is_valid.all()
    assert np.isfinite(out.geometry.bounds.to_numpy()).all()


@FUZZ
@given(
    rows=st.lists(st.tuples(ID, NUMBER, KIND, NUMBER), min_size=1, max_size=6),
    null_geometry=st.booleans(),
)
def test_load_communities_fuzz(rows, null_geometry):
    n = len(rows)
    geometry = [box(121.40 + 0.01 * i, 31.20, 121.41 + 0.01 * i, 31.21) for i in range(n)]
    if null_geometry:
        geometry[-1] = None
    frame = gpd.GeoDataFrame(
        {
            "编号": column([r[0] for r in rows]),
            "人口": column([r[1] for r in rows]),
            "类型": column([r[2] for r in rows]),
            "户数": column([r[3] for r in rows]),
        },
        geometry=geometry,
        crs="EPSG:4326",
    )
    try:
        out = load(sio.load_communities, frame)
    except InputError as err:
        check_error(err, "fuzz")
        event("rejected")
        return
    event("loaded")
    assert not null_geometry
    check_common(out, n)
    assert list(out.columns) == [
        "id", "name", "kind", "street", "population", "households", "party_members", "geometry"
    ]  # fmt: skip
    pop = out["population"].to_numpy(dtype=float)
    assert np.isfinite(pop).all() and (pop >= 0).all()
    hh = out["households"].to_numpy(dtype=float)
    assert (np.isnan(hh) | ((hh >= 0) & np.isfinite(hh))).all()
    assert set(out["kind"]) <= set(schema.KINDS)
    assert out.geom_type.isin(["Polygon", "MultiPolygon"]).all()


COORD = st.one_of(
    st.floats(min_value=121.3, max_value=121.5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["121.4", "abc", "", None, "1e400"]),
)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            ID,
            LEVEL,
            NUMBER,
            NUMBER,
            st.one_of(st.just(None), st.sampled_from(["现状", "规划", "x"])),
        ),
        min_size=1,
        max_size=6,
    ),
    lon=st.lists(COORD, min_size=6, max_size=6),
)
def test_load_sites_fuzz(rows, lon):
    n = len(rows)
    frame = pd.DataFrame(
        {
            "id": column([r[0] for r in rows]),
            "level": column([r[1] for r in rows]),
            "floor_area_m2": column([r[2] for r in rows]),
            "ground_floor_area_m2": column([r[3] for r in rows]),
            "status": column([r[4] for r in rows]),
            "lon": column(lon[:n]),
            "lat": column([31.205] * n),
        }
    )
    try:
        out = load(sio.load_sites, frame)
    except InputError as err:
        check_error(err, "fuzz")
        event("rejected")
        return
    event("loaded")
    check_common(out, n)
    assert set(out["level"]) <= set(schema.LEVELS)
    assert set(out["status"]) <= set(schema.STATUSES)
    floor = out["floor_area_m2"].to_numpy(dtype=float)
    ground = out["ground_floor_area_m2"].to_numpy(dtype=float)
    assert np.isfinite(floor).all() and (floor >= 0).all()
    assert (np.isnan(ground) | ((ground >= 0) & (ground <= floor))).all()
    assert (out.geom_type == "Point").all()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -5, "1e400", 10**30, True, "abc"])
def test_each_hostile_population_is_named_in_the_error(value):
    frame = gpd.GeoDataFrame(
        {"id": ["A", "B"], "population": column([100, value])},
        geometry=[box(121.40, 31.20, 121.41, 31.21), box(121.41, 31.20, 121.42, 31.21)],
        crs="EPSG:4326",
    )
    with pytest.raises(InputError, match=r"fuzz: row 2 \(id=B\): population: ") as info:
        load(sio.load_communities, frame)
    check_error(info.value, "fuzz")
