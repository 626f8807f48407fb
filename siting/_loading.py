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
    _report_most,
    check_geometries,
    check_ids,
    check_lonlat,
    check_numbers,
    looks_lonlat,
    norm,
    resolve_columns,
)

#: Keys of ``GeoDataFrame.attrs`` that the loaders set: where the CRS came from (see
#: :func:`_decide_crs`), the CRS as read (before projecting), as ``EPSG:xxxx (name)``, and its
#: code; the pipeline's road check uses them to name --crs.
CRS_SOURCE = "siting_crs_source"
CRS_READ = "siting_crs_read"
CRS_CODE = "siting_crs_code"
#: The file's name as messages give it.
CRS_FILE = "siting_file"


def _shiftable(crs: pyproj.CRS) -> bool:
    """Whether data in ``crs`` can be in AMap/Baidu offsets (lon/lat or web mercator; projected
    survey data such as CGCS2000 Gauss-Kruger never is)."""
    return bool(crs.is_geographic or crs.to_epsg() == 3857 or "Pseudo-Mercator" in crs.name)


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
) -> tuple[pyproj.CRS | None, str]:
    """The CRS of the data, checking coordinate ranges (``None`` if it cannot be decided), and
    where it came from: ``"option"`` (``crs``), ``"file"``, ``"columns"`` (lon/lat columns by
    their name) or ``"assumed"`` (lon/lat-looking numbers without a CRS)."""
    values = np.asarray(gdf.geometry.values)
    bounds = _bounds(values)
    good = ok & np.isfinite(bounds).all(axis=1)
    if not good.any():
        return None, "option" if crs is not None else "file"
    total = np.array(
        [bounds[good, 0].min(), bounds[good, 1].min(), bounds[good, 2].max(), bounds[good, 3].max()]
    )
    geographic = "EPSG:4490" if coords == "cgcs2000" else settings.DEFAULT_GEOGRAPHIC_CRS
    own = pyproj.CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    # Columns called lon/lat (经度/纬度) say what they hold; x/y columns and GIS files do not.
    named = table.lon is not None and norm(table.lon) != "x" and norm(table.lat) != "y"
    source = "file"
    if named and own is None:
        # degrees by their name, whatever --crs says (it is meant for files without a CRS
        # that are in metres, e.g. a shapefile without its .prj given together with a CSV)
        own = pyproj.CRS.from_user_input(geographic)
        source = "columns"
        if crs is not None and not crs.is_geographic:
            crs = None
    if crs is not None and own is not None and not crs.equals(own):
        if _fits(own, values[good], total) and not _fits(crs, values[good], total):
            problems.add(
                "",
                "crs",
                f"--crs {_crs_label(crs)} does not fit the coordinates (x {total[0]:.6g} to "
                f"{total[2]:.6g}, y {total[1]:.6g} to {total[3]:.6g}), but the file's own CRS "
                f"{_crs_label(own)} does",
                f"drop --crs (it is for files without a CRS), or give the file's own CRS: "
                f"--crs {_crs_code(own)}",
            )
            return None, "option"
        warn(
            f"{table.label}: the file says its CRS is {_crs_label(own)}; using {_crs_label(crs)} "
            "as you asked"
        )
    if crs is not None:
        source = "option"
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
            source = "assumed"
        else:
            problems.add(
                "",
                "geometry",
                f"no CRS, and the coordinates (x {total[0]:.6g} to {total[2]:.6g}, y "
                f"{total[1]:.6g} to {total[3]:.6g}) are not lon/lat degrees",
                f"give the CRS with --crs ({_gk_hint(total)}); for a shapefile, keep its .prj "
                "file next to it",
            )
            return None, source
    if chosen.is_geographic:
        if source == "columns":  # --crs does not apply to columns named lon/lat (经度/纬度)
            out_fix = (
                f"the columns {table.lon!r} and {table.lat!r} hold projected metres, not "
                f"degrees: rename them to x and y and give their CRS with --crs ({_gk_hint(total)})"
            )
        else:
            said = (
                f"--crs says {_crs_label(chosen)}"
                if source == "option"
                else f"the file says its CRS is {_crs_label(chosen)}"
            )
            out_fix = (
                f"{said}, but the numbers look like projected metres: give their CRS with --crs "
                f"({_gk_hint(total)})"
            )
        check_lonlat(problems, table.rows, np.where(good[:, None], bounds, np.nan), out_fix=out_fix)
    elif looks_lonlat(total):
        fix = (
            f"give the CRS the coordinates are in, e.g. --crs {settings.DEFAULT_GEOGRAPHIC_CRS}"
            if source == "option"
            else f"fix the .prj file or give --crs {settings.DEFAULT_GEOGRAPHIC_CRS}"
        )
        said = "--crs says" if source == "option" else "the CRS is"
        problems.add(
            "",
            "geometry",
            f"{said} {_crs_label(chosen)} (metres) but the coordinates look like lon/lat degrees",
            fix,
        )
    else:
        lonlat = gpd.GeoSeries(values[good], crs=chosen).to_crs(settings.DEFAULT_GEOGRAPHIC_CRS)
        broken = ~np.isfinite(_bounds(np.asarray(lonlat.values))).all(axis=1)
        mask = np.zeros(len(values), dtype=bool)
        mask[np.flatnonzero(good)[broken]] = True
        label = _crs_label(chosen)
        _report_most(
            problems,
            table.rows,
            mask,
            good,
            "geometry",
            lambda i: f"coordinates cannot be placed on the earth with CRS {label}",
            f"the coordinates of {{n}} cannot be placed on the earth with CRS {label}",
            "check the coordinates and --crs"
            if source == "option"
            else "check the coordinates and the file's CRS (give the right one with --crs)",
            lambda i: f"x {bounds[i, 0]:.6g}, y {bounds[i, 1]:.6g}",
        )
    return chosen, source


def _crs_code(crs: pyproj.CRS) -> str:
    code = crs.to_authority()
    return f"{code[0]}:{code[1]}" if code else crs.to_string()


def _fits(crs: pyproj.CRS, values: npt.NDArray[np.object_], total: npt.NDArray[np.float64]) -> bool:
    """Whether coordinates with bounds ``total`` make sense in ``crs``: degrees for a
    geographic CRS, numbers beyond degrees that can be placed on the earth for a projected one."""
    if crs.is_geographic:
        return looks_lonlat(total)
    if looks_lonlat(total):
        return False
    try:
        lonlat = gpd.GeoSeries(values, crs=crs).to_crs(settings.DEFAULT_GEOGRAPHIC_CRS)
    except pyproj.exceptions.ProjError:
        return False
    return bool(np.isfinite(_bounds(np.asarray(lonlat.values))).all())


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
    known = (*(a for key, aliases in spec.items() for a in (key, *aliases)), *schema.LON_ALIASES)
    headers = frozenset(norm(a) for a in (*known, *schema.LAT_ALIASES))
    table = _read(source, layer=layer, name=name, headers=headers)
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
    chosen, source = _decide_crs(table, gdf, ok, problems, coords=coords, crs=target)
    if chosen is not None:
        gdf = gdf.set_crs(chosen, allow_override=True)
        gdf.attrs[CRS_READ] = _crs_label(chosen)
        gdf.attrs[CRS_CODE] = _crs_code(chosen)
    gdf.attrs[CRS_SOURCE] = source
    gdf.attrs[CRS_FILE] = table.label
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
        if _shiftable(own):
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
    out = out.to_crs(target if target is not None else projection.metric_crs(out))
    out.attrs.update(gdf.attrs)
    return out


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
