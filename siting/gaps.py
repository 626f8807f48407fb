"""Where the gaps are: uncovered population on a hexagon grid, and sites ranked by shortfall.

The hexagons are a flat-topped hexagon grid generated in the metric CRS of the inputs (not H3):
every hexagon has exactly the same size in metres, the grid is anchored at the CRS origin so a
hexagon's id (``"q_r"``, its axial coordinates) is stable across runs and districts in one CRS,
and no reprojection to lon/lat is needed. ``size`` is the hexagon's edge length (= its
circumradius; ``settings.GAP_HEX_SIZE_M``, 250 m: 500 m corner to corner, 433 m flat to flat,
about 0.16 km²).

A hexagon is a *gap* only where its uncovered residents are dense enough to matter: at least
``min_density`` per km² (default :data:`GAP_MIN_DENSITY_PER_KM2`, 1,500/km², about 244 uncovered
residents in a 250 m hexagon). 1,500 inhabitants per km² is the density of an "urban centre" grid
cell in the Degree of Urbanisation (the UN Statistical Commission's 2020 method to delineate
cities); below it the uncovered residents are scattered: farmsteads, the fringe of a catchment
cut by a hexagon, a few grid points of a mostly covered community. Without the floor the demo's
hexagons covered nearly the whole district (671 of the 733 hexagons with residents, most of them
pale); with it 298 hexagons hold 86% of the uncovered residents. The residents of the hexagons
below the floor are still uncovered (the coverage rate counts them); they are only not listed as
gaps. ``min_density=0`` lists every hexagon with an uncovered resident.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import settings
from siting._geom import as_xy

if TYPE_CHECKING:
    from siting.evaluate import Evaluation

__all__ = [
    "GAP_MIN_DENSITY_PER_KM2",
    "hex_area_m2",
    "hex_cells",
    "hex_polygons",
    "min_gap_population",
    "ranked_sites",
    "uncovered_hexagons",
]

log = logging.getLogger(__name__)

_SQRT3 = math.sqrt(3.0)

#: Uncovered residents per km² from which a hexagon is a gap (Degree of Urbanisation "urban
#: centre" density; 1,500/km² is about 244 residents in a 250 m hexagon).
GAP_MIN_DENSITY_PER_KM2 = 1500.0


def hex_area_m2(size: float) -> float:
    """Area (m²) of a hexagon of edge ``size`` metres: ``3 * sqrt(3) / 2 * size**2``."""
    return 1.5 * _SQRT3 * size * size


def min_gap_population(
    size: float = settings.GAP_HEX_SIZE_M, min_density: float = GAP_MIN_DENSITY_PER_KM2
) -> float:
    """Uncovered residents a hexagon of edge ``size`` needs to be a gap (``min_density`` per km²).

    Examples
    --------
    >>> round(min_gap_population(250.0, 1500.0), 1)
    243.6
    """
    return float(min_density) * hex_area_m2(size) / 1e6


def hex_cells(xy: Any, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial coordinates ``(q, r)`` of the flat-topped hexagon holding each point.

    Parameters
    ----------
    xy
        Points as an ``(n, 2)`` array or a GeoSeries, in a metric CRS.
    size
        Edge length (circumradius) of the hexagons, in metres.

    Returns
    -------
    q, r : numpy.ndarray of int64
    """
    pts = as_xy(xy)
    if size <= 0:
        raise ValueError(f"hexagon size must be positive, got {size}")
    x, y = pts[:, 0] / size, pts[:, 1] / size
    # fractional cube coordinates, then round to the nearest cell (fix the largest error)
    fq = 2.0 / 3.0 * x
    fr = -1.0 / 3.0 * x + _SQRT3 / 3.0 * y
    fs = -fq - fr
    q, r, s = np.round(fq), np.round(fr), np.round(fs)
    dq, dr, ds = np.abs(q - fq), np.abs(r - fr), np.abs(s - fs)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def hex_polygons(q: Any, r: Any, size: float) -> np.ndarray:
    """Shapely polygons of the hexagons ``(q, r)`` (vectorised)."""
    q = np.asarray(q, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    cx = size * 1.5 * q
    cy = size * _SQRT3 * (r + q / 2.0)
    ang = np.deg2rad(np.arange(0, 360, 60))
    vx = cx[:, None] + size * np.cos(ang)[None, :]
    vy = cy[:, None] + size * np.sin(ang)[None, :]
    ring = np.stack([vx, vy], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)  # close the ring
    if len(ring) == 0:
        return np.empty(0, dtype=object)
    return shapely.polygons(ring)


def uncovered_hexagons(
    demand: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    size: float = settings.GAP_HEX_SIZE_M,
    covered: str = "covered",
    min_density: float = GAP_MIN_DENSITY_PER_KM2,
) -> gpd.GeoDataFrame:
    """Population outside every station-or-higher service radius, summed per hexagon; the
    hexagons where it reaches ``min_density`` are the gaps.

    Parameters
    ----------
    demand
        Demand points with ``community_id``, ``population`` and a boolean ``covered`` column
        (as in :attr:`siting.evaluate.Evaluation.demand`).
    communities
        Communities (``id``, ``name``) to name the communities a hexagon's uncovered residents
        belong to; names are left empty without it.
    size
        Hexagon edge length in metres.
    covered
        The boolean column that marks covered demand points.
    min_density
        Uncovered residents per km² from which a hexagon is a gap (see the module docstring);
        the floor per hexagon is :func:`min_gap_population`. 0 keeps every hexagon with an
        uncovered resident.

    Returns
    -------
    geopandas.GeoDataFrame
        ``hex_id, population_uncovered, communities (", "-joined ids), community_names, rank,
        geometry``, one row per gap hexagon, rank 1 = most uncovered residents (ties by
        ``hex_id``).
    """
    if not min_density >= 0:  # also rejects NaN
        raise ValueError(f"min_density must be >= 0, got {min_density}")
    cols = ["hex_id", "population_uncovered", "communities", "community_names", "rank"]
    pop = demand["population"].to_numpy(dtype=np.float64)
    mask = ~demand[covered].to_numpy(dtype=bool) & (np.nan_to_num(pop) > 0)
    pts = demand.loc[mask]
    if len(pts) == 0:
        return _empty(cols, demand.crs)
    q, r = hex_cells(pts.geometry, size)
    df = pd.DataFrame(
        {
            "q": q,
            "r": r,
            "population": pop[mask],
            "community_id": pts["community_id"].astype(str).to_numpy(),
        }
    )
    agg = df.groupby(["q", "r"], sort=False)["population"].sum().reset_index()
    floor = min_gap_population(size, min_density)
    n_all, pop_all = len(agg), float(agg["population"].sum())
    agg = agg[agg["population"] >= floor]
    if len(agg) == 0:
        log.info("gaps: no hexagon reaches %.0f uncovered residents", floor)
        return _empty(cols, demand.crs)
    df = df.merge(agg[["q", "r"]], on=["q", "r"], how="inner")
    names: dict[str, str] = {}
    if communities is not None and len(communities):
        names = dict(
            zip(
                communities["id"].astype(str),
                communities["name"].astype(object).where(communities["name"].notna(), ""),
                strict=False,
            )
        )
    members = (
        df[["q", "r", "community_id"]]
        .drop_duplicates()
        .sort_values(["q", "r", "community_id"])
        .assign(community_name=lambda d: [names.get(c, "") for c in d["community_id"]])
        .groupby(["q", "r"], sort=False)
        .agg(
            communities=("community_id", ", ".join),
            community_names=("community_name", lambda s: ", ".join(n for n in s if n)),
        )
        .reset_index()
    )
    agg = agg.merge(members, on=["q", "r"], how="left")
    agg["hex_id"] = agg["q"].astype(str) + "_" + agg["r"].astype(str)
    agg = agg.sort_values(["population", "hex_id"], ascending=[False, True], kind="mergesort")
    agg["rank"] = np.arange(1, len(agg) + 1, dtype=np.int64)
    geom = hex_polygons(agg["q"].to_numpy(), agg["r"].to_numpy(), size)
    out = pd.DataFrame(
        {
            "hex_id": agg["hex_id"].to_numpy(),
            "population_uncovered": agg["population"].to_numpy(dtype=np.float64),
            "communities": agg["communities"].to_numpy(),
            "community_names": agg["community_names"].to_numpy(),
            "rank": agg["rank"].to_numpy(),
        }
    )
    log.info(
        "gaps: %.0f of %.0f uncovered residents in %d of %d hexagons of %.0f m (>= %.0f each)",
        out["population_uncovered"].sum(),
        pop_all,
        len(out),
        n_all,
        size,
        floor,
    )
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geom, crs=demand.crs))


