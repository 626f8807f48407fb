"""XLSX workbooks with Chinese headers: the evaluation report and a generic table writer.

Every sheet has two header rows, Chinese labels on top and the canonical column names below (the
names used in the CSV outputs and the docs), frozen, with an autofilter; percentages, areas and
populations carry number formats; non-compliant rows are highlighted. Codes such as levels,
community kinds and coverage status are written as Chinese labels, booleans as 是/否. Geometry
columns are left out. Files are written atomically: a failed write leaves no partial file.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from siting._labels import RESULT_LABELS_ZH
from siting.schema import COLUMN_LABELS_ZH, KIND_LABELS_ZH, LEVEL_LABELS_ZH

__all__ = [
    "RESULT_LABELS_ZH",
    "SHEETS",
    "atomic_path",
    "write_evaluation_xlsx",
    "write_table_xlsx",
]

logger = logging.getLogger(__name__)

#: Sheet name -> attribute of the evaluation, in workbook order.
SHEETS: dict[str, str] = {
    "汇总": "summary",
    "站点": "sites",
    "社区": "communities",
    "街镇": "streets",
    "缺口": "gaps",
    "三年目标": "trajectory",
}

_VALUE_LABELS: dict[str, Mapping[str, str]] = {
    "level": LEVEL_LABELS_ZH,
    "kind": KIND_LABELS_ZH,
    "status": {"existing": "现状", "planned": "规划"},
    "coverage_status": {"covered": "已覆盖", "partly": "部分覆盖", "gap": "缺口"},
    "distance_mode": {"network": "步行路网 network", "euclidean": "直线 euclidean"},
}

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
_BAD_FONT = Font(color="9C0006")
_HEADER_FONT = Font(bold=True)
_KEY_FONT = Font(italic=True, color="666666", size=9)
_MAX_WIDTH = 60
_PCT = "0.0%"
_INT = "#,##0"
_DEC = "#,##0.0"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (``os.replace``),
    on any error it is removed, so ``path`` is never left half written.

    Examples
    --------
    >>> with atomic_path("out.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("done")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    # mkstemp creates 0600; give the file the mode of the one it replaces, or rw-r--r--
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    os.chmod(tmp, mode)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _label(col: str, labels: Mapping[str, str] | None) -> str:
    if labels and col in labels:
        return labels[col]
    return RESULT_LABELS_ZH.get(col) or COLUMN_LABELS_ZH.get(col) or col


def _number_format(col: str, dtype: Any) -> str | None:
    """Excel number format chosen from the column name (rates as %, counts and areas 1,234)."""
    if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)):
        return None
    if col.endswith(("_rate", "_share", "_rates")) or "_rate_" in col or "_share_" in col:
        return _PCT
    if col in ("m2_per_100_households", "floor_area_per_100_households"):
        return _DEC
    if col in ("year", "rank", "upgrade_year", "calendar_year", "start_year"):
        return "0"
    return _INT


def _cell(value: Any) -> Any:
    """A value openpyxl can write: NaN/inf/NA -> empty, numpy scalars -> Python, bool -> 是/否."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple, dict, set)):
        return ", ".join(str(v) for v in value)
    return value


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop geometry, translate codes to Chinese labels, keep column order."""
    df = pd.DataFrame(frame).copy()
    geo = [c for c in df.columns if c == "geometry" or str(df[c].dtype) == "geometry"]
    df = df.drop(columns=geo)
    for col, mapping in _VALUE_LABELS.items():
        if col in df.columns and not pd.api.types.is_numeric_dtype(df[col].dtype):
            df[col] = df[col].map(lambda v, m=mapping: m.get(v, v) if isinstance(v, str) else v)
    return df


def _write_sheet(
    ws: Worksheet,
    frame: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    highlight: str | None = None,
    one_header_row: bool = False,
) -> None:
    """Write ``frame`` with a Chinese header row, the canonical names below, formats, filter.

    ``one_header_row``: a single header row, each cell the Chinese name with the canonical
    name on a second line (``pandas.read_excel`` then reads no header row as data).
    """
    raw = pd.DataFrame(frame).reset_index(drop=True)
    df = _prepare(raw)
    cols = [str(c) for c in df.columns]
    top = 1 if one_header_row else 2  # header rows
    if one_header_row:
        ws.append([f"{_label(c, labels)}\n{c}" if _label(c, labels) != c else c for c in cols])
    else:
        ws.append([_label(c, labels) for c in cols])
        ws.append(cols)
    for row in df.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in row])
    n = len(df)
    for j, col in enumerate(cols, start=1):
        head = ws.cell(1, j)
        head.font, head.fill = _HEADER_FONT, _HEADER_FILL
        head.alignment = Alignment(wrap_text=True, vertical="center")
        if not one_header_row:
            ws.cell(2, j).font = _KEY_FONT
        fmt = _number_format(col, df[col].dtype)
        if fmt and n:
            for (cell,) in ws.iter_rows(min_row=top + 1, max_row=n + top, min_col=j, max_col=j):
                cell.number_format = fmt
        sample = df[col].head(500).map(lambda v: "" if _cell(v) is None else str(_cell(v)))
        widest = max(
            [_display_width(_label(col, labels)), len(col), *(_display_width(s) for s in sample)]
            or [8]
        )
        if fmt == _PCT:
            widest = max(widest, 7)
        elif fmt in (_INT, _DEC):
            widest = int(widest * 1.3) + 1
        ws.column_dimensions[get_column_letter(j)].width = min(_MAX_WIDTH, max(8, widest + 2))
    if highlight and highlight in raw.columns and n:
        bad = (raw[highlight] == False).to_numpy(dtype=bool)  # noqa: E712 (NaN is not bad)
        for i in np.flatnonzero(bad).tolist():
            # iter_rows with max_col: ws[row] would rescan every cell for max_column
            for row_cells in ws.iter_rows(
                min_row=i + top + 1, max_row=i + top + 1, max_col=len(cols)
            ):
                for cell in row_cells:
                    cell.fill, cell.font = _BAD_FILL, _BAD_FONT
    ws.freeze_panes = f"A{top + 1}"
    if one_header_row:
        ws.row_dimensions[1].height = 32  # two lines
    if cols:
        ws.auto_filter.ref = f"A{top}:{get_column_letter(len(cols))}{n + top}"


_TABLE_TITLES = {
    "by_level": "按层级 by level",
    "by_street": "按街镇 by street",
    "targets": "三年目标 targets by year",
}

_SUMMARY_ORDER = (
    "population_total",
    "population_covered",
    "coverage_rate",
    "coverage_rate_any",
    "sites_total",
    "sites_compliant",
    "compliance_rate",
    "distance_mode",
    "standard",
    "demand_method",
    "targets",
)


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Columns whose values are all numbers (or missing) as float, so they get number formats."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object:
            with contextlib.suppress(ValueError, TypeError):
                out[col] = pd.to_numeric(out[col])
    return out


def _is_table(v: Any) -> bool:
    if isinstance(v, Mapping):
        return bool(v) and all(isinstance(x, Mapping) for x in v.values())
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _summary_frames(summary: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The scalar figures as (指标, 数值, 字段) rows, and the nested tables (per level, per street,
    targets by year)."""
    keys = [k for k in _SUMMARY_ORDER if k in summary]
    keys += [k for k in summary if k not in keys]
    keys = [k for k in keys if not _is_table(summary[k])]
    values: list[Any] = []
    for k in keys:
        v = summary[k]
        if isinstance(v, (list, tuple)):
            v = " / ".join(
                f"{t:.0%}" if k == "targets" and isinstance(t, float) else str(t) for t in v
            )
        elif isinstance(v, Mapping):
            v = "; ".join(f"{a}={b}" for a, b in v.items())
        elif k == "distance_mode":
            v = _VALUE_LABELS["distance_mode"].get(v, v)
        values.append(v)
    scalars = pd.DataFrame(
        {
            "metric": [_label(k, None) for k in keys],
            "value": pd.Series(values, dtype=object),
            "key": keys,
        }
    )
    nested = {}
    for k, v in summary.items():
        if not _is_table(v):
            continue
        if isinstance(v, Mapping):
            table = pd.DataFrame.from_dict(dict(v), orient="index")
            table.index.name = {"by_level": "level", "by_street": "street"}.get(k, "key")
            table = table.reset_index()
        else:
            table = pd.DataFrame(list(v))
        nested[k] = _numeric(table)
    return scalars, nested


