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
"""

from __future__ import annotations

import codecs
import logging
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import IO, Any, Final, TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import pyproj
import shapely

from siting import _zip, projection, schema, settings
from siting import coords as _coords
from siting._errors import InputError, warn
from siting._validate import (
    Problems,
    Rows,
    check_choice,
    check_geometries,
    check_ids,
    check_lonlat,
    check_not_larger,
    check_numbers,
    looks_lonlat,
    norm,
    parse_numbers,
    repair_polygons,
    resolve_columns,
    warn_overlaps,
    warn_repaired,
)

__all__ = ["load_candidates", "load_communities", "load_estate", "load_sites", "read_table"]

logger = logging.getLogger(__name__)

Source: TypeAlias = str | os.PathLike[str] | pd.DataFrame | IO[bytes]

GEO_SUFFIXES: Final = (".gpkg", ".geojson", ".json", ".shp")
TABLE_SUFFIXES: Final = (".csv", ".txt", ".xlsx", ".xlsm")
SUFFIXES: Final = (*GEO_SUFFIXES, *TABLE_SUFFIXES, ".zip")
_SUPPORTED: Final = "GeoPackage (.gpkg), GeoJSON, Shapefile (.shp or a .zip of one), CSV, XLSX"
_CPG: Final = {
    "65001": "utf-8",
    "utf8": "utf-8",
    "936": "gbk",
    "cp936": "gbk",
    "gb2312": "gbk",
    "54936": "gb18030",
    "ansi 936": "gbk",
}
_LDID_GBK: Final = 0x4D


@dataclass
class _Table:
    frame: pd.DataFrame
    label: str
    rows: Rows
    lon: str | None = None
    lat: str | None = None


# --- readers --------------------------------------------------------------------------------


def read_table(
    source: Source, *, layer: str | None = None, name: str | None = None
) -> pd.DataFrame:
    """Read a GIS file or a lon/lat table as it is (no renaming, no validation).

    Parameters
    ----------
    source
        A path (.gpkg, .geojson/.json, .shp, .zip of a shapefile, .csv, .xlsx), an in-memory
        (Geo)DataFrame, or a binary file object with a ``name`` (an upload).
    layer
        Layer of a GeoPackage or sheet of a workbook; required when there are several layers.
    name
        The name used in messages (default: the path or the object's ``name``).

    Returns
    -------
    geopandas.GeoDataFrame or pandas.DataFrame
        A GeoDataFrame for GIS files and for tables with lon/lat columns (points, no CRS: the
        loaders decide it), else a DataFrame. Table cells are kept as text.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type, or cannot be read.
    """
    return _read(source, layer=layer, name=name).frame


def _read(source: Source, *, layer: str | None, name: str | None) -> _Table:
    if isinstance(source, pd.DataFrame):
        label = name or "<data>"
        return _with_lonlat(source.copy(), label, Rows("row", 1))
    if isinstance(source, str | os.PathLike):
        path = Path(os.fspath(source))
        return _read_path(path, label=name or os.fspath(source), layer=layer)
    return _read_upload(source, layer=layer, name=name)


def _read_upload(obj: IO[bytes], *, layer: str | None, name: str | None) -> _Table:
    label = name or str(getattr(obj, "name", "") or "upload")
    suffix = Path(label).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError.one(
            label,
            "",
            "",
            f"file type {suffix or '(none)'!r} is not supported",
            f"upload one of: {_SUPPORTED}",
        )
    data = obj.read(settings.MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.MAX_UPLOAD_BYTES:
        raise InputError.one(
            label,
            "",
            "",
            f"is larger than the limit of {settings.MAX_UPLOAD_BYTES:,} bytes",
            "split the data or simplify geometries",
        )
    with tempfile.TemporaryDirectory(prefix="siting-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        return _read_path(path, label=label, layer=layer)


def _read_path(path: Path, *, label: str, layer: str | None) -> _Table:
    if not path.exists():
        raise InputError.one(label, "", "", "file not found", "check the path and the file name")
    if path.is_dir():
        raise InputError.one(
            label,
            "",
            "",
            "is a folder, not a file",
            "give the file itself (for a shapefile, the .shp or a .zip of its parts)",
        )
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError.one(
            label,
            "",
            "",
            f"cannot be opened ({exc.strerror or type(exc).__name__})",
            "check that the file is readable by this user (its permissions) and not locked",
        ) from None
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _read_zip(path, label=label, layer=layer)
    if suffix in GEO_SUFFIXES:
        return _read_geo(path, label=label, layer=layer)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, label=label)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, label=label, sheet=layer)
    if suffix == ".xls":
        fix = "save it as .xlsx and try again"
    elif suffix in (".dbf", ".shx", ".prj", ".cpg"):
        fix = "give the .shp file (with its .dbf, .shx, .prj and .cpg next to it) or a .zip of them"
    else:
        fix = f"use one of: {_SUPPORTED}"
    raise InputError.one(label, "", "", f"file type {suffix or '(none)'!r} is not supported", fix)


def _unreadable(label: str, kind: str, exc: BaseException) -> InputError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "not recognized as being in a supported file format" in detail:
        # GDAL's wording names the temporary path and suggests driver prefixes: not for users
        detail = "its content is not in a format GDAL recognises"
    return InputError.one(
        label,
        "",
        "",
        f"cannot be read as {kind} ({detail})",
        f"check that it is a complete {kind} file (export it again from your GIS)",
    )


def _read_zip(path: Path, *, label: str, layer: str | None) -> _Table:
    with _zip.safe_extract(path, label=label) as files:
        shps = [f for f in files if f.suffix.lower() == ".shp"]
        others = [
            f for f in files if f.suffix.lower() in (".gpkg", ".geojson", ".json", ".csv", ".xlsx")
        ]
        found = shps or others
        if len(found) != 1:
            what = (
                "holds no shapefile (.shp) or other readable file"
                if not found
                else "holds several data files: " + ", ".join(f.name for f in found)
            )
            raise InputError.one(
                label, "", "", what, "zip exactly one shapefile (.shp, .shx, .dbf, .prj, .cpg)"
            )
        inner = _read_path(found[0], label=label, layer=layer)
    return inner


def _shp_encoding(shp: Path, label: str) -> str:
    """The encoding of a shapefile's attribute table (see the module docstring)."""
    siblings = {p.name.lower(): p for p in shp.parent.iterdir()}
    stem = shp.stem.lower()
    dbf = siblings.get(stem + ".dbf")
    if dbf is None:
        raise InputError.one(
            label,
            "",
            "",
            f"the attribute table {shp.stem}.dbf is missing",
            "keep the .shp, .shx, .dbf, .prj and .cpg files together (zip them)",
        )
    raw = dbf.read_bytes()
    if len(raw) < 32:
        raise InputError.one(label, "", "", f"{dbf.name} is truncated", "export the layer again")
    n, head, size = (int.from_bytes(raw[a:b], "little") for a, b in ((4, 8), (8, 10), (10, 12)))
    data = raw[head : head + n * size]
    declared = None
    cpg = siblings.get(stem + ".cpg")
    if cpg is not None:
        text = cpg.read_bytes().decode("ascii", "replace").strip().lower()
        declared = _CPG.get(text, text)
        try:
            declared = codecs.lookup(declared).name
        except LookupError:
            warn(f"{label}: {cpg.name} names an unknown encoding {text!r}; guessing instead")
            declared = None
    elif raw[29] == _LDID_GBK:
        declared = "gbk"
    order = [declared] if declared else []
    order += [e for e in ("utf-8", "gbk", "gb18030") if e not in order]
    for encoding in order:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != (declared or "utf-8"):
            said = f"{cpg.name} says {declared}, but it" if cpg is not None and declared else "it"
            warn(
                f"{label}: the attribute table is not valid {declared or 'UTF-8'} ({said} does "
                f"not decode); read it as {encoding.upper()}. If names look wrong, add a .cpg file "
                "naming the encoding"
            )
        return encoding
    raise InputError.one(
        label,
        "",
        "",
        "the attribute table is neither UTF-8 nor GBK/GB18030 text",
        "export the layer with UTF-8 encoding (and a .cpg file)",
    )


def _read_geo(path: Path, *, label: str, layer: str | None) -> _Table:
    kind = {".gpkg": "GeoPackage", ".shp": "Shapefile"}.get(path.suffix.lower(), "GeoJSON")
    encoding = _shp_encoding(path, label) if kind == "Shapefile" else None
    try:
        layers = [str(x) for x in pyogrio.list_layers(path)[:, 0]]
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        OSError,
        ValueError,
    ) as exc:
        raise _unreadable(label, kind, exc) from None
    if not layers:
        raise InputError.one(label, "", "", "has no layers", "export the layer again")
    if layer is not None and layer not in layers:
        raise InputError.one(
            label,
            "",
            "layer",
            f"no layer {layer!r} (layers: {', '.join(layers)})",
            "choose one of the layers listed",
        )
    if layer is None and len(layers) > 1:
        raise InputError.one(
            label,
            "",
            "layer",
            f"holds several layers: {', '.join(layers)}",
            "choose one layer (layer=... / --layer) or save each layer to its own file",
        )
    try:
        with warnings.catch_warnings():
            # GeoJSON columns mixing text and numbers come back as text, which is what we want
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            frame = gpd.read_file(
                path, layer=layer or layers[0], engine="pyogrio", encoding=encoding
            )
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        pyogrio.errors.FeatureError,
        OSError,
        ValueError,
        UnicodeDecodeError,
    ) as exc:
        raise _unreadable(label, kind, exc) from None
    logger.info("read %s: %d features", label, len(frame))
    return _Table(frame, label, Rows("feature", 1))


