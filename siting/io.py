"""Read the files bureaus hand over and return canonical, validated frames in a metric CRS.

Readers: GeoPackage, GeoJSON, Shapefile (also a zip holding one; the ``.cpg`` is honoured and
attribute tables that are not UTF-8 fall back to GBK, then GB18030, with a warning), CSV (UTF-8,
UTF-8 with BOM, GBK) and XLSX with lon/lat columns. Loaders (:func:`load_communities`,
:func:`load_sites`, :func:`load_candidates`, :func:`load_estate`) rename aliased headers
(:mod:`siting.schema`), validate every row (:mod:`siting._validate`), convert AMap/Baidu
coordinates, and project to :func:`siting.projection.metric_crs`.

CRS rules: a file's own CRS is used (an explicit ``crs`` overrides it, with a warning if they
differ); without one, lon/lat-looking numbers are taken as EPSG:4326 (EPSG:4490 when
``coords="cgcs2000"``), otherwise the user must give ``crs``.

The format readers live in :mod:`siting._readers` and the steps all loaders share (reading,
renaming, the CRS decision, projecting) in :mod:`siting._loading`; :func:`read_table` is
re-exported here.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from siting import coords as _coords
from siting import schema
from siting._errors import warn
from siting._loading import (
    CRS_CODE,
    CRS_READ,
    CRS_SOURCE,
    _finish,
    _opt_number,
    _prepare,
    _shiftable,
    _text,
)
from siting._readers import GEO_SUFFIXES as GEO_SUFFIXES
from siting._readers import SUFFIXES as SUFFIXES
from siting._readers import TABLE_SUFFIXES as TABLE_SUFFIXES
from siting._readers import Source as Source
from siting._readers import read_table
from siting._validate import (
    check_choice,
    check_not_larger,
    repair_polygons,
    warn_overlaps,
    warn_repaired,
)

__all__ = ["load_candidates", "load_communities", "load_estate", "load_sites", "read_table"]

logger = logging.getLogger(__name__)


def load_communities(
    source: Source,
    *,
    coords: str = "wgs84",
    crs: Any = None,
    layer: str | None = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Load community (社区/村居) boundaries as the canonical communities frame.

    Parameters
    ----------
    source
        A path, an in-memory (Geo)DataFrame, or an uploaded binary file with a ``name``.
    coords
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"`` (AMap/Tencent) or ``"bd09"`` (Baidu); the last
        two are converted to WGS-84.
    crs
        CRS of data without one (or to override a wrong one), e.g. ``"EPSG:4547"``.
    layer
        GeoPackage layer or workbook sheet.
    name
        File name shown in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, kind, street, population, households, party_members, geometry`` (valid
        polygons) in :func:`siting.projection.metric_crs`.

    Raises
    ------
    InputError
        Listing every problem in the file.

    Examples
    --------
    >>> from siting import settings
    >>> communities = load_communities(settings.demo_dir() / "communities.gpkg")  # doctest: +SKIP
    """
    gdf, raw, problems, rows, _ = _prepare(
        source,
        spec=schema.COMMUNITY_COLUMNS,
        required=schema.COMMUNITY_REQUIRED,
        geom_types=("Polygon", "MultiPolygon"),
        what="communities must be polygons (boundaries)",
        coords=coords,
        crs=crs,
        layer=layer,
        name=name,
    )
    n = len(gdf)
    numbers = {
        key: _opt_number(
            problems, rows, raw, key, n, required=key == "population", maximum=5e6, example="3000"
        )
        for key in ("population", "households", "party_members")
    }
    kind = (
        check_choice(
            problems,
            rows,
            raw["kind"],
            "kind",
            schema.KIND_ALIASES,
            schema.KINDS,
            schema.KIND_LABELS_ZH,
            default=schema.RESIDENTIAL,
        )
        if "kind" in raw
        else np.full(n, schema.RESIDENTIAL, dtype=object)
    )
    values, repaired, collapsed = repair_polygons(np.asarray(gdf.geometry.values))
    for i in np.flatnonzero(collapsed):
        problems.add(
            rows.where(int(i)),
            "geometry",
            "polygon has no area left after repair",
            "redraw the boundary",
        )
    problems.raise_if_any()
    warn_repaired(problems.file, rows, repaired)
    gdf = gdf.set_geometry(gpd.GeoSeries(values, crs=gdf.crs))
    data = {
        "id": rows.ids,
        "name": _text(raw, "name", n),
        "kind": kind,
        "street": _text(raw, "street", n),
        **numbers,
    }
    out = _finish(gdf, data, coords=coords, target=None, label=problems.file)
    warn_overlaps(problems.file, out["id"].to_numpy(dtype=object), np.asarray(out.geometry.values))
    logger.info(
        "loaded %d communities from %s (population %.0f)",
        n,
        problems.file,
        np.nansum(out["population"]),
    )
    return out