def _empty(cols: list[str], crs: Any) -> gpd.GeoDataFrame:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    empty["population_uncovered"] = empty["population_uncovered"].astype(np.float64)
    empty["rank"] = empty["rank"].astype(np.int64)
    return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=crs))


def ranked_sites(evaluation: Evaluation, *, top: int | None = None) -> pd.DataFrame:
    """Overloaded and undersized sites, the farthest from the standard first.

    A site's ``severity`` is the largest of: the share of the population served above its
    maximum (``population_served / max_population - 1``), the share of the required floor area
    that is missing (``shortfall_m2 / required_floor_area_m2``, required = the level's minimum or
    the 100-households figure, whichever is larger), and the share of the required ground-floor
    share that is missing. Only sites with at least one of these above 0 are listed.

    Parameters
    ----------
    evaluation
        The result of :func:`siting.evaluate.evaluate`.
    top
        Keep only the first ``top`` rows.

    Returns
    -------
    pandas.DataFrame
        ``rank, site_id, name, level, status, street, problem (zh), population_served,
        max_population, overload_share, floor_area_m2, required_floor_area_m2, shortfall_m2,
        shortfall_share, ground_floor_share, min_ground_floor_share, severity, reasons``.
    """
    s = evaluation.sites
    pop = s["population_served"].to_numpy(dtype=np.float64)
    cap = s["max_population"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        over = np.where(np.isfinite(cap) & (cap > 0), pop / cap - 1.0, 0.0)
        req = s["required_floor_area_m2"].to_numpy(dtype=np.float64)
        short = s["shortfall_m2"].to_numpy(dtype=np.float64)
        short_share = np.where(req > 0, short / req, 0.0)
        gshare = s["ground_floor_share"].to_numpy(dtype=np.float64)
        gmin = s["min_ground_floor_share"].to_numpy(dtype=np.float64)
        gshort = np.where((gmin > 0) & (gshare < gmin), (gmin - gshare) / gmin, 0.0)
    over = np.nan_to_num(np.maximum(over, 0.0))
    short_share = np.nan_to_num(short_share)
    gshort = np.nan_to_num(gshort)
    severity = np.maximum.reduce([over, short_share, gshort])
    undersized = (short_share > 0) | (gshort > 0)
    overloaded = over > 0
    problem = np.select(
        [overloaded & undersized, overloaded, undersized],
        ["超负荷；面积不足", "超负荷", "面积不足"],
        "",
    )
    out = pd.DataFrame(
        {
            "site_id": s["site_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "level": s["level"].to_numpy(),
            "status": s["status"].to_numpy(),
            "street": s["street"].to_numpy(),
            "problem": problem,
            "population_served": pop,
            "max_population": cap,
            "overload_share": over,
            "floor_area_m2": s["floor_area_m2"].to_numpy(dtype=np.float64),
            "required_floor_area_m2": req,
            "shortfall_m2": short,
            "shortfall_share": short_share,
            "ground_floor_share": gshare,
            "min_ground_floor_share": gmin,
            "severity": severity,
            "reasons": s["reasons"].to_numpy(),
        }
    )
    out = out[severity > 0].sort_values(
        ["severity", "site_id"], ascending=[False, True], kind="mergesort"
    )
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    out = out.reset_index(drop=True)
    return out if top is None else out.head(top)
