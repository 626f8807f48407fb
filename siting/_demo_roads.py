"""The road network of the demo district (:mod:`siting.demo`) in the local metric frame: an old
core grid, estate blocks, village lanes, field paths, bridges over the river, a motorway, and
the OSM areas and POIs written with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from siting._demo_district import Layout, _names
from siting._osmxml import WayNetwork, ways_from_lines


@dataclass(frozen=True)
class RoadNetwork:
    """The demo's OSM content in the local metric frame."""

    net: WayNetwork
    motorway: WayNetwork
    areas: list[tuple[shapely.Polygon, dict[str, str]]]
    pois: list[tuple[tuple[float, float], dict[str, str]]]
    local_xy: np.ndarray
    angle: float


def _lines(
    poly: shapely.Geometry,
    spacing: float,
    angle: float,
    rng: np.random.Generator,
    *,
    origin: tuple[float, float],
    offset: float = 0.0,
    keep: float = 1.0,
    wobble: float = 0.0,
    dirs: tuple[int, ...] = (0, 1),
    ks: tuple[int, ...] | None = None,
    step: float | None = None,
) -> np.ndarray:
    """Parallel streets in one or two directions, a share ``keep`` of blocks kept, clipped."""
    c = np.asarray(origin, dtype=np.float64)
    x0, y0, x1, y1 = shapely.bounds(poly)
    half = max(np.hypot(cx - c[0], cy - c[1]) for cx in (x0, x1) for cy in (y0, y1)) + spacing
    n = int(np.ceil(half / spacing))
    ts = np.arange(-n, n + 1) * spacing
    out = []
    for d in dirs:
        th = angle + d * np.pi / 2
        u = np.array([np.cos(th), np.sin(th)])
        nrm = np.array([-np.sin(th), np.cos(th)])
        for k in range(-n, n + 1) if ks is None else ks:
            kept = rng.random(len(ts) - 1) < keep
            edge = np.diff(np.r_[0, kept.astype(np.int8), 0])
            ph, wl = rng.uniform(0, 2 * np.pi), rng.uniform(500.0, 1400.0)
            for s0, e0 in zip(np.flatnonzero(edge == 1), np.flatnonzero(edge == -1), strict=True):
                t = np.arange(ts[s0], ts[e0] + 1e-6, step or (90.0 if wobble else spacing))
                w = k * spacing + offset + wobble * np.sin(2 * np.pi * t / wl + ph)
                out.append(shapely.LineString(c + np.outer(t, u) + np.outer(w, nrm)))
    parts = shapely.get_parts(shapely.intersection(np.array(out, dtype=object), poly))
    parts = parts[shapely.get_type_id(parts) == 1]
    return parts[shapely.length(parts) > 25.0]


def _box(cx: float, cy: float, w: float, h: float, angle: float) -> shapely.Polygon:
    b = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return shapely.affinity.rotate(b, angle, origin=(cx, cy), use_radians=True)


