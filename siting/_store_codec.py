"""Serialising scenarios for the store: names, JSON documents and frames, never pickle.

Frames become Parquet bytes: a GeoDataFrame as GeoParquet (geometry as WKB, CRS as PROJJSON in
the file metadata), any other DataFrame as plain Parquet. Reading them back executes nothing
from the file. Parameters and summaries become JSON text (numpy scalars and arrays are turned
into plain numbers and lists first; tuples come back as lists).
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._errors import InputError, Problem

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_NAME_LENGTH",
    "decode_frame",
    "dumps_json",
    "encode_frame",
    "loads_json",
    "name_problem",
    "validate_name",
]

#: Longest scenario (or frame) name accepted, in characters.
MAX_NAME_LENGTH = 100
#: Longest description accepted, in characters.
MAX_DESCRIPTION_LENGTH = 10_000

GEOPARQUET = "geoparquet"
PARQUET = "parquet"

# Cc: control characters (incl. NUL, DEL, C1); Cs: lone surrogates (not storable as UTF-8);
# Zl/Zp: line and paragraph separators (they would break a listing into several lines).
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def name_problem(name: object, *, what: str = "scenario name") -> str | None:
    """Why ``name`` is not a valid name, or ``None`` when it is.

    A valid name is a non-empty ``str`` of at most :data:`MAX_NAME_LENGTH` characters, with no
    control characters, line separators or lone surrogates, and no leading or trailing spaces.
    """
    if not isinstance(name, str):
        return f"the {what} must be text, got {type(name).__name__}"
    if not name.strip():
        return f"the {what} is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"the {what} has {len(name)} characters, more than {MAX_NAME_LENGTH}"
    bad = [c for c in name if unicodedata.category(c) in _FORBIDDEN_CATEGORIES]
    if bad:
        shown = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(bad))
        return f"the {what} {name!r} contains control characters ({shown})"
    if name != name.strip():
        return f"the {what} {name!r} starts or ends with spaces"
    return None


def validate_name(name: object, *, file: str = "scenario", what: str = "scenario name") -> str:
    """Return ``name`` if it is valid (see :func:`name_problem`), else raise.

    Raises
    ------
    InputError
        Naming what is wrong with the name.
    """
    problem = name_problem(name, what=what)
    if problem is not None:
        raise InputError.one(
            file,
            "",
            "name",
            problem,
            f"use 1 to {MAX_NAME_LENGTH} characters without control characters or "
            "leading/trailing spaces",
        )
    assert isinstance(name, str)
    return name


# --- JSON ---------------------------------------------------------------------------------


def _plain(value: Any, path: str, problems: list[str]) -> Any:
    """``value`` as plain JSON types; unconvertible parts are recorded in ``problems``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, np.generic):
        return _plain(value.item(), path, problems)
    if isinstance(value, np.ndarray):
        return [_plain(v, f"{path}[{i}]", problems) for i, v in enumerate(value.tolist())]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, np.generic):
                key = key.item()
            if not isinstance(key, str | int | float | bool) and key is not None:
                problems.append(f"{path}: key {key!r} is a {type(key).__name__}")
                continue
            out[str(key)] = _plain(item, f"{path}.{key}" if path else str(key), problems)
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    problems.append(f"{path or 'value'}: {type(value).__name__} is not JSON data")
    return None


def dumps_json(value: Mapping[str, Any], *, file: str, field: str) -> str:
    """Encode a parameters or summary dict as JSON text.

    NaN and infinities are kept (Python's JSON dialect); numpy scalars and arrays are converted.

    Raises
    ------
    InputError
        Listing every part that is not JSON data (objects, sets, frames, ...).
    """
    if not isinstance(value, Mapping):
        raise InputError.one(
            file, "", field, f"must be a dict, got {type(value).__name__}", "pass a dict"
        )
    problems: list[str] = []
    plain = _plain(value, "", problems)
    if problems:
        raise InputError(
            [
                Problem(file, "", field, p, "use only numbers, text, lists and dicts")
                for p in problems
            ]
        )
    text = json.dumps(plain, ensure_ascii=False, allow_nan=True, sort_keys=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError.one(
            file, "", field, f"contains text that is not valid Unicode ({err.reason})", ""
        ) from None
    return text


def loads_json(text: str) -> dict[str, Any]:
    """Decode JSON text written by :func:`dumps_json`."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored JSON document is not an object")
    return value


# --- frames -------------------------------------------------------------------------------


def encode_frame(frame: pd.DataFrame, *, file: str, key: str) -> tuple[str, str | None, bytes]:
    """Serialise one frame: ``(format, crs text or None, Parquet bytes)``.

    Raises
    ------
    InputError
        When the frame is not a DataFrame, has non-text or duplicate column names, or has a
        column Parquet cannot hold (Python objects).
    """
    where = f"frame {key!r}"
    if not isinstance(frame, pd.DataFrame):
        raise InputError.one(
            file, where, "", f"is a {type(frame).__name__}, not a DataFrame", "pass a DataFrame"
        )
    problems = []
    bad_names = [c for c in frame.columns if not isinstance(c, str)]
    if bad_names:
        problems.append(
            Problem(
                file, where, "columns", f"column names {bad_names!r} are not text", "rename them"
            )
        )
    dup = frame.columns[frame.columns.duplicated()].unique().tolist()
    if dup:
        problems.append(
            Problem(file, where, "columns", f"duplicate column names {dup!r}", "rename them")
        )
    if problems:
        raise InputError(problems)
    buffer = io.BytesIO()
    is_geo = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame
    try:
        if is_geo:
            frame.to_parquet(buffer)
        else:
            pd.DataFrame(frame).to_parquet(buffer)
    except (ValueError, TypeError, NotImplementedError) as err:
        # pyarrow's ArrowInvalid / ArrowTypeError / ArrowNotImplementedError derive from these
        raise InputError.one(
            file,
            where,
            "",
            f"cannot be stored: {type(err).__name__}: {err}",
            "keep only numbers, text, dates, booleans and geometries in the frame",
        ) from None
    crs = None
    if is_geo and frame.crs is not None:
        # the CRS as the user gave it (an authority code, PROJ string or WKT); to_string() would
        # search the PROJ database for an authority code, which takes ~0.5 s for custom CRSs
        crs = frame.crs.srs or frame.crs.to_wkt()
    return (GEOPARQUET if is_geo else PARQUET), crs, buffer.getvalue()


def decode_frame(fmt: str, data: bytes, *, crs: str | None = None) -> pd.DataFrame:
    """Read back a frame written by :func:`encode_frame`.

    ``crs`` (the text :func:`encode_frame` returned) restores the CRS exactly as the user gave
    it (``"EPSG:4547"`` rather than the equivalent PROJJSON kept in the GeoParquet metadata).
    """
    buffer = io.BytesIO(bytes(data))
    if fmt == GEOPARQUET:
        frame = gpd.read_parquet(buffer)
        if crs is not None:
            frame = frame.set_crs(crs, allow_override=True)
        return frame
    if fmt == PARQUET:
        return pd.read_parquet(buffer)
    raise ValueError(f"unknown frame format {fmt!r}")
