"""The large-scale layout and the communities of the demo district (:mod:`siting.demo`).

The geometry is built in a local metric frame (metres east and north of the district's
reference point): a river with few bridges, an old core, estates, a park and villages, and
community polygons grown from zone-dependent seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from siting import schema

_STEM_A = "春新东西南北金银玉华凤龙桃梅兰竹松柏荷枫柳杏云泉江湖河港塘桥浦泾青红白永长安宁康福寿丰庆嘉和兴隆顺盛泰锦秀"
_STEM_B = "园林苑庄湾港泾浜塘桥浦亭溪源湖山坊里巷弄街田圩场庙埭宅墩舍径泉"

STREETS = (
    # name, seed offset from the core center (m), kind of place
    ("城厢街道", (-700.0, 250.0)),
    ("东门街道", (900.0, 350.0)),
    ("南湖街道", (-200.0, -2300.0)),
    ("金溪镇", (-4300.0, 900.0)),
    ("朱塘镇", (-3300.0, -3700.0)),
    ("华林镇", (4300.0, 400.0)),
    ("北泾镇", (200.0, 4200.0)),
)


@dataclass(frozen=True)
class Layout:
    """The district's large-scale geometry in the local metric frame."""

    district: shapely.Polygon
    river: shapely.LineString
    water: shapely.Geometry
    core_center: tuple[float, float]
    core: shapely.Geometry
    estates: shapely.Geometry
    park: shapely.Geometry
    villages: shapely.Geometry
    river_phase: tuple[float, float]

    def river_y(self, x: np.ndarray) -> np.ndarray:
        """Northing of the river's centre line at easting ``x``."""
        return _river_y(np.asarray(x, dtype=np.float64), self.river_phase)

    def north(self, xy: np.ndarray) -> np.ndarray:
        """True for points north of the river."""
        return xy[:, 1] > self.river_y(xy[:, 0])


def _river_y(x: np.ndarray, phase: tuple[float, float]) -> np.ndarray:
    return -500.0 + 420.0 * np.sin(x / 2600.0 + phase[0]) + 150.0 * np.sin(x / 950.0 + phase[1])


def _blob(
    cx: float, cy: float, r: float, rng: np.random.Generator, *, wobble: float
) -> shapely.Polygon:
    """A round, irregular polygon (radius ``r`` with a few random harmonics)."""
    th = np.linspace(0.0, 2 * np.pi, 181)[:-1]
    amp = wobble * np.array([1.0, 0.7, 0.4])
    ph = rng.uniform(0, 2 * np.pi, 3)
    rr = r * (1 + sum(a * np.sin(k * th + p) for a, k, p in zip(amp, (2, 3, 5), ph, strict=True)))
    return shapely.Polygon(np.c_[cx + rr * np.cos(th), cy + rr * np.sin(th)])


def _layout(rng: np.random.Generator) -> Layout:
    district = _blob(0.0, 0.0, 5900.0, rng, wobble=0.07)
    district = shapely.affinity.scale(district, 1.1, 0.92, origin=(0, 0))
    phase = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0, 2 * np.pi)))
    xs = np.arange(-9000.0, 9001.0, 40.0)
    river = shapely.LineString(np.c_[xs, _river_y(xs, phase)])
    water = shapely.intersection(
        shapely.buffer(river, 40.0, cap_style="flat"), shapely.buffer(district, 300.0)
    )
    cx = -300.0
    cy = float(_river_y(np.array([cx]), phase)[0]) + 850.0
    core = _blob(cx, cy, 1400.0, rng, wobble=0.06) & district
    yr = float(_river_y(np.array([4000.0]), phase)[0])
    park = shapely.box(2700.0, yr + 300.0, 5700.0, yr + 2700.0) & district
    estates = (_blob(cx, cy - 300.0, 3200.0, rng, wobble=0.05) & district) - core - park
    villages = district - core - park - estates
    return Layout(district, river, water, (cx, cy), core, estates, park, villages, phase)