def _roads(lay: Layout, comm: gpd.GeoDataFrame, rng: np.random.Generator) -> RoadNetwork:
    cc = lay.core_center
    ang = float(rng.uniform(0.08, 0.16))
    road_names = iter(_names(rng, 400))
    groups: list[tuple[np.ndarray, list[dict[str, str]], list[dict[str, str] | None]]] = []

    def add(lines: np.ndarray, tags: Any, bridge: Any = None) -> None:
        n = len(lines)
        t = tags if isinstance(tags, list) else [dict(tags) for _ in range(n)]
        b = bridge if isinstance(bridge, list) else [bridge] * n
        groups.append((lines, t, b))

    # main roads: a wavy grid anchored on the core; three N-S roads cross the river
    urban = shapely.union_all([lay.core, lay.estates, lay.park])
    for d, spacing, ks in ((0, 1500.0, range(-4, 5)), (1, 1600.0, range(-4, 5))):
        for k in ks:
            ln = _lines(
                lay.district,
                spacing,
                ang,
                rng,
                origin=cc,
                dirs=(d,),
                ks=(k,),
                wobble=45.0,
                step=100.0,
            )
            if not len(ln):
                continue
            hw = "primary" if k == 0 else "secondary"
            suffix = "公路" if (k and not shapely.intersects(urban, ln).any()) else "路"
            tag = {"highway": hw, "name": next(road_names) + ("大道" if k == 0 else suffix)}
            bridge = None
            if d == 1 and k in (-2, 2):
                bridge = {"name": next(road_names) + "大桥"}
            elif d == 1 and k == 0:
                bridge = {"name": next(road_names) + "大桥", "foot": "no"}  # no footway on it
            add(ln, tag, bridge)
    # tertiary roads between the main ones, in the built-up area
    for d, spacing in ((0, 1500.0), (1, 1600.0)):
        ln = _lines(
            shapely.buffer(urban, 100.0) & lay.district,
            spacing,
            ang,
            rng,
            origin=cc,
            offset=spacing / 2,
            dirs=(d,),
            wobble=20.0,
        )
        add(ln, [{"highway": "tertiary", "name": next(road_names) + "路"} for _ in ln])

    parks = [
        ("滨河公园", _river_park(lay, cc[0] - 700.0)),
        ("中央公园", _box(cc[0] - 1900.0, cc[1] + 1300.0, 420.0, 320.0, ang)),
        (
            "科创绿地",
            _box(*_middle(lay.park), 320.0, 240.0, ang),
        ),
        ("郊野公园", _box(cc[0] - 4200.0, cc[1] - 3600.0, 650.0, 450.0, ang + 0.3)),
    ]
    parks = [
        (n, p)
        for n, p in parks
        if shapely.within(p, lay.district) and not shapely.intersects(p, lay.water)
    ]
    green = shapely.union_all([p for _, p in parks])

    def local(lines: np.ndarray) -> np.ndarray:
        parts = shapely.get_parts(shapely.difference(lines, green))
        return parts[(shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 25.0)]

    a_core = ang + float(rng.uniform(-0.35, 0.35))
    ln = local(_lines(shapely.buffer(lay.core, 40.0), 150.0, a_core, rng, origin=cc, keep=0.93))
    add(
        ln,
        [
            {"highway": "residential", "name": next(road_names) + "街"}
            | ({"oneway": "yes"} if rng.random() < 0.3 else {})
            for _ in ln
        ],
    )
    ln = local(_lines(lay.core, 150.0, a_core, rng, origin=cc, offset=75.0, keep=0.45))
    add(
        ln,
        [
            {"highway": "footway", "name": next(road_names) + "弄"}
            if rng.random() < 0.5
            else {"highway": "service", "service": "alley"}
            for _ in ln
        ],
    )
    a_est = ang + float(rng.uniform(-0.2, 0.2))
    ln = local(_lines(shapely.buffer(lay.estates, 30.0), 270.0, a_est, rng, origin=cc, keep=0.85))
    add(ln, [{"highway": "residential", "name": next(road_names) + "路"} for _ in ln])
    ln = local(_lines(lay.estates, 270.0, a_est, rng, origin=cc, offset=135.0, keep=0.4))
    add(ln, [{"highway": "service"} if rng.random() < 0.7 else {"highway": "footway"} for _ in ln])
    ln = local(_lines(lay.park, 450.0, ang, rng, origin=cc, offset=225.0, keep=0.95))
    add(
        ln,
        [
            {"highway": str(rng.choice(["tertiary", "service"])), "name": next(road_names) + "路"}
            for _ in ln
        ],
    )
    ln = local(
        _lines(
            shapely.buffer(lay.villages, 30.0),
            460.0,
            ang + float(rng.uniform(-0.4, 0.4)),
            rng,
            origin=cc,
            keep=0.72,
            wobble=60.0,
        )
    )
    add(
        ln,
        [
            {"highway": str(rng.choice(["track", "path", "residential"], p=[0.55, 0.25, 0.2]))}
            for _ in ln
        ],
    )
    # each village: a main lane and a cross lane through its hamlet
    vill = comm[comm["zone"] == "village"]
    cross = []
    for geom in vill.geometry:
        p = shapely.get_coordinates(shapely.point_on_surface(geom))[0]
        a = rng.uniform(0, np.pi)
        for th in (a, a + np.pi / 2 + rng.uniform(-0.3, 0.3)):
            t = np.linspace(-340.0, 340.0, 14)
            cross.append(shapely.LineString(p + np.outer(t, [np.cos(th), np.sin(th)])))
    ln = local(shapely.get_parts(shapely.intersection(np.array(cross, dtype=object), lay.district)))
    add(
        ln,
        [{"highway": "residential"} if rng.random() < 0.6 else {"highway": "service"} for _ in ln],
    )
    # a ring road just inside the district boundary
    ring = shapely.LineString(
        shapely.get_coordinates(shapely.buffer(lay.district, -150.0).exterior)
    )
    add(np.array([ring]), {"highway": "tertiary", "name": next(road_names) + "公路"})
    # riverside walks on both banks and an old footbridge in the core
    walks = [shapely.offset_curve(lay.river, s * 55.0) for s in (1, -1)]
    ln = shapely.get_parts(shapely.intersection(np.array(walks, dtype=object), lay.district))
    add(ln[shapely.get_type_id(ln) == 1], {"highway": "footway", "name": "滨河步道"})
    xb = cc[0] + 420.0
    yb = float(lay.river_y(np.array([xb]))[0])
    fb = shapely.LineString([(xb, yb - 280.0), (xb + 30.0, yb + 280.0)])
    add(np.array([fb]), {"highway": "footway"}, {"name": next(road_names) + "桥"})
    # paths in the parks: a loop inside the edge and two cross paths reaching the streets
    for _, p in parks:
        loop = shapely.LineString(shapely.get_coordinates(shapely.buffer(p, -15.0).exterior))
        c = shapely.get_coordinates(shapely.centroid(p))[0]
        r = np.sqrt(shapely.area(p)) + 160.0
        paths = [
            shapely.LineString([c - r * v, c + r * v])
            for v in (np.array([np.cos(ang), np.sin(ang)]), np.array([-np.sin(ang), np.cos(ang)]))
        ]
        add(np.array([loop, *paths]), {"highway": "footway"})

    lines = np.concatenate([g[0] for g in groups])
    tags = [t for g in groups for t in g[1]]
    bridges = [b for g in groups for b in g[2]]
    lines = shapely.segmentize(lines, 120.0)
    net = ways_from_lines(lines, tags, bridge_tags=bridges, water=lay.water)
    # field paths to the few spots still far from any street, then node again
    field = _field_paths(lay, net.xy)
    if len(field):
        lines = np.concatenate([lines, field])
        tags += [{"highway": "path"}] * len(field)
        bridges += [None] * len(field)
        net = ways_from_lines(lines, tags, bridge_tags=bridges, water=lay.water)

    # an expressway on its own viaduct: not walkable, shares no node with the streets
    xm = cc[0] - 2300.0
    mw = _lines(
        lay.district, 2000.0, ang, rng, origin=(xm, 0.0), dirs=(1,), ks=(0,), wobble=30.0, step=80.0
    )
    motorway = ways_from_lines(
        mw,
        [{"highway": "motorway", "ref": "S99", "name": "示例高速", "oneway": "no"}] * len(mw),
        bridge_tags=[{}] * len(mw),
        water=lay.water,
    )
    areas: list[tuple[shapely.Polygon, dict[str, str]]] = [
        (p, {"leisure": "park", "name": n}) for n, p in parks
    ]
    areas.append(
        (
            _box(cc[0] + 150.0, cc[1] + 150.0, 90.0, 70.0, a_core),
            {"place": "square", "name": "人民广场"},
        )
    )
    areas.append(
        (
            _box(cc[0] - 300.0, cc[1] + 520.0, 80.0, 60.0, a_core),
            {"highway": "pedestrian", "area": "yes", "name": "站前广场"},
        )
    )
    for i in range(3):
        areas.append(
            (_box(cc[0] + 60.0 * i - 40.0, cc[1] - 60.0, 30.0, 18.0, a_core), {"building": "yes"})
        )
    local_nodes = np.unique(np.concatenate([w.nodes for w in net.ways if "bridge" not in w.tags]))
    pois = []
    for z, label in (
        ("core", "社区文化活动中心"),
        ("estate", "邻里中心"),
        ("village", "村民活动中心"),
        ("estate", "社区文化活动中心"),
    ):
        g = comm.geometry[comm["zone"] == z].iloc[int(rng.integers((comm["zone"] == z).sum()))]
        p = shapely.get_coordinates(shapely.point_on_surface(g))[0]
        pois.append(
            (
                (float(p[0]), float(p[1])),
                {"amenity": "community_centre", "name": next(road_names) + label},
            )
        )
    return RoadNetwork(net, motorway, areas, pois, net.xy[local_nodes], ang)


