"""Tests of the proposals on a tiny district with a hand-checkable answer.

Three 1 km communities in a row, streets every 250 m, one demand point per community (its
centroid), radius 600 m::

    y=1000 +-----------+-----------+-----------+
           |    C1     |    C2     |    C3     |
    y=500  |    S*     X1    X2    X3          |     S existing compliant station (500, 500)
           |  5,000    |  3,000    |  4,000    |     X1 (1500, 500)  X2 (2000, 500)
    y=0    +-----------+-----------+-----------+     X3 (2500, 500)
           0         1000        2000        3000

C1 is covered by S. X1 reaches C2 (3,000), X3 reaches C3 (4,000), X2 reaches both (500 m each,
7,000). p-median with S fixed and p = 1: X1 -> 4,000 x 1,000 = 4.0 M, X2 -> 7,000 x 500 =
3.5 M, X3 -> 3,000 x 1,000 = 3.0 M: X3.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting._errors import InputError
from siting.propose import propose
from tests._district import make_district

CRS = "EPSG:32651"


@pytest.fixture(scope="module")
def district():
    return make_district()


def _run(district, candidates=None, **kw):
    net, comm, sites, cands, ev = district
    kw.setdefault("radius", 600.0)
    cands = cands if candidates is None else candidates
    return propose(ev, net, cands, communities=comm, sites=sites, **kw)


def test_mclp_p1_picks_the_candidate_reaching_both(district):
    res = _run(district, model="mclp", p=1)
    assert res.stations["id"].tolist() == ["X2"]
    assert res.summary["objective"] == pytest.approx(7000.0)
    assert res.summary["status"] == "optimal"
    assert res.summary["population_covered_before"] == pytest.approx(5000.0)
    assert res.summary["population_covered_after"] == pytest.approx(12000.0)
    assert res.summary["coverage_rate_after"] >= res.summary["coverage_rate_before"]
    assert res.stations["population_added"].tolist() == pytest.approx([7000.0])
    assert res.summary["existing_sites_kept"] == 1


def test_mclp_p2_adds_no_worse(district):
    one, two = _run(district, model="mclp", p=1), _run(district, model="mclp", p=2)
    assert two.summary["objective"] >= one.summary["objective"]
    assert two.summary["coverage_rate_after"] >= one.summary["coverage_rate_after"]


def test_lscp_fewest_stations_cover_every_uncovered_resident(district):
    res = _run(district, model="lscp")
    assert res.stations["id"].tolist() == ["X2"]
    assert res.summary["objective"] == 1
    assert res.summary["p"] is None
    assert res.after.summary["coverage_rate"] == pytest.approx(1.0)


def test_pmedian_keeps_existing_fixed_and_adds_p(district):
    res = _run(district, model="pmedian", p=1)
    # exactly one new station (S stays as a fixed column, not reported as new)
    assert res.stations["id"].tolist() == ["X3"]
    assert res.summary["objective"] == pytest.approx(3000.0 * 1000.0)
    assert 0 in res.solution.selected  # the existing station's column
    assert len(res.solution.selected) == 2
    # C1 walks 0 m to S, C2 1,000 m to X3 (the grid route), C3 0 m: 3.0 M / 12,000
    assert res.summary["mean_walk_m"] == pytest.approx(3000.0 * 1000.0 / 12000.0)


def test_capacity_limits_a_small_candidate(district):
    # the district's own persons per household: 12,000 residents / 4,550 households = 2.637
    # X2 has 300 m2: 300 / 30 x 100 households x 2.637 = 2,637 residents, less than either
    # community it reaches (rows are served whole), so X3 (4,000) wins with capacities
    res = _run(district, model="mclp", p=1, capacity=True)
    assert res.stations["id"].tolist() == ["X3"]
    # X3's area is unknown: a station at the 1,000 m2 minimum, 1,000 / 30 x 100 x 2.637
    assert res.stations["capacity_residents"].tolist() == [8791.0]
    assert res.summary["objective"] == pytest.approx(4000.0)
    assert res.summary["capacity"] is True


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"model": "pcenter"}, "unknown model"),
        ({"model": "mclp", "p": 0}, "must be >= 1"),
        ({"model": "pmedian", "p": 1.5}, "must be >= 1"),
        ({"model": "mclp", "p": 1, "radius": 0.0}, "radius must be > 0"),
        ({"model": "mclp", "p": 1, "radius": -5.0}, "radius must be > 0"),
    ],
)
def test_bad_settings(district, kw, match):
    net, comm, sites, cands, ev = district
    radius = kw.pop("radius", 600.0)
    with pytest.raises(InputError, match=match):
        propose(ev, net, cands, communities=comm, sites=sites, radius=radius, **kw)


def test_no_candidates(district):
    net, comm, sites, cands, ev = district
    with pytest.raises(InputError, match="no candidate"):
        propose(ev, net, cands.iloc[:0], communities=comm, sites=sites, model="mclp", p=1)


def test_capacity_infeasible_names_the_settings(district):
    # only X2 (300 m2: 2,620 residents) is offered, and both uncovered communities are larger
    cands = district[3]
    with pytest.raises(
        InputError,
        match=r"--model.*lscp model is infeasible.*7,000 residents \(communities C2, C3\)",
    ) as e:
        _run(district, cands.iloc[[1]], radius=600.0, model="lscp", capacity=True)
    assert "drop --capacity" in str(e.value)
    # X1 alone at 100 m2 (873 residents): C3 is beyond its reach (not a model row), C2 is
    # within it but too large, so only C2 is named
    x1 = cands.iloc[[0]].assign(floor_area_m2=100.0)
    with pytest.raises(InputError, match=r"3,000 residents \(communities C2\) need more room"):
        _run(district, x1, radius=600.0, model="lscp", capacity=True)


def test_no_answer_in_time_asks_for_more_time(district, monkeypatch):
    import dataclasses

    import siting.locate as locate

    real = locate.p_median

    def unsolved(*args, **kwargs):
        sol = real(*args, **kwargs)
        return dataclasses.replace(sol, status="unsolved", objective=float("nan"))

    monkeypatch.setattr(locate, "p_median", unsolved)
    with pytest.raises(InputError, match=r"--time-limit.*no answer within 7 s") as e:
        _run(district, model="pmedian", p=1, time_limit=7.0)
    assert "allow more time" in str(e.value)


def test_capacity_figures_follow_the_model_and_own_floor_area(district):
    # X2 alone with 600 m2: 600 / 30 x 100 x 12,000 / 4,550 = 5,275 residents, so it takes C3
    # (4,000) but not C2 as well (7,000 > 5,275); it is evaluated at its own 600 m2, not 1,000
    net, comm, sites, cands, ev = district
    x2 = cands.iloc[[1]].assign(floor_area_m2=600.0)
    res = _run(district, x2, radius=600.0, model="mclp", p=1, capacity=True)
    assert res.summary["objective"] == pytest.approx(4000.0)
    assert res.stations["population_added"].tolist() == pytest.approx([4000.0])
    assert res.stations["population_served"].tolist() == pytest.approx([4000.0])
    assert res.stations["capacity_residents"].tolist() == pytest.approx([5275.0])
    assert res.summary["population_reached_by_model"] == pytest.approx(4000.0)
    new = res.after.sites[res.after.sites["site_id"] == "NEW-X2"]
    assert new["floor_area_m2"].tolist() == pytest.approx([600.0])
    assert res.summary["new_sites_assumed"].startswith("own floor area")
    # before: C1 (5,000 of 12,000); the station takes 4,000 more within its capacity
    assert res.summary["coverage_rate_after_within_capacity"] == pytest.approx(9000 / 12000)
    # without capacities the same site is taken as built to the 1,000 m2 standard
    plain = propose(ev, net, x2, communities=comm, sites=sites, radius=600.0, model="mclp", p=1)
    assert plain.summary["objective"] == pytest.approx(7000.0)
    assert "capacity_residents" not in plain.stations
    new = plain.after.sites[plain.after.sites["site_id"] == "NEW-X2"]
    assert new["floor_area_m2"].tolist() == pytest.approx([1000.0])


def test_figures_at_the_model_radius_and_unreachable(district):
    net, comm, sites, cands, ev = district
    # only X1: C2's centroid is 500 m away, C3's 1,000 m (beyond the 600 m radius)
    res = propose(
        ev, net, cands.iloc[[0]], communities=comm, sites=sites, radius=600.0, model="lscp"
    )
    s = res.summary
    assert s["population_unreachable"] == pytest.approx(4000.0)
    assert s["population_reached_by_model"] == pytest.approx(3000.0)
    assert s["coverage_rate_within_radius_before"] == pytest.approx(5000 / 12000)
    assert s["coverage_rate_within_radius_after"] == pytest.approx(8000 / 12000)
    # at 400 m X2 (500 m from both centroids) reaches nobody; C1 is still within reach of S
    far = propose(
        ev, net, cands.iloc[[1]], communities=comm, sites=sites, radius=400.0, model="mclp", p=1
    )
    assert far.summary["coverage_rate_within_radius_before"] == pytest.approx(5000 / 12000)
    assert far.summary["population_unreachable"] == pytest.approx(7000.0)
    assert far.summary["new_stations_asked"] == 1


def test_candidates_in_water_or_far_away_are_left_out_and_named(district):
    from siting import SitingWarning

    net, comm, sites, cands, ev = district
    far = cands.iloc[[0]].assign(id="FAR", geometry=[shapely.Point(50_000, 500)])
    more = gpd.GeoDataFrame(pd.concat([cands, far], ignore_index=True), crs=CRS)
    water = gpd.GeoSeries([shapely.box(1400, 400, 1600, 600)], crs=CRS)  # around X1
    with pytest.warns(SitingWarning) as rec:
        res = _run(
            district,
            more,
            radius=600.0,
            model="mclp",
            p=1,
            water=water,
            candidates_label="vacant.csv",
        )
    text = " ".join(str(r.message) for r in rec)
    assert "vacant.csv" in text and "FAR: 47.0 km away" in text and "in water (X1)" in text
    assert res.summary["candidates"] == 2  # X2 and X3
    with pytest.raises(InputError, match="no candidate lies inside the district"):
        propose(
            ev, net, more.iloc[[3]], communities=comm, sites=sites, radius=600.0, model="mclp", p=1
        )


def test_pmedian_capacity_credits_only_what_each_station_takes(district):
    # X2 (300 m2: 2,637 residents) and X3 (unknown area: 8,791) with S (1,200 m2) fixed; the
    # model gives C3 to X3 and C2 to S or X3: X2 can take neither whole, so it gains nobody
    cands = district[3]
    res = _run(district, cands.iloc[[1, 2]], model="pmedian", p=2, capacity=True)
    got = dict(zip(res.stations["id"], res.stations["population_added"], strict=True))
    assert got["X2"] == 0.0
    assert got["X3"] <= 8791.0
    assert res.stations["population_served"].max() <= 8791.0


def test_mclp_leaves_out_stations_that_add_nobody(district, monkeypatch):
    # three stations allowed, but X2 alone reaches both uncovered communities; the model's
    # answer is made to open all three (as a solver filling p may), serving the rows from X2
    import dataclasses

    import siting.locate as locate

    real = locate.mclp

    def all_open(*args, **kwargs):
        sol = real(*args, **kwargs)
        assert sol.selected.tolist() == [1] and set(sol.assignment) == {1}
        return dataclasses.replace(sol, selected=np.array([0, 1, 2]))

    monkeypatch.setattr(locate, "mclp", all_open)
    res = _run(district, model="mclp", p=3)
    assert res.stations["id"].tolist() == ["X2"]
    assert res.summary["objective"] == pytest.approx(7000.0)
    assert len(res.stations) < 3 and (res.stations["population_added"] > 0).all()
    assert res.summary["new_stations"] == len(res.stations)
    assert res.summary["new_stations_asked"] == 3
