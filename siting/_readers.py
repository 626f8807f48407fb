"""Format readers behind :mod:`siting.io`: GeoPackage, GeoJSON, Shapefile (also zipped), CSV and XLSX.

Files come back as they are (no renaming, no validation) in a :class:`_Table` that remembers the
label used in messages, how rows are numbered, and the lon/lat columns a table's points came from.
Shapefile attribute tables honour the ``.cpg``; without one, UTF-8, then GBK, then GB18030 are
tried, with a warning. CSV may be UTF-8, UTF-8 with BOM or GBK.
"""

from __future__ import annotations

import codecs
import csv
import logging
import os
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import IO, Final, TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely

from siting import _zip, schema, settings
from siting._errors import InputError, Problem, warn
from siting._validate import (
    MAX_ROWS_PER_RULE,
    Rows,
    norm,
    parse_numbers,
)

__all__ = ["read_table"]

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


def _read(
    source: Source,
    *,
    layer: str | None,
    name: str | None,
    headers: frozenset[str] = frozenset(),
) -> _Table:
    """Read ``source``; ``headers`` (normalised header names the loader knows) let a table's
    header be found below title rows and total rows (合计) be left out, with a warning."""
    if isinstance(source, pd.DataFrame):
        label = name or "<data>"
        return _with_lonlat(source.copy(), label, Rows("row", 1))
    if isinstance(source, str | os.PathLike):
        path = Path(os.fspath(source))
        return _read_path(path, label=name or os.fspath(source), layer=layer, headers=headers)
    return _read_upload(source, layer=layer, name=name, headers=headers)


def _read_upload(
    obj: IO[bytes], *, layer: str | None, name: str | None, headers: frozenset[str] = frozenset()
) -> _Table:
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
        return _read_path(path, label=label, layer=layer, headers=headers)


def _read_path(
    path: Path, *, label: str, layer: str | None, headers: frozenset[str] = frozenset()
) -> _Table:
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
        open(path, "rb").close()  # readable at all? (permissions, locks)
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
        return _read_zip(path, label=label, layer=layer, headers=headers)
    if suffix in GEO_SUFFIXES:
        return _read_geo(path, label=label, layer=layer)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, label=label, headers=headers)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, label=label, sheet=layer, headers=headers)
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


def _read_zip(
    path: Path, *, label: str, layer: str | None, headers: frozenset[str] = frozenset()
) -> _Table:
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
        inner = _read_path(found[0], label=label, layer=layer, headers=headers)
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
            # GDAL lets an unclosed ring through with this warning; GEOS then refuses it, and
            # _bad_geometries names the feature
            warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
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
    except shapely.errors.GEOSException:
        raise _bad_geometries(path, label, layer or layers[0], encoding) from None
    logger.info("read %s: %d features", label, len(frame))
    return _Table(frame, label, Rows("feature", 1))


