"""Chinese web-map coordinates (GCJ-02 of AMap/Tencent, BD-09 of Baidu) <-> WGS-84, vectorised.

PROJ does not implement GCJ-02, so the published forward formulas are coded here with numpy.
The forward transforms (WGS-84 -> GCJ-02 -> BD-09) are closed-form; their inverses are not, so
the inverses start from the usual one-step approximation and refine it by fixed-point iteration
of the forward transform (``w <- w - (F(w) - g)``), which converges by a factor of about 1e-3 per
step because the GCJ-02 offset varies slowly. A few steps give the exact inverse to well below a
millimetre.

GCJ-02 leaves coordinates outside a bounding box of China unchanged (identity), as the published
implementations do. BD-09 is applied everywhere.

CGCS2000 lon/lat (EPSG:4490, Tianditu) is within a metre or so of WGS-84 and needs no conversion
here; it is handled by pyproj as an ordinary CRS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

__all__ = [
    "COORD_SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_geometries",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

CoordSystem = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
#: Coordinate systems accepted by the loaders (``--coords``).
COORD_SYSTEMS: Final = ("wgs84", "cgcs2000", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323
_X_PI: Final = np.pi * 3000.0 / 180.0
# Bounding box outside which GCJ-02 is the identity (the usual published one).
_CHINA_BOX: Final = (72.004, 0.8293, 137.8347, 55.8271)
_ITERATIONS: Final = 4

Array = npt.NDArray[np.float64]
Pair = tuple[Array, Array]


def _arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    return x, y


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether points fall in the bounding box where GCJ-02 applies an offset.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.

    Returns
    -------
    numpy.ndarray
        Boolean array of the broadcast shape.
    """
    x, y = _arrays(lon, lat)
    x0, y0, x1, y1 = _CHINA_BOX
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _gcj_offset(x: Array, y: Array) -> Pair:
    """The GCJ-02 offset (degrees) at WGS-84 points ``x, y``."""
    dx = x - 105.0
    dy = y - 35.0
    sq = np.sqrt(np.abs(dx))
    common = (20.0 * np.sin(6.0 * dx * np.pi) + 20.0 * np.sin(2.0 * dx * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * sq
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(dy * np.pi) + 40.0 * np.sin(dy / 3.0 * np.pi)) * 2.0 / 3.0
    dlat = (
        dlat + (160.0 * np.sin(dy / 12.0 * np.pi) + 320.0 * np.sin(dy * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * sq
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(dx * np.pi) + 40.0 * np.sin(dx / 3.0 * np.pi)) * 2.0 / 3.0
    dlon = (
        dlon + (150.0 * np.sin(dx / 12.0 * np.pi) + 300.0 * np.sin(dx / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = y / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = in_china(x, y)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _out(x: Array, y: Array) -> Pair:
    # 0-d arrays become numpy floats so scalar calls return scalars.
    if x.ndim == 0:
        return x[()], y[()]
    return x, y


def _invert(
    forward: Callable[[Array, Array], Pair], x: Array, y: Array, x0: Array, y0: Array
) -> Pair:
    """Refine a first guess ``x0, y0`` so that ``forward(x0, y0) == (x, y)``."""
    for _ in range(_ITERATIONS):
        fx, fy = forward(x0, y0)
        x0 = x0 - (fx - x)
        y0 = y0 - (fy - y)
    return x0, y0


def _wgs_to_gcj(x: Array, y: Array) -> Pair:
    dx, dy = _gcj_offset(x, y)
    return x + dx, y + dy


def _gcj_to_bd(x: Array, y: Array) -> Pair:
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """WGS-84 lon/lat -> GCJ-02 (AMap, Tencent); identity outside China.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays, broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in GCJ-02.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410244, 39.916404)
    """
    return _out(*_wgs_to_gcj(*_arrays(lon, lat)))


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """GCJ-02 lon/lat -> WGS-84, the exact inverse of :func:`wgs84_to_gcj02` to < 1 mm.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in WGS-84.
    """
    x, y = _arrays(lon, lat)
    dx, dy = _gcj_offset(x, y)
    return _out(*_invert(_wgs_to_gcj, x, y, x - dx, y - dy))


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """GCJ-02 lon/lat -> BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in BD-09.
    """
    return _out(*_gcj_to_bd(*_arrays(lon, lat)))


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """BD-09 lon/lat -> GCJ-02, the exact inverse of :func:`gcj02_to_bd09` to < 1 mm.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in GCJ-02.
    """
    x, y = _arrays(lon, lat)
    bx = x - 0.0065
    by = y - 0.006
    z = np.hypot(bx, by) - 0.00002 * np.sin(by * _X_PI)
    theta = np.arctan2(by, bx) - 0.000003 * np.cos(bx * _X_PI)
    return _out(*_invert(_gcj_to_bd, x, y, z * np.cos(theta), z * np.sin(theta)))


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """WGS-84 lon/lat -> BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in BD-09.
    """
    return _out(*_gcj_to_bd(*_wgs_to_gcj(*_arrays(lon, lat))))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """BD-09 lon/lat -> WGS-84 (through GCJ-02), exact inverse to < 1 mm.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in WGS-84.
    """
    gx, gy = bd09_to_gcj02(lon, lat)
    return gcj02_to_wgs84(gx, gy)


_TO_WGS84: Final[dict[str, Callable[[npt.ArrayLike, npt.ArrayLike], Pair] | None]] = {
    "wgs84": None,
    "cgcs2000": None,
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def convert_geometries(geoseries: gpd.GeoSeries, coords: str) -> gpd.GeoSeries:
    """Convert lon/lat geometries of any type from ``coords`` to WGS-84.

    Parameters
    ----------
    geoseries
        Geometries in lon/lat degrees (GCJ-02 or BD-09 values as read from AMap/Baidu).
    coords
        One of :data:`COORD_SYSTEMS`; ``"wgs84"`` and ``"cgcs2000"`` are returned unchanged.

    Returns
    -------
    geopandas.GeoSeries
        A new series with the same index and CRS.

    Raises
    ------
    ValueError
        If ``coords`` is not one of :data:`COORD_SYSTEMS`.
    """
    if coords not in _TO_WGS84:
        raise ValueError(f"unknown coords {coords!r}; expected one of {', '.join(COORD_SYSTEMS)}")
    func = _TO_WGS84[coords]
    if func is None:
        return geoseries.copy()

    def _xy(a: Array) -> Array:
        lon, lat = func(a[:, 0], a[:, 1])
        return np.column_stack([lon, lat])

    values = shapely.transform(np.asarray(geoseries.values), _xy)
    return gpd.GeoSeries(values, index=geoseries.index, crs=geoseries.crs, name=geoseries.name)
