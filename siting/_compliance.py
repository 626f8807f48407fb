"""Site compliance against the building standard, and the compliance trajectory over the
programme years (:mod:`siting.evaluate` re-exports all three functions).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting import schema, settings
from siting._rollups import _fmt, _join
from siting.standards import Standard, load_standard

log = logging.getLogger(__name__)


def site_compliance(
    sites: pd.DataFrame,
    standard: Standard | str | Path = settings.DEFAULT_STANDARD,
    *,
    households_served: Any = None,
) -> pd.DataFrame:
    """Judge sites against the building standard of their level.

    Parameters
    ----------
    sites
        Frame with ``level, floor_area_m2, ground_floor_area_m2``.
    standard
        The standards profile.
    households_served
        Households served per site (array); the floor area per 100 households is judged only
        when given.

    Returns
    -------
    pandas.DataFrame
        Same index: ``compliant, reasons (zh), reasons_en, ground_floor_share,
        m2_per_100_households, required_floor_area_m2, shortfall_m2, min_floor_area_m2,
        min_ground_floor_share``.
    """
    std = load_standard(standard)
    lv = sites["level"]
    area = sites["floor_area_m2"].to_numpy(dtype=np.float64)
    ground = sites["ground_floor_area_m2"].to_numpy(dtype=np.float64)
    min_area = lv.map(std.per_level("min_floor_area_m2")).to_numpy(dtype=np.float64)
    min_share = lv.map(std.per_level("min_ground_floor_share")).to_numpy(dtype=np.float64)
    min_100 = lv.map(std.per_level("min_m2_per_100_households")).to_numpy(dtype=np.float64)
    hh = (
        np.full(len(sites), np.nan)
        if households_served is None
        else np.asarray(households_served, dtype=np.float64)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(area > 0, ground / area, np.nan)
        per100 = np.where(hh > 0, area / hh * 100.0, np.nan)
    area_fail = (min_area > 0) & ~(area >= min_area)  # NaN area fails
    share_fail = (min_share > 0) & (share < min_share)
    hh_fail = (min_100 > 0) & (per100 < min_100)
    required = np.fmax(min_area, np.where(min_100 > 0, min_100 * np.nan_to_num(hh) / 100.0, 0))
    shortfall = np.maximum(required - np.nan_to_num(area), 0.0)

    f0, f1 = _fmt(area, 0), _fmt(min_area, 0)
    p0, p1 = _fmt(share * 100, 0), _fmt(min_share * 100, 0)
    h0, h1, hn = _fmt(per100, 1), _fmt(min_100, 0), _fmt(hh, 0)
    zh = [
        np.where(area_fail, "建筑面积 " + f0 + " m² < " + f1 + " m²", ""),
        np.where(share_fail, "一层面积占比 " + p0 + "% < " + p1 + "%", ""),
        np.where(hh_fail, "每百户面积 " + h0 + " m² < " + h1 + " m²（服务 " + hn + " 户）", ""),
    ]
    en = [
        np.where(area_fail, "floor area " + f0 + " m2 < " + f1 + " m2", ""),
        np.where(share_fail, "ground floor " + p0 + "% < " + p1 + "%", ""),
        np.where(
            hh_fail,
            "space per 100 households " + h0 + " m2 < " + h1 + " m2 (" + hn + " households)",
            "",
        ),
    ]
    return pd.DataFrame(
        {
            "compliant": ~(area_fail | share_fail | hh_fail),
            "reasons": _join(zh, "; "),
            "reasons_en": _join(en, "; "),
            "ground_floor_share": share,
            "m2_per_100_households": per100,
            "required_floor_area_m2": required,
            "shortfall_m2": shortfall,
            "min_floor_area_m2": min_area,
            "min_ground_floor_share": min_share,
        },
        index=sites.index,
    )


def default_start_year(today: Any = None) -> int:
    """The calendar year a programme starts by default: the year after ``today``.

    A three-year programme is drawn up and budgeted in the year before it runs (the budget
    for year N is compiled in the autumn of year N-1), so year 1 is next year whatever the
    date and year 0 (the situation now) is this year; give ``start_year`` (``--start-year``)
    to start this year.
    """
    return (today or _dt.date.today()).year + 1


def compliance_trajectory(
    sites: pd.DataFrame,
    *,
    targets: tuple[float, ...] | list[float],
    start_year: int | None = None,
    include_planned: bool = False,
) -> pd.DataFrame:
    """Compliance rate by programme year, from ``compliant``, ``status`` and ``upgrade_year``.

    Year 0 is the baseline (the site table as it is, labelled ``start_year - 1``); year ``k``
    (1..len(targets)) is calendar year ``start_year + k - 1``. An existing site with an
    ``upgrade_year`` counts as compliant from that year on; a planned site counts from its
    ``upgrade_year`` (its build year) on, compliant if its planned figures are; a planned site
    without a year is left out (unless ``include_planned``, which counts it from year 0).
    ``upgrade_year`` values >= 1000 are calendar years, smaller ones programme years. Year 0 is
    held against the year-1 target (how far the baseline is from it).

    Returns
    -------
    pandas.DataFrame
        ``year, calendar_year, target_rate, compliance_rate, sites_compliant, sites_total,
        met``.
    """
    start = default_start_year() if start_year is None else int(start_year)
    targets = tuple(float(t) for t in targets)
    existing = sites["status"].to_numpy(dtype=object) != schema.PLANNED
    compliant = sites["compliant"].to_numpy(dtype=bool)
    up = (
        pd.to_numeric(sites["upgrade_year"], errors="coerce").to_numpy(dtype=np.float64)
        if "upgrade_year" in sites
        else np.full(len(sites), np.nan)
    )
    prog = np.where(up >= 1000, up - start + 1, up)
    prog = np.where(np.isnan(prog), np.inf, np.maximum(np.ceil(prog), 0))
    base = existing | include_planned
    n_skip = int((~base & np.isinf(prog)).sum())
    if n_skip:
        log.info("trajectory: %d planned sites without upgrade_year left out", n_skip)
    rows = []
    for year in range(len(targets) + 1):
        alive = base | (prog <= year)
        ok = alive & (compliant | (existing & (prog <= year)))
        total, good = int(alive.sum()), int(ok.sum())
        rate = good / total if total else math.nan
        target = targets[max(year - 1, 0)] if targets else math.nan
        rows.append((year, start + year - 1, target, rate, good, total, bool(rate >= target)))
    out = pd.DataFrame(
        rows,
        columns=[
            "year",
            "calendar_year",
            "target_rate",
            "compliance_rate",
            "sites_compliant",
            "sites_total",
            "met",
        ],
    )
    out = out.astype({"year": np.int64, "calendar_year": np.int64, "met": bool})
    return _labelled(out)


def _labelled(traj: pd.DataFrame) -> pd.DataFrame:
    """Add ``label``: year 0 is the situation now (held against the year-1 target), year k the
    end of programme year k."""
    label = np.where(
        traj["year"] == 0,
        "现状 now (vs year-1 target)",
        "第"
        + traj["year"].astype(str)
        + "年 year "
        + traj["year"].astype(str)
        + " ("
        + traj["calendar_year"].astype(str)
        + ")",
    )
    return traj.assign(label=label)


def trajectory_from_snapshots(
    snapshots: list[pd.DataFrame],
    *,
    standard: Standard | str | Path = settings.DEFAULT_STANDARD,
    start_year: int | None = None,
) -> pd.DataFrame:
    """Compliance by year from several site tables (snapshot ``k`` = programme year ``k``).

    Each snapshot's existing sites are judged on the building standard of their level (floor
    area and ground-floor share; the per-100-households figure needs demand and is not judged
    here). Snapshot 0 is the baseline; years beyond the targets get the last target.

    Returns
    -------
    pandas.DataFrame
        As :func:`compliance_trajectory`.
    """
    std = load_standard(standard)
    start = default_start_year() if start_year is None else int(start_year)
    rows = []
    for year, snap in enumerate(snapshots):
        alive = snap[snap["status"].astype(str) != schema.PLANNED] if "status" in snap else snap
        ok = site_compliance(alive, std)["compliant"].to_numpy(dtype=bool)
        total, good = len(alive), int(ok.sum())
        rate = good / total if total else math.nan
        target = std.targets[min(max(year - 1, 0), len(std.targets) - 1)]
        rows.append((year, start + year - 1, target, rate, good, total, bool(rate >= target)))
    cols = ["year", "calendar_year", "target_rate", "compliance_rate"]
    cols += ["sites_compliant", "sites_total", "met"]
    return _labelled(pd.DataFrame(rows, columns=cols).astype({"met": bool}))
