"""Evaluate a district's sites: compliance, population served, coverage, gaps, three-year view.

How the figures are defined (every one can be traced site by site):

- **Current sites** are the existing ones (``status == "existing"``); with ``include_planned``
  the planned ones count as built. Coverage, gaps and "now" rates use the current sites.
- **Catchments (population served).** Each demand point is assigned to its nearest current site
  over the network, separately in two tiers: the *station-or-higher* tier (district center,
  street centers, stations) and the *point* tier. A street or district center acts as the
  station of the residents nearest to it (it usually hosts that community's station), and a
  20 m² point does not take residents away from the station that must hold their activities;
  points get their own catchment among points, limited to the point's service radius (a point
  is a supplementary, walk-up place: residents beyond its reach are served by their station
  only). A resident is thus counted at most once per tier.
  Planned sites are evaluated **as they will be**: their catchment is computed with the planned
  sites added to the current ones (so an existing site's figures are today's, a planned site's
  are those after it is built).
- **Population in radius**: residents within the site's own service radius (whatever site is
  nearest). **Covered** residents are within the service radius of at least one current
  station-or-higher site (``covered_any``: of any current site, points included).
- **Compliance** of a site: floor area >= the level's minimum; ground-floor share >= minimum
  (not judged when the ground-floor area is unknown); floor area per 100 households served >=
  minimum (levels where it applies). Overload (population served above the maximum) is
  reported separately (``overloaded``), it is not a building defect.
- **Funding**: the level's base + the per-member amount x Party members served.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siting import schema, settings
from siting._errors import InputError, SitingWarning
from siting.gaps import uncovered_hexagons
from siting.network import as_xy
from siting.standards import Standard, load_standard

__all__ = [
    "Evaluation",
    "compliance_trajectory",
    "evaluate",
    "site_compliance",
    "trajectory_from_snapshots",
]

log = logging.getLogger(__name__)

SOH = schema.STATION_OR_HIGHER

#: Placement rule per community kind (seed 000, 金山: 纯农村"站点并举"，城中村"站为主、点为辅"，
#: 空心村"点为主、站为辅"，居民区以站为主，企业"点为主、多企联建").
PLACEMENT_RULES_ZH: dict[str, str] = {
    schema.RESIDENTIAL: "居民区以站为主：建一个达标的党群服务站",
    schema.VILLAGE: "纯农村站点并举：建党群服务站，并在村民小组设服务点",
    schema.URBAN_VILLAGE: "城中村站为主、点为辅：先建服务站，服务点作补充",
    schema.HOLLOW_VILLAGE: "空心村点为主、站为辅：以服务点覆盖分散居住的村民",
    schema.ENTERPRISE: "园区企业点为主、多企联建：多家企业共建服务点",
}
_NEEDS_STATION = (schema.RESIDENTIAL, schema.VILLAGE, schema.URBAN_VILLAGE)


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`; columns as in ``docs/ARCHITECTURE.md``.

    Attributes
    ----------
    sites, communities, streets, gaps, trajectory, demand
        The frames (metric CRS of the inputs). Besides the contract's columns: ``sites`` has
        ``reasons_en, required_floor_area_m2, min_floor_area_m2, min_ground_floor_share,
        upgrade_year``; ``communities`` has ``stations, points`` (current sites standing in it),
        ``population_covered, population_covered_any, population_demand``; ``demand`` has
        ``nearest_site`` (row position in ``sites`` of the nearer of its station-tier site and
        its point, -1 when none), ``nearest_site_distance_m``, ``station_site``,
        ``station_distance_m`` and ``point_site`` (the two catchments).
    summary
        JSON-ready figures for the district; ``targets`` holds the trajectory rows,
        ``target_rates`` the profile's targets.
    standard
        The standards profile used.
    """

    sites: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    streets: pd.DataFrame
    gaps: gpd.GeoDataFrame
    trajectory: pd.DataFrame
    demand: gpd.GeoDataFrame
    summary: dict[str, Any]
    standard: Standard

    def to_json_summary(self, *, indent: int | None = 2) -> str:
        """The summary as JSON text (UTF-8, Chinese kept readable)."""
        return json.dumps(self.summary, ensure_ascii=False, indent=indent, allow_nan=False)


