"""Candidate locations for new stations.

Three sources, combined by :func:`auto_candidates`:

- a user file of vacant public buildings or parcels (:func:`siting.io.load_candidates`);
- network nodes along streets (沿街): street intersections thinned to one per grid cell, because
  the standards ask new sites to front a road (seed 002: 沿路沿街);
- OSM features in the roads file where residents already gather without a point (seed 000 names
  squares and fitness spots): parks, squares, pedestrian areas, community centres, fitness
  stations.

Candidates in water or outside the district (the union of the communities) are dropped.
All frames use the canonical candidate columns ``id, name, source, floor_area_m2,
ground_floor_area_m2, geometry``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting._errors import InputError, warn

logger = logging.getLogger(__name__)

__all__ = [
    "CANDIDATE_COLUMNS",
    "auto_candidates",
    "default_candidates",
    "exclude",
    "osm_features",
    "screen",
    "street_nodes",
    "water_areas",
]

CANDIDATE_COLUMNS = ["id", "name", "source", "floor_area_m2", "ground_floor_area_m2", "geometry"]

#: OSM tags of places where residents gather (key -> accepted values).
GATHERING_TAGS: dict[str, tuple[str, ...]] = {
    "leisure": ("park", "fitness_station", "playground", "common", "garden"),
    "place": ("square",),
    "amenity": ("community_centre", "social_centre", "townhall", "social_facility"),
    "highway": ("pedestrian",),
}
#: OSM tags of water areas (candidates inside are dropped).
WATER_TAGS: dict[str, tuple[str, ...]] = {
    "natural": ("water", "wetland"),
    "waterway": ("riverbank", "river", "canal", "dock"),
    "landuse": ("reservoir", "basin"),
    "water": (),
}

SOURCE_LABELS_ZH = {
    "file": "用户提供",
    "vacant_building": "闲置公共用房",
    "street": "沿街节点",
    "park": "公园",
    "square": "广场",
    "fitness_station": "健身点",
    "community_centre": "社区用房",
    "osm": "OSM 设施",
}


def _frame(
    ids: Any, names: Any, source: Any, geometry: Any, crs: Any, area: Any = np.nan
) -> gpd.GeoDataFrame:
    n = len(geometry)
    return gpd.GeoDataFrame(
        {
            "id": np.asarray(ids, dtype=object),
            "name": np.asarray(names, dtype=object),
            "source": np.broadcast_to(np.asarray(source, dtype=object), (n,)).copy(),
            "floor_area_m2": np.broadcast_to(np.asarray(area, dtype=float), (n,)).copy(),
            "ground_floor_area_m2": np.full(n, np.nan),
        },
        geometry=gpd.GeoSeries(geometry, crs=crs).values,
        crs=crs,
    )


def street_nodes(network: Any, *, spacing: float = 200.0) -> gpd.GeoDataFrame:
    """Street intersections of a walking network, at most one per ``spacing`` m grid cell.

    Intersections (degree >= 3) are where a site fronts more than one street; thinning keeps
    the location models small without losing the spread of the network.

    Parameters
    ----------
    network
        A :class:`~siting.network.WalkNetwork`.
    spacing
        Grid cell size in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical candidate columns, ``source="street"``, ids ``N<node index>``.
    """
    if getattr(network, "kind", "") != "network":
        raise InputError.one(
            "",
            "",
            "--candidates",
            "street candidates need a road network",
            "give --roads PATH, or a candidates file with --candidates PATH",
        )
    degree = np.diff(network.indptr)
    nodes = np.flatnonzero(degree >= 3)
    if len(nodes) == 0:
        nodes = np.arange(len(network.x))
    cx = np.floor(network.x[nodes] / spacing).astype(np.int64)
    cy = np.floor(network.y[nodes] / spacing).astype(np.int64)
    # within a cell keep the node of highest degree (the busiest crossing)
    order = np.lexsort((-degree[nodes], cy, cx))
    keys = np.column_stack([cx[order], cy[order]])
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.sort(nodes[order[first]])
    geom = shapely.points(network.x[keep], network.y[keep])
    ids = np.char.add("N", keep.astype(str))
    names = np.char.add("沿街节点 ", keep.astype(str))
    return _frame(ids, names, "street", geom, network.crs)


def _match(tags: Any, table: dict[str, tuple[str, ...]]) -> str | None:
    for key, values in table.items():
        v = tags.get(key)
        if v is not None and (not values or v in values):
            return v if key != "highway" else "square"
    return None


def osm_features(path: str | Path, *, crs: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoSeries]:
    """Gathering places and water areas from an OSM file (XML or PBF).

    Parameters
    ----------
    path
        The OSM file (the same one as the roads).
    crs
        Metric CRS of the result.

    Returns
    -------
    candidates : geopandas.GeoDataFrame
        One point per park, square, pedestrian area, community centre or fitness station
        (a point inside its area), ``source`` the feature type, ids ``OSM<type><id>``.
    water : geopandas.GeoSeries
        Water polygons (for :func:`exclude`).
    """
    import osmium

    label = Path(path).name
    wkb = osmium.geom.WKBFactory()
    ids: list[str] = []
    names: list[str] = []
    kinds: list[str] = []
    geoms: list[str] = []  # hex WKB, as osmium's WKBFactory returns it
    water: list[str] = []
    keys = set(GATHERING_TAGS) | set(WATER_TAGS) | {"area"}
    try:
        fp = (
            osmium.FileProcessor(str(path)).with_areas().with_filter(osmium.filter.KeyFilter(*keys))
        )
        obj: Any
        for obj in fp:
            tags = obj.tags
            is_area = isinstance(obj, osmium.osm.Area)
            if is_area and _match(tags, WATER_TAGS) is not None:
                try:
                    water.append(wkb.create_multipolygon(obj))
                except RuntimeError:
                    logger.debug("skipped a broken water area in %s", label)
                continue
            kind = _match(tags, GATHERING_TAGS)
            if kind is None:
                continue
            if tags.get("highway") == "pedestrian" and tags.get("area") != "yes":
                continue  # a pedestrian street, not a square
            try:
                if is_area:
                    g = wkb.create_multipolygon(obj)
                    oid = f"OSM{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
                elif isinstance(obj, osmium.osm.Node):
                    g = wkb.create_point(obj)
                    oid = f"OSMn{obj.id}"
                else:
                    continue  # ways are seen again as areas when closed
            except RuntimeError:
                continue  # broken geometry in the extract: skip, as osmium does
            ids.append(oid)
            names.append(tags.get("name", "") or SOURCE_LABELS_ZH.get(kind, kind))
            kinds.append(kind)
            geoms.append(g)
    except RuntimeError as exc:
        raise InputError.one(
            label,
            "",
            "",
            f"cannot read OSM features: {exc}",
            "give an OSM XML (.osm, .osm.gz, .osm.bz2) or PBF file",
        ) from exc
    shapes = gpd.GeoSeries(shapely.from_wkb(geoms), crs=4326).to_crs(crs)
    points = shapely.point_on_surface(shapes.values)
    cands = _frame(ids, names, kinds, points, crs)
    water_s = gpd.GeoSeries(shapely.from_wkb(water), crs=4326).to_crs(crs)
    logger.info("OSM features: %d gathering places, %d water areas", len(cands), len(water_s))
    return cands, water_s


def _in_water(geom: Any, water: gpd.GeoSeries | None) -> np.ndarray:
    """Per point, whether it lies within one of the ``water`` polygons (same CRS)."""
    wet = np.zeros(len(geom), dtype=bool)
    if water is not None and len(water):
        wet[np.unique(shapely.STRtree(water.values).query(geom, predicate="within")[0])] = True
    return wet


def exclude(
    candidates: gpd.GeoDataFrame,
    *,
    district: Any = None,
    water: gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """Drop candidates outside ``district`` (a polygon) or inside ``water`` polygons."""
    keep = np.ones(len(candidates), dtype=bool)
    geom = candidates.geometry.values
    if district is not None:
        keep &= shapely.covers(district, geom)
    keep &= ~_in_water(geom, water)
    dropped = int((~keep).sum())
    if dropped:
        logger.info("dropped %d candidates outside the district or in water", dropped)
    return candidates[keep].reset_index(drop=True)


def water_areas(roads: str | Path | None, crs: Any, *, demo: bool = False) -> gpd.GeoSeries:
    """Water polygons known for a district, in ``crs``: the water areas of the OSM roads file
    (none for GraphML) and, for the bundled demo, its ``water.geojson``."""
    parts = []
    if roads is not None and Path(roads).suffix.lower() != ".graphml":
        parts.append(osm_features(roads, crs=crs)[1])
    if demo:
        from siting.pipeline import demo_paths

        path = demo_paths()["water"]
        if path.exists():
            parts.append(gpd.read_file(path).to_crs(crs).geometry)
    if not parts:
        return gpd.GeoSeries([], crs=crs)
    return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=crs)


def screen(
    candidates: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    water: gpd.GeoSeries | None = None,
    tolerance_m: float = 200.0,
    label: str = "candidates",
) -> gpd.GeoDataFrame:
    """``candidates`` without those in water or more than ``tolerance_m`` outside the district.

    For candidates a user gives (a file of vacant buildings may hold a typo that puts a point
    in the river or another city). Every candidate left out is named in one
    :class:`~siting.SitingWarning`; the tolerance keeps buildings across a boundary road.

    Raises
    ------
    InputError
        When no candidate is left.
    """
    if len(candidates) == 0:
        return candidates
    geom = candidates.geometry.values
    district = shapely.union_all(communities.to_crs(candidates.crs).geometry.values)
    dist = shapely.distance(district, geom)
    outside = dist > tolerance_m
    wet = _in_water(geom, None if water is None else water.to_crs(candidates.crs)) & ~outside
    if not (outside.any() or wet.any()):
        return candidates
    ids = candidates["id"].astype(str).to_numpy()

    def listed(mask: np.ndarray, what: Any) -> str:
        idx = np.flatnonzero(mask)
        shown = ", ".join(what(i) for i in idx[:10])
        return shown + (f" and {len(idx) - 10} more" if len(idx) > 10 else "")

    parts = []
    if outside.any():
        parts.append(
            f"{int(outside.sum())} more than {tolerance_m:,.0f} m outside the district ("
            + listed(outside, lambda i: f"{ids[i]}: {dist[i] / 1000:,.1f} km away")
            + ")"
        )
    if wet.any():
        parts.append(f"{int(wet.sum())} in water (" + listed(wet, lambda i: ids[i]) + ")")
    keep = ~(outside | wet)
    if not keep.any():
        raise InputError.one(
            label,
            "",
            "geometry",
            "no candidate lies inside the district on land: " + "; ".join(parts),
            "check the coordinates (--coords, lon/lat order) or give candidates in the district",
        )
    warn(
        f"{label}: left out " + "; ".join(parts) + ". Check their coordinates; the others are used."
    )
    return candidates[keep].reset_index(drop=True)


def auto_candidates(
    network: Any,
    communities: gpd.GeoDataFrame,
    *,
    roads: str | Path | None = None,
    water: gpd.GeoSeries | None = None,
    extra: gpd.GeoDataFrame | None = None,
    spacing: float = 200.0,
) -> gpd.GeoDataFrame:
    """Street-node candidates plus OSM gathering places (and ``extra``), cleaned.

    Parameters
    ----------
    network
        The walking network (street nodes come from it).
    communities
        The district's communities; candidates outside them are dropped.
    roads
        The OSM roads file, read again for parks, squares and water (skipped when None or not
        an OSM file).
    water
        Extra water polygons to exclude.
    extra
        Candidates from a user file, kept first.
    """
    parts = []
    if extra is not None and len(extra):
        parts.append(extra[CANDIDATE_COLUMNS])
    waters = [] if water is None else [water.to_crs(communities.crs)]
    if roads is not None and Path(roads).suffix.lower() != ".graphml":
        feats, w = osm_features(roads, crs=communities.crs)
        parts.append(feats)
        waters.append(w)
    parts.append(street_nodes(network, spacing=spacing))
    cands = pd.concat(parts, ignore_index=True)
    cands = gpd.GeoDataFrame(cands, geometry="geometry", crs=communities.crs)
    cands = cands.drop_duplicates(subset="id", keep="first")
    district = shapely.union_all(communities.geometry.values)
    all_water = pd.concat(waters, ignore_index=True) if waters else None
    return exclude(cands, district=district, water=all_water)


def default_candidates(inputs: Any, network: Any) -> tuple[gpd.GeoDataFrame, str | None]:
    """The candidates of ``--candidates auto`` (the app's "auto" choice too), and a note.

    Street nodes and OSM places of the roads file (:func:`auto_candidates`), with the demo's
    vacant buildings first when ``inputs`` is the demo. Without a road network (straight-line
    fallback) the demo's vacant buildings alone, with a note saying so.

    Raises
    ------
    InputError
        When there is no road network and no demo buildings to fall back on.
    """
    from siting import io
    from siting.pipeline import demo_paths

    extra = None
    if inputs.is_demo:
        extra = io.load_candidates(demo_paths()["candidates"], communities=inputs.communities)
    if network.kind == "network":
        return auto_candidates(network, inputs.communities, roads=inputs.roads, extra=extra), None
    if extra is None:
        raise InputError.one(
            "",
            "",
            "--candidates",
            "auto candidates need a road network",
            "give --roads PATH or --candidates PATH",
        )
    return extra, (
        f"no road network: the candidates are the demo's {len(extra)} vacant buildings "
        "(street nodes and OSM squares need --roads)"
    )