def _field_paths(lay: Layout, xy: np.ndarray, *, reach: float = 250.0) -> np.ndarray:
    """Paths from land farther than ``reach`` from every node to the nearest node."""
    from scipy.spatial import cKDTree

    x0, y0, x1, y1 = shapely.bounds(lay.district)
    gx, gy = np.meshgrid(np.arange(x0, x1, 100.0), np.arange(y0, y1, 100.0))
    p = np.c_[gx.ravel(), gy.ravel()]
    land = shapely.difference(shapely.buffer(lay.district, -30.0), shapely.buffer(lay.water, 60.0))
    p = p[shapely.contains_xy(land, p[:, 0], p[:, 1])]
    d, near = cKDTree(xy).query(p)
    out: list[shapely.LineString] = []
    ends = np.empty((0, 2))
    for i in np.argsort(-d):
        if d[i] <= reach:
            break
        if len(ends) and np.hypot(*(ends - p[i]).T).min() < reach:
            continue
        # ends exactly on the node so the second noding joins them
        out.append(shapely.LineString([p[i], xy[near[i]]]))
        ends = np.r_[ends, p[i][None]]
    return np.array(out, dtype=object)


def _middle(geom: shapely.Geometry) -> tuple[float, float]:
    x, y = shapely.get_coordinates(shapely.point_on_surface(geom))[0]
    return float(x), float(y)


def _river_park(lay: Layout, x0: float) -> shapely.Polygon:
    xs = np.linspace(x0, x0 + 320.0, 9)
    y0 = float(lay.river_y(xs).max()) + 80.0
    return shapely.box(x0, y0, x0 + 320.0, y0 + 150.0)