# --------------------------------------------------------------------------------------------
def evaluate(
    communities: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    network: Any,
    *,
    standard: Standard | str | Path = settings.DEFAULT_STANDARD,
    demand: str | gpd.GeoDataFrame = "grid",
    spacing: float = settings.DEMAND_GRID_SPACING_M,
    include_planned: bool = False,
    start_year: int | None = None,
    hex_size: float = settings.GAP_HEX_SIZE_M,
) -> Evaluation:
    """Evaluate sites and coverage of a district against a standards profile.

    Parameters
    ----------
    communities, sites
        Canonical frames (see ``docs/ARCHITECTURE.md``) in one metric CRS.
    network
        A distance provider (:class:`~siting.network.WalkNetwork` or
        :class:`~siting.network.EuclideanNetwork`) in the same CRS.
    standard
        A :class:`~siting.standards.Standard`, a profile name or a TOML path.
    demand
        ``"grid"`` or ``"centroid"`` (:func:`siting.demand.demand_points`), or a GeoDataFrame of
        demand points (``community_id, population`` and optionally ``households,
        party_members``).
    spacing
        Grid spacing of demand points in metres.
    include_planned
        Count planned sites as built (a "after the plan" scenario).
    start_year
        Calendar year of programme year 1 (default: this year); ``upgrade_year`` values below
        1000 are read as programme years.
    hex_size
        Edge of the gap hexagons in metres.

    Returns
    -------
    Evaluation

    Raises
    ------
    InputError
        When the inputs and the network are in different CRSs, or a demand frame lacks columns.

    Examples
    --------
    >>> from siting.network import EuclideanNetwork
    >>> ev = evaluate(communities, sites, EuclideanNetwork(communities.crs))  # doctest: +SKIP
    >>> ev.summary["coverage_rate"]  # doctest: +SKIP
    0.87
    """
    with warnings.catch_warnings():
        return _evaluate(
            communities,
            sites,
            network,
            std=load_standard(standard),
            demand=demand,
            spacing=spacing,
            include_planned=include_planned,
            start=_dt.date.today().year if start_year is None else int(start_year),
            hex_size=hex_size,
        )


def _evaluate(
    communities: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    network: Any,
    *,
    std: Standard,
    demand: str | gpd.GeoDataFrame,
    spacing: float,
    include_planned: bool,
    start: int,
    hex_size: float,
) -> Evaluation:
    _check_crs(communities, sites, network)
    comm = _prepare_communities(communities)
    st = _prepare_sites(sites, comm)
    dem, method = _demand_frame(comm, demand, spacing)
    n_s, n_d = len(st), len(dem)
    d_xy = as_xy(dem.geometry) if n_d else np.empty((0, 2))
    s_xy = as_xy(st.geometry) if n_s else np.empty((0, 2))
    if hasattr(network, "snap"):
        # report far-from-road points once, then silence the repeats of every later query
        network.snap(d_xy, label="demand points")
        network.snap(s_xy, label="sites")
        warnings.filterwarnings(
            "ignore", category=SitingWarning, module=r"siting\.(network|evaluate)"
        )
    pop = dem["population"].to_numpy(dtype=np.float64)
    hh = dem["households"].to_numpy(dtype=np.float64)
    pm = dem["party_members"].to_numpy(dtype=np.float64)

    level = st["level"].to_numpy(dtype=object)
    existing = st["status"].to_numpy(dtype=object) != schema.PLANNED
    current = existing | include_planned
    soh = np.isin(level, SOH)
    radius = st["level"].map(std.per_level("service_radius_m")).to_numpy(dtype=np.float64)

    # catchments now (current sites) and as planned sites will be (all sites)
    c_soh, c_soh_d = _catchment(network, d_xy, s_xy, current & soh)
    c_pt, c_pt_d = _catchment(network, d_xy, s_xy, current & ~soh, radius)
    stats_now = _served(c_soh, pop, hh, pm, n_s) + _served(c_pt, pop, hh, pm, n_s)
    if (~current).any():
        f_soh, _ = _catchment(network, d_xy, s_xy, soh)
        f_pt, _ = _catchment(network, d_xy, s_xy, ~soh, radius)
        stats_future = _served(f_soh, pop, hh, pm, n_s) + _served(f_pt, pop, hh, pm, n_s)
        stats = np.where(current[None, :], stats_now, stats_future)
    else:
        stats = stats_now

    # who is within whose radius
    covered = np.zeros(n_d, dtype=bool)
    covered_any = np.zeros(n_d, dtype=bool)
    in_radius: np.ndarray = np.zeros(n_s)
    if n_s and n_d:
        rows, cols, _ = _within_radius(network, s_xy, d_xy, radius)
        in_radius = np.bincount(rows, weights=pop[cols], minlength=n_s)
        covered[cols[(current & soh)[rows]]] = True
        covered_any[cols[current[rows]]] = True

    sites_out = _site_frame(st, std, stats, in_radius, radius, comm)
    dem_out = _demand_out(dem, covered, covered_any, c_soh, c_soh_d, c_pt, c_pt_d)
    comm_out = _community_frame(comm, st, sites_out, dem_out, network, std, current, radius)
    # compliance is counted over the programme levels (those with an area standard)
    prog = sites_out["level"].isin(std.programme_levels()).to_numpy()
    streets = _street_frame(comm_out, sites_out, current, prog)
    gaps = uncovered_hexagons(dem_out, communities=comm, size=hex_size)
    traj = compliance_trajectory(
        sites_out[prog], targets=std.targets, start_year=start, include_planned=include_planned
    )
    summary = _summary(
        comm_out, sites_out, streets, traj, gaps, current, std, network, method, prog
    )
    summary["start_year"] = start
    summary["demand_points"] = n_d
    log.info(
        "evaluate: %d sites (%d compliant now), %d communities, coverage %.1f%% (%s, %s)",
        int(current.sum()),
        summary["sites_compliant"],
        len(comm_out),
        100 * (summary["coverage_rate"] or 0.0),
        summary["distance_mode"],
        method,
    )
    return Evaluation(sites_out, comm_out, streets, gaps, traj, dem_out, summary, std)


