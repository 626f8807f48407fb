"""Community populations as demand points.

Two methods:

- ``"centroid"``: one point per community, its centroid, or a point inside the polygon
  (``point_on_surface``) when the centroid falls outside (L-shaped estates, villages along a
  river);
- ``"grid"`` (default for coverage): the points of one regular grid (``spacing`` metres, aligned
  on multiples of ``spacing``, each point at the centre of its cell) that fall inside each
  polygon; the community's population, households and party members are split equally among its
  points, i.e. in proportion to area, so a large village is not one dot. A community too small to
  hold a grid point gets one representative point. Totals per community are preserved.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import settings
from siting._errors import InputError, warn

__all__ = ["DEMAND_COLUMNS", "demand_points"]

log = logging.getLogger(__name__)

#: Columns of a demand frame (besides ``geometry``), in order.
DEMAND_COLUMNS = ("community_id", "population", "households", "party_members")
_WEIGHTS = ("population", "households", "party_members")


def _representative(geoms: np.ndarray) -> np.ndarray:
    """Centroid, or ``point_on_surface`` where the centroid is outside the polygon."""
    cent = shapely.centroid(geoms)
    inside = shapely.contains(geoms, cent) | shapely.is_empty(geoms)
    if not inside.all():
        cent = cent.copy()
        cent[~inside] = shapely.point_on_surface(geoms[~inside])
    return cent


#: A grid with more points than this gets a warning (slow, memory-hungry).
LARGE_GRID_POINTS = 300_000


def demand_points(
    communities: gpd.GeoDataFrame,
    *,
    method: str = "grid",
    spacing: float = settings.DEMAND_GRID_SPACING_M,
    max_points: int = 2_000_000,
) -> gpd.GeoDataFrame:
    """Turn communities into weighted demand points.

    Parameters
    ----------
    communities
        Canonical communities frame (``id, population, households, party_members, geometry``)
        in a metric CRS. Missing weights count as 0.
    method
        ``"grid"`` or ``"centroid"``.
    spacing
        Grid spacing in metres (``"grid"`` only).
    max_points
        Guard against a spacing far too fine for the area.

    Returns
    -------
    geopandas.GeoDataFrame
        ``community_id, population, households, party_members, geometry`` (points), in the
        communities' CRS; per community the weights sum to the community's values.

    Raises
    ------
    ValueError
        Unknown method or spacing not positive.
    InputError
        A spacing that gives more than ``max_points`` points (field ``--spacing``, with a
        spacing that fits); checked from the polygons' area before any point is made.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> c = gpd.GeoDataFrame({"id": ["A"], "population": [900.0], "households": [300.0],
    ...     "party_members": [30.0]}, geometry=[shapely.box(0, 0, 300, 300)], crs="EPSG:32651")
    >>> d = demand_points(c, spacing=100)
    >>> len(d), d.population.sum()
    (9, 900.0)
    """
    if method not in ("grid", "centroid"):
        raise ValueError(f"method must be 'grid' or 'centroid', not {method!r}")
    geoms = np.asarray(communities.geometry.values, dtype=object)
    ids = (
        communities["id"].astype(str).to_numpy()
        if "id" in communities
        else np.asarray(communities.index.astype(str))
    )
    weights = {
        k: (
            pd.to_numeric(communities[k], errors="coerce").fillna(0.0).to_numpy(np.float64)
            if k in communities
            else np.zeros(len(communities))
        )
        for k in _WEIGHTS
    }
    if method == "centroid" or len(communities) == 0:
        pts = _representative(geoms) if len(geoms) else np.empty(0, dtype=object)
        owner = np.arange(len(geoms))
    else:
        if not spacing > 0:
            raise ValueError(f"spacing must be > 0, not {spacing}")
        owner, pts = _grid(geoms, float(spacing), max_points)
        if len(owner) > LARGE_GRID_POINTS:
            warn(
                f"--spacing {spacing:g} m gives {len(owner):,} demand points: the evaluation "
                "and proposals will be slow and need several GB of memory; 50-100 m is "
                "usually fine enough (give --spacing 100)"
            )
    counts = np.bincount(owner, minlength=len(geoms)).astype(np.float64)
    data = {"community_id": ids[owner]}
    for k in _WEIGHTS:
        data[k] = weights[k][owner] / counts[owner]
    out = gpd.GeoDataFrame(data, geometry=list(pts), crs=communities.crs)
    out = out.rename_geometry("geometry") if out.geometry.name != "geometry" else out
    log.info(
        "demand: %d points (%s) for %d communities, population %.0f",
        len(out), method, len(communities), float(out["population"].sum()),
    )  # fmt: skip
    return out


def _grid(geoms: np.ndarray, spacing: float, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid points inside each polygon, plus one representative point for polygons with none."""
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    owners: list[np.ndarray] = []
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    if valid.any():
        b = shapely.bounds(geoms[valid])
        idx_valid = np.flatnonzero(valid)
        # candidate cells per polygon from its own bounds: work scales with polygon area
        x0 = np.floor(b[:, 0] / spacing)
        x1 = np.ceil(b[:, 2] / spacing)
        y0 = np.floor(b[:, 1] / spacing)
        y1 = np.ceil(b[:, 3] / spacing)
        nx_ = (x1 - x0 + 1).astype(np.int64)
        ny_ = (y1 - y0 + 1).astype(np.int64)
        total = int((nx_ * ny_).sum())
        # checked before any point is made: the polygons' area over a cell's is the number of
        # points to within the boundary cells (a spacing of 1 m over a district was 5.7 million
        # points and 2 GB before the count was known)
        estimate = float(shapely.area(geoms[valid]).sum()) / spacing**2
        if estimate > max_points:
            raise _too_many(spacing, estimate, max_points, geoms[valid], about=True)
        if total > max_points * 4:
            raise _too_many(spacing, total, max_points * 4, geoms[valid], about=True, cells=True)
        per = nx_ * ny_
        poly = np.repeat(np.arange(len(per)), per)
        k = np.arange(total) - np.repeat(np.cumsum(per) - per, per)
        cx = (x0[poly] + k % nx_[poly] + 0.5) * spacing
        cy = (y0[poly] + k // nx_[poly] + 0.5) * spacing
        shapely.prepare(geoms[valid])
        inside = shapely.contains_xy(geoms[idx_valid[poly]], cx, cy)
        owners.append(idx_valid[poly[inside]])
        xs.append(cx[inside])
        ys.append(cy[inside])
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    has = np.zeros(len(geoms), dtype=bool)
    has[owner] = True
    lonely = np.flatnonzero(~has)
    pts = shapely.points(
        np.concatenate(xs) if xs else np.empty(0), np.concatenate(ys) if ys else np.empty(0)
    )
    if len(lonely):
        rep = _representative(geoms[lonely])
        owner = np.concatenate([owner, lonely])
        pts = np.concatenate([pts, rep])
    order = np.argsort(owner, kind="stable")
    if len(owner) > max_points:
        raise _too_many(spacing, len(owner), max_points, geoms[valid])
    return owner[order].astype(np.int64), pts[order]


def _too_many(
    spacing: float,
    count: float,
    limit: int,
    geoms: np.ndarray,
    *,
    about: bool = False,
    cells: bool = False,
) -> InputError:
    """The user error for a ``--spacing`` too fine for the district: the value, the count and
    a spacing that fits (whole metres, from the polygons' area, or their bounding boxes when
    the boxes are what overflows)."""
    if cells:
        b = shapely.bounds(geoms)
        area = float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).sum())
    else:
        area = float(shapely.area(geoms).sum())
    # each polygon may add a row and a column of boundary cells: a 10% margin covers them
    fit = max(math.ceil(math.sqrt(area / limit) * 1.1), math.ceil(spacing) + 1)
    what = "grid cells to test" if cells else "demand points"
    return InputError.one(
        "",
        "",
        "--spacing",
        f"{spacing:g} m gives {'about ' if about else ''}{count:,.0f} {what}, more than the "
        f"{limit:,} this tool handles",
        f"give --spacing {fit} or more (50-100 m is usually fine enough for coverage)",
    )
