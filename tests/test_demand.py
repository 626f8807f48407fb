"""Tests for siting.demand: centroid and grid demand points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.demand import demand_points

CRS = "EPSG:32651"


def _frame(geoms, pops) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "id": [f"C{k}" for k in range(n)],
            "population": np.asarray(pops, dtype=float),
            "households": np.asarray(pops, dtype=float) / 3,
            "party_members": np.full(n, 7.0),
        },
        geometry=list(geoms),
        crs=CRS,
    )


def test_grid_by_hand() -> None:
    # a 300 m square holds the 9 cell centres (50, 150, 250)^2; a 10 m square holds none
    c = _frame([shapely.box(0, 0, 300, 300), shapely.box(1000, 1000, 1010, 1010)], [900, 10])
    d = demand_points(c, spacing=100)
    assert list(d.columns) == [
        "community_id",
        "population",
        "households",
        "party_members",
        "geometry",
    ]
    assert d.crs == c.crs
    a = d[d.community_id == "C0"]
    assert len(a) == 9
    assert sorted(zip(a.geometry.x, a.geometry.y, strict=True))[0] == (50.0, 50.0)
    assert a.population.tolist() == [100.0] * 9
    b = d[d.community_id == "C1"]
    assert len(b) == 1 and b.geometry.iloc[0].equals(shapely.Point(1005, 1005))
    assert b.population.iloc[0] == 10.0


def test_centroid_outside_uses_point_inside() -> None:
    # a thick L whose centroid (137.5, 137.5) is inside; a U whose centroid is outside
    ell = shapely.Polygon([(0, 0), (300, 0), (300, 200), (200, 200), (200, 300), (0, 300)])
    u = shapely.Polygon(
        [(0, 0), (300, 0), (300, 300), (200, 300), (200, 100), (100, 100), (100, 300), (0, 300)]
    )
    u = shapely.affinity.translate(u, 1000, 0)
    c = _frame([ell, u], [50, 60])
    d = demand_points(c, method="centroid")
    assert len(d) == 2
    assert d.geometry.iloc[0].equals(shapely.Point(137.5, 137.5))
    assert not u.contains(u.centroid)
    assert u.contains(d.geometry.iloc[1])
    assert d.population.tolist() == [50.0, 60.0]


def test_bad_options() -> None:
    c = _frame([shapely.box(0, 0, 10, 10)], [1])
    with pytest.raises(ValueError, match="method"):
        demand_points(c, method="hex")
    with pytest.raises(ValueError, match="spacing"):
        demand_points(c, spacing=0)


@settings(max_examples=30, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(
            st.floats(-5000, 5000), st.floats(-5000, 5000), st.floats(1, 800), st.floats(1, 800)
        ),
        min_size=1,
        max_size=8,
    ),
    pops=st.lists(st.floats(0, 1e5), min_size=8, max_size=8),
    spacing=st.floats(20, 300),
    method=st.sampled_from(["grid", "centroid"]),
)
def test_totals_preserved_and_points_inside(boxes, pops, spacing, method) -> None:
    geoms = [shapely.box(x, y, x + w, y + h) for x, y, w, h in boxes]
    c = _frame(geoms, pops[: len(geoms)])
    d = demand_points(c, method=method, spacing=spacing)
    # every community has at least one point, each inside (or on) its polygon
    assert set(d.community_id) == set(c.id)
    own = c.set_index("id").geometry.loc[d.community_id].values
    assert shapely.covers(own, d.geometry.values).all()
    for col in ("population", "households", "party_members"):
        got = d.groupby("community_id")[col].sum().loc[c.id].to_numpy()
        np.testing.assert_allclose(got, c[col].to_numpy(), rtol=1e-12, atol=1e-9)
    # the grid gives each point of a community the same share (proportional to area)
    shares = d.groupby("community_id")["population"].agg(["min", "max"])
    np.testing.assert_allclose(shares["min"], shares["max"], rtol=1e-12)


def test_very_fine_grid_warns(monkeypatch):
    import shapely as _shp

    from siting import SitingWarning, demand

    monkeypatch.setattr(demand, "LARGE_GRID_POINTS", 50)
    c = gpd.GeoDataFrame(
        {"id": ["A"], "population": [100.0], "households": [40.0], "party_members": [5.0]},
        geometry=[_shp.box(0, 0, 100, 100)],
        crs="EPSG:32651",
    )
    with pytest.warns(SitingWarning, match=r"--spacing 10 m gives 100 demand points"):
        pts = demand.demand_points(c, spacing=10)
    assert len(pts) == 100


def test_too_fine_a_spacing_is_a_user_error_before_any_point_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--spacing 1 over a district was a ValueError traceback after 2 GB of grid: now an
    InputError naming --spacing, the value, the count and a spacing that fits, raised from
    the polygons' area before the grid is built."""
    from siting._errors import InputError

    c = _frame([shapely.box(0, 0, 1000, 1000)], [5000])  # 1 km2: 1,000,000 points at 1 m
    calls: list[int] = []
    real = shapely.contains_xy

    def spy(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(shapely, "contains_xy", spy)
    with pytest.raises(InputError) as err:
        demand_points(c, spacing=1, max_points=10_000)
    assert not calls  # no point was tested: the grid was never built
    (p,) = err.value.problems
    assert p.field == "--spacing"
    assert "1 m gives about 1,000,000 demand points, more than the 10,000" in p.what
    fit = int(p.fix.split("--spacing ")[1].split()[0])
    # sqrt(1,000,000 m2 / 10,000) = 10 m, with a 10% margin for boundary cells
    assert fit == 11
    d = demand_points(c, spacing=fit, max_points=10_000)
    assert len(d) <= 10_000 and d["population"].sum() == pytest.approx(5000)
