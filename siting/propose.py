"""Proposals for new stations: geometry to matrices, a location model, before/after coverage.

The location models in :mod:`siting.locate` take matrices only; this module builds them from
the evaluation's demand points and the candidate locations over the same distance provider, and
re-evaluates the district with the proposed stations to report coverage before and after.

Existing sites stay: every existing station-or-higher site is kept (upgrading the sub-standard
ones is the three-year plan's job, :mod:`siting.plan`). For MCLP and LSCP the rows are the
residents the evaluation finds outside every existing site's service radius, so the model's
objective and the before/after coverage measure the same thing; for p-median the existing sites
are fixed columns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import locate, schema
from siting._errors import InputError, warn
from siting._rollups import _jsonable
from siting.candidates import screen
from siting.estate import PERSONS_PER_HOUSEHOLD, household_size
from siting.standards import Standard, load_standard

logger = logging.getLogger(__name__)

__all__ = ["MODELS", "Proposal", "propose"]

MODELS = ("mclp", "lscp", "pmedian")
#: A --radius above this (metres) is beyond a plausible walk to a service site: about 40 minutes
#: on foot, three times a street center's 1,000 m radius; it is used, with a warning.
PLAUSIBLE_RADIUS_M = 3000.0
#: A candidate this close (metres, straight line) to an existing station-or-higher site is that
#: site, not a place for a new one (e.g. the sites file given as --candidates): it is left out.
SAME_PLACE_M = 30.0


@dataclass(frozen=True)
class Proposal:
    """Proposed stations and the figures behind them.

    ``stations``: one row per proposed new station (``rank, id, name, source, action,
    floor_area_m2, population_added, population_served, geometry``), ranked by the residents it
    newly brings within reach.
    ``before``/``after``: evaluations without and with the proposals.
    """

    stations: gpd.GeoDataFrame
    solution: locate.Solution
    before: Any
    after: Any
    summary: dict[str, Any] = field(default_factory=dict)


def _capacity(
    area: np.ndarray, std: Standard, persons_per_household: float = PERSONS_PER_HOUSEHOLD
) -> np.ndarray:
    """Residents a site can serve: its space at the households standard (households turned
    into residents at ``persons_per_household``, the district's own ratio from
    :func:`siting.estate.household_size`), capped by the station's maximum; a site without a
    known area is taken as built to the station minimum (as the after-evaluation builds it)."""
    st = std.levels[schema.STATION]
    per100 = st.min_m2_per_100_households
    area = np.where(np.isfinite(area), area, st.min_floor_area_m2)
    by_area = area / per100 * 100.0 * persons_per_household if per100 > 0 else np.inf
    return np.asarray(np.minimum(by_area, st.max_population), dtype=float)


def _drop_existing(
    candidates: gpd.GeoDataFrame, ev_sites: gpd.GeoDataFrame, label: str
) -> gpd.GeoDataFrame:
    """``candidates`` without those within :data:`SAME_PLACE_M` of an existing
    station-or-higher site, named in a warning.

    A candidate on top of an existing station is that station (typically the sites file given
    as candidates): proposing it as a new station would count residents the station already
    serves as gained. A planner expects the model to place stations where there are none;
    enlarging or upgrading existing sites is the upgrade plan's job (``siting plan``).

    Raises
    ------
    InputError
        When no candidate is left.
    """
    if len(candidates) == 0 or len(ev_sites) == 0:
        return candidates
    soh = ev_sites[
        ev_sites["level"].isin(schema.STATION_OR_HIGHER).to_numpy()
        & (ev_sites["status"] == schema.EXISTING).to_numpy()
    ]
    if len(soh) == 0:
        return candidates
    geom = candidates.to_crs(soh.crs).geometry.values
    tree = shapely.STRtree(soh.geometry.values)
    near, dist = tree.query_nearest(geom, max_distance=SAME_PLACE_M, return_distance=True)
    if len(near[0]) == 0:
        return candidates
    # one nearest site per candidate (ties: the first)
    cand_idx, first = np.unique(near[0], return_index=True)
    site_ids = soh["site_id"].astype(str).to_numpy()[near[1][first]]
    dists = dist[first]
    ids = candidates["id"].astype(str).to_numpy()
    shown = ", ".join(
        f"{ids[c]} at {sid} ({d:,.0f} m)"
        for c, sid, d in list(zip(cand_idx, site_ids, dists, strict=True))[:10]
    )
    if len(cand_idx) > 10:
        shown += f" and {len(cand_idx) - 10} more"
    keep = np.ones(len(candidates), dtype=bool)
    keep[cand_idx] = False
    what = (
        f"{len(cand_idx)} candidate(s) within {SAME_PLACE_M:,.0f} m of an existing station "
        f"or higher site ({shown})"
    )
    if not keep.any():
        raise InputError.one(
            label,
            "",
            "geometry",
            f"every candidate lies on an existing site: {what}",
            "give places where a new station could go (vacant buildings, --candidates auto), "
            "not the sites file; to upgrade existing sites use `siting plan`",
        )
    if label == "auto":  # street corners next to a station: no news for the user
        logger.info("auto candidates: left out %s", what)
        return candidates[keep].reset_index(drop=True)
    warn(
        f"{label}: left out {what}: they are existing sites, not places for a new station "
        "(was the sites file given as --candidates?); to enlarge or upgrade existing sites "
        "use `siting plan`"
    )
    return candidates[keep].reset_index(drop=True)


def _within(demand: gpd.GeoDataFrame, radius: float) -> float:
    """Share of the population within ``radius`` of a station-or-higher site."""
    w = demand["population"].to_numpy(dtype=float)
    near = demand["station_distance_m"].to_numpy(dtype=float) <= radius
    total = float(w.sum())
    return float(w[near].sum() / total) if total > 0 else 0.0


def propose(
    evaluation: Any,
    network: Any,
    candidates: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    model: str = "mclp",
    p: int = 3,
    radius: float | None = None,
    capacity: bool = False,
    standard: Standard | str = "default",
    time_limit: float = 60.0,
    water: gpd.GeoSeries | None = None,
    candidates_label: str = "candidates",
    progress: Callable[[str], None] | None = None,
) -> Proposal:
    """Choose new stations with a location model and evaluate the district with them.

    Parameters
    ----------
    evaluation
        Evaluation of the current district (its demand points are the model's rows).
    network
        The distance provider used for the evaluation.
    candidates
        Candidate locations (canonical candidate columns).
    communities, sites
        The canonical inputs (for the after-evaluation).
    model
        ``mclp`` (at most ``p`` new sites, most residents within ``radius``), ``lscp`` (fewest
        sites covering every resident that can be covered) or ``pmedian`` (``p`` new sites,
        least total walking distance).
    p
        Number of new stations (mclp, pmedian).
    radius
        Walking radius in metres (default: the station's service radius).
    capacity
        Limit each site to the residents its floor area can serve (30 m² per 100 households,
        households turned into residents at the communities' own population / households,
        :func:`siting.estate.household_size`).
    standard
        Standards profile.
    time_limit
        Solver time limit in seconds.
    water
        Water polygons; candidates inside are left out, as are candidates more than 200 m
        outside the district (each named in a warning, see :func:`siting.candidates.screen`).
    candidates_label
        The candidates' file name, for messages.
    progress
        Called with one line before the model is solved (the demand points and the candidates
        left after screening).

    Raises
    ------
    InputError
        Unknown model, p < 1, radius not positive, or no candidates.

    Warns
    -----
    SitingWarning
        A radius above :data:`PLAUSIBLE_RADIUS_M`; candidates left out by the screening, or
        because they lie within :data:`SAME_PLACE_M` of an existing station-or-higher site.
    """
    from siting.evaluate import evaluate

    std = load_standard(standard) if not isinstance(standard, Standard) else standard
    if model not in MODELS:
        raise InputError.one(
            "", "", "--model", f"unknown model {model!r}", f"use one of {', '.join(MODELS)}"
        )
    if model != "lscp" and (not isinstance(p, int | np.integer) or p < 1):
        raise InputError.one(
            "", "", "--p", f"number of new stations must be >= 1, got {p!r}", "give e.g. --p 3"
        )
    radius = float(std.levels[schema.STATION].service_radius_m if radius is None else radius)
    if not radius > 0:
        raise InputError.one(
            "",
            "",
            "--radius",
            f"radius must be > 0 m, got {radius}",
            "give a walking radius in metres, e.g. --radius 500",
        )
    if radius > PLAUSIBLE_RADIUS_M:
        default = std.levels[schema.STATION].service_radius_m
        warn(
            f"--radius {radius:,.0f} m is beyond a plausible walk to a service site (more than "
            f"{PLAUSIBLE_RADIUS_M:,.0f} m, about 40 minutes on foot): the model then counts "
            "residents as reached who would not walk that far, and its 'within the radius' "
            "figures no longer match the coverage at each site's own service radius; the "
            f"default is the station's service radius ({default:,.0f} m)"
        )
    if candidates is None or len(candidates) == 0:
        raise InputError.one(
            "",
            "",
            "--candidates",
            "there are no candidate locations",
            "give a candidates file or --candidates auto with a road network",
        )

    candidates = screen(candidates, communities, water=water, label=candidates_label)
    candidates = _drop_existing(candidates, evaluation.sites, candidates_label)
    if hasattr(network, "snap") and len(candidates):
        # one warning naming the candidates far from every street (the distance queries are quiet)
        network.snap(candidates.geometry, label="candidates", ids=candidates["id"])
    # households -> residents for the capacities: the district's own ratio when it has one
    size = household_size(communities) if capacity else None
    pph = size.persons if size is not None else PERSONS_PER_HOUSEHOLD
    if model != "lscp" and candidates is not None and p > len(candidates):
        raise InputError.one(
            "",
            "",
            "--p",
            f"{p} new stations asked but there are only {len(candidates)} candidate locations",
            f"give --p {len(candidates)} or fewer, or more candidates",
        )
    ev_sites = evaluation.sites
    if progress is not None:
        progress(
            f"solving {model} over {len(evaluation.demand):,} demand points x "
            f"{len(candidates):,} candidates ..."
        )
    soh = (
        ev_sites["level"].isin(schema.STATION_OR_HIGHER).to_numpy()
        & (ev_sites["status"] == schema.EXISTING).to_numpy()
    )
    existing = ev_sites[soh]
    demand = evaluation.demand
    w = demand["population"].to_numpy(dtype=float)
    dxy = shapely.get_coordinates(demand.geometry.values)
    cand_cols = pd.DataFrame(
        {
            "id": candidates["id"].to_numpy(),
            "name": candidates["name"].to_numpy(),
            "source": candidates["source"].to_numpy(),
            "action": "new",
            "floor_area_m2": candidates["floor_area_m2"].to_numpy(dtype=float),
        }
    )

    if model == "pmedian":
        # columns: the existing station-or-higher sites (fixed) and the candidates
        cols = pd.concat(
            [
                pd.DataFrame(
                    {
                        "id": existing["site_id"],
                        "name": existing["name"],
                        "source": "existing",
                        "action": "keep",
                        "floor_area_m2": existing["floor_area_m2"],
                    }
                ),
                cand_cols,
            ],
            ignore_index=True,
        )
        geoms = np.concatenate([existing.geometry.values, candidates.geometry.values])
        fixed = np.arange(len(existing))
        cap = _capacity(cols["floor_area_m2"].to_numpy(dtype=float), std, pph) if capacity else None
        far = max(3.0 * radius, 3000.0)
        cost = network.distances(dxy, shapely.get_coordinates(geoms), far).tocsr()
        reach = np.diff(cost.indptr) > 0
        if not reach.all():
            logger.info(
                "p-median: %d demand points beyond %.0f m of every column left out",
                int((~reach).sum()),
                far,
            )
        sol = locate.p_median(
            cost[reach],
            p,  # new sites beyond the fixed existing ones
            weights=w[reach],
            fixed=fixed,
            capacity=cap,
            time_limit=time_limit,
        )
        # the model's site (column) for each demand point, -1: none
        model_site = np.full(len(w), -1, dtype=np.int64)
        if sol.status in ("optimal", "feasible"):
            model_site[reach] = sol.assignment
        unreachable = float(w[~reach].sum())
        # walking distance of each demand point to its model site (rows the model assigned)
        walk = np.full(len(w), np.nan)
        if sol.status in ("optimal", "feasible"):
            ok = sol.assignment >= 0
            r_idx = np.flatnonzero(reach)[ok]
            walk[r_idx] = np.asarray(cost[r_idx, sol.assignment[ok]]).ravel()
    else:
        # rows: residents not yet within reach of an existing station-or-higher site (the
        # evaluation's coverage, each site with its own radius); columns: the candidates
        cols, geoms, fixed = cand_cols, candidates.geometry.values, np.arange(0)
        open_rows = ~demand["covered"].to_numpy(dtype=bool) & (w > 0)
        cap = _capacity(cols["floor_area_m2"].to_numpy(dtype=float), std, pph) if capacity else None
        cov = network.distances(dxy[open_rows], shapely.get_coordinates(geoms), radius).tocsr()
        cov.data[:] = 1.0
        wo = w[open_rows]
        coverable = np.diff(cov.indptr) > 0
        unreachable = float(wo[~coverable].sum())
        sub = np.full(len(wo), -1, dtype=np.int64)
        if model == "mclp":
            sol = locate.mclp(cov, wo, p, capacity=cap, time_limit=time_limit)
            if sol.status in ("optimal", "feasible"):
                sub = sol.assignment
        else:
            sol = locate.lscp(
                cov[coverable],
                capacity=cap,
                demand=wo[coverable] if cap is not None else None,
                time_limit=time_limit,
            )
            if sol.status in ("optimal", "feasible"):
                sub[coverable] = sol.assignment
        model_site = np.full(len(w), -1, dtype=np.int64)
        model_site[open_rows] = sub
    if sol.status == "unsolved":
        raise InputError.one(
            "",
            "",
            "--time-limit",
            f"the {model} model found no answer within {time_limit:g} s",
            "allow more time (--time-limit), fewer candidates, or drop --capacity",
        )
    if sol.status == "infeasible":
        more = "" if model == "lscp" else "more stations (--p), "
        why = ""
        if capacity and model == "lscp" and len(sol.uncoverable):
            # demand points of communities no covering candidate can hold
            rows = np.flatnonzero(open_rows)[np.flatnonzero(coverable)[sol.uncoverable]]
            ids = pd.unique(demand["community_id"].to_numpy()[rows].astype(str))
            why = (
                f": {w[rows].sum():,.0f} residents (communities {', '.join(ids[:5])}"
                + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
                + ") need more room than any candidate within reach has"
            )
        elif capacity:
            why = ": the candidates' capacities cannot hold every resident"
        raise InputError.one(
            "",
            "",
            "--model",
            f"the {model} model is infeasible with these settings{why}",
            f"allow {more}a larger --radius, more or larger candidates, or drop --capacity",
        )

    chosen = np.setdiff1d(sol.selected, fixed)
    if model == "mclp":
        # a selected site serving none of the rows adds nobody (the others cover its rows, or
        # it reaches none): a station a department would not build
        used = np.zeros(len(cols), dtype=bool)
        used[model_site[model_site >= 0]] = True
        if not used[chosen].all():
            logger.info(
                "MCLP: %d selected sites serve nobody, left out", int((~used[chosen]).sum())
            )
            chosen = chosen[used[chosen]]
    picked = cols.iloc[chosen].reset_index(drop=True)
    stations = gpd.GeoDataFrame(picked, geometry=list(geoms[chosen]), crs=ev_sites.crs)

    # evaluate the district with the proposals: new ones as stations built to standard, or,
    # with capacities, at their own floor area (the model limited them by it)
    st = std.levels[schema.STATION]
    new = stations[stations["action"] == "new"]
    known = new["floor_area_m2"].to_numpy(dtype=float)
    area = np.where(
        np.isfinite(known),
        known if capacity else np.maximum(known, st.min_floor_area_m2),
        st.min_floor_area_m2,
    )
    add = gpd.GeoDataFrame(
        {
            "id": "NEW-" + new["id"].astype(str),
            "name": "拟建站 " + new["name"].astype(str),
            "level": schema.STATION,
            "floor_area_m2": area,
            "ground_floor_area_m2": area,
            "community_id": "",
            "status": schema.EXISTING,
            "upgrade_year": np.nan,
        },
        geometry=new.geometry.values,
        crs=sites.crs,
    )
    after_sites = sites.copy()
    up_ids = set(stations.loc[stations["action"] == "upgrade", "id"])
    if up_ids:
        m = after_sites["id"].isin(up_ids)
        req = np.fmax(
            after_sites.loc[m, "floor_area_m2"].to_numpy(dtype=float), st.min_floor_area_m2
        )
        after_sites.loc[m, "floor_area_m2"] = req
        after_sites.loc[m, "ground_floor_area_m2"] = req
    after_sites = pd.concat([after_sites, add], ignore_index=True)
    after = evaluate(
        communities,
        gpd.GeoDataFrame(after_sites, crs=sites.crs),
        network,
        standard=std,
        demand=demand,
    )

    # residents newly covered, credited to the nearest proposed station reaching them
    newly = after.demand["covered"].to_numpy() & ~evaluation.demand["covered"].to_numpy()
    pos = pd.Index(after.sites["site_id"]).get_indexer(
        np.where(
            stations["action"] == "new",
            "NEW-" + stations["id"].astype(str),
            stations["id"].astype(str),
        )
    )
    served = after.sites["population_served"].to_numpy(dtype=float)[pos]
    near = after.demand["station_site"].to_numpy()
    credit = newly & (near >= 0)
    added = np.bincount(near[credit], weights=w[credit], minlength=len(after.sites))[pos]
    # the model's own assignment (with capacities: the residents each site can take)
    on = model_site >= 0
    by_model = np.bincount(model_site[on], weights=w[on], minlength=len(cols))[chosen]
    if capacity:
        assert cap is not None
        served = by_model
        if model != "pmedian":
            added = by_model  # its rows were outside every existing site's reach
        else:
            # residents the model gives a new station that were not covered before and are
            # within the radius of it
            before = evaluation.demand["covered"].to_numpy(dtype=bool)
            gain = on & ~before & (walk <= radius)
            added = np.bincount(model_site[gain], weights=w[gain], minlength=len(cols))[chosen]
        stations = stations.assign(capacity_residents=np.round(cap[chosen]))
    stations = stations.assign(population_added=added, population_served=served)
    stations = stations.sort_values("population_added", ascending=False, ignore_index=True)
    stations.insert(0, "rank", np.arange(1, len(stations) + 1))

    b, a = evaluation.summary, after.summary
    within_cap = None
    if capacity and b["population_total"]:
        # the evaluation's "after" counts every resident within a new station's radius; with
        # capacities only those its floor area can take are served
        within_cap = (b["population_covered"] + float(np.sum(added))) / b["population_total"]
    summary = {
        "model": model,
        "p": int(p) if model != "lscp" else None,
        "radius_m": radius,
        "capacity": bool(capacity),
        "status": sol.status,
        "gap": float(sol.gap),
        "objective": float(sol.objective),
        "solve_time_s": float(sol.solve_time_s),
        "existing_sites_kept": len(existing),
        "candidates": len(candidates),
        "new_stations": len(stations),
        "coverage_rate_before": b["coverage_rate"],
        "coverage_rate_after": a["coverage_rate"],
        "population_covered_before": b["population_covered"],
        "population_covered_after": a["population_covered"],
        "communities_gap_before": b["communities_gap"],
        "communities_gap_after": a["communities_gap"],
        "distance_mode": b["distance_mode"],
        # the same two evaluations, measured at the model's radius (coverage above uses each
        # site's own service radius)
        "coverage_rate_within_radius_before": _within(evaluation.demand, radius),
        "coverage_rate_within_radius_after": _within(after.demand, radius),
        # residents the model's answer serves (MCLP/LSCP: newly within radius, within capacity)
        # and those beyond every candidate and existing site
        "population_reached_by_model": float(w[on].sum()) if model != "pmedian" else None,
        "population_unreachable": unreachable,
        "new_stations_asked": int(p) if model != "lscp" else None,
        "persons_per_household": size.persons if size else None,
        "persons_per_household_source": size.describe() if size else None,
        "new_sites_assumed": (
            "own floor area, unknown ones at the station minimum (capacity)"
            if capacity
            else "built to the station standard"
        ),
        "coverage_rate_after_within_capacity": within_cap,
        # p-median: the average walk of the residents it assigns (existing sites included)
        "mean_walk_m": (
            float(np.nansum(w * walk) / w[np.isfinite(walk)].sum())
            if model == "pmedian" and np.isfinite(walk).any()
            else None
        ),
    }
    # plain JSON values: NaN / inf (a gap with no bound known) as None
    return Proposal(stations, sol, evaluation, after, _jsonable(summary))


#: Chinese headers of the proposals table (the workbook puts "中文 / name" in one header cell).
PROPOSAL_LABELS_ZH = {
    "rank": "排序",
    "id": "候选点编号",
    "name": "名称",
    "source": "来源",
    "action": "措施",
    "floor_area_m2": "建筑面积(m²)",
    "capacity_residents": "可服务人口(按面积)",
    "population_added": "新增覆盖人口",
    "population_served": "服务人口",
    "lon_wgs84": "经度(WGS-84)",
    "lat_wgs84": "纬度(WGS-84)",
    "lon_gcj02": "经度(GCJ-02 高德)",
    "lat_gcj02": "纬度(GCJ-02 高德)",
    "lon_bd09": "经度(BD-09 百度)",
    "lat_bd09": "纬度(BD-09 百度)",
}


def proposals_table(stations: gpd.GeoDataFrame, coords: str = "wgs84") -> pd.DataFrame:
    """The proposed stations as a plain table: the columns of ``stations`` without geometry,
    plus ``lon_wgs84, lat_wgs84`` and, for input in GCJ-02 or BD-09 (``coords``), the same
    point in that system (``lon_gcj02, lat_gcj02`` or ``lon_bd09, lat_bd09``) to paste into
    AMap or Baidu Maps.
    """
    from siting.coords import wgs84_to_bd09, wgs84_to_gcj02

    table = pd.DataFrame(stations.drop(columns=stations.geometry.name))
    ll = stations.to_crs(4326).geometry
    lon, lat = ll.x.to_numpy(dtype=float), ll.y.to_numpy(dtype=float)
    table["lon_wgs84"], table["lat_wgs84"] = lon.round(6), lat.round(6)
    conv = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}.get(coords)
    if conv is not None and len(table):
        x, y = conv(lon, lat)
        table[f"lon_{coords}"] = np.asarray(x, dtype=float).round(6)
        table[f"lat_{coords}"] = np.asarray(y, dtype=float).round(6)
    return table


def write_proposals(stations: gpd.GeoDataFrame, out: Any, coords: str = "wgs84") -> tuple[Any, Any]:
    """Write ``proposals.csv`` (UTF-8 with BOM, opens in Excel) and ``proposals.xlsx`` (one
    bilingual header row, "中文 / name") into the folder ``out``; returns both paths."""
    from pathlib import Path

    from siting.report import write_table_xlsx

    table = proposals_table(stations, coords)
    folder = Path(out)
    csv = folder / "proposals.csv"
    table.to_csv(csv, index=False, encoding="utf-8-sig")
    xlsx = write_table_xlsx(
        {"拟建站点 proposals": table},
        folder / "proposals.xlsx",
        labels=PROPOSAL_LABELS_ZH,
        one_header_row=True,
    )
    return csv, xlsx
