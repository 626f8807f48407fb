"""The Data page's editable thresholds table: levels in order, "no limit" instead of infinity,
and the edited cells read back as threshold overrides."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["NO_LIMIT", "order_levels", "overrides_from", "parse_value", "shown_values"]

#: How an infinite threshold (no limit) shows; the same in both languages, so an edit made in
#: one language reads back in the other.
NO_LIMIT = "不限 / no limit"
_NO_LIMIT_WORDS = {
    "不限",
    "no limit",
    "nolimit",
    "inf",
    "infinity",
    "∞",
    "无限",
    "无上限",
    "不限制",
}


def order_levels(wide: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of :data:`siting.schema.LEVELS` (区级, 街镇, 站, 点); others last."""
    from siting.schema import LEVELS

    order = [lv for lv in LEVELS if lv in wide.index]
    return wide.loc[order + [lv for lv in wide.index if lv not in order]]


def _text(v: float) -> str:
    if math.isinf(v) and v > 0:
        return NO_LIMIT
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def shown_values(wide: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``wide`` with each column holding an infinite value as text (:data:`NO_LIMIT` for
    infinity, the numbers as plain text), and the names of those text columns; the other
    columns stay numeric."""
    shown = wide.copy()
    text_cols = [str(c) for c in wide.columns if bool((wide[c] == math.inf).any())]
    for col in text_cols:
        shown[col] = [_text(float(v)) for v in wide[col]]
    return shown, text_cols


def parse_value(value: Any) -> float | None:
    """A cell of the edited table as a number (infinity for "不限 / no limit"), or None when it
    is empty or unreadable.

    Examples
    --------
    >>> parse_value("不限 / no limit"), parse_value("不限"), parse_value(" 50,000 ")
    (inf, inf, 50000.0)
    >>> parse_value("abc") is None, parse_value(None) is None, parse_value(12)
    (True, True, 12.0)
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if math.isnan(float(value)) else float(value)
    s = str(value).strip()
    if not s:
        return None
    if s == NO_LIMIT or s.lower().replace(" ", "") in {w.replace(" ", "") for w in _NO_LIMIT_WORDS}:
        return math.inf
    try:
        number = float(s.replace(",", "").replace(",", "").replace(" ", ""))
    except ValueError:
        return None
    return None if math.isnan(number) else number


def overrides_from(
    edited: pd.DataFrame, base: Any, previous: dict[str, Any]
) -> tuple[dict[str, float], list[str]]:
    """Threshold overrides (``<level>_<field>`` -> value) of the edited table (index: levels,
    columns: field names) where it differs from the profile ``base``; and the cells that could
    not be read (``<level>_<field>``: their previous override, if any, is kept)."""
    overrides: dict[str, float] = {}
    bad: list[str] = []
    for lv in edited.index:
        for f in edited.columns:
            key = f"{lv}_{f}"
            raw = edited.loc[lv, f]
            value = parse_value(raw)
            if value is None:
                if raw is not None and str(raw).strip() and str(raw) != "nan":
                    bad.append(key)
                if key in previous:
                    overrides[key] = float(previous[key])
                continue
            if value != float(getattr(base.level(lv), f)):
                overrides[key] = value
    return overrides, bad
