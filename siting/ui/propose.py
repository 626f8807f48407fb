"""New stations for the proposals page: candidates -> coverage matrix -> MCLP -> after-evaluation.

Kept free of Streamlit so it can be tested directly; the page adds caching and progress.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting import schema

__all__ = ["Proposal", "propose", "stations_from_candidates"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Proposal:
    """Proposed stations and the district before and after them."""

    stations: gpd.GeoDataFrame
    before: Any
    after: Any
    status: str
    p: int


def stations_from_candidates(chosen: gpd.GeoDataFrame, standard: Any) -> gpd.GeoDataFrame:
    """Canonical site rows (level ``station``) for chosen candidates.

    A candidate without a floor area gets the station minimum of ``standard``, and a ground floor
    of the minimum share, so the proposal shows where to build, not an undersized room.
    """
    lv = standard.level(schema.STATION)
    floor = chosen["floor_area_m2"].to_numpy(dtype=np.float64, na_value=np.nan)
    floor = np.where(np.isfinite(floor) & (floor > 0), floor, lv.min_floor_area_m2)
    ground = chosen["ground_floor_area_m2"].to_numpy(dtype=np.float64, na_value=np.nan)
    ground = np.where(np.isfinite(ground), ground, floor * lv.min_ground_floor_share)
    ids = [f"NEW-{cid}" for cid in chosen["id"].astype(str)]
    names = [f"建议新站 {n or cid}" for n, cid in zip(chosen["name"], chosen["id"], strict=True)]
    return gpd.GeoDataFrame(
        {
            "id": ids,
            "name": names,
            "level": schema.STATION,
            "floor_area_m2": floor,
            "ground_floor_area_m2": ground,
            "community_id": "",
            "status": schema.EXISTING,
            "upgrade_year": np.nan,
            "candidate_id": chosen["id"].astype(str).to_numpy(),
        },
        geometry=chosen.geometry.to_numpy(),
        crs=chosen.crs,
    )


def propose(
    inputs: Any,
    network: Any,
    evaluation: Any,
    candidates: gpd.GeoDataFrame,
    *,
    p: int,
    radius: float,
    demand: str = "grid",
    time_limit: float | None = None,
) -> Proposal:
    """Choose up to ``p`` candidates that cover the most uncovered residents within ``radius``.

    Existing station-or-higher sites are fixed; coverage is by walking distance ``radius`` from
    the evaluation's demand points. The after-evaluation counts the new stations as built.
    """
    from siting.evaluate import evaluate
    from siting.locate import mclp

    std = evaluation.standard
    dem = evaluation.demand
    soh = evaluation.sites[evaluation.sites["level"].isin(schema.STATION_OR_HIGHER)]
    cand = candidates.to_crs(dem.crs).reset_index(drop=True)
    points = gpd.GeoSeries(
        np.concatenate([soh.geometry.to_numpy(), cand.geometry.to_numpy()]), crs=dem.crs
    )
    d = network.distances(dem.geometry, points, radius)
    cov = d.copy()
    cov.data = np.ones_like(cov.data, dtype=bool)
    weights = dem["population"].to_numpy(dtype=np.float64)
    n_fixed = len(soh)
    p = int(min(p, len(cand)))
    sol = mclp(cov.astype(bool), weights, p, fixed=np.arange(n_fixed), time_limit=time_limit)
    chosen_idx = [int(j) - n_fixed for j in sol.selected if j >= n_fixed]
    chosen = cand.iloc[chosen_idx]
    new = stations_from_candidates(chosen, std)
    sites = pd.concat([inputs.sites, new.drop(columns="candidate_id")], ignore_index=True)
    sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=inputs.sites.crs)
    after = evaluate(inputs.communities, sites, network, standard=std, demand=demand)
    gain = after.sites.set_index("site_id").reindex(new["id"])
    new = new.assign(population_served=gain["population_served"].to_numpy())
    logger.info("proposed %d stations (%s)", len(new), sol.status)
    return Proposal(new, evaluation, after, sol.status, p)
