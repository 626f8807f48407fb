"""Light geometry helpers shared by the engine (no scipy, so evaluation results can be loaded
and mapped without importing the distance code)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["as_xy"]


def as_xy(points: Any) -> np.ndarray:
    """Points (GeoSeries, GeoDataFrame, shapely array or ``(n, 2)`` array) as float64 ``(n, 2)``."""
    if isinstance(points, gpd.GeoDataFrame):
        points = points.geometry
    if isinstance(points, gpd.GeoSeries):
        if len(points) == 0:
            return np.empty((0, 2))
        geoms = points.values
        if not np.all(shapely.get_type_id(geoms) == 0):
            geoms = shapely.point_on_surface(geoms)
        return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]).astype(np.float64)
    arr = np.asarray(points)
    if arr.dtype == object:
        geoms = arr.ravel()
        if len(geoms) == 0:
            return np.empty((0, 2))
        return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]).astype(np.float64)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"points must be an (n, 2) array, got shape {arr.shape}")
    return arr