# --------------------------------------------------------------------------------------------
def site_compliance(
    sites: pd.DataFrame,
    standard: Standard | str | Path = settings.DEFAULT_STANDARD,
    *,
    households_served: Any = None,
) -> pd.DataFrame:
    """Judge sites against the building standard of their level.

    Parameters
    ----------
    sites
        Frame with ``level, floor_area_m2, ground_floor_area_m2``.
    standard
        The standards profile.
    households_served
        Households served per site (array); the floor area per 100 households is judged only
        when given.

    Returns
    -------
    pandas.DataFrame
        Same index: ``compliant, reasons (zh), reasons_en, ground_floor_share,
        m2_per_100_households, required_floor_area_m2, shortfall_m2, min_floor_area_m2,
        min_ground_floor_share``.
    """
    std = load_standard(standard)
    lv = sites["level"]
    area = sites["floor_area_m2"].to_numpy(dtype=np.float64)
    ground = sites["ground_floor_area_m2"].to_numpy(dtype=np.float64)
    min_area = lv.map(std.per_level("min_floor_area_m2")).to_numpy(dtype=np.float64)
    min_share = lv.map(std.per_level("min_ground_floor_share")).to_numpy(dtype=np.float64)
    min_100 = lv.map(std.per_level("min_m2_per_100_households")).to_numpy(dtype=np.float64)
    hh = (
        np.full(len(sites), np.nan)
        if households_served is None
        else np.asarray(households_served, dtype=np.float64)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(area > 0, ground / area, np.nan)
        per100 = np.where(hh > 0, area / hh * 100.0, np.nan)
    area_fail = (min_area > 0) & ~(area >= min_area)  # NaN area fails
    share_fail = (min_share > 0) & (share < min_share)
    hh_fail = (min_100 > 0) & (per100 < min_100)
    required = np.fmax(min_area, np.where(min_100 > 0, min_100 * np.nan_to_num(hh) / 100.0, 0))
    shortfall = np.maximum(required - np.nan_to_num(area), 0.0)

    f0, f1 = _fmt(area, 0), _fmt(min_area, 0)
    p0, p1 = _fmt(share * 100, 0), _fmt(min_share * 100, 0)
    h0, h1, hn = _fmt(per100, 1), _fmt(min_100, 0), _fmt(hh, 0)
    zh = [
        np.where(area_fail, "建筑面积 " + f0 + " m² < " + f1 + " m²", ""),
        np.where(share_fail, "一层面积占比 " + p0 + "% < " + p1 + "%", ""),
        np.where(hh_fail, "每百户面积 " + h0 + " m² < " + h1 + " m²（服务 " + hn + " 户）", ""),
    ]
    en = [
        np.where(area_fail, "floor area " + f0 + " m2 < " + f1 + " m2", ""),
        np.where(share_fail, "ground floor " + p0 + "% < " + p1 + "%", ""),
        np.where(
            hh_fail,
            "space per 100 households " + h0 + " m2 < " + h1 + " m2 (" + hn + " households)",
            "",
        ),
    ]
    return pd.DataFrame(
        {
            "compliant": ~(area_fail | share_fail | hh_fail),
            "reasons": _join(zh, "; "),
            "reasons_en": _join(en, "; "),
            "ground_floor_share": share,
            "m2_per_100_households": per100,
            "required_floor_area_m2": required,
            "shortfall_m2": shortfall,
            "min_floor_area_m2": min_area,
            "min_ground_floor_share": min_share,
        },
        index=sites.index,
    )


def compliance_trajectory(
    sites: pd.DataFrame,
    *,
    targets: tuple[float, ...] | list[float],
    start_year: int | None = None,
    include_planned: bool = False,
) -> pd.DataFrame:
    """Compliance rate by programme year, from ``compliant``, ``status`` and ``upgrade_year``.

    Year 0 is the baseline (the site table as it is, labelled ``start_year - 1``); year ``k``
    (1..len(targets)) is calendar year ``start_year + k - 1``. An existing site with an
    ``upgrade_year`` counts as compliant from that year on; a planned site counts from its
    ``upgrade_year`` (its build year) on, compliant if its planned figures are; a planned site
    without a year is left out (unless ``include_planned``, which counts it from year 0).
    ``upgrade_year`` values >= 1000 are calendar years, smaller ones programme years. Year 0 is
    held against the year-1 target (how far the baseline is from it).

    Returns
    -------
    pandas.DataFrame
        ``year, calendar_year, target_rate, compliance_rate, sites_compliant, sites_total,
        met``.
    """
    start = _dt.date.today().year if start_year is None else int(start_year)
    targets = tuple(float(t) for t in targets)
    existing = sites["status"].to_numpy(dtype=object) != schema.PLANNED
    compliant = sites["compliant"].to_numpy(dtype=bool)
    up = (
        pd.to_numeric(sites["upgrade_year"], errors="coerce").to_numpy(dtype=np.float64)
        if "upgrade_year" in sites
        else np.full(len(sites), np.nan)
    )
    prog = np.where(up >= 1000, up - start + 1, up)
    prog = np.where(np.isnan(prog), np.inf, np.maximum(np.ceil(prog), 0))
    base = existing | include_planned
    n_skip = int((~base & np.isinf(prog)).sum())
    if n_skip:
        log.info("trajectory: %d planned sites without upgrade_year left out", n_skip)
    rows = []
    for year in range(len(targets) + 1):
        alive = base | (prog <= year)
        ok = alive & (compliant | (existing & (prog <= year)))
        total, good = int(alive.sum()), int(ok.sum())
        rate = good / total if total else math.nan
        target = targets[max(year - 1, 0)] if targets else math.nan
        rows.append((year, start + year - 1, target, rate, good, total, bool(rate >= target)))
    out = pd.DataFrame(
        rows,
        columns=[
            "year",
            "calendar_year",
            "target_rate",
            "compliance_rate",
            "sites_compliant",
            "sites_total",
            "met",
        ],
    )
    return out.astype({"year": np.int64, "calendar_year": np.int64, "met": bool})


def trajectory_from_snapshots(
    snapshots: list[pd.DataFrame],
    *,
    standard: Standard | str | Path = settings.DEFAULT_STANDARD,
    start_year: int | None = None,
) -> pd.DataFrame:
    """Compliance by year from several site tables (snapshot ``k`` = programme year ``k``).

    Each snapshot's existing sites are judged on the building standard of their level (floor
    area and ground-floor share; the per-100-households figure needs demand and is not judged
    here). Snapshot 0 is the baseline; years beyond the targets get the last target.

    Returns
    -------
    pandas.DataFrame
        As :func:`compliance_trajectory`.
    """
    std = load_standard(standard)
    start = _dt.date.today().year if start_year is None else int(start_year)
    rows = []
    for year, snap in enumerate(snapshots):
        alive = snap[snap["status"].astype(str) != schema.PLANNED] if "status" in snap else snap
        ok = site_compliance(alive, std)["compliant"].to_numpy(dtype=bool)
        total, good = len(alive), int(ok.sum())
        rate = good / total if total else math.nan
        target = std.targets[min(max(year - 1, 0), len(std.targets) - 1)]
        rows.append((year, start + year - 1, target, rate, good, total, bool(rate >= target)))
    cols = ["year", "calendar_year", "target_rate", "compliance_rate"]
    cols += ["sites_compliant", "sites_total", "met"]
    return pd.DataFrame(rows, columns=cols).astype({"met": bool})


# --------------------------------------------------------------------------------------------
def _check_crs(comm: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, network: Any) -> None:
    crs = [("communities", comm.crs), ("sites", sites.crs), ("network", network.crs)]
    known = [(k, CRS.from_user_input(c)) for k, c in crs if c is not None]
    bad = [k for k, c in known[1:] if c != known[0][1]] if known else []
    if bad:
        raise InputError.one(
            ", ".join(bad),
            "",
            "crs",
            f"CRS differs from the {known[0][0]}' ({known[0][1].to_string()})",
            "load communities, sites and roads with the same metric CRS (siting.io does)",
        )


def _prepare_communities(comm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    c = comm.reset_index(drop=True).copy()
    c["id"] = c["id"].astype(str)
    for col, default in (("name", ""), ("kind", schema.RESIDENTIAL), ("street", "")):
        c[col] = _text(c[col], default) if col in c else default
    for col in ("population", "households", "party_members"):
        c[col] = pd.to_numeric(c[col], errors="coerce") if col in c else np.nan
        c[col] = c[col].astype(np.float64)
    return c


def _prepare_sites(sites: gpd.GeoDataFrame, comm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    s = sites.reset_index(drop=True).copy()
    s["id"] = s["id"].astype(str)
    for col in ("name", "community_id"):
        s[col] = _text(s[col]) if col in s else ""
    s["status"] = _text(s["status"], schema.EXISTING) if "status" in s else schema.EXISTING
    for col in ("floor_area_m2", "ground_floor_area_m2", "upgrade_year"):
        s[col] = pd.to_numeric(s[col], errors="coerce") if col in s else np.nan
        s[col] = s[col].astype(np.float64)
    # sites without a (known) community: the community polygon they stand in
    missing = ~s["community_id"].isin(comm["id"]).to_numpy()
    if missing.any() and len(comm):
        tree = shapely.STRtree(comm.geometry.values)
        si, ci = tree.query(s.geometry.values[missing], predicate="within")
        found = np.full(int(missing.sum()), "", dtype=object)
        found[si[::-1]] = comm["id"].to_numpy()[ci[::-1]]  # first match wins
        s.loc[missing, "community_id"] = found
    return s


def _demand_frame(
    comm: gpd.GeoDataFrame, demand: str | gpd.GeoDataFrame, spacing: float
) -> tuple[gpd.GeoDataFrame, str]:
    if isinstance(demand, gpd.GeoDataFrame):
        d, method = demand, "custom"
        miss = [c for c in ("community_id", "population") if c not in d]
        if miss:
            raise InputError.one(
                "demand points", "", ", ".join(miss), "missing", "give community_id, population"
            )
    else:
        from siting.demand import demand_points

        d, method = demand_points(comm, method=demand, spacing=spacing), str(demand)
    d = d.reset_index(drop=True).copy()
    d["community_id"] = d["community_id"].astype(str)
    for col in ("population", "households", "party_members"):
        vals = pd.to_numeric(d[col], errors="coerce") if col in d else 0.0
        d[col] = np.nan_to_num(np.asarray(vals, dtype=np.float64) * np.ones(len(d)))
    return d, method


def _catchment(
    network: Any,
    d_xy: np.ndarray,
    s_xy: np.ndarray,
    mask: np.ndarray,
    radius: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest site among ``mask`` for each demand point (positions into all sites).

    With ``radius`` (per site), only a site within its own radius counts (-1 / inf otherwise).
    """
    pos = np.flatnonzero(mask)
    none = np.full(len(d_xy), -1, dtype=np.int64), np.full(len(d_xy), np.inf)
    if len(pos) == 0 or len(d_xy) == 0:
        return none
    cutoff = None if radius is None else float(np.max(radius[pos]))
    idx, dist = network.nearest(d_xy, s_xy[pos], cutoff=cutoff)
    out = np.where(idx >= 0, pos[np.maximum(idx, 0)], -1)
    if radius is not None:
        far = (out >= 0) & (dist > radius[np.maximum(out, 0)])
        out[far] = -1
        dist = np.where(far, np.inf, dist)
    return out, dist


def _served(idx: np.ndarray, pop: Any, hh: Any, pm: Any, n: int) -> np.ndarray:
    """(3, n) population, households and Party members per site of a catchment."""
    ok = idx >= 0
    return np.vstack(
        [np.bincount(idx[ok], weights=w[ok], minlength=n) for w in (pop, hh, pm)]
    ).astype(np.float64)


def _within_radius(
    network: Any, s_xy: np.ndarray, d_xy: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site, demand, distance) triples with distance <= the site's radius."""
    m = network.distances(s_xy, d_xy, float(np.nanmax(radius))).tocsr()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    ok = m.data <= radius[rows]
    return rows[ok], m.indices[ok].astype(np.int64), m.data[ok]


def _site_frame(
    st: gpd.GeoDataFrame,
    std: Standard,
    stats: np.ndarray,
    in_radius: np.ndarray,
    radius: np.ndarray,
    comm: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    comp = site_compliance(st, std, households_served=stats[1])
    lv = st["level"]
    max_pop = lv.map(std.per_level("max_population")).to_numpy(dtype=np.float64)
    base = lv.map(std.per_level("funding_base_yuan")).to_numpy(dtype=np.float64)
    per_pm = lv.map(std.per_level("funding_per_party_member_yuan")).to_numpy(dtype=np.float64)
    street = st["community_id"].map(dict(zip(comm["id"], comm["street"], strict=False)))
    out = pd.DataFrame(
        {
            "site_id": st["id"].to_numpy(),
            "name": st["name"].to_numpy(),
            "level": lv.to_numpy(),
            "status": st["status"].to_numpy(),
            "floor_area_m2": st["floor_area_m2"].to_numpy(),
            "ground_floor_area_m2": st["ground_floor_area_m2"].to_numpy(),
            "ground_floor_share": comp["ground_floor_share"].to_numpy(),
            "compliant": comp["compliant"].to_numpy(dtype=bool),
            "reasons": comp["reasons"].to_numpy(),
            "reasons_en": comp["reasons_en"].to_numpy(),
            "shortfall_m2": comp["shortfall_m2"].to_numpy(),
            "population_served": stats[0],
            "households_served": stats[1],
            "party_members_served": stats[2],
            "population_in_radius": np.asarray(in_radius, dtype=np.float64),
            "radius_m": radius,
            "max_population": max_pop,
            "overloaded": stats[0] > max_pop,
            "m2_per_100_households": comp["m2_per_100_households"].to_numpy(),
            "required_funding_yuan": base + per_pm * stats[2],
            "street": _text(street).to_numpy(),
            "community_id": st["community_id"].to_numpy(),
            "required_floor_area_m2": comp["required_floor_area_m2"].to_numpy(),
            "min_floor_area_m2": comp["min_floor_area_m2"].to_numpy(),
            "min_ground_floor_share": comp["min_ground_floor_share"].to_numpy(),
            "upgrade_year": st["upgrade_year"].to_numpy(),
        }
    )
    return gpd.GeoDataFrame(out, geometry=st.geometry.to_numpy(), crs=st.crs)


def _demand_out(dem, covered, covered_any, c_soh, c_soh_d, c_pt, c_pt_d) -> gpd.GeoDataFrame:
    pt_closer = c_pt_d < c_soh_d
    out = pd.DataFrame(
        {
            "community_id": dem["community_id"].to_numpy(),
            "population": dem["population"].to_numpy(),
            "households": dem["households"].to_numpy(),
            "party_members": dem["party_members"].to_numpy(),
            "covered": covered,
            "covered_any": covered_any,
            "nearest_site": np.where(pt_closer, c_pt, c_soh).astype(np.int64),
            "nearest_site_distance_m": np.where(pt_closer, c_pt_d, c_soh_d),
            "station_site": c_soh.astype(np.int64),
            "station_distance_m": c_soh_d,
            "point_site": c_pt.astype(np.int64),
        }
    )
    return gpd.GeoDataFrame(out, geometry=dem.geometry.to_numpy(), crs=dem.crs)


def _community_frame(comm, st, sites, dem, network, std, current, radius) -> gpd.GeoDataFrame:
    geoms = comm.geometry.to_numpy()
    cen = shapely.centroid(geoms)
    rep = np.where(shapely.within(cen, geoms), cen, shapely.point_on_surface(geoms))
    r_xy = as_xy(rep) if len(rep) else np.empty((0, 2))
    s_xy = as_xy(st.geometry) if len(st) else np.empty((0, 2))
    soh = np.isin(sites["level"].to_numpy(dtype=object), SOH)
    ids = sites["site_id"].to_numpy(dtype=object)
    near, near_d = _catchment(network, r_xy, s_xy, current)
    near_st, near_st_d = _catchment(network, r_xy, s_xy, current & soh)
    # shares from the demand points; a community without residents: its own centre point
    g = (
        pd.DataFrame(
            {
                "cid": dem["community_id"].to_numpy(),
                "pop": dem["population"].to_numpy(),
                "cov": dem["population"].to_numpy() * dem["covered"].to_numpy(),
                "any": dem["population"].to_numpy() * dem["covered_any"].to_numpy(),
            }
        )
        .groupby("cid")[["pop", "cov", "any"]]
        .sum()
    )
    g = g.reindex(comm["id"]).fillna(0.0)
    rep_cov = np.zeros(len(comm), dtype=bool)
    rep_any = np.zeros(len(comm), dtype=bool)
    if len(st) and len(comm):
        rows, cols, _ = _within_radius(network, s_xy, r_xy, radius)
        rep_cov[cols[(current & soh)[rows]]] = True
        rep_any[cols[current[rows]]] = True
    has_pop = g["pop"].to_numpy() > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(has_pop, g["cov"].to_numpy() / g["pop"].to_numpy(), rep_cov * 1.0)
        share_any = np.where(has_pop, g["any"].to_numpy() / g["pop"].to_numpy(), rep_any * 1.0)
    # sites standing in each community (current only)
    cur = sites[current]
    cur_soh = cur["level"].isin(SOH)
    n_st = cur[cur_soh].groupby("community_id").size()
    n_ok = cur[cur_soh & cur["compliant"]].groupby("community_id").size()
    n_pt = cur[~cur_soh].groupby("community_id").size()
    cid = comm["id"]
    n_st = cid.map(n_st).fillna(0).to_numpy(dtype=np.int64)
    n_ok = cid.map(n_ok).fillna(0).to_numpy(dtype=np.int64)
    n_pt = cid.map(n_pt).fillna(0).to_numpy(dtype=np.int64)
    status = np.select(
        [share >= std.covered_min_share, share >= std.partly_min_share],
        ["covered", "partly"],
        "gap",
    )
    kind = comm["kind"].to_numpy(dtype=object)
    missing = _missing_zh(kind, n_st, n_ok, n_pt, share, share_any, std.covered_min_share)
    out = pd.DataFrame(
        {
            "community_id": cid.to_numpy(),
            "name": comm["name"].to_numpy(),
            "kind": kind,
            "street": comm["street"].to_numpy(),
            "population": comm["population"].to_numpy(),
            "households": comm["households"].to_numpy(),
            "party_members": comm["party_members"].to_numpy(),
            "nearest_site_id": np.where(near >= 0, ids[np.maximum(near, 0)], "")
            if len(ids)
            else "",
            "nearest_site_distance_m": near_d,
            "nearest_station_id": np.where(near_st >= 0, ids[np.maximum(near_st, 0)], "")
            if len(ids)
            else "",
            "nearest_station_distance_m": near_st_d,
            "covered_share": share.astype(np.float64),
            "covered_share_any": share_any.astype(np.float64),
            "has_compliant_station": n_ok > 0,
            "coverage_status": status,
            "placement_rule": _text(pd.Series(kind).map(PLACEMENT_RULES_ZH)).to_numpy(),
            "missing": missing,
            "stations": n_st,
            "points": n_pt,
            "population_covered": g["cov"].to_numpy(),
            "population_covered_any": g["any"].to_numpy(),
            "population_demand": g["pop"].to_numpy(),
        }
    )
    return gpd.GeoDataFrame(out, geometry=geoms, crs=comm.crs)


def _missing_zh(kind, n_st, n_ok, n_pt, share, share_any, covered_min) -> np.ndarray:
    """What a community lacks under its placement rule, in Chinese ("" when nothing)."""
    needs_st = np.isin(kind, _NEEDS_STATION)
    urban = kind == schema.URBAN_VILLAGE
    points_first = np.isin(kind, (schema.HOLLOW_VILLAGE, schema.ENTERPRISE))
    pct = _fmt((1 - share) * 100, 0)
    pct_any = _fmt((1 - share_any) * 100, 0)
    parts = [
        np.where(
            needs_st & (n_st == 0), np.where(urban, "缺党群服务站（优先）", "缺党群服务站"), ""
        ),
        np.where(needs_st & (n_st > 0) & (n_ok == 0), "服务站未达标", ""),
        np.where((kind == schema.VILLAGE) & (n_pt == 0), "缺党群服务点", ""),
        np.where(
            (kind == schema.HOLLOW_VILLAGE) & (n_pt == 0) & (share_any < covered_min),
            "缺党群服务点（优先）",
            "",
        ),
        np.where(
            (kind == schema.ENTERPRISE) & (n_pt == 0) & (share_any < covered_min),
            "缺服务点（可多企联建）",
            "",
        ),
        np.where(needs_st & (share < covered_min), pct + "% 居民不在服务站服务半径内", ""),
        np.where(
            points_first & (share_any < covered_min), pct_any + "% 居民不在任何站点服务半径内", ""
        ),
    ]
    return _join(parts, "；")


def _street_frame(
    comm: pd.DataFrame, sites: pd.DataFrame, current: np.ndarray, prog: np.ndarray
) -> pd.DataFrame:
    c = comm.groupby("street", sort=True).agg(
        population=("population", "sum"),
        population_covered=("population_covered", "sum"),
        population_demand=("population_demand", "sum"),
        households=("households", "sum"),
    )
    s = sites[current].assign(
        soh=lambda d: d["level"].isin(SOH),
        station=lambda d: d["level"] == schema.STATION,
    )
    s = s.assign(
        station_ok=s["station"] & s["compliant"],
        soh_pop=s["population_served"].where(s["soh"]),
        soh_area=s["floor_area_m2"].where(s["soh"], 0.0),
        prog=prog[current],
    )
    s = s.assign(prog_ok=s["prog"] & s["compliant"])
    agg = s.groupby("street").agg(
        sites_total=("prog", "sum"),
        sites_compliant=("prog_ok", "sum"),
        sites_all_levels=("site_id", "size"),
        stations=("station", "sum"),
        stations_compliant=("station_ok", "sum"),
        population_per_site_mean=("soh_pop", "mean"),
        population_per_site_max=("soh_pop", "max"),
        sites_overloaded=("overloaded", "sum"),
        floor_area=("soh_area", "sum"),
    )
    out = c.join(agg, how="outer")
    for col in (
        "population",
        "population_covered",
        "population_demand",
        "households",
        "floor_area",
    ):
        out[col] = out[col].fillna(0.0).astype(np.float64)
    for col in (
        "sites_total",
        "sites_compliant",
        "sites_all_levels",
        "stations",
        "stations_compliant",
    ):
        out[col] = out[col].fillna(0).astype(np.int64)
    out["sites_overloaded"] = out["sites_overloaded"].fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # shares on the demand points' base (equal to the declared one for grid and centroid)
        out["coverage_rate"] = out["population_covered"] / out["population_demand"].where(
            out["population_demand"] > 0
        )
        out["compliance_rate"] = out["sites_compliant"] / out["sites_total"].where(
            out["sites_total"] > 0
        )
        out["floor_area_per_100_households"] = (
            out["floor_area"] / out["households"].where(out["households"] > 0) * 100.0
        )
    cols = [
        "street",
        "population",
        "population_covered",
        "coverage_rate",
        "sites_total",
        "sites_compliant",
        "compliance_rate",
        "stations",
        "stations_compliant",
        "population_per_site_mean",
        "population_per_site_max",
        "sites_overloaded",
        "floor_area_per_100_households",
    ]
    out = out.reset_index(names="street")
    for col in cols[1:]:
        if out[col].dtype == object:
            out[col] = out[col].astype(np.float64)
    return out[cols]


def _summary(
    comm, sites, streets, traj, gaps, current, std, network, method, prog
) -> dict[str, Any]:
    cur = sites[current]
    cur_prog = sites[current & prog]
    pop_total = float(comm["population"].fillna(0).sum())
    pop_cov = float(comm["population_covered"].sum())
    cov_any = float(comm["population_covered_any"].sum())
    pop_dem = float(comm["population_demand"].sum())
    by_level = {}
    for lv in schema.LEVELS:
        s = cur[cur["level"] == lv]
        by_level[lv] = {
            "label_zh": schema.LEVEL_LABELS_ZH[lv],
            "sites_total": len(s),
            "sites_compliant": int(s["compliant"].sum()),
            "compliance_rate": _rate(int(s["compliant"].sum()), len(s)),
            "population_served_mean": float(s["population_served"].mean()) if len(s) else None,
            "population_served_max": float(s["population_served"].max()) if len(s) else None,
            "sites_overloaded": int(s["overloaded"].sum()),
            "floor_area_m2_total": float(s["floor_area_m2"].sum()),
        }
    by_street = {
        str(r["street"]): {
            k: r[k]
            for k in (
                "population",
                "population_covered",
                "coverage_rate",
                "sites_total",
                "sites_compliant",
                "compliance_rate",
                "sites_overloaded",
            )
        }
        for r in streets.to_dict("records")
    }
    status = comm["coverage_status"].value_counts()
    out = {
        "population_total": pop_total,
        "population_covered": pop_cov,
        "coverage_rate": _rate(pop_cov, pop_dem),
        "population_covered_any": cov_any,
        "coverage_rate_any": _rate(cov_any, pop_dem),
        "sites_total": len(cur_prog),
        "sites_compliant": int(cur_prog["compliant"].sum()),
        "compliance_rate": _rate(int(cur_prog["compliant"].sum()), len(cur_prog)),
        "compliance_levels": list(std.programme_levels()),
        "sites_all_levels": len(cur),
        "sites_planned": int((~current).sum()),
        "sites_overloaded": int(cur["overloaded"].sum()),
        "communities_total": len(comm),
        "communities_covered": int(status.get("covered", 0)),
        "communities_partly": int(status.get("partly", 0)),
        "communities_gap": int(status.get("gap", 0)),
        "gap_hexagons": len(gaps),
        "population_uncovered_in_gaps": float(gaps["population_uncovered"].sum()),
        "by_level": by_level,
        "by_street": by_street,
        "distance_mode": str(getattr(network, "kind", "euclidean")),
        "standard": std.name,
        "demand_method": method,
        "targets": traj.to_dict("records"),
        "target_rates": [float(t) for t in std.targets],
    }
    return _jsonable(out)


def _text(s: pd.Series, default: str = "") -> pd.Series:
    """Text column with missing values (None, NaN, "") as ``default``."""
    out = s.astype(object).where(s.notna(), default).astype(str)
    return out.where(out != "", default)


def _rate(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def _jsonable(obj: Any) -> Any:
    """Plain Python values only: numpy scalars unwrapped, NaN/inf as None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _fmt(values: Any, decimals: int) -> np.ndarray:
    """Numbers as text with thousands separators (object array; "?" for NaN)."""
    arr = np.asarray(values, dtype=np.float64)
    spec = f"{{:,.{decimals}f}}"
    return np.array([spec.format(v) if np.isfinite(v) else "?" for v in arr], dtype=object)


def _join(parts: list[np.ndarray], sep: str) -> np.ndarray:
    """Join per-row text parts, skipping empty ones."""
    if not parts or len(parts[0]) == 0:
        return np.array([], dtype=object)
    stacked = np.stack([np.asarray(p, dtype=object) for p in parts], axis=1)
    return np.array([sep.join(t for t in row if t) for row in stacked], dtype=object)