def _hex_points(
    poly: shapely.Geometry, spacing: float, rng: np.random.Generator, *, jitter: float = 0.22
) -> np.ndarray:
    """Jittered hexagonal grid of points inside ``poly``."""
    x0, y0, x1, y1 = shapely.bounds(poly)
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    half = np.hypot(x1 - x0, y1 - y0) / 2 + spacing
    n = int(np.ceil(half / spacing)) + 1
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1))
    x = (i + 0.5 * (j % 2)) * spacing
    y = j * spacing * np.sqrt(3) / 2
    a = rng.uniform(0, np.pi / 3)
    pts = np.c_[
        x.ravel() * np.cos(a) - y.ravel() * np.sin(a), x.ravel() * np.sin(a) + y.ravel() * np.cos(a)
    ]
    pts = pts + c + rng.normal(0.0, jitter * spacing, pts.shape)
    return pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]


# --- communities -----------------------------------------------------------------------------

ZONES = ("core", "estate", "park", "village")
ZONE_SPACING = {"core": 560.0, "estate": 800.0, "park": 850.0, "village": 1000.0}


def _seeds(lay: Layout, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    polys = {"core": lay.core, "estate": lay.estates, "park": lay.park, "village": lay.villages}
    xy, zone = [], []
    for z in ZONES:
        p = _hex_points(polys[z], ZONE_SPACING[z], rng)
        # keep seeds clear of the water so every seed has land around it
        p = p[np.abs(p[:, 1] - lay.river_y(p[:, 0])) > 160.0]
        xy.append(p)
        zone += [z] * len(p)
    return np.concatenate(xy), np.array(zone)


def _faces(lay: Layout, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi cells of the seeds cut by the district boundary and the banks, as exact faces.

    Returns the land faces and, for each, the seed it is assigned to (its Voronoi cell, or
    the neighbouring cell on its own bank when the cell crosses the river).
    """
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=shapely.buffer(lay.district, 3000.0), ordered=True
        )
    )
    edges = np.concatenate(
        [shapely.boundary(cells), [shapely.boundary(lay.district), shapely.boundary(lay.water)]]
    )
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(edges))))
    rep = shapely.point_on_surface(faces)
    inside = shapely.within(rep, lay.district) & ~shapely.within(rep, lay.water)
    faces, rep = faces[inside], rep[inside]
    fi, ci = shapely.STRtree(cells).query(rep, predicate="within")
    owner = np.full(len(faces), -1, dtype=np.int64)
    owner[fi] = ci
    rep_xy = shapely.get_coordinates(rep)
    face_north = lay.north(rep_xy)
    seed_north = lay.north(seeds)
    # neighbouring faces and the length of boundary they share
    a, b = shapely.STRtree(faces).query(faces, predicate="touches")
    shared = shapely.length(
        shapely.intersection(shapely.boundary(faces[a]), shapely.boundary(faces[b]))
    )
    a, b, shared = a[shared > 0], b[shared > 0], shared[shared > 0]
    for _ in range(4):
        orphan = face_north != seed_north[owner]
        orphan |= _stray_parts(faces, owner, len(seeds))
        if not orphan.any():
            break
        for _ in range(50):
            todo = np.flatnonzero(orphan)
            if not len(todo):
                break
            for f in todo:
                m = (a == f) & ~orphan[b] & (face_north[b] == face_north[f])
                if m.any():
                    owner[f] = owner[b[m][np.argmax(shared[m])]]
                    orphan[f] = False
    return faces, owner


def _stray_parts(faces: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Faces in a part of their community that is not its largest part."""
    stray = np.zeros(len(faces), dtype=bool)
    for s in range(n):
        idx = np.flatnonzero(owner == s)
        if len(idx) < 2:
            continue
        parts = shapely.get_parts(shapely.union_all(faces[idx]))
        if len(parts) < 2:
            continue
        big = parts[np.argmax(shapely.area(parts))]
        stray[idx] = ~shapely.within(shapely.point_on_surface(faces[idx]), big)
    return stray


def _names(rng: np.random.Generator, n: int) -> list[str]:
    stems = np.array([a + b for a in _STEM_A for b in _STEM_B if a != b])
    return [str(s) for s in rng.choice(stems, size=n, replace=False)]


def _communities(lay: Layout, rng: np.random.Generator) -> gpd.GeoDataFrame:
    seeds, zone = _seeds(lay, rng)
    faces, owner = _faces(lay, seeds)
    used = np.unique(owner)
    geoms = np.array([shapely.union_all(faces[owner == s]) for s in used], dtype=object)
    seeds, zone = seeds[used], zone[used]
    # a cell of the old core that came out large (next to sparse estates) is an estate
    zone[(zone == "core") & (shapely.area(geoms) > 520_000.0)] = "estate"
    # order west-east within bands north-south, so ids read like a map
    cent = shapely.get_coordinates(shapely.centroid(geoms))
    order = np.lexsort((cent[:, 0], -np.round(cent[:, 1] / 1500.0)))
    geoms, seeds, zone, cent = geoms[order], seeds[order], zone[order], cent[order]
    n = len(geoms)
    area_km2 = shapely.area(geoms) / 1e6
    dist = np.hypot(*(cent - np.array(lay.core_center)).T)

    kind = np.full(n, schema.RESIDENTIAL, dtype=object)
    kind[zone == "park"] = schema.ENTERPRISE
    vil = np.flatnonzero(zone == "village")
    kind[vil] = schema.VILLAGE
    # hollow villages: the remotest ones, by lot
    far = vil[np.argsort(-dist[vil])][: max(3, len(vil) // 3)]
    kind[rng.choice(far, size=max(2, round(len(vil) * 0.2)), replace=False)] = schema.HOLLOW_VILLAGE
    est = np.flatnonzero(zone == "estate")
    outer = est[np.argsort(-dist[est])][: max(4, len(est) // 2)]
    kind[rng.choice(outer, size=max(3, round(len(est) * 0.2)), replace=False)] = (
        schema.URBAN_VILLAGE
    )

    density = {  # residents per km2 (low, high) and bounds per community
        "old": ((38_000, 60_000), (10_000, 24_000)),
        schema.RESIDENTIAL: ((9_000, 16_000), (3_000, 14_000)),
        schema.URBAN_VILLAGE: ((8_000, 15_000), (2_500, 9_000)),
        schema.VILLAGE: ((1_700, 3_300), (1_100, 4_800)),
        schema.HOLLOW_VILLAGE: ((450, 1_000), (350, 1_400)),
        schema.ENTERPRISE: ((300, 1_600), (200, 2_000)),
    }
    pop = np.zeros(n)
    for k, ((lo, hi), (pmin, pmax)) in density.items():
        m = (zone == "core") if k == "old" else ((kind == k) & (zone != "core"))
        pop[m] = np.clip(area_km2[m] * rng.uniform(lo, hi, m.sum()), pmin, pmax)
    pop = np.round(pop / 10) * 10
    households = np.round(pop / rng.uniform(2.45, 2.8, n))
    party = np.round(pop * rng.uniform(0.03, 0.06, n))

    stems = _names(rng, n)
    estate_suffix = np.array(["苑社区", "家园社区", "花园社区", "社区", "新村社区"])
    name = []
    for s, k, z in zip(stems, kind, zone, strict=True):
        if z == "core":
            name.append(s + ("居委" if rng.random() < 0.5 else "社区"))
        elif k == schema.RESIDENTIAL:
            name.append(s + str(rng.choice(estate_suffix)))
        elif k == schema.ENTERPRISE:
            name.append(s + str(rng.choice(["工业园区", "科创园区", "产业园区"])))
        else:
            name.append(s + "村")

    # streets: nearest street seed, towns weighted to be larger than urban streets
    sxy = np.array([off for _, off in STREETS]) + np.array(lay.core_center)
    weight = np.array([0, 0, 200, 900, 900, 900, 900], dtype=np.float64)
    d = np.hypot(cent[:, None, 0] - sxy[None, :, 0], cent[:, None, 1] - sxy[None, :, 1]) - weight
    street = np.array([STREETS[i][0] for i in np.argmin(d, axis=1)], dtype=object)

    gdf = gpd.GeoDataFrame(
        {
            "id": [f"C{i + 1:03d}" for i in range(n)],
            "name": name,
            "kind": kind.astype(str),
            "street": street.astype(str),
            "population": pop.astype(np.int64),
            "households": households.astype(np.int64),
            "party_members": party.astype(np.int64),
            "zone": zone,
        },
        geometry=geoms,
    )
    return gdf


# --- roads -----------------------------------------------------------------------------------