def _write_summary(ws: Worksheet, summary: Mapping[str, Any]) -> None:
    scalars, nested = _summary_frames(summary)
    _write_sheet(ws, scalars)
    pct_keys = {k for k in scalars["key"] if _number_format(k, float) == _PCT}
    for i, key in enumerate(scalars["key"], start=3):
        cell = ws.cell(i, 2)
        if isinstance(cell.value, (int, float)):
            cell.number_format = _PCT if key in pct_keys else (_number_format(key, float) or _INT)
        cell.alignment = Alignment(horizontal="right")
    ws.column_dimensions["B"].width = 22
    row = len(scalars) + 4
    for name, table in nested.items():
        title = _TABLE_TITLES.get(name, name)
        ws.cell(row, 1, title).font = _HEADER_FONT
        row += 1
        df = _prepare(table)
        cols = [str(c) for c in df.columns]
        for j, col in enumerate(cols, start=1):
            ws.cell(row, j, _label(col, None)).font = _HEADER_FONT
            ws.cell(row, j).fill = _HEADER_FILL
            ws.cell(row + 1, j, col).font = _KEY_FONT
        for r, values in enumerate(df.itertuples(index=False, name=None), start=row + 2):
            for j, (col, v) in enumerate(zip(cols, values, strict=True), start=1):
                cell = ws.cell(r, j, _cell(v))
                fmt = _number_format(col, df[col].dtype)
                if fmt:
                    cell.number_format = fmt
        row += len(df) + 3
    note = ws.cell(
        row,
        1,
        "Row 1: Chinese headers; row 2: the column names of the CSV outputs. "
        "Red rows: sites not up to standard / targets not met.",
    )
    note.font = _KEY_FONT