def _bad_geometries(path: Path, label: str, layer: str, encoding: str | None) -> InputError:
    """One problem per feature whose geometry GEOS refuses to build (e.g. an unclosed ring)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)  # said below
        meta, _, wkb, fields = pyogrio.raw.read(path, layer=layer, encoding=encoding)
    names = [norm(c) for c in meta["fields"]]
    key = next((names.index(k) for k in ("id", "编号") if k in names), None)
    ids = None if key is None else np.array(["" if v is None else str(v) for v in fields[key]])
    rows = Rows("feature", 1, ids=ids)
    problems = []
    for i, value in enumerate(wkb):
        try:
            shapely.from_wkb(value)
        except shapely.errors.GEOSException as exc:
            detail = str(exc).split("Exception: ", 1)[-1]
            if "closed linestring" in detail:
                what = "a polygon ring is not closed (its last point is not its first point)"
                fix = "close the ring (repeat its first point at the end) or export it again"
            else:
                what = f"the geometry cannot be read ({detail})"
                fix = "redraw the feature or export the layer again from your GIS"
            problems.append(Problem(label, rows.where(i), "geometry", what, fix))
    if len(problems) > MAX_ROWS_PER_RULE:
        rest = len(problems) - MAX_ROWS_PER_RULE
        problems = problems[:MAX_ROWS_PER_RULE]
        problems.append(Problem(label, f"{rest} more features", "geometry", "cannot be read", ""))
    if not problems:  # the error was not tied to one feature
        problems.append(
            Problem(label, "", "geometry", "the geometries cannot be read", "export it again")
        )
    return InputError(problems)


def _read_csv(path: Path, *, label: str, headers: frozenset[str] = frozenset()) -> _Table:
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
    lines = text.splitlines()[: TITLE_ROWS + 1]
    cells = [_split_line(line) for line in lines]
    skip = _header_row(cells, headers, label) if lines else 0
    first = lines[skip] if lines else ""
    sep = max((",", "\t", ";"), key=first.count)
    try:
        frame = pd.read_csv(
            StringIO(text),
            sep=sep,
            skiprows=skip,
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
    numbers = np.flatnonzero(~blank) + 2 + skip  # the header is row 1 (below any title rows)
    frame, numbers = _drop_totals(frame[~blank], numbers, label, headers)
    return _with_lonlat(frame, label, Rows("row", 2 + skip, numbers=numbers))


def _read_xlsx(
    path: Path, *, label: str, sheet: str | None, headers: frozenset[str] = frozenset()
) -> _Table:
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
                chosen = sheet if sheet is not None else 0
                frame = pd.read_excel(book, sheet_name=chosen, dtype=object)
                top = [[str(c) for c in frame.columns]] + [
                    ["" if pd.isna(v) else str(v) for v in frame.iloc[k]]
                    for k in range(min(TITLE_ROWS, len(frame)))
                ]
                skip = _header_row(top, headers, label)
                if skip:
                    frame = pd.read_excel(book, sheet_name=chosen, dtype=object, header=skip)
    except InputError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise _unreadable(label, "XLSX", exc) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    blank = frame.isna().all(axis=1).to_numpy()
    # the header is row 1 (below any title rows), as Excel shows it
    numbers = np.flatnonzero(~blank) + 2 + skip
    frame, numbers = _drop_totals(frame[~blank], numbers, label, headers)
    logger.info("read %s: %d rows", label, len(frame))
    return _with_lonlat(frame, label, Rows("row", 2 + skip, numbers=numbers))


def _split_line(line: str) -> list[str]:
    """The cells of one CSV line, split at its most frequent separator."""
    sep = max((",", "\t", ";"), key=line.count)
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:
        return line.split(sep)


def _header_row(cells: list[list[str]], headers: frozenset[str], label: str) -> int:
    """Where a table's header is among its first rows (0: the first row, as usual).

    A row below the first is taken when it holds at least two known header names (``headers``,
    normalised) and more than the first row does: a title such as "黄浦区党群服务站点一览表" sits
    above the header in many bureau sheets. The rows above it are skipped with a warning."""
    if not headers or len(cells) < 2:
        return 0
    known = [sum(norm(c) in headers for c in row) for row in cells]
    best = int(np.argmax(known))
    if best == 0 or known[best] < 2 or known[best] <= known[0]:
        return 0
    title = next(
        (
            c.strip()
            for row in cells[:best]
            for c in row
            if c.strip() and not c.startswith("Unnamed: ")
        ),
        "",
    )
    below = f", below the title {title!r}" if title else ""
    rows, verb = ("row 1", "is") if best == 1 else (f"rows 1-{best}", "are")
    warn(
        f"{label}: row {best + 1}: the header is in row {best + 1}{below}; {rows} {verb} "
        f"skipped - delete the title {rows.split()[0]} to silence this warning"
    )
    return best


#: Rows of a table searched for its header (a title above it).
TITLE_ROWS: Final = 5
_TOTAL = re.compile(
    r"^(全区|全街道|全镇|全部|总)?(合计|总计|小计|共计|总数|累计)[:：]?$|^(sub)?total[:]?$|^grand total$|^sum$"
)


def _drop_totals(
    frame: pd.DataFrame, numbers: npt.NDArray[np.int64], label: str, headers: frozenset[str]
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Leave out total rows (合计, 总计, 小计, Total: the row's first filled cell), with a warning."""
    if not headers or frame.empty:
        return frame, numbers
    first = []
    for row in frame.itertuples(index=False):
        cell = next((str(v) for v in row if not pd.isna(v) and str(v).strip()), "")
        first.append(re.sub(r"\s+", "", norm(cell)))
    total = np.array([bool(_TOTAL.match(c)) for c in first], dtype=bool)
    if not total.any():
        return frame, numbers
    at = np.flatnonzero(total)
    which = ", ".join(str(numbers[i]) for i in at[:MAX_ROWS_PER_RULE])
    said = ", ".join(dict.fromkeys(repr(first[i]) for i in at))
    word = "row" if len(at) == 1 else "rows"
    warn(
        f"{label}: {word} {which}: {said} marks a total row, not a feature; it is left out "
        "- delete total rows from the file to silence this warning"
    )
    return frame[~total], numbers[~total]


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
