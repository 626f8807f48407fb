"""Rollups of :mod:`siting.evaluate`: the community, street and district frames built from the
per-site and per-demand-point figures, with their Chinese explanations, and small formatting
helpers (text columns, rates, JSON-safe values).
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import schema
from siting._catchment import _catchment, _within_radius
from siting._geom import as_xy

SOH = schema.STATION_OR_HIGHER

#: Placement rule per community kind (seed 000, 金山: 纯农村"站点并举"，城中村"站为主、点为辅"，
#: 空心村"点为主、站为辅"，居民区以站为主，企业"点为主、多企联建").
PLACEMENT_RULES_ZH: dict[str, str] = {
    schema.RESIDENTIAL: "居民区以站为主：建一个达标的党群服务站",
    schema.VILLAGE: "纯农村站点并举：建党群服务站，并在村民小组设服务点",
    schema.URBAN_VILLAGE: "城中村站为主、点为辅：先建服务站，服务点作补充",
    schema.HOLLOW_VILLAGE: "空心村点为主、站为辅：以服务点覆盖分散居住的村民",
    schema.ENTERPRISE: "园区企业点为主、多企联建：多家企业共建服务点",
}
_NEEDS_STATION = (schema.RESIDENTIAL, schema.VILLAGE, schema.URBAN_VILLAGE)


def _community_frame(comm, st, sites, dem, network, std, current, radius) -> gpd.GeoDataFrame:
    geoms = comm.geometry.to_numpy()
    cen = shapely.centroid(geoms)
    rep = np.where(shapely.within(cen, geoms), cen, shapely.point_on_surface(geoms))
    r_xy = as_xy(rep) if len(rep) else np.empty((0, 2))
    s_xy = as_xy(st.geometry) if len(st) else np.empty((0, 2))
    soh = np.isin(sites["level"].to_numpy(dtype=object), SOH)
    ids = sites["site_id"].to_numpy(dtype=object)
    near, near_d = _catchment(network, r_xy, s_xy, current)
    near_st, near_st_d = _catchment(network, r_xy, s_xy, current & soh)
    # shares from the demand points; a community without residents: its own centre point
    g = (
        pd.DataFrame(
            {
                "cid": dem["community_id"].to_numpy(),
                "pop": dem["population"].to_numpy(),
                "cov": dem["population"].to_numpy() * dem["covered"].to_numpy(),
                "any": dem["population"].to_numpy() * dem["covered_any"].to_numpy(),
            }
        )
        .groupby("cid")[["pop", "cov", "any"]]
        .sum()
    )
    g = g.reindex(comm["id"]).fillna(0.0)
    rep_cov = np.zeros(len(comm), dtype=bool)
    rep_any = np.zeros(len(comm), dtype=bool)
    if len(st) and len(comm):
        rows, cols, _ = _within_radius(network, s_xy, r_xy, radius)
        rep_cov[cols[(current & soh)[rows]]] = True
        rep_any[cols[current[rows]]] = True
    has_pop = g["pop"].to_numpy() > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(has_pop, g["cov"].to_numpy() / g["pop"].to_numpy(), rep_cov * 1.0)
        share_any = np.where(has_pop, g["any"].to_numpy() / g["pop"].to_numpy(), rep_any * 1.0)
    # sites standing in each community (current only)
    cur = sites[current]
    cur_soh = cur["level"].isin(SOH)
    n_st = cur[cur_soh].groupby("community_id").size()
    n_ok = cur[cur_soh & cur["compliant"]].groupby("community_id").size()
    n_pt = cur[~cur_soh].groupby("community_id").size()
    cid = comm["id"]
    n_st = cid.map(n_st).fillna(0).to_numpy(dtype=np.int64)
    n_ok = cid.map(n_ok).fillna(0).to_numpy(dtype=np.int64)
    n_pt = cid.map(n_pt).fillna(0).to_numpy(dtype=np.int64)
    status = np.select(
        [share >= std.covered_min_share, share >= std.partly_min_share],
        ["covered", "partly"],
        "gap",
    )
    kind = comm["kind"].to_numpy(dtype=object)
    missing = _missing_zh(kind, n_st, n_ok, n_pt, share, share_any, std.covered_min_share)
    out = pd.DataFrame(
        {
            "community_id": cid.to_numpy(),
            "name": comm["name"].to_numpy(),
            "kind": kind,
            "street": comm["street"].to_numpy(),
            "population": comm["population"].to_numpy(),
            "households": comm["households"].to_numpy(),
            "party_members": comm["party_members"].to_numpy(),
            "nearest_site_id": np.where(near >= 0, ids[np.maximum(near, 0)], "")
            if len(ids)
            else "",
            "nearest_site_distance_m": near_d,
            "nearest_station_id": np.where(near_st >= 0, ids[np.maximum(near_st, 0)], "")
            if len(ids)
            else "",
            "nearest_station_distance_m": near_st_d,
            "covered_share": share.astype(np.float64),
            "covered_share_any": share_any.astype(np.float64),
            "has_compliant_station": n_ok > 0,
            "coverage_status": status,
            "placement_rule": _text(pd.Series(kind).map(PLACEMENT_RULES_ZH)).to_numpy(),
            "missing": missing,
            "stations": n_st,
            "points": n_pt,
            "population_covered": g["cov"].to_numpy(),
            "population_covered_any": g["any"].to_numpy(),
            "population_demand": g["pop"].to_numpy(),
        }
    )
    return gpd.GeoDataFrame(out, geometry=geoms, crs=comm.crs)


def _missing_zh(kind, n_st, n_ok, n_pt, share, share_any, covered_min) -> np.ndarray:
    """What a community lacks under its placement rule, in Chinese ("" when nothing)."""
    needs_st = np.isin(kind, _NEEDS_STATION)
    urban = kind == schema.URBAN_VILLAGE
    points_first = np.isin(kind, (schema.HOLLOW_VILLAGE, schema.ENTERPRISE))
    pct = _fmt((1 - share) * 100, 0)
    pct_any = _fmt((1 - share_any) * 100, 0)
    parts = [
        np.where(
            needs_st & (n_st == 0), np.where(urban, "缺党群服务站（优先）", "缺党群服务站"), ""
        ),
        np.where(needs_st & (n_st > 0) & (n_ok == 0), "服务站未达标", ""),
        np.where((kind == schema.VILLAGE) & (n_pt == 0), "缺党群服务点", ""),
        np.where(
            (kind == schema.HOLLOW_VILLAGE) & (n_pt == 0) & (share_any < covered_min),
            "缺党群服务点（优先）",
            "",
        ),
        np.where(
            (kind == schema.ENTERPRISE) & (n_pt == 0) & (share_any < covered_min),
            "缺服务点（可多企联建）",
            "",
        ),
        np.where(needs_st & (share < covered_min), pct + "% 居民不在服务站服务半径内", ""),
        np.where(
            points_first & (share_any < covered_min), pct_any + "% 居民不在任何站点服务半径内", ""
        ),
    ]
    return _join(parts, "；")


def _street_frame(
    comm: pd.DataFrame, sites: pd.DataFrame, current: np.ndarray, prog: np.ndarray
) -> pd.DataFrame:
    c = comm.groupby("street", sort=True).agg(
        population=("population", "sum"),
        population_covered=("population_covered", "sum"),
        population_demand=("population_demand", "sum"),
        households=("households", "sum"),
    )
    s = sites[current].assign(
        soh=lambda d: d["level"].isin(SOH),
        station=lambda d: d["level"] == schema.STATION,
    )
    s = s.assign(
        station_ok=s["station"] & s["compliant"],
        soh_pop=s["population_served"].where(s["soh"]),
        soh_area=s["floor_area_m2"].where(s["soh"], 0.0),
        prog=prog[current],
    )
    s = s.assign(prog_ok=s["prog"] & s["compliant"])
    agg = s.groupby("street").agg(
        sites_total=("prog", "sum"),
        sites_compliant=("prog_ok", "sum"),
        sites_all_levels=("site_id", "size"),
        stations=("station", "sum"),
        stations_compliant=("station_ok", "sum"),
        population_per_site_mean=("soh_pop", "mean"),
        population_per_site_max=("soh_pop", "max"),
        sites_overloaded=("overloaded", "sum"),
        floor_area=("soh_area", "sum"),
    )
    out = c.join(agg, how="outer")
    for col in (
        "population",
        "population_covered",
        "population_demand",
        "households",
        "floor_area",
    ):
        out[col] = out[col].fillna(0.0).astype(np.float64)
    for col in (
        "sites_total",
        "sites_compliant",
        "sites_all_levels",
        "stations",
        "stations_compliant",
    ):
        out[col] = out[col].fillna(0).astype(np.int64)
    out["sites_overloaded"] = out["sites_overloaded"].fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # shares on the demand points' base (equal to the declared one for grid and centroid)
        out["coverage_rate"] = out["population_covered"] / out["population_demand"].where(
            out["population_demand"] > 0
        )
        out["compliance_rate"] = out["sites_compliant"] / out["sites_total"].where(
            out["sites_total"] > 0
        )
        out["floor_area_per_100_households"] = (
            out["floor_area"] / out["households"].where(out["households"] > 0) * 100.0
        )
    cols = [
        "street",
        "population",
        "population_covered",
        "coverage_rate",
        "sites_total",
        "sites_compliant",
        "compliance_rate",
        "stations",
        "stations_compliant",
        "population_per_site_mean",
        "population_per_site_max",
        "sites_overloaded",
        "floor_area_per_100_households",
    ]
    out = out.reset_index(names="street")
    for col in cols[1:]:
        if out[col].dtype == object:
            out[col] = out[col].astype(np.float64)
    return out[cols]


def _summary(
    comm, sites, streets, traj, gaps, current, std, network, method, prog
) -> dict[str, Any]:
    cur = sites[current]
    cur_prog = sites[current & prog]
    pop_total = float(comm["population"].fillna(0).sum())
    pop_cov = float(comm["population_covered"].sum())
    cov_any = float(comm["population_covered_any"].sum())
    pop_dem = float(comm["population_demand"].sum())
    by_level = {}
    for lv in schema.LEVELS:
        s = cur[cur["level"] == lv]
        by_level[lv] = {
            "label_zh": schema.LEVEL_LABELS_ZH[lv],
            "sites_total": len(s),
            "sites_compliant": int(s["compliant"].sum()),
            "compliance_rate": _rate(int(s["compliant"].sum()), len(s)),
            "population_served_mean": float(s["population_served"].mean()) if len(s) else None,
            "population_served_max": float(s["population_served"].max()) if len(s) else None,
            "sites_overloaded": int(s["overloaded"].sum()),
            "floor_area_m2_total": float(s["floor_area_m2"].sum()),
        }
    by_street = {
        str(r["street"]): {
            k: r[k]
            for k in (
                "population",
                "population_covered",
                "coverage_rate",
                "sites_total",
                "sites_compliant",
                "compliance_rate",
                "sites_overloaded",
            )
        }
        for r in streets.to_dict("records")
    }
    status = comm["coverage_status"].value_counts()
    out = {
        "population_total": pop_total,
        "population_covered": pop_cov,
        "coverage_rate": _rate(pop_cov, pop_dem),
        "population_covered_any": cov_any,
        "coverage_rate_any": _rate(cov_any, pop_dem),
        "sites_total": len(cur_prog),
        "sites_compliant": int(cur_prog["compliant"].sum()),
        "compliance_rate": _rate(int(cur_prog["compliant"].sum()), len(cur_prog)),
        "compliance_levels": list(std.programme_levels()),
        "sites_all_levels": len(cur),
        "sites_planned": int((~current).sum()),
        "sites_overloaded": int(cur["overloaded"].sum()),
        "communities_total": len(comm),
        "communities_covered": int(status.get("covered", 0)),
        "communities_partly": int(status.get("partly", 0)),
        "communities_gap": int(status.get("gap", 0)),
        "gap_hexagons": len(gaps),
        "population_uncovered_in_gaps": float(gaps["population_uncovered"].sum()),
        "by_level": by_level,
        "by_street": by_street,
        "distance_mode": str(getattr(network, "kind", "euclidean")),
        "standard": std.name,
        "demand_method": method,
        "targets": traj.to_dict("records"),
        "target_rates": [float(t) for t in std.targets],
    }
    return _jsonable(out)


def _text(s: pd.Series, default: str = "") -> pd.Series:
    """Text column with missing values (None, NaN, "") as ``default``."""
    out = s.astype(object).where(s.notna(), default).astype(str)
    return out.where(out != "", default)


def _rate(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def _jsonable(obj: Any) -> Any:
    """Plain Python values only: numpy scalars unwrapped, NaN/inf as None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _fmt(values: Any, decimals: int) -> np.ndarray:
    """Numbers as text with thousands separators (object array; "?" for NaN)."""
    arr = np.asarray(values, dtype=np.float64)
    spec = f"{{:,.{decimals}f}}"
    return np.array([spec.format(v) if np.isfinite(v) else "?" for v in arr], dtype=object)


def _join(parts: list[np.ndarray], sep: str) -> np.ndarray:
    """Join per-row text parts, skipping empty ones."""
    if not parts or len(parts[0]) == 0:
        return np.array([], dtype=object)
    stacked = np.stack([np.asarray(p, dtype=object) for p in parts], axis=1)
    return np.array([sep.join(t for t in row if t) for row in stacked], dtype=object)