def _save(wb: Workbook, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return path


def write_evaluation_xlsx(evaluation: Any, path: str | Path) -> Path:
    """Write the evaluation workbook: 汇总, 站点, 社区, 街镇, 缺口, 三年目标.

    Parameters
    ----------
    evaluation
        An ``Evaluation`` (or an object/mapping with ``summary``, ``sites``, ``communities``,
        ``streets``, ``gaps``, ``trajectory``); missing parts are skipped.
    path
        Output ``.xlsx`` file, replaced atomically.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> write_evaluation_xlsx(ev, "report.xlsx")  # doctest: +SKIP
    """
    wb = Workbook()
    wb.remove(wb.active)
    for sheet, attr in SHEETS.items():
        if isinstance(evaluation, Mapping):
            part = evaluation.get(attr)
        else:
            part = getattr(evaluation, attr, None)
        if part is None:
            continue
        ws = wb.create_sheet(sheet)
        if attr == "summary":
            _write_summary(ws, part)
        else:
            highlight = {"sites": "compliant", "trajectory": "met"}.get(attr)
            _write_sheet(ws, part, highlight=highlight)
    if not wb.sheetnames:
        wb.create_sheet("汇总")
    out = _save(wb, path)
    logger.info("wrote workbook %s (%d sheets)", out, len(wb.sheetnames))
    return out


_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


def write_table_xlsx(
    frames: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    labels: Mapping[str, str] | None = None,
    highlight: Mapping[str, str] | None = None,
    one_header_row: bool = False,
) -> Path:
    """Write several tables (plans, proposals, ...) as sheets with the report's formatting.

    Parameters
    ----------
    frames
        Sheet name -> table (geometry columns are dropped; names cut to Excel's 31 characters).
    path
        Output ``.xlsx`` file, replaced atomically.
    labels
        Extra column -> Chinese header labels (override the built-in ones).
    highlight
        Sheet name -> boolean column whose ``False`` rows are highlighted.
    one_header_row
        One header row of "Chinese name / canonical name" (two lines in a cell) instead of
        two rows, so ``pandas.read_excel`` reads the tables without a stray data row.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, frame in frames.items():
        title = str(name).translate(_BAD_SHEET_CHARS)[:31] or "Sheet"
        base, k = title, 1
        while title in used:
            k += 1
            title = f"{base[:28]}_{k}"
        used.add(title)
        _write_sheet(
            wb.create_sheet(title),
            frame,
            labels=labels,
            highlight=(highlight or {}).get(name),
            one_header_row=one_header_row,
        )
    if not wb.sheetnames:
        wb.create_sheet("Sheet")
    return _save(wb, path)
