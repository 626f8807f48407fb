"""Shapes drawn on a map (folium Draw, returned by streamlit-folium as GeoJSON) as geometries.

Drawn coordinates are in the map's system: WGS-84, or GCJ-02 on the AMap basemap (converted
back to WGS-84 here).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
from shapely.geometry import shape

__all__ = ["drawn_shapes", "ensure_map_component"]

logger = logging.getLogger(__name__)


def drawn_shapes(
    drawings: list[dict[str, Any]] | None, *, gcj02: bool = False
) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The last drawn polygon and the last drawn point, each as a one-row frame in EPSG:4326.

    Parameters
    ----------
    drawings
        ``all_drawings`` from ``st_folium`` (GeoJSON features), or None.
    gcj02
        The map showed AMap tiles, so drawn coordinates are GCJ-02.
    """
    polygon = point = None
    for feat in drawings or []:
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        if not geom:
            continue
        try:
            g = shape(geom)
        except (ValueError, TypeError, AttributeError, KeyError):
            continue
        if g.geom_type in ("Polygon", "MultiPolygon") and g.is_valid and g.area > 0:
            polygon = g
        elif g.geom_type == "Point":
            point = g

    def frame(g: Any) -> gpd.GeoDataFrame | None:
        if g is None:
            return None
        s = gpd.GeoSeries([g], crs=4326)
        if gcj02:
            from siting.coords import convert_geometries

            s = convert_geometries(s, "gcj02")
        return gpd.GeoDataFrame(geometry=s)

    return frame(polygon), frame(point)


def ensure_map_component() -> None:
    """Register streamlit-folium's component with the running server if it is missing.

    Streamlit registers a custom component only when the module declaring it is first imported
    inside a script run; imported first by a background thread (the app's warm-up), it is never
    registered, its frame is answered with 404 and the map stays blank (with the Draw toolbar).
    Call before ``st_folium``; a no-op outside a Streamlit server or when it is registered.
    """
    import streamlit_folium
    from streamlit import runtime

    if not runtime.exists():
        return
    component = getattr(streamlit_folium, "_component_func", None)
    registry = runtime.get_instance().component_registry
    if component is not None and registry.get_component_path(component.name) is None:
        logger.info("registering the map component %s (imported outside a run)", component.name)
        registry.register_component(component)