def _read_csv(path: Path, *, label: str) -> _Table:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gbk", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError.one(
            label,
            "",
            "",
            "is neither UTF-8 nor GBK text",
            "save it from Excel as 'CSV UTF-8 (comma delimited)'",
        )
    first = text.split("\n", 1)[0]
    sep = max((",", "\t", ";"), key=first.count)
    try:
        frame = pd.read_csv(
            StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise InputError.one(
            label, "", "", "is empty", "add a header row and one row per feature"
        ) from None
    except pd.errors.ParserError as exc:
        raise _unreadable(label, "CSV", exc) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    blank = ((frame.apply(lambda col: col.str.strip()) == "") | frame.isna()).all(axis=1).to_numpy()
    logger.info("read %s (%s): %d rows", label, encoding, len(frame))
    numbers = np.flatnonzero(~blank) + 2  # the header is row 1
    return _with_lonlat(frame[~blank], label, Rows("row", 2, numbers=numbers))


def _read_xlsx(path: Path, *, label: str, sheet: str | None) -> _Table:
    if zipfile.is_zipfile(path):
        # an .xlsx is a zip: refuse bombs (size, ratio, members) before openpyxl inflates it
        _zip.check_zip(path, label=label)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            with pd.ExcelFile(path, engine="openpyxl") as book:
                sheets = [str(s) for s in book.sheet_names]
                if sheet is not None and sheet not in sheets:
                    raise InputError.one(
                        label,
                        "",
                        "sheet",
                        f"no sheet {sheet!r} (sheets: {', '.join(sheets)})",
                        "choose one of the sheets listed",
                    )
                frame = pd.read_excel(
                    book, sheet_name=sheet if sheet is not None else 0, dtype=object
                )
    except InputError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise _unreadable(label, "XLSX", exc) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    blank = frame.isna().all(axis=1).to_numpy()
    numbers = np.flatnonzero(~blank) + 2  # the header is row 1, as Excel shows it
    frame = frame[~blank]
    logger.info("read %s: %d rows", label, len(frame))
    return _with_lonlat(frame, label, Rows("row", 2, numbers=numbers))


def _with_lonlat(frame: pd.DataFrame, label: str, rows: Rows) -> _Table:
    """Add point geometry from lon/lat columns, if any (a GeoDataFrame is returned as is)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        return _Table(frame, label, rows)
    by_norm = {norm(c): c for c in reversed(frame.columns)}
    lon = next((by_norm[norm(a)] for a in schema.LON_ALIASES if norm(a) in by_norm), None)
    lat = next((by_norm[norm(a)] for a in schema.LAT_ALIASES if norm(a) in by_norm), None)
    if lon is None or lat is None:
        return _Table(pd.DataFrame(frame), label, rows)
    x, _ = parse_numbers(frame[lon])
    y, _ = parse_numbers(frame[lat])
    ok = np.isfinite(x) & np.isfinite(y)
    points = np.where(ok, shapely.points(np.where(ok, x, 0.0), np.where(ok, y, 0.0)), None)
    gdf = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=gpd.GeoSeries(points), crs=None)
    return _Table(gdf, label, rows, lon, lat)


# --- loaders --------------------------------------------------------------------------------


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
        # Columns called lon/lat (经度/纬度) say what they hold; x/y columns and GIS files do not.
        named = table.lon is not None and norm(table.lon) != "x" and norm(table.lat) != "y"
        if named or (in_range | swapped).mean() >= 0.5:
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
    gdf: gpd.GeoDataFrame, data: dict[str, Any], *, coords: str, target: pyproj.CRS | None
) -> gpd.GeoDataFrame:
    """Build the canonical frame: convert AMap/Baidu coordinates, then project."""
    geometry = gdf.geometry
    if coords in ("gcj02", "bd09"):
        if not (
            geometry.crs.is_geographic
            and geometry.crs.equals(pyproj.CRS(settings.DEFAULT_GEOGRAPHIC_CRS))
        ):
            geometry = geometry.to_crs(settings.DEFAULT_GEOGRAPHIC_CRS)
        geometry = _coords.convert_geometries(geometry, coords)
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
    out = _finish(gdf, data, coords=coords, target=None)
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
    out = _finish(gdf, data, coords=coords, target=None if communities is None else communities.crs)
    if communities is not None:
        out = _assign_communities(out, communities, problems.file)
    logger.info("loaded %d sites from %s", n, problems.file)
    return out


def _assign_communities(
    sites: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, file: str
) -> gpd.GeoDataFrame:
    tree = shapely.STRtree(np.asarray(communities.geometry.values))
    site_idx, comm_idx = tree.query(np.asarray(sites.geometry.values), predicate="intersects")
    first = pd.Series(comm_idx).groupby(site_idx).min()  # on a shared border: the first community
    inside = np.full(len(sites), -1)
    inside[first.index.to_numpy()] = first.to_numpy()
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
            "(check their coordinates and --coords; they still serve nearby residents)"
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
        gdf, data, coords=coords, target=None if communities is None else communities.crs
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
            "",
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
        gdf, data, coords=coords, target=None if communities is None else communities.crs
    )
