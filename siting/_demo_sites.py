"""Sites, candidate sites and the planned estate of the demo district (:mod:`siting.demo`).

Sites are placed on road nodes inside their community, in the local metric frame; the random
draws happen in a fixed order so that a seed always gives the same demo.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import schema
from siting._demo_district import STREETS, Layout, _names
from siting._demo_roads import RoadNetwork, _box

# --- sites, candidates, estate ---------------------------------------------------------------


def _node_pool(
    comm: gpd.GeoDataFrame, roads: RoadNetwork, lay: Layout, *, margin: float = 45.0
) -> tuple[np.ndarray, np.ndarray]:
    """Road nodes usable as site locations, with the community each lies in.

    A node qualifies when it is at least ``margin`` metres inside its community and away from
    the water, so a site placed near it stays in that community.
    """
    xy = roads.local_xy
    inner = shapely.buffer(comm.geometry.values, -margin)
    shapely.prepare(inner)
    pi, ci = shapely.STRtree(inner).query(shapely.points(xy), predicate="within")
    ok = ~shapely.contains_xy(shapely.buffer(lay.water, 60.0), xy[pi, 0], xy[pi, 1])
    order = np.argsort(pi[ok], kind="stable")
    return xy[pi[ok][order]], ci[ok][order]


def _place(
    xy: np.ndarray, cid: np.ndarray, c: int, k: int, rng: np.random.Generator, *, near: np.ndarray
) -> np.ndarray:
    """``k`` locations in community ``c`` near road nodes (the first one nearest ``near``)."""
    cand = xy[cid == c]
    if len(cand) == 0:
        return np.empty((0, 2))
    d = np.hypot(*(cand - near).T)
    first = int(np.argmin(d))
    rest = np.delete(np.arange(len(cand)), first)
    pick = np.r_[first, rng.permutation(rest)[: k - 1]] if k > 1 else np.array([first])
    if len(pick) < k:
        pick = np.r_[pick, rng.choice(len(cand), k - len(pick))]
    ang = rng.uniform(0, 2 * np.pi, k)
    r = rng.uniform(8.0, 25.0, k)
    return cand[pick] + np.c_[r * np.cos(ang), r * np.sin(ang)]


def _inside(geom: shapely.Geometry, k: int, rng: np.random.Generator, margin: float) -> np.ndarray:
    """``k`` random points at least ``margin`` metres inside ``geom`` (fallback placement)."""
    core = shapely.buffer(geom, -margin)
    if shapely.is_empty(core):
        core = geom
    x0, y0, x1, y1 = shapely.bounds(core)
    out = np.empty((0, 2))
    while len(out) < k:
        p = rng.uniform((x0, y0), (x1, y1), (64, 2))
        out = np.r_[out, p[shapely.contains_xy(core, p[:, 0], p[:, 1])]]
    return out[:k]


_CN_NUM = "一二三四五六七八九十"


def _round10(x: np.ndarray | float) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64) / 10.0) * 10.0


def _station_spec(kind: str, zone: str, rng: np.random.Generator) -> tuple[bool, float, float]:
    """Whether a community has a station, and its floor area and ground-floor share."""
    u = rng.random()
    if zone == "core":  # old estates: cramped rooms, often no space at all
        return rng.random() < 0.88, rng.uniform(150, 600), rng.uniform(0.35, 1.0)
    if kind == schema.RESIDENTIAL:
        if u < 0.6:
            return rng.random() < 0.93, rng.uniform(1000, 1900), rng.uniform(0.5, 0.95)
        if u < 0.8:  # big enough but mostly on upper floors
            return rng.random() < 0.93, rng.uniform(1000, 1600), rng.uniform(0.15, 0.45)
        return rng.random() < 0.93, rng.uniform(400, 950), rng.uniform(0.4, 1.0)
    if kind == schema.URBAN_VILLAGE:
        if u < 0.2:
            return rng.random() < 0.9, rng.uniform(1000, 1200), rng.uniform(0.5, 1.0)
        return rng.random() < 0.9, rng.uniform(200, 800), rng.uniform(0.5, 1.0)
    if kind == schema.VILLAGE:
        if u < 0.7:
            return rng.random() < 0.95, rng.uniform(1000, 1600), rng.uniform(0.55, 1.0)
        return rng.random() < 0.95, rng.uniform(350, 980), rng.uniform(0.5, 1.0)
    if kind == schema.HOLLOW_VILLAGE:  # mainly points
        return rng.random() < 0.45, rng.uniform(150, 500), 1.0
    return rng.random() < 0.2, rng.uniform(800, 1500), rng.uniform(0.3, 0.7)


_POINTS = {  # number of points per community (low, high inclusive)
    "core": (0, 2),
    schema.RESIDENTIAL: (0, 2),
    schema.URBAN_VILLAGE: (1, 3),
    schema.VILLAGE: (2, 6),
    schema.HOLLOW_VILLAGE: (4, 9),
    schema.ENTERPRISE: (5, 12),
}


def _sites(
    lay: Layout, comm: gpd.GeoDataFrame, roads: RoadNetwork, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    pool_xy, pool_c = _node_pool(comm, roads, lay)
    geoms = comm.geometry.values
    center = shapely.get_coordinates(shapely.point_on_surface(geoms))
    cc = np.array(lay.core_center)
    n = len(comm)
    kinds, zones = comm["kind"].to_numpy(), comm["zone"].to_numpy()
    # which community hosts which center
    hosts: dict[int, list[tuple[str, str, float, float]]] = {i: [] for i in range(n)}
    core_idx = np.flatnonzero(zones == "core")
    dc = core_idx[np.argmin(np.hypot(*(center[core_idx] - cc).T))]
    hosts[dc].append((schema.DISTRICT_CENTER, "示例区党群服务中心", 3600.0, 2000.0))
    small = set(rng.choice(len(STREETS), 2, replace=False).tolist())
    pop = comm["population"].to_numpy(dtype=np.float64)
    for j, (sname, _) in enumerate(STREETS):
        # the center sits in the community nearest the street's population-weighted middle
        members = np.flatnonzero(comm["street"].to_numpy() == sname)
        mid = (center[members] * pop[members, None]).sum(axis=0) / pop[members].sum()
        members = members[np.isin(members, pool_c)] if np.isin(members, pool_c).any() else members
        seat = members[np.argmin(np.hypot(*(center[members] - mid).T))]
        if j in small:
            floor, share = float(_round10(rng.uniform(800, 1400))), rng.uniform(0.4, 0.7)
        else:
            floor, share = float(_round10(rng.uniform(1600, 3200))), rng.uniform(0.5, 0.85)
        hosts[seat].append(
            (schema.STREET_CENTER, f"{sname}党群服务中心", floor, float(_round10(floor * share)))
        )

    rows: list[dict[str, Any]] = []
    xy_rows: list[np.ndarray] = []
    for i in range(n):
        name, kind, zone = comm["name"].iat[i], kinds[i], zones[i]
        todo = list(hosts[i])
        has, floor, share = _station_spec(kind, zone, rng)
        if has:
            todo.append(
                (
                    schema.STATION,
                    f"{name}党群服务站",
                    float(_round10(floor)),
                    float(_round10(floor * share)),
                )
            )
        lo, hi = _POINTS["core" if zone == "core" else kind]
        for j in range(int(rng.integers(lo, hi + 1))):
            f = (
                float(_round10(rng.uniform(20, 200)))
                if kind != schema.ENTERPRISE
                else float(_round10(rng.uniform(40, 200)))
            )
            label = (
                f"{_CN_NUM[j % 10]}组"
                if kind in (schema.VILLAGE, schema.HOLLOW_VILLAGE)
                else "联建" + _CN_NUM[j % 10]
                if kind == schema.ENTERPRISE
                else _CN_NUM[j % 10]
            )
            g = f if rng.random() < 0.7 else float(_round10(f * rng.uniform(0.5, 1.0)))
            todo.append((schema.POINT, f"{name}{label}党群服务点", f, g))
        if not todo:
            continue
        near = cc if i == dc else center[i]
        xy = _place(pool_xy, pool_c, i, len(todo), rng, near=near)
        if len(xy) < len(todo):
            xy = np.r_[xy, _inside(geoms[i], len(todo) - len(xy), rng, 30.0)]
        for (level, sname, f, g), p in zip(todo, xy, strict=True):
            rows.append(
                {
                    "name": sname,
                    "level": level,
                    "floor_area_m2": f,
                    "ground_floor_area_m2": g,
                    "community_id": comm["id"].iat[i],
                    "status": schema.EXISTING,
                    "upgrade_year": np.nan,
                }
            )
            xy_rows.append(p)
    # a point in every park (a gathering place)
    for poly, tags in roads.areas:
        if tags.get("leisure") != "park":
            continue
        p = shapely.get_coordinates(shapely.point_on_surface(poly))[0]
        ci = int(np.flatnonzero(shapely.contains_xy(geoms, *p))[0])
        rows.append(
            {
                "name": f"{tags['name']}党群服务点",
                "level": schema.POINT,
                "floor_area_m2": 60.0,
                "ground_floor_area_m2": 60.0,
                "community_id": comm["id"].iat[ci],
                "status": schema.EXISTING,
                "upgrade_year": np.nan,
            }
        )
        xy_rows.append(p)
    sites = pd.DataFrame(rows)
    rank = {lv: k for k, lv in enumerate(schema.LEVELS)}
    order = np.lexsort((np.arange(len(sites)), sites["level"].map(rank).to_numpy()))
    sites = sites.iloc[order].reset_index(drop=True)
    xy = np.array(xy_rows)[order]

    # the three-year view: upgrades planned for part of the substandard sites, new stations
    stn = sites["level"].to_numpy() == schema.STATION
    poor = (
        stn
        & (
            (sites["floor_area_m2"] < 1000)
            | (sites["ground_floor_area_m2"] < 0.5 * sites["floor_area_m2"])
        ).to_numpy()
    )
    up = np.flatnonzero(poor)
    up = rng.choice(up, size=len(up) * 3 // 10, replace=False)
    sites.loc[up, "upgrade_year"] = rng.choice([2027.0, 2028.0], size=len(up))
    has_station = set(sites.loc[stn, "community_id"])
    gaps = [
        i
        for i in range(n)
        if comm["id"].iat[i] not in has_station and kinds[i] in (schema.RESIDENTIAL, schema.VILLAGE)
    ]
    new_rows, new_xy = [], []
    for i in rng.permutation(gaps)[:4]:
        p = (
            _inside(geoms[i], 1, rng, 40.0)[0]
            if not np.isin(i, pool_c)
            else _place(pool_xy, pool_c, i, 1, rng, near=center[i])[0]
        )
        f = float(_round10(rng.uniform(1000, 1500)))
        new_rows.append(
            {
                "name": f"{comm['name'].iat[i]}党群服务站（规划）",
                "level": schema.STATION,
                "floor_area_m2": f,
                "ground_floor_area_m2": float(_round10(f * 0.6)),
                "community_id": comm["id"].iat[i],
                "status": schema.PLANNED,
                "upgrade_year": float(rng.choice([2027.0, 2028.0])),
            }
        )
        new_xy.append(p)
    if new_rows:
        k = int(np.flatnonzero(sites["level"].to_numpy() == schema.STATION)[-1]) + 1
        sites = pd.concat(
            [sites.iloc[:k], pd.DataFrame(new_rows), sites.iloc[k:]], ignore_index=True
        )
        xy = np.r_[xy[:k], np.array(new_xy), xy[k:]]
    sites.insert(0, "id", [f"S{i + 1:04d}" for i in range(len(sites))])
    return gpd.GeoDataFrame(sites, geometry=shapely.points(xy))


_VACANT = (
    "原{}小学",
    "原{}派出所",
    "原{}粮管所",
    "原{}供销社",
    "原{}村委会",
    "原{}卫生院",
    "闲置{}菜场",
    "原{}街道办事处",
    "原{}邮电所",
    "原{}中学校舍",
    "原{}文化站",
    "闲置{}仓库",
)


def _candidates(
    lay: Layout,
    comm: gpd.GeoDataFrame,
    roads: RoadNetwork,
    sites: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    pool_xy, pool_c = _node_pool(comm, roads, lay, margin=40.0)
    site_xy = shapely.get_coordinates(sites.geometry.values)
    near = shapely.STRtree(shapely.points(site_xy)).query(
        shapely.points(pool_xy), predicate="dwithin", distance=80.0
    )[0]
    far = ~np.isin(np.arange(len(pool_xy)), near)
    zones = comm["zone"].to_numpy()[pool_c]
    pick = []
    for z, k in (("core", 18), ("estate", 18), ("village", 10), ("park", 6)):
        idx = np.flatnonzero(far & (zones == z))
        pick.extend(rng.choice(idx, size=min(k, len(idx)), replace=False).tolist())
    pick_a = np.array(pick)
    ang = rng.uniform(0, 2 * np.pi, len(pick_a))
    r = rng.uniform(12.0, 20.0, len(pick_a))
    xy = pool_xy[pick_a] + np.c_[r * np.cos(ang), r * np.sin(ang)]
    stems = _names(rng, len(pick_a))
    floor = _round10(np.exp(rng.uniform(np.log(200), np.log(2600), len(pick_a))))
    share = np.where(floor < 400, 1.0, rng.uniform(0.3, 1.0, len(pick_a)))
    return gpd.GeoDataFrame(
        {
            "id": [f"K{i + 1:03d}" for i in range(len(pick_a))],
            "name": [str(rng.choice(_VACANT)).format(s) for s in stems],
            "source": "vacant_building",
            "floor_area_m2": floor,
            "ground_floor_area_m2": _round10(floor * share),
        },
        geometry=shapely.points(xy),
    )


def _estate(
    lay: Layout, roads: RoadNetwork, rng: np.random.Generator
) -> tuple[shapely.Polygon, shapely.Point]:
    """A planned estate on farmland beside a main road south of the river, and its proposed site."""
    nodes = np.unique(
        np.concatenate(
            [
                w.nodes
                for w in roads.net.ways
                if w.tags.get("highway") == "secondary" and "bridge" not in w.tags
            ]
        )
    )
    xy = roads.net.xy[nodes]
    d = np.hypot(*(xy - np.array(lay.core_center)).T)
    ok = (~lay.north(xy)) & (d > 2600) & (d < 4000) & shapely.contains_xy(lay.villages, *xy.T)
    ang = roads.angle
    motorway = shapely.multilinestrings(
        [shapely.linestrings(roads.motorway.xy[w.nodes]) for w in roads.motorway.ways]
    )
    for i in rng.permutation(np.flatnonzero(ok)):
        for th in (0.0, np.pi / 2, np.pi, 3 * np.pi / 2):
            c = xy[i] + 240.0 * np.array([np.cos(th), np.sin(th)])
            poly = _box(c[0], c[1], 440.0, 380.0, ang)
            if (
                shapely.within(poly, lay.villages)
                and shapely.distance(poly, lay.water) > 100.0
                and shapely.distance(poly, motorway) > 80.0
            ):
                edge = shapely.get_coordinates(
                    shapely.shortest_line(poly.exterior, shapely.Point(xy[i]))
                )[0]
                site = edge + 15.0 * (c - edge) / np.hypot(*(c - edge))
                return poly, shapely.Point(site)
    raise RuntimeError("no place found for the planned estate")  # pragma: no cover
