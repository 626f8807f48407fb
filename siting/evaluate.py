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

Site compliance and the trajectories live in :mod:`siting._compliance`, catchments in
:mod:`siting._catchment`, the community/street/district rollups in :mod:`siting._rollups`;
the public names are re-exported here.
"""

from __future__ import annotations

import json
import logging
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
from siting._catchment import _catchment, _served, _within_radius
from siting._compliance import (
    compliance_trajectory,
    default_start_year,
    site_compliance,
    trajectory_from_snapshots,
)
from siting._errors import InputError, warn
from siting._geom import as_xy
from siting._rollups import PLACEMENT_RULES_ZH as PLACEMENT_RULES_ZH
from siting._rollups import _community_frame, _street_frame, _summary, _text
from siting.gaps import uncovered_hexagons
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
        Calendar year of programme year 1 (default: next year, see
        ``siting._compliance.default_start_year``); ``upgrade_year`` values below 1000 are
        read as programme years.
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
            start=default_start_year() if start_year is None else int(start_year),
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
        # report far-from-road points once, named by id (sites) and by community (demand
        # points), not by position; the later distance queries do not warn
        dem_named = gpd.GeoSeries(
            dem.geometry.values,
            index="in " + dem["community_id"].astype(str).to_numpy(dtype=object),
        )
        network.snap(dem_named, label="demand points")
        network.snap(gpd.GeoSeries(st.geometry.values, index=st["id"].to_numpy()), label="sites")
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
    _estimate_households(c)
    return c


def _estimate_households(c: pd.DataFrame) -> None:
    """Households of communities that give a population but no households, estimated at the
    district's persons per household (in place), with a warning: without them a station's floor
    area per 100 households could not be judged and would pass that rule unseen."""
    from siting.estate import household_size

    pop = c["population"].to_numpy(dtype=np.float64)
    hh = c["households"].to_numpy(dtype=np.float64)
    gap = (pop > 0) & ~(hh > 0)
    if not gap.any():
        return
    size = household_size(c)
    c.loc[gap, "households"] = pop[gap] / size.persons
    k, n = int(gap.sum()), len(c)
    ids = c["id"].to_numpy()[gap]
    shown = ", ".join(map(str, ids[:10])) + (f" and {k - 10} more" if k > 10 else "")
    where = (
        "the district's own population / households"
        if size.source == "district"
        else "the national average"
    )
    warn(
        f"communities: households (户数) unknown for {k} of {n} ({shown}): estimated from "
        f"their population at {size.persons:.2f} persons per household ({where}), so each "
        "station's floor area per 100 households can be judged - give the households column "
        "for exact figures"
    )


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
