"""The metric CRS in which siting measures distances and areas, and the way back to lon/lat.

Choice: a district's data in a projected CRS with metre units (for example CGCS2000 3-degree
Gauss-Kruger, EPSG:4513-4554, as exported by most Chinese bureaus) is kept as it is. Anything
else (lon/lat, feet, no usable projection) goes to the WGS-84 UTM zone of its centre
(EPSG:326xx / 327xx). Within a district (< 100 km across) the UTM
scale error stays under 0.1 %, and UTM is defined worldwide, unlike the Gauss-Kruger zones.

Web Mercator (EPSG:3857) and other plain Mercator projections have metre units but stretch
distances by 1/cos(latitude), about 25 % in central China, so they are never kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final, TypeAlias

import geopandas as gpd
import numpy as np
import pyproj

from siting import settings

__all__ = ["is_metric", "metric_crs", "to_lonlat", "to_metric"]

logger = logging.getLogger(__name__)

_METRE_UNITS: Final = ("metre", "meter", "m")
# Projections whose metre units are not ground metres at Chinese latitudes.
_STRETCHING_METHODS: Final = (
    "mercator (variant a)",
    "mercator (variant b)",
    "popular visualisation pseudo mercator",
)

Frame: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries


def is_metric(crs: pyproj.CRS | str | int | None) -> bool:
    """Whether ``crs`` is projected, in metres, and keeps distances (not a Mercator).

    Parameters
    ----------
    crs
        Anything :meth:`pyproj.CRS.from_user_input` accepts, or ``None``.

    Returns
    -------
    bool
    """
    if crs is None:
        return False
    crs = pyproj.CRS.from_user_input(crs)
    if not crs.is_projected:
        return False
    units = {(axis.unit_name or "").lower() for axis in crs.axis_info}
    if not units or not units <= set(_METRE_UNITS):
        return False
    operation = crs.coordinate_operation
    method = (operation.method_name if operation is not None else "").lower()
    return method not in _STRETCHING_METHODS


def _lonlat_bounds(data: Frame | Sequence[float]) -> tuple[float, float, float, float]:
    if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries):
        if data.crs is None:
            raise ValueError("metric_crs needs a frame with a CRS (or lon/lat bounds)")
        geoms = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
        geoms = geoms[~(geoms.isna() | geoms.is_empty)]
        if geoms.empty:
            raise ValueError("metric_crs needs at least one non-empty geometry")
        bounds = geoms.to_crs(settings.DEFAULT_GEOGRAPHIC_CRS).total_bounds
    else:
        bounds = np.asarray(data, dtype=np.float64)
        if bounds.shape != (4,):
            raise ValueError("bounds must be (min_lon, min_lat, max_lon, max_lat)")
    if not np.all(np.isfinite(bounds)):
        raise ValueError(f"bounds are not finite: {bounds.tolist()}")
    west, south, east, north = (float(v) for v in bounds)
    return west, south, east, north


def metric_crs(data: Frame | Sequence[float]) -> pyproj.CRS:
    """The metric CRS for a district.

    Parameters
    ----------
    data
        A GeoDataFrame/GeoSeries with a CRS, or lon/lat bounds ``(min_lon, min_lat, max_lon,
        max_lat)`` in degrees (WGS-84).

    Returns
    -------
    pyproj.CRS
        The input CRS when it is metric (see :func:`is_metric`), else the UTM zone of the
        centre of the data.

    Raises
    ------
    ValueError
        If the frame has no CRS or no geometry, or the bounds are not finite.

    Examples
    --------
    >>> metric_crs((121.3, 31.1, 121.5, 31.3)).to_epsg()
    32651
    """
    if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries) and is_metric(data.crs):
        return pyproj.CRS.from_user_input(data.crs)
    west, south, east, north = _lonlat_bounds(data)
    lon = (west + east) / 2.0
    lat = (south + north) / 2.0
    zone = min(max(int((lon + 180.0) // 6.0) + 1, 1), 60)
    crs = pyproj.CRS.from_epsg((32600 if lat >= 0.0 else 32700) + zone)
    logger.debug("metric CRS for lon %.4f lat %.4f: %s", lon, lat, crs.name)
    return crs


def to_metric(gdf: gpd.GeoDataFrame, *, crs: pyproj.CRS | str | None = None) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` in ``crs`` or, by default, in :func:`metric_crs` of ``gdf``.

    Parameters
    ----------
    gdf
        A frame with a CRS.
    crs
        Target CRS; chosen with :func:`metric_crs` when ``None``.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    target = metric_crs(gdf) if crs is None else pyproj.CRS.from_user_input(crs)
    return gdf.to_crs(target)


def to_lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` in WGS-84 lon/lat (EPSG:4326), for web maps.

    Parameters
    ----------
    gdf
        A frame with a CRS.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    return gdf.to_crs(settings.DEFAULT_GEOGRAPHIC_CRS)
