"""Steps every loader of :mod:`siting.io` shares: read, rename headers, check geometries, decide the CRS, convert AMap/Baidu coordinates and project.

CRS rules: a file's own CRS is used (an explicit ``crs`` overrides it, with a warning if they
differ); without one, lon/lat-looking numbers are taken as EPSG:4326 (EPSG:4490 when
``coords="cgcs2000"``), otherwise the user must give ``crs``.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from siting import coords as _coords
from siting import projection, schema, settings
from siting._errors import InputError, warn
from siting._readers import Source, _read, _Table
from siting._validate import (
    Problems,
    Rows,
    check_geometries,
    check_ids,
    check_lonlat,
    check_numbers,
    looks_lonlat,
    norm,
    resolve_columns,
)


def _check_options(coords: str, crs: Any) -> pyproj.CRS | None:
    if coords not in _coords.COORD_SYSTEMS:
        raise InputError.one(
            "--coords",
            "",
            "coords",
            f"unknown coordinate system {coords!r}",
            "use one of: " + ", ".join(_coords.COORD_SYSTEMS),
        )
    if crs is None:
        return None
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        raise InputError.one(
            "--crs",
            "",
            "crs",
            f"unknown CRS {crs!r}",
            "give an EPSG code such as EPSG:4326 or EPSG:4547",
        ) from None


def _bounds(values: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    return np.asarray(shapely.bounds(values), dtype=np.float64).reshape(-1, 4)


def _crs_label(crs: pyproj.CRS) -> str:
    code = crs.to_authority()
    return f"{code[0]}:{code[1]} ({crs.name})" if code else crs.name


def _gk_hint(total: npt.NDArray[np.float64]) -> str:
    """A likely CGCS2000 Gauss-Kruger CRS for projected numbers without a CRS."""
    zone = int(total[0] // 1e6)
    if 25 <= zone <= 45 and int(total[2] // 1e6) == zone:  # 3-degree zone number in front of x
        return f"x starts with zone {zone}, so probably EPSG:{4513 + zone - 25}, CGCS2000 3-degree GK zone {zone}"
    return (
        "e.g. EPSG:4549 for CGCS2000 3-degree Gauss-Kruger CM 120E; EPSG:4534-4554 cover "
        "CM 75E-135E"
    )


def _decide_crs(
    table: _Table,
    gdf: gpd.GeoDataFrame,
    ok: npt.NDArray[np.bool_],
    problems: Problems,
    *,
    coords: str,
    crs: pyproj.CRS | None,
) -> pyproj.CRS | None:
    """The CRS of the data, checking coordinate ranges; ``None`` if it cannot be decided."""
    values = np.asarray(gdf.geometry.values)
    bounds = _bounds(values)
    good = ok & np.isfinite(bounds).all(axis=1)
    if not good.any():
        return None
    total = np.array(
        [bounds[good, 0].min(), bounds[good, 1].min(), bounds[good, 2].max(), bounds[good, 3].max()]
    )
    geographic = "EPSG:4490" if coords == "cgcs2000" else settings.DEFAULT_GEOGRAPHIC_CRS
    own = pyproj.CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    # Columns called lon/lat (经度/纬度) say what they hold; x/y columns and GIS files do not.
    named = table.lon is not None and norm(table.lon) != "x" and norm(table.lat) != "y"
    if named and own is None:
        # degrees by their name, whatever --crs says (it is meant for files without a CRS
        # that are in metres, e.g. a shapefile without its .prj given together with a CSV)
        own = pyproj.CRS.from_user_input(geographic)
        if crs is not None and not crs.is_geographic:
            crs = None
    if crs is not None and own is not None and not crs.equals(own):
        warn(
            f"{table.label}: the file says its CRS is {_crs_label(own)}; using {_crs_label(crs)} "
            "as you asked"
        )
    chosen = crs or own
    if chosen is None:
        b = bounds[good]
        in_range = (b[:, 0] >= -180) & (b[:, 2] <= 180) & (b[:, 1] >= -90) & (b[:, 3] <= 90)
        swapped = (b[:, 0] >= -90) & (b[:, 2] <= 90) & (b[:, 1] >= -180) & (b[:, 3] <= 180)
        if (in_range | swapped).mean() >= 0.5:
            if not named and in_range.all():
                warn(
                    f"{table.label}: no CRS given; the coordinates look like lon/lat, so "
                    f"{geographic} is assumed (give --crs if not)"
                )
            chosen = pyproj.CRS.from_user_input(geographic)
        else:
            problems.add(
                "",
                "geometry",
                f"no CRS, and the coordinates (x {total[0]:.6g} to {total[2]:.6g}, y "
                f"{total[1]:.6g} to {total[3]:.6g}) are not lon/lat degrees",
                f"give the CRS with --crs ({_gk_hint(total)}); for a shapefile, keep its .prj "
                "file next to it",
            )
            return None
    if chosen.is_geographic:
        check_lonlat(problems, table.rows, np.where(good[:, None], bounds, np.nan))
    elif looks_lonlat(total):
        problems.add(
            "",
            "geometry",
            f"the CRS is {_crs_label(chosen)} (metres) but the coordinates look like lon/lat degrees",
            "fix the .prj file or give --crs EPSG:4326",
        )
    else:
        lonlat = gpd.GeoSeries(values[good], crs=chosen).to_crs(settings.DEFAULT_GEOGRAPHIC_CRS)
        broken = ~np.isfinite(_bounds(np.asarray(lonlat.values))).all(axis=1)
        where = np.flatnonzero(good)[broken]
        for i in where[:20]:
            problems.add(
                table.rows.where(int(i)),
                "geometry",
                f"coordinates cannot be placed on the earth with CRS {_crs_label(chosen)}",
                "check the coordinates and the CRS (--crs)",
            )
    return chosen


def _prepare(
    source: Source,
    *,
    spec: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    geom_types: tuple[str, ...],
    what: str,
    coords: str,
    crs: Any,
    layer: str | None,
    name: str | None,
) -> tuple[gpd.GeoDataFrame, dict[str, pd.Series], Problems, Rows, pyproj.CRS | None]:
    """Read, rename and check what all loaders share; attribute checks are left to the caller."""
    target = _check_options(coords, crs)
    table = _read(source, layer=layer, name=name)
    frame = table.frame.reset_index(drop=True)
    problems = Problems(table.label)
    if len(frame) == 0:
        raise InputError.one(
            table.label,
            "",
            "",
            "has no features (no data rows)",
            "check that you exported the right layer or sheet",
        )
    skip = {c for c in (table.lon, table.lat) if c is not None}
    columns = [c for c in frame.columns if c not in skip]
    mapping = resolve_columns(problems, columns, spec, required)
    raw = {canonical: frame[header] for header, canonical in mapping.items()}
    rows = table.rows
    rows.ids = check_ids(problems, rows, raw["id"]) if "id" in raw else None
    if not isinstance(frame, gpd.GeoDataFrame):
        lon = ", ".join(schema.LON_ALIASES)
        lat = ", ".join(schema.LAT_ALIASES)
        problems.add(
            "",
            "geometry",
            f"no geometry and no lon/lat columns (columns found: "
            f"{', '.join(repr(str(c)) for c in frame.columns)})",
            f"use a GIS file, or add longitude ({lon}) and latitude ({lat}) columns",
        )
        problems.raise_if_any()
    gdf = gpd.GeoDataFrame(frame, geometry=frame.geometry.name, crs=frame.crs)
    if table.lon is not None and table.lat is not None:
        x = check_numbers(
            problems,
            rows,
            frame[table.lon],
            table.lon,
            required=True,
            minimum=None,
            example="121.47",
        )
        y = check_numbers(
            problems,
            rows,
            frame[table.lat],
            table.lat,
            required=True,
            minimum=None,
            example="31.23",
        )
        ok = np.isfinite(x) & np.isfinite(y)
    else:
        values = np.array(gdf.geometry.values, dtype=object)
        if "Point" in geom_types:  # single-part multipoints are points
            single = (shapely.get_type_id(values) == 4) & (shapely.get_num_geometries(values) == 1)
            values[single] = shapely.get_geometry(values[single], 0)
            gdf = gdf.set_geometry(gpd.GeoSeries(values, crs=gdf.crs))
        ok = check_geometries(problems, rows, gdf.geometry, geom_types, what=what)
    chosen = _decide_crs(table, gdf, ok, problems, coords=coords, crs=target)
    if chosen is not None:
        gdf = gdf.set_crs(chosen, allow_override=True)
    return gdf, raw, problems, rows, chosen


def _finish(
    gdf: gpd.GeoDataFrame,
    data: dict[str, Any],
    *,
    coords: str,
    target: pyproj.CRS | None,
    label: str = "input",
) -> gpd.GeoDataFrame:
    """Build the canonical frame: convert AMap/Baidu coordinates, then project."""
    geometry = gdf.geometry
    if coords in ("gcj02", "bd09"):
        own = pyproj.CRS(geometry.crs)
        # web tools (AMap, Baidu) export lon/lat or web mercator in their offsets; projected
        # survey data (CGCS2000 Gauss-Kruger, UTM) never is
        if own.is_geographic or own.to_epsg() == 3857 or "Pseudo-Mercator" in own.name:
            if not geometry.crs.equals(pyproj.CRS(settings.DEFAULT_GEOGRAPHIC_CRS)):
                geometry = geometry.to_crs(settings.DEFAULT_GEOGRAPHIC_CRS)
            geometry = _coords.convert_geometries(geometry, coords)
        else:
            # AMap/Baidu offsets exist only in lon/lat; projected survey data (e.g. CGCS2000
            # Gauss-Kruger) is never in them
            warn(
                f"{label}: its CRS is {_crs_label(own)} (projected survey coordinates), so "
                f"--coords {coords} is not applied to it"
            )
    out = gpd.GeoDataFrame(data, geometry=geometry.reset_index(drop=True), crs=geometry.crs)
    return out.to_crs(target if target is not None else projection.metric_crs(out))


def _text(raw: dict[str, pd.Series], key: str, n: int) -> npt.NDArray[np.object_]:
    if key not in raw:
        return np.full(n, "", dtype=object)
    return np.array(["" if pd.isna(v) else str(v).strip() for v in raw[key]], dtype=object)


def _opt_number(
    problems: Problems, rows: Rows, raw: dict[str, pd.Series], key: str, n: int, **kwargs: Any
) -> npt.NDArray[np.float64]:
    if key not in raw:
        return np.full(n, np.nan)
    return check_numbers(problems, rows, raw[key], key, **kwargs)
