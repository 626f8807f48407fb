"""Validation rules shared by the loaders: each rule adds every :class:`Problem` it finds.

Rules work on whole columns (numpy/pandas/shapely) and only loop over the rows that fail, to
build messages. A :class:`Problems` collector gathers everything wrong in one file so the user
gets one complete list; at most :data:`MAX_ROWS_PER_RULE` rows are named per rule and column,
followed by a count of the rest.

Row numbers (:class:`Rows`) are 1-based data rows as the user sees them: in CSV and XLSX tables
the header is row 1, so the first data row is ``row 2`` (as in Excel); in GIS files the first
feature is ``feature 1``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from siting._errors import InputError, Problem, warn

__all__ = [
    "MAX_ROWS_PER_RULE",
    "Problems",
    "Rows",
    "allowed_text",
    "check_choice",
    "check_geometries",
    "check_ids",
    "check_lonlat",
    "check_not_larger",
    "check_numbers",
    "looks_lonlat",
    "norm",
    "parse_numbers",
    "repair_polygons",
    "resolve_columns",
    "warn_overlaps",
    "warn_repaired",
]

#: Rows named per rule and column before the rest are summarised as a count.
MAX_ROWS_PER_RULE: Final = 20
#: A problem shared by at least this many rows and this share of them is said once for the file.
MOST_MIN_ROWS: Final = 5
MOST_SHARE: Final = 0.8
#: Rows quoted as examples in such a line.
EXAMPLES: Final = 3
#: Overlaps smaller than this (m2) are digitising or projection slivers (a 1 km shared edge
#: digitised in lon/lat leaves about 1 m2 in UTM) and are not reported.
OVERLAP_MIN_M2: Final = 50.0


def norm(text: object) -> str:
    """Normalise a header or value for matching: NFKC (full-width -> ASCII), trimmed, lower."""
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


class Problems:
    """Collects the problems of one file, then raises them together."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, where: str, field: str, what: str, fix: str) -> None:
        """Record one problem."""
        self.items.append(Problem(self.file, where, field, what, fix))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        """Raise :class:`InputError` with every problem recorded so far, if any."""
        if self.items:
            raise InputError(self.items)


@dataclass
class Rows:
    """How to name a row in messages: ``row 7 (id=C017)`` or ``feature 3 (id=S2)``.

    ``numbers`` holds the number shown for each row (when blank rows were dropped); otherwise
    row ``i`` (0-based) is numbered ``first + i``.
    """

    word: str = "feature"
    first: int = 1
    ids: npt.NDArray[np.object_] | None = field(default=None)
    numbers: npt.NDArray[np.int64] | None = field(default=None)

    def number(self, i: int) -> int:
        """The number shown for the row at 0-based position ``i``."""
        if self.numbers is not None:
            return int(self.numbers[i])
        return self.first + i

    def where(self, i: int) -> str:
        """The label of the row at 0-based position ``i``."""
        label = f"{self.word} {self.number(i)}"
        if self.ids is not None and i < len(self.ids) and self.ids[i]:
            label += f" (id={self.ids[i]})"
        return label

    def many(self, positions: Sequence[int]) -> str:
        """The label of several rows: ``rows 2, 5, 9``."""
        return f"{self.word}s " + ", ".join(str(self.number(int(i))) for i in positions)


def _report(
    problems: Problems,
    rows: Rows,
    mask: npt.NDArray[np.bool_],
    field: str,
    what: Any,
    fix: str,
) -> None:
    """Add one problem per row in ``mask`` (capped); ``what(i)`` builds the message."""
    positions = np.flatnonzero(mask)
    for i in positions[:MAX_ROWS_PER_RULE]:
        problems.add(rows.where(int(i)), field, what(int(i)), fix)
    rest = len(positions) - MAX_ROWS_PER_RULE
    if rest > 0:
        problems.add(f"{rest} more {rows.word}s", field, "have the same problem as above", fix)