def load_sites(
    source: Source,
    *,
    coords: str = "wgs84",
    crs: Any = None,
    communities: gpd.GeoDataFrame | None = None,
    layer: str | None = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Load existing and planned sites (站点) as the canonical sites frame.

    Parameters
    ----------
    source, coords, crs, layer, name
        As for :func:`load_communities`.
    communities
        A loaded communities frame: sites are put in its CRS, an empty ``community_id`` is filled
        with the community the site lies in, and sites outside every community are reported.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, level, floor_area_m2, ground_floor_area_m2, community_id, status,
        upgrade_year, geometry`` (points).

    Raises
    ------
    InputError
        Listing every problem in the file.
    """
    gdf, raw, problems, rows, _ = _prepare(
        source,
        spec=schema.SITE_COLUMNS,
        required=schema.SITE_REQUIRED,
        geom_types=("Point",),
        what="sites must be points (use the centroid of a building)",
        coords=coords,
        crs=crs,
        layer=layer,
        name=name,
    )
    n = len(gdf)
    level = (
        check_choice(
            problems,
            rows,
            raw["level"],
            "level",
            schema.LEVEL_ALIASES,
            schema.LEVELS,
            schema.LEVEL_LABELS_ZH,
            default=None,
        )
        if "level" in raw
        else np.full(n, "", dtype=object)
    )
    status = (
        check_choice(
            problems,
            rows,
            raw["status"],
            "status",
            schema.STATUS_ALIASES,
            schema.STATUSES,
            {schema.EXISTING: "现状", schema.PLANNED: "规划"},
            default=schema.EXISTING,
        )
        if "status" in raw
        else np.full(n, schema.EXISTING, dtype=object)
    )
    floor = _opt_number(
        problems, rows, raw, "floor_area_m2", n, required=True, maximum=1e6, example="600"
    )
    ground = _opt_number(
        problems, rows, raw, "ground_floor_area_m2", n, required=False, maximum=1e6, example="300"
    )
    check_not_larger(problems, rows, ground, floor, "ground_floor_area_m2", "floor_area_m2")
    year = _opt_number(
        problems,
        rows,
        raw,
        "upgrade_year",
        n,
        required=False,
        minimum=1900,
        maximum=2100,
        integer=True,
        example="2026",
    )
    problems.raise_if_any()
    data = {
        "id": rows.ids,
        "name": _text(raw, "name", n),
        "level": level,
        "floor_area_m2": floor,
        "ground_floor_area_m2": ground,
        "community_id": _text(raw, "community_id", n),
        "status": status,
        "upgrade_year": year,
    }
    out = _finish(
        gdf,
        data,
        coords=coords,
        target=None if communities is None else communities.crs,
        label=problems.file,
    )
    if communities is not None:
        shiftable = gdf.crs is not None and _shiftable(pyproj.CRS.from_user_input(gdf.crs))
        out = _assign_communities(
            out, communities, problems.file, coords=coords, shiftable=shiftable
        )
    logger.info("loaded %d sites from %s", n, problems.file)
    return out


def _located(sites_geom: Any, communities: gpd.GeoDataFrame) -> npt.NDArray[np.int64]:
    """Position of the community each point lies in (-1: none; a shared border: the first)."""
    tree = shapely.STRtree(np.asarray(communities.geometry.values))
    site_idx, comm_idx = tree.query(np.asarray(sites_geom), predicate="intersects")
    first = pd.Series(comm_idx).groupby(site_idx).min()
    inside = np.full(len(sites_geom), -1, dtype=np.int64)
    inside[first.index.to_numpy()] = first.to_numpy()
    return inside


#: How each coordinate system is named in the hints.
_SYSTEM_NAMES: Final = {
    "wgs84": "WGS-84 (GPS, OpenStreetMap, Tianditu; no shift)",
    "gcj02": "AMap/Tencent (GCJ-02)",
    "bd09": "Baidu (BD-09)",
}
_SHORT: Final = {"gcj02": "GCJ-02", "bd09": "BD-09"}
_TO_WGS84: Final = {
    "wgs84": lambda x, y: (x, y),
    "gcj02": _coords.gcj02_to_wgs84,
    "bd09": _coords.bd09_to_wgs84,
}
_FROM_WGS84: Final = {
    "wgs84": lambda x, y: (x, y),
    "gcj02": _coords.wgs84_to_gcj02,
    "bd09": _coords.wgs84_to_bd09,
}


def _community_of(
    points: Any, communities: gpd.GeoDataFrame, ids: npt.NDArray[np.object_]
) -> npt.NDArray[np.object_]:
    inside = _located(points, communities)
    return np.where(inside >= 0, ids[np.maximum(inside, 0)], "")


def _offset_hint(
    sites: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    inside: npt.NDArray[np.int64],
    file: str,
    coords: str,
    *,
    shiftable: bool = True,
) -> None:
    """Warn when many sites lie in another community than their ``community_id`` says; when
    reading their coordinates in another system (as given, GCJ-02 or BD-09) puts most of them
    right, name the option that does: a forgotten or wrong --coords / --sites-coords.

    ``shiftable``: the sites' own CRS is lon/lat or web mercator (projected survey data is never
    in AMap/Baidu offsets, and ``coords`` was not applied to it)."""
    ids = communities["id"].to_numpy(dtype=object)
    stated = sites["community_id"].to_numpy(dtype=object)
    known = np.isin(stated, ids)
    if known.sum() < 5:
        return
    located = np.where(inside >= 0, ids[np.maximum(inside, 0)], "")
    wrong = known & (located != stated)
    if wrong.sum() < 0.2 * known.sum() and wrong.sum() < 10:
        return
    share = f"{int(wrong.sum())} of {int(known.sum())}"
    head = (
        f"{file}: community_id: {share} sites lie in another community than their community_id says"
    )
    current = coords if shiftable and coords in ("gcj02", "bd09") else "wgs84"
    best, best_wrong = current, int(wrong.sum())
    if shiftable:
        xy = shapely.get_coordinates(sites.geometry.to_crs(4326).values)
        raw = _FROM_WGS84[current](xy[:, 0], xy[:, 1])  # the numbers as the file gives them
        for system in ("wgs84", "gcj02", "bd09"):
            if system == current:
                continue
            lon, lat = _TO_WGS84[system](*raw)
            points = gpd.GeoSeries(shapely.points(lon, lat), crs=4326).to_crs(sites.crs)
            n = int((known & (_community_of(points.values, communities, ids) != stated)).sum())
            if n < best_wrong:
                best, best_wrong = system, n
        code = communities.attrs.get(CRS_CODE)
        if current == "wgs84" and code and _shiftable(pyproj.CRS.from_user_input(code)):
            # the communities in AMap/Baidu offsets read as WGS-84: a community drawn at P lies
            # at the offset P, where the site at P moved by the same offset falls
            for system in ("gcj02", "bd09"):
                lon, lat = _FROM_WGS84[system](xy[:, 0], xy[:, 1])
                points = gpd.GeoSeries(shapely.points(lon, lat), crs=4326).to_crs(sites.crs)
                n = int((known & (_community_of(points.values, communities, ids) != stated)).sum())
                if n < best_wrong:
                    best, best_wrong = f"communities:{system}", n
    if best == current or best_wrong >= 0.5 * wrong.sum():
        warn(f"{head} (check their coordinates, --coords and --crs)")
        return
    if best.startswith("communities:"):
        system = best.split(":")[1]
        warn(
            f"{head}; with the communities read as {_SHORT[system]} only {best_wrong} would - "
            f"the communities' boundaries look like {_SYSTEM_NAMES[system]}: run again with "
            f"--communities-coords {system}"
        )
        return
    if best == "wgs84":
        warn(
            f"{head}; read as given, without a shift, only {best_wrong} would - the coordinates "
            f"are not {_SYSTEM_NAMES[coords]} but look like {_SYSTEM_NAMES['wgs84']}: drop "
            f"--coords {coords} / --sites-coords {coords} for this file (or give --sites-coords wgs84)"
        )
        return
    now = "" if current == "wgs84" else f" (not {_SYSTEM_NAMES[current]})"
    warn(
        f"{head}; read as {_SHORT[best]} only {best_wrong} would - the "
        f"coordinates look like {_SYSTEM_NAMES[best]}{now}: run again with --coords {best} "
        f"(or --sites-coords {best} for the sites alone)"
    )


def _assign_communities(
    sites: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    file: str,
    *,
    coords: str = "wgs84",
    shiftable: bool = True,
) -> gpd.GeoDataFrame:
    inside = _located(sites.geometry.values, communities)
    _offset_hint(sites, communities, inside, file, coords, shiftable=shiftable)
    ids = communities["id"].to_numpy(dtype=object)
    empty = sites["community_id"].to_numpy(dtype=object) == ""
    fill = empty & (inside >= 0)
    cid = sites["community_id"].to_numpy(dtype=object).copy()
    cid[fill] = ids[inside[fill]]
    out = sites.copy()
    out["community_id"] = cid
    outside = np.flatnonzero(inside < 0)
    if len(outside):
        named = ", ".join(str(s) for s in out["id"].iloc[outside[:20]])
        more = f" and {len(outside) - 20} more" if len(outside) > 20 else ""
        warn(
            f"{file}: {len(outside)} site(s) lie outside every community: {named}{more} "
            f"(check their coordinates and --coords{_crs_doubt(sites, communities, outside)}; "
            "they still serve nearby residents)"
        )
    unknown = ~np.isin(cid, ids) & (cid != "")
    if unknown.any():
        named = ", ".join(
            f"{s} -> {c}" for s, c in zip(out["id"][unknown][:20], cid[unknown][:20], strict=False)
        )
        warn(
            f"{file}: {int(unknown.sum())} site(s) name a community_id not in the communities file: {named}"
        )
    return out


def _crs_doubt(
    sites: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, outside: npt.NDArray[np.int64]
) -> str:
    """When (nearly) every site lies outside every community and a file's CRS came from --crs or
    was assumed, a clause naming --crs (a wrong --crs moves a whole file by kilometres)."""
    if len(outside) < 0.8 * len(sites):
        return ""
    doubts = [
        f"the {what}' CRS {frame.attrs.get(CRS_READ, '')} is {said}"
        for what, frame in (("communities", communities), ("sites", sites))
        for source, said in (("option", "from --crs"), ("assumed", "assumed"))
        if frame.attrs.get(CRS_SOURCE) == source
    ]
    return ("; " + " and ".join(doubts) + ": check --crs first") if doubts else ""


def load_candidates(
    source: Source,
    *,
    coords: str = "wgs84",
    crs: Any = None,
    communities: gpd.GeoDataFrame | None = None,
    layer: str | None = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Load candidate locations for new sites (e.g. vacant public buildings).

    Parameters
    ----------
    source, coords, crs, layer, name
        As for :func:`load_communities`.
    communities
        If given, candidates are put in its CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, source, floor_area_m2, ground_floor_area_m2, geometry`` (points); ``source``
        is ``"file"`` where empty.

    Raises
    ------
    InputError
        Listing every problem in the file.
    """
    gdf, raw, problems, rows, _ = _prepare(
        source,
        spec=schema.CANDIDATE_COLUMNS,
        required=schema.CANDIDATE_REQUIRED,
        geom_types=("Point",),
        what="candidates must be points",
        coords=coords,
        crs=crs,
        layer=layer,
        name=name,
    )
    n = len(gdf)
    floor = _opt_number(
        problems, rows, raw, "floor_area_m2", n, required=False, maximum=1e6, example="600"
    )
    ground = _opt_number(
        problems, rows, raw, "ground_floor_area_m2", n, required=False, maximum=1e6, example="300"
    )
    check_not_larger(problems, rows, ground, floor, "ground_floor_area_m2", "floor_area_m2")
    problems.raise_if_any()
    src = _text(raw, "source", n)
    src[src == ""] = "file"
    data = {
        "id": rows.ids,
        "name": _text(raw, "name", n),
        "source": src,
        "floor_area_m2": floor,
        "ground_floor_area_m2": ground,
    }
    return _finish(
        gdf,
        data,
        coords=coords,
        target=None if communities is None else communities.crs,
        label=problems.file,
    )


