"""Side-by-side comparison of two scenarios' summaries and parameters (for ``Store.compare``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["compare_documents", "flatten", "is_number"]

COLUMNS = ["section", "item", "a", "b", "difference", "changed"]


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict of dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, dotted))
        else:
            out[dotted] = item
    return out


def is_number(value: Any) -> bool:
    """True for real numbers (not booleans), NaN included."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _row(section: str, key: str, a: Any, b: Any) -> dict[str, Any]:
    if is_number(a) and is_number(b):
        fa, fb = float(a), float(b)
        changed = not (fa == fb or (math.isnan(fa) and math.isnan(fb)))
        diff = fb - fa
    else:
        changed = bool(a != b)
        diff = math.nan
    return {"section": section, "item": key, "a": a, "b": b, "difference": diff, "changed": changed}


def compare_documents(
    summary_a: Mapping[str, Any],
    summary_b: Mapping[str, Any],
    parameters_a: Mapping[str, Any],
    parameters_b: Mapping[str, Any],
    *,
    key_figures: Sequence[str],
    detail: bool = False,
) -> pd.DataFrame:
    """The comparison table described in :meth:`siting.store.Store.compare`.

    Summary rows: each of ``key_figures`` present in either summary, then (with ``detail``)
    every other numeric entry of the flattened summaries. Parameter rows: only the flattened
    parameters that differ or exist on one side only (missing values are ``None``).
    """
    rows: list[dict[str, Any]] = []
    sa, sb = flatten(summary_a), flatten(summary_b)
    keys = [k for k in key_figures if k in sa or k in sb]
    if detail:
        keys += [
            k
            for k in dict.fromkeys([*sa, *sb])
            if k not in key_figures and (is_number(sa.get(k)) or is_number(sb.get(k)))
        ]
    rows += [_row("summary", k, sa.get(k), sb.get(k)) for k in keys]
    pa, pb = flatten(parameters_a), flatten(parameters_b)
    for key in dict.fromkeys([*pa, *pb]):
        row = _row("parameters", key, pa.get(key), pb.get(key))
        if key not in pa or key not in pb or row["changed"]:
            row["changed"] = True
            rows.append(row)
    # a and b keep the stored values as they are (ints stay ints, missing stays None)
    dtypes: dict[str, Any] = {"section": object, "item": object, "a": object, "b": object}
    dtypes |= {"difference": "float64", "changed": bool}
    return pd.DataFrame(
        {c: pd.Series([r[c] for r in rows], dtype=dtypes[c]) for c in COLUMNS}, columns=COLUMNS
    )