def _report_most(
    problems: Problems,
    rows: Rows,
    mask: npt.NDArray[np.bool_],
    considered: npt.NDArray[np.bool_],
    field: str,
    what: Any,
    whole: str,
    fix: str,
    example: Any = None,
) -> None:
    """Like :func:`_report`, but when most rows have the problem, one line for the whole file.

    ``whole`` says what is wrong with the file, with ``{n}`` for "all 30 rows" or "28 of 30
    rows"; the line ends with up to :data:`EXAMPLES` of the rows (``example(i)``, default
    ``what(i)``).
    """
    example = example or what
    bad = int(mask.sum())
    total = int(considered.sum())
    if bad < MOST_MIN_ROWS or bad < MOST_SHARE * total:
        _report(problems, rows, mask, field, what, fix)
        return
    count = f"all {bad} {rows.word}s" if bad == total else f"{bad} of {total} {rows.word}s"
    examples = "; ".join(
        f"{rows.where(int(i))}: {example(int(i))}" for i in np.flatnonzero(mask)[:EXAMPLES]
    )
    problems.add("", field, f"{whole.format(n=count)} (e.g. {examples})", fix)


# --- columns ----------------------------------------------------------------------------------


def resolve_columns(
    problems: Problems,
    columns: Iterable[str],
    spec: Mapping[str, Sequence[str]],
    required: Sequence[str],
) -> dict[str, str]:
    """Map the file's headers to canonical columns using the aliases in ``spec``.

    Parameters
    ----------
    problems
        Collector for missing required columns and ambiguous headers.
    columns
        The headers of the file.
    spec
        Canonical column -> accepted aliases (from :mod:`siting.schema`).
    required
        Canonical columns that must be present.

    Returns
    -------
    dict
        Original header -> canonical name, for the columns recognised.
    """
    lookup: dict[str, str] = {}
    for canonical, aliases in spec.items():
        for alias in (canonical, *aliases):
            lookup.setdefault(norm(alias), canonical)
    found = [c for c in columns if c != "geometry"]
    chosen: dict[str, list[str]] = {}
    for column in found:
        match = lookup.get(norm(column))
        if match is not None:
            chosen.setdefault(match, []).append(column)
    mapping: dict[str, str] = {}
    for canonical, headers in chosen.items():
        if len(headers) > 1:
            names = ", ".join(repr(h) for h in headers)
            problems.add(
                "",
                canonical,
                f"several columns mean {canonical!r}: {names}",
                "keep one of them and rename or delete the others",
            )
        mapping[headers[0]] = canonical
    shown = ", ".join(repr(str(c)) for c in found) or "none"
    for canonical in required:
        if canonical not in chosen:
            accepted = ", ".join(dict.fromkeys((canonical, *spec[canonical])))
            problems.add(
                "",
                canonical,
                f"required column {canonical!r} is missing (columns found: {shown})",
                f"add it or rename a column to one of: {accepted}",
            )
    return mapping


# --- numbers ----------------------------------------------------------------------------------