def load_estate(
    source: Source,
    *,
    coords: str = "wgs84",
    crs: Any = None,
    communities: gpd.GeoDataFrame | None = None,
    layer: str | None = None,
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Load one planned estate (a single polygon) for the new-estate check.

    Parameters
    ----------
    source, coords, crs, layer, name
        As for :func:`load_communities`.
    communities
        If given, the estate is put in its CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``id`` (``"estate"`` if none), ``name``, ``population``, ``households``
        (NaN when not given), ``geometry``.

    Raises
    ------
    InputError
        If the file holds no polygon, more than one feature, or bad values.
    """
    spec = {
        k: v
        for k, v in schema.COMMUNITY_COLUMNS.items()
        if k in ("id", "name", "population", "households")
    }
    gdf, raw, problems, rows, _ = _prepare(
        source,
        spec=spec,
        required=(),
        geom_types=("Polygon", "MultiPolygon"),
        what="the estate must be one polygon (its boundary)",
        coords=coords,
        crs=crs,
        layer=layer,
        name=name,
    )
    n = len(gdf)
    if n > 1:
        problems.add(
            "",
            "geometry",
            f"holds {n} features, expected one estate polygon",
            "keep only the estate's boundary (merge its parts into one feature)",
        )
    numbers = {
        key: _opt_number(problems, rows, raw, key, n, required=False, maximum=5e6, example="3000")
        for key in ("population", "households")
    }
    values, repaired, collapsed = repair_polygons(np.asarray(gdf.geometry.values))
    if collapsed.any():
        problems.add(
            rows.where(0),
            "geometry",
            "polygon has no area left after repair",
            "redraw the boundary",
        )
    problems.raise_if_any()
    warn_repaired(problems.file, rows, repaired)
    gdf = gdf.set_geometry(gpd.GeoSeries(values, crs=gdf.crs))
    ids = rows.ids if rows.ids is not None else np.array(["estate"], dtype=object)
    data = {"id": ids, "name": _text(raw, "name", n), **numbers}
    return _finish(
        gdf,
        data,
        coords=coords,
        target=None if communities is None else communities.crs,
        label=problems.file,
    )
