"""What the user clicked on a map: the site near the click, else the community under it.

streamlit-folium returns only the position of the last clicked object (``{"lat", "lng"}``);
matching it against the evaluation's frames works whatever the map's tooltips say.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import Point

__all__ = ["clicked_feature"]

#: A click within this distance (metres) of a site picks the site.
SITE_TOLERANCE_M = 40.0


def clicked_feature(
    click: dict[str, Any] | None, evaluation: Any, *, tolerance: float = SITE_TOLERANCE_M
) -> tuple[str, pd.Series] | None:
    """``("site", row)`` or ``("community", row)`` for a click, or None.

    Parameters
    ----------
    click
        ``{"lat": ..., "lng": ...}`` in WGS-84 as returned by ``st_folium``.
    evaluation
        The :class:`siting.evaluate.Evaluation` shown on the map.
    tolerance
        Largest distance (metres) from a site for the click to pick that site.
    """
    if not click or click.get("lat") is None or click.get("lng") is None:
        return None
    pt = gpd.GeoSeries([Point(click["lng"], click["lat"])], crs=4326)
    sites, comm = evaluation.sites, evaluation.communities
    p = pt.to_crs(sites.crs).iloc[0]
    if len(sites):
        d = sites.geometry.distance(p).to_numpy()
        i = int(np.argmin(d))
        if d[i] <= tolerance:
            return "site", sites.drop(columns="geometry").iloc[i]
    if len(comm):
        inside = comm.geometry.contains(pt.to_crs(comm.crs).iloc[0]).to_numpy()
        if inside.any():
            return "community", comm.drop(columns="geometry").iloc[int(np.argmax(inside))]
    return None