_UNIT = re.compile(r"\s*(m2|m\^2|sqm|平方米|平米|人|户|名)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_numbers(values: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Parse a column of numbers leniently but never silently wrongly.

    Accepted besides plain numbers: thousands separators in groups of three (``"1,200"``) and a
    trailing unit (``"1200㎡"``, ``"1200 m2"``, ``"1200平方米"``, ``"3000人"``). ``"1,2"`` or
    ``"12 34"`` are not numbers.

    Parameters
    ----------
    values
        The raw column.

    Returns
    -------
    numbers
        float64 values, NaN where missing or not a number (``"nan"``/``"inf"`` parse as such).
    bad
        True where a value is present but is not a number.
    """
    n = len(values)
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.full(n, np.nan), np.ones(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return np.array(values.to_numpy(dtype=np.float64, na_value=np.nan)), np.zeros(n, dtype=bool)
    raw = values.to_numpy(dtype=object)
    is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in raw), dtype=bool, count=n)
    missing = np.fromiter(
        (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) for v in raw),
        dtype=bool,
        count=n,
    )
    # Fast path: plain numbers (most cells); only the rest go through the lenient rules.
    text = np.where(missing | is_bool, "", raw).astype(str)
    numbers = np.array(pd.to_numeric(pd.Series(text), errors="coerce"), dtype=np.float64)
    slow = np.flatnonzero(np.isnan(numbers) & ~missing & ~is_bool)
    bad = is_bool.copy()
    if len(slow):
        cleaned = pd.Series([norm(t) for t in text[slow]], dtype=object)
        empty = (cleaned == "").to_numpy()
        missing[slow[empty]] = True
        cleaned = cleaned.str.replace(_UNIT, "", regex=True)
        grouped = cleaned.str.match(_GROUPED).to_numpy(dtype=bool)
        cleaned[grouped] = cleaned[grouped].str.replace(",", "", regex=False)
        parsed = np.array(
            pd.to_numeric(cleaned.where(~empty, "nan"), errors="coerce"), dtype=np.float64
        )
        literal_nan = cleaned.isin(["nan", "+nan", "-nan"]).to_numpy()
        numbers[slow] = parsed
        bad[slow] = np.isnan(parsed) & ~empty & ~literal_nan
    numbers[is_bool] = np.nan
    return numbers, bad


def _blank(values: pd.Series) -> npt.NDArray[np.bool_]:
    """Cells that are empty (None/NaN/blank text)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return np.asarray(values.isna().to_numpy(), dtype=bool)
    return np.fromiter(
        (
            v is None
            or v is pd.NA
            or (isinstance(v, float) and np.isnan(v))
            or (isinstance(v, str) and not v.strip())
            for v in values.to_numpy(dtype=object)
        ),
        dtype=bool,
        count=len(values),
    )


def _raw(values: pd.Series, i: int) -> str:
    return str(values.iloc[i]).strip()


def check_numbers(
    problems: Problems,
    rows: Rows,
    values: pd.Series,
    field: str,
    *,
    required: bool,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    integer: bool = False,
    example: str = "1200",
) -> npt.NDArray[np.float64]:
    """Check a numeric column; return it as float64 (NaN where missing or bad).

    Flags values that are not numbers, NaN/inf, below ``minimum``, above ``maximum``, not whole
    when ``integer``, and missing when ``required``.
    """
    numbers, bad = parse_numbers(values)
    raw_missing = np.isnan(numbers) & ~bad & _blank(values)
    _report(
        problems,
        rows,
        bad,
        field,
        lambda i: f"{_raw(values, i)!r} is not a number",
        f"write a plain number such as {example} (no text or units other than m2/人/户)",
    )
    not_finite = ~np.isfinite(numbers) & ~raw_missing & ~bad
    _report(
        problems,
        rows,
        not_finite,
        field,
        lambda i: f"{_raw(values, i)!r} is not a finite number",
        f"write a plain number such as {example}, or leave the cell empty if unknown"
        if not required
        else f"write a plain number such as {example}",
    )
    if required:
        _report(
            problems,
            rows,
            raw_missing,
            field,
            lambda i: "value is missing",
            f"fill in {field} (a number such as {example})",
        )
    finite = np.isfinite(numbers)
    if minimum is not None:
        low = finite & (numbers < minimum)
        word = "negative" if minimum == 0 else f"below {minimum:g}"
        _report(
            problems,
            rows,
            low,
            field,
            lambda i: f"{numbers[i]:g} is {word}",
            f"write a number >= {minimum:g}",
        )
    if maximum is not None:
        high = finite & (numbers > maximum)
        _report(
            problems,
            rows,
            high,
            field,
            lambda i: f"{numbers[i]:g} is above {maximum:g}",
            f"write a number <= {maximum:g}",
        )
    if integer:
        frac = finite & (numbers != np.round(numbers))
        _report(
            problems,
            rows,
            frac,
            field,
            lambda i: f"{numbers[i]:g} is not a whole number",
            "write a whole number",
        )
    return np.where(finite & ~bad, numbers, np.nan)


def check_not_larger(
    problems: Problems,
    rows: Rows,
    small: npt.NDArray[np.float64],
    large: npt.NDArray[np.float64],
    small_field: str,
    large_field: str,
) -> None:
    """Flag rows where ``small`` exceeds ``large`` (e.g. ground floor > total floor area)."""
    mask = np.isfinite(small) & np.isfinite(large) & (large >= 0) & (small > large)
    _report(
        problems,
        rows,
        mask,
        small_field,
        lambda i: f"{small[i]:g} is larger than {large_field} {large[i]:g}",
        f"check both numbers: {small_field} is part of {large_field}",
    )


# --- ids and categories -----------------------------------------------------------------------


def _as_text(values: pd.Series) -> npt.NDArray[np.object_]:
    """Values as trimmed text; whole floats lose their '.0' (Excel turns 17 into 17.0)."""

    def one(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return ""
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return unicodedata.normalize("NFKC", str(v)).strip()

    return np.asarray(values.map(one).to_numpy(dtype=object), dtype=object)


def check_ids(problems: Problems, rows: Rows, values: pd.Series) -> npt.NDArray[np.object_]:
    """Check that ids are present and unique; return them as ``str``."""
    ids = _as_text(values)
    empty = ids == ""
    _report(problems, rows, empty, "id", lambda i: "id is missing", "give every row its own id")
    series = pd.Series(ids)
    dup = series.duplicated(keep=False).to_numpy() & ~empty
    if dup.any():
        groups = series[dup].groupby(series[dup], sort=False).indices
        for n, (value, positions) in enumerate(groups.items()):
            if n == MAX_ROWS_PER_RULE:
                problems.add(
                    "",
                    "id",
                    f"{len(groups) - n} more ids are duplicated",
                    "give every row its own id",
                )
                break
            at = np.flatnonzero(dup)[positions]
            problems.add(
                rows.many(at),
                "id",
                f"id {value!r} is used {len(at)} times",
                "give every row its own id",
            )
    return ids


def allowed_text(
    aliases: Mapping[str, str], allowed: Sequence[str], labels: Mapping[str, str]
) -> str:
    """``station (党群服务站, 站, 服务站), ...``: canonical values with their Chinese aliases."""
    parts = []
    for value in allowed:
        zh = [a for a, v in aliases.items() if v == value and not a.isascii()]
        names = list(dict.fromkeys([labels.get(value, ""), *zh[:3]]))
        parts.append(f"{value} ({', '.join(n for n in names if n)})")
    return ", ".join(parts)


def check_choice(
    problems: Problems,
    rows: Rows,
    values: pd.Series,
    field: str,
    aliases: Mapping[str, str],
    allowed: Sequence[str],
    labels: Mapping[str, str],
    *,
    default: str | None,
) -> npt.NDArray[np.object_]:
    """Map a category column through ``aliases``; empty cells get ``default`` (or are errors).

    Returns
    -------
    numpy.ndarray
        Canonical values (``""`` where bad).
    """
    text = _as_text(values)
    lookup = {norm(k): v for k, v in aliases.items()} | {norm(v): v for v in allowed}
    keys = np.array([norm(t) for t in text], dtype=object)
    mapped = np.array([lookup.get(k, "") for k in keys], dtype=object)
    empty = keys == ""
    if default is not None:
        mapped[empty] = default
    else:
        _report(
            problems,
            rows,
            empty,
            field,
            lambda i: "value is missing",
            f"fill in {field}: one of {allowed_text(aliases, allowed, labels)}",
        )
    unknown = (mapped == "") & ~empty
    _report(
        problems,
        rows,
        unknown,
        field,
        lambda i: f"unknown {field} {text[i]!r}",
        f"use one of: {allowed_text(aliases, allowed, labels)}",
    )
    return mapped


# --- geometry -----------------------------------------------------------------------------------


def check_geometries(
    problems: Problems,
    rows: Rows,
    geoms: gpd.GeoSeries,
    allowed: Sequence[str],
    *,
    what: str,
) -> npt.NDArray[np.bool_]:
    """Flag null, empty and wrongly typed geometries; return the mask of usable ones.

    ``what`` names the layer in the fix, e.g. ``"communities must be polygons"``.
    """
    values = np.asarray(geoms.values)
    null = shapely.is_missing(values)
    empty = ~null & shapely.is_empty(values)
    types = np.asarray(geoms.geom_type.fillna("").to_numpy(), dtype=object)
    wrong = ~null & ~empty & ~np.isin(types, list(allowed))
    _report(
        problems,
        rows,
        null,
        "geometry",
        lambda i: "has no geometry",
        "draw the feature or delete the row",
    )
    _report(
        problems,
        rows,
        empty,
        "geometry",
        lambda i: "geometry is empty",
        "draw the feature or delete the row",
    )
    _report(
        problems,
        rows,
        wrong,
        "geometry",
        lambda i: f"geometry is a {types[i]}, expected {' or '.join(allowed)}",
        f"{what}; export the right layer from your GIS",
    )
    return ~(null | empty | wrong)


def looks_lonlat(bounds: npt.ArrayLike) -> bool:
    """Whether ``(minx, miny, maxx, maxy)`` fit in lon/lat degree ranges."""
    x0, y0, x1, y1 = np.asarray(bounds, dtype=np.float64)
    return bool(
        np.all(np.isfinite([x0, y0, x1, y1])) and -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    )


def check_lonlat(
    problems: Problems,
    rows: Rows,
    bounds: npt.NDArray[np.float64],
    *,
    out_fix: str | None = None,
) -> npt.NDArray[np.bool_]:
    """Flag lon/lat out of range or swapped, per row; ``bounds`` is an (n, 4) array.

    Swapped means latitude beyond 90 with a longitude that would be a valid latitude, or a
    Chinese pair in the wrong order (lon 18-54 and lat 73-135). When most rows share one of
    these problems it is said once for the whole file, with a few rows as examples.
    ``out_fix`` replaces the advice for coordinates out of range in such a line.
    """
    x0, y0, x1, y1 = (bounds[:, k] for k in range(4))
    finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(bounds).all(axis=1))
    out = finite & ((x0 < -180) | (x1 > 180) | (y0 < -90) | (y1 > 90))
    swapped = finite & (
        (out & (np.abs(y0) <= 180) & (np.abs(y1) <= 180) & (np.abs(x0) <= 90) & (np.abs(x1) <= 90))
        | ((x0 >= 18) & (x1 <= 54) & (y0 >= 73) & (y1 <= 135))
    )
    out &= ~swapped
    cx = x0 / 2 + x1 / 2  # not (x0 + x1) / 2: that overflows for coordinates near 1e308
    cy = y0 / 2 + y1 / 2
    _report_most(
        problems,
        rows,
        swapped,
        finite,
        "geometry",
        lambda i: (
            f"lon {cx[i]:.6g}, lat {cy[i]:.6g} look swapped (China is about lon 73-135, lat 18-54)"
        ),
        "lon and lat look swapped in {n} (China is about lon 73-135, lat 18-54)",
        "swap the longitude and latitude columns (x is the longitude)",
        lambda i: f"lon {cx[i]:.6g}, lat {cy[i]:.6g}",
    )
    fix = (
        "check the coordinates; if they are projected metres, give the CRS (--crs, e.g. EPSG:4547)"
    )
    if out.sum() >= MOST_MIN_ROWS and out.sum() >= MOST_SHARE * finite.sum():
        span = (
            f"x {np.nanmin(x0[out]):.6g} to {np.nanmax(x1[out]):.6g}, "
            f"y {np.nanmin(y0[out]):.6g} to {np.nanmax(y1[out]):.6g}"
        )
        whole = f"the coordinates of {{n}} are out of range for degrees ({span})"
        fix = out_fix or fix
    else:
        whole = ""
    _report_most(
        problems,
        rows,
        out,
        finite,
        "geometry",
        lambda i: f"lon {cx[i]:.6g}, lat {cy[i]:.6g} are out of range for degrees",
        whole,
        fix,
        lambda i: f"lon {cx[i]:.6g}, lat {cy[i]:.6g}",
    )
    return ~(swapped | out)


def repair_polygons(
    values: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Repair invalid polygons with ``make_valid``, keeping only the polygonal parts.

    Returns
    -------
    values
        The geometries, invalid ones repaired (a copy).
    repaired
        Rows that were invalid and are now valid polygons (report with :func:`warn_repaired`).
    collapsed
        Rows that were invalid and have no area left (the caller reports them as errors).
    """
    values = np.array(values, dtype=object)
    invalid = ~shapely.is_valid(values) & ~shapely.is_missing(values)
    repaired = np.zeros(len(values), dtype=bool)
    collapsed = np.zeros(len(values), dtype=bool)
    if not invalid.any():
        return values, repaired, collapsed
    fixed = shapely.make_valid(values[invalid], method="structure", keep_collapsed=False)
    # make_valid of a polygon with method="structure" is polygonal; guard anyway
    polygonal = np.isin(shapely.get_type_id(fixed), [3, 6])
    fixed = np.where(polygonal, fixed, None)
    bad = shapely.is_missing(fixed) | shapely.is_empty(fixed) | (shapely.area(fixed) <= 0)
    values[invalid] = fixed
    positions = np.flatnonzero(invalid)
    collapsed[positions[bad]] = True
    repaired[positions[~bad]] = True
    return values, repaired, collapsed


def warn_repaired(file: str, rows: Rows, repaired: npt.NDArray[np.bool_]) -> None:
    """One :class:`SitingWarning` naming the polygons repaired by :func:`repair_polygons`."""
    positions = np.flatnonzero(repaired)
    if not len(positions):
        return
    named = ", ".join(rows.where(int(i)) for i in positions[:MAX_ROWS_PER_RULE])
    more = (
        f" and {len(positions) - MAX_ROWS_PER_RULE} more"
        if len(positions) > MAX_ROWS_PER_RULE
        else ""
    )
    warn(
        f"{file}: repaired {len(positions)} invalid (e.g. self-intersecting) polygon(s) with "
        f"make_valid, keeping the polygonal parts: {named}{more}",
        stacklevel=3,
    )


def warn_overlaps(
    file: str, ids: npt.NDArray[np.object_], values: npt.NDArray[np.object_]
) -> pd.DataFrame:
    """Warn about pairs of overlapping polygons (metric CRS), with the overlap area in m2.

    Returns
    -------
    pandas.DataFrame
        ``id_a, id_b, overlap_m2`` for every pair overlapping by more than
        :data:`OVERLAP_MIN_M2`, largest first.
    """
    tree = shapely.STRtree(values)
    left, right = tree.query(values, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    area = shapely.area(shapely.intersection(values[left], values[right]))
    big = area > OVERLAP_MIN_M2
    pairs = pd.DataFrame(
        {"id_a": ids[left[big]], "id_b": ids[right[big]], "overlap_m2": area[big]}
    ).sort_values("overlap_m2", ascending=False, ignore_index=True)
    if len(pairs):
        shown = "; ".join(
            f"{a} & {b}: {m2:,.0f} m2"
            for a, b, m2 in pairs.head(MAX_ROWS_PER_RULE).itertuples(index=False)
        )
        more = (
            f"; and {len(pairs) - MAX_ROWS_PER_RULE} more pairs"
            if len(pairs) > MAX_ROWS_PER_RULE
            else ""
        )
        warn(
            f"{file}: {len(pairs)} pair(s) of communities overlap (population is not split; check "
            f"the boundaries): {shown}{more}",
            stacklevel=3,
        )
    return pairs
