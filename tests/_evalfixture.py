"""A tiny hand-built evaluation result (the `Evaluation` contract of docs/ARCHITECTURE.md).

Used by tests of maps and reports so they do not depend on ``siting.evaluate``. Layout (metres,
UTM zone 51N, origin near People's Square, Shanghai)::

    y
    1000 +---------+---------+---------+
         |  C1     |  C2     |  C3     |
         |  S1*    |     S2o |   P1.   |      * street center (compliant)
         |         |         |         |      o station (non-compliant: 420 m2)
       0 +---------+---------+---------+ x    . point (compliant)
         0       1000      2000      3000
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

CRS = "EPSG:32651"
#: lon/lat of the fixture origin (the south-west corner of C1).
ORIGIN_LONLAT = (121.47, 31.23)


def origin_xy() -> tuple[float, float]:
    """The origin in the fixture's metric CRS."""
    t = pyproj.Transformer.from_crs(4326, CRS, always_xy=True)
    x, y = t.transform(*ORIGIN_LONLAT)
    return float(x), float(y)


@dataclass(frozen=True)
class FakeEvaluation:
    """Duck-typed stand-in for ``siting.evaluate.Evaluation``."""

    sites: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    streets: pd.DataFrame
    gaps: gpd.GeoDataFrame
    trajectory: pd.DataFrame
    demand: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _square(x0: float, y0: float, size: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + size, y0 + size)


def make_evaluation(*, shift: tuple[float, float] | None = None) -> FakeEvaluation:
    """Three communities, three sites, two gap hexagons, a three-year trajectory."""
    ox, oy = origin_xy() if shift is None else shift
    communities = gpd.GeoDataFrame(
        {
            "community_id": ["C1", "C2", "C3"],
            "name": ["梅园社区", "竹林社区", "兰溪村"],
            "kind": ["residential", "residential", "village"],
            "street": ["东街道", "东街道", "西镇"],
            "population": [12000.0, 8000.0, 3000.0],
            "households": [4000.0, 2700.0, 1000.0],
            "party_members": [300.0, 150.0, 60.0],
            "nearest_site_id": ["S1", "S2", "P1"],
            "nearest_site_distance_m": [120.0, 80.5, 40.0],
            "nearest_station_id": ["S1", "S2", "S2"],
            "nearest_station_distance_m": [120.0, 80.5, 900.0],
            "covered_share": [1.0, 0.625, 0.0],
            "covered_share_any": [1.0, 0.625, 0.5],
            "has_compliant_station": [True, False, False],
            "coverage_status": ["covered", "partly", "gap"],
            "placement_rule": ["居民区设站", "居民区设站", "村站点结合"],
            "missing": ["", "站点面积不足", "缺少党群服务站"],
        },
        geometry=[_square(ox + 1000 * i, oy, 1000.0) for i in range(3)],
        crs=CRS,
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2", "P1"],
            "name": ["东街道党群服务中心", "竹林站", "兰溪点"],
            "level": ["street_center", "station", "point"],
            "status": ["existing", "existing", "existing"],
            "floor_area_m2": [1800.0, 420.0, 60.0],
            "ground_floor_area_m2": [1000.0, 120.0, 60.0],
            "ground_floor_share": [1000 / 1800, 120 / 420, 1.0],
            "compliant": [True, False, True],
            "reasons": ["", "建筑面积 420 m² < 1,000 m²; 一层占比 29% < 50%", ""],
            "shortfall_m2": [0.0, 580.0, 0.0],
            "population_served": [12000.0, 9500.0, 1500.0],
            "households_served": [4000.0, 3200.0, 500.0],
            "party_members_served": [300.0, 180.0, 30.0],
            "population_in_radius": [14000.0, 9000.0, 1200.0],
            "radius_m": [1000.0, 500.0, 300.0],
            "max_population": [100000.0, 15000.0, 5000.0],
            "overloaded": [False, False, False],
            "m2_per_100_households": [45.0, 13.125, 12.0],
            "required_funding_yuan": [500000.0, 300000.0, 2000.0],
            "street": ["东街道", "东街道", "西镇"],
            "community_id": ["C1", "C2", "C3"],
            "geometry": shapely.points(
                [ox + 500, ox + 1600, ox + 2500], [oy + 500, oy + 500, oy + 300]
            ),
        },
        crs=CRS,
    )
    streets = pd.DataFrame(
        {
            "street": ["东街道", "西镇"],
            "population": [20000.0, 3000.0],
            "population_covered": [17000.0, 0.0],
            "coverage_rate": [0.85, 0.0],
            "sites_total": [2, 1],
            "sites_compliant": [1, 1],
            "compliance_rate": [0.5, 1.0],
            "stations": [2, 0],
            "stations_compliant": [1, 0],
            "population_per_site_mean": [10750.0, 1500.0],
            "population_per_site_max": [12000.0, 1500.0],
            "sites_overloaded": [0, 0],
            "floor_area_per_100_households": [33.33, 6.0],
        }
    )
    hexes = [
        shapely.Polygon(
            [
                (cx + 250 * np.cos(a), cy + 250 * np.sin(a))
                for a in np.linspace(0, 2 * np.pi, 7)[:-1]
            ]
        )
        for cx, cy in [(ox + 2300, oy + 600), (ox + 1800, oy + 800)]
    ]
    gaps = gpd.GeoDataFrame(
        {
            "hex_id": ["h1", "h2"],
            "population_uncovered": [2500.0, 3000.0],
            "communities": ["C3", "C2, C3"],
            "community_names": ["兰溪村", "竹林社区, 兰溪村"],
            "rank": [2, 1],
        },
        geometry=hexes,
        crs=CRS,
    )
    trajectory = pd.DataFrame(
        {
            "year": [0, 1, 2, 3],
            "target_rate": [np.nan, 0.6, 0.8, 1.0],
            "compliance_rate": [2 / 3, 2 / 3, 1.0, 1.0],
            "sites_compliant": [2, 2, 3, 3],
            "sites_total": [3, 3, 3, 3],
            "met": [False, True, True, True],
        }
    )
    demand = gpd.GeoDataFrame(
        {
            "community_id": ["C1", "C2", "C3"],
            "population": [12000.0, 8000.0, 3000.0],
            "households": [4000.0, 2700.0, 1000.0],
            "party_members": [300.0, 150.0, 60.0],
            "covered": [True, True, False],
            "covered_any": [True, True, True],
            "nearest_site": [0, 1, 2],
        },
        geometry=communities.geometry.centroid.to_numpy(),
        crs=CRS,
    )
    summary = {
        "population_total": 23000.0,
        "population_covered": 17000.0,
        "coverage_rate": 17000 / 23000,
        "coverage_rate_any": 21500 / 23000,
        "sites_total": 3,
        "sites_compliant": 2,
        "compliance_rate": 2 / 3,
        "by_level": {
            "street_center": {"sites_total": 1, "sites_compliant": 1, "compliance_rate": 1.0},
            "station": {"sites_total": 1, "sites_compliant": 0, "compliance_rate": 0.0},
            "point": {"sites_total": 1, "sites_compliant": 1, "compliance_rate": 1.0},
        },
        "by_street": {
            "东街道": {"population": 20000.0, "coverage_rate": 0.85},
            "西镇": {"population": 3000.0, "coverage_rate": 0.0},
        },
        "distance_mode": "euclidean",
        "standard": "default",
        "demand_method": "centroid",
        "targets": [0.6, 0.8, 1.0],
    }
    return FakeEvaluation(
        sites=sites,
        communities=communities,
        streets=streets,
        gaps=gaps,
        trajectory=trajectory,
        demand=demand,
        summary=summary,
    )


def make_service_areas(evaluation: FakeEvaluation) -> gpd.GeoDataFrame:
    """Circular 300/500/1,000 m service areas around the two station-or-higher sites."""
    pts = evaluation.sites.geometry.to_numpy()[:2]
    rows = [(i, c, shapely.buffer(p, c)) for c in (300.0, 500.0, 1000.0) for i, p in enumerate(pts)]
    return gpd.GeoDataFrame(
        {
            "point_index": [r[0] for r in rows],
            "cutoff_m": [r[1] for r in rows],
            "site_id": [["S1", "S2"][r[0]] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs=CRS,
    )


def make_proposals(evaluation: FakeEvaluation) -> gpd.GeoDataFrame:
    """One proposed new station in the gap community C3."""
    x, y = evaluation.communities.geometry.iloc[2].centroid.coords[0]
    return gpd.GeoDataFrame(
        {"id": ["N1"], "name": ["新建站 1"], "population_served": [2800.0]},
        geometry=[shapely.Point(x, y + 100)],
        crs=CRS,
    )


def make_large_evaluation(
    *, n_side: int = 14, n_sites: int = 500, n_hex: int = 1000, seed: int = 0
) -> FakeEvaluation:
    """A district-sized result (``n_side**2`` communities with wiggly 200-vertex boundaries,
    ``n_sites`` sites, ``n_hex`` gap hexagons) for map size checks."""
    rng = np.random.default_rng(seed)
    ox, oy = origin_xy()
    size = 600.0
    ii, jj = np.meshgrid(np.arange(n_side), np.arange(n_side))
    x0 = ox + ii.ravel() * size
    y0 = oy + jj.ravel() * size
    n = len(x0)
    # densified squares with 1 m jitter: many vertices that a 5 m simplification removes
    t = np.linspace(0, 4, 201)[:-1]
    side = np.floor(t).astype(int)
    f = t - side
    ux = np.select([side == 0, side == 1, side == 2], [f, 1.0, 1.0 - f], 0.0)
    uy = np.select([side == 0, side == 1, side == 2], [0.0, f, 1.0], 1.0 - f)
    polys = [
        shapely.Polygon(
            np.column_stack([x + ux * size, y + uy * size]) + rng.uniform(-1, 1, (len(t), 2))
        )
        for x, y in zip(x0, y0, strict=True)
    ]
    ids = [f"C{i:03d}" for i in range(n)]
    share = rng.uniform(0, 1, n)
    communities = gpd.GeoDataFrame(
        {
            "community_id": ids,
            "name": [f"社区{i}" for i in range(n)],
            "kind": "residential",
            "street": [f"街道{i % 7}" for i in range(n)],
            "population": rng.integers(1000, 20000, n).astype(float),
            "households": rng.integers(300, 7000, n).astype(float),
            "party_members": rng.integers(10, 500, n).astype(float),
            "nearest_site_id": [f"S{i % n_sites:03d}" for i in range(n)],
            "nearest_site_distance_m": rng.uniform(0, 1500, n),
            "nearest_station_id": [f"S{i % n_sites:03d}" for i in range(n)],
            "nearest_station_distance_m": rng.uniform(0, 1500, n),
            "covered_share": share,
            "covered_share_any": np.minimum(1.0, share + 0.1),
            "has_compliant_station": share > 0.5,
            "coverage_status": np.where(
                share > 0.9, "covered", np.where(share > 0, "partly", "gap")
            ),
            "placement_rule": "居民区设站",
            "missing": np.where(share > 0.5, "", "缺少达标的党群服务站"),
        },
        geometry=polys,
        crs=CRS,
    )
    extent = n_side * size
    levels = np.array(["district_center", "street_center", "station", "point"])[
        np.minimum(3, rng.integers(0, 4, n_sites))
    ]
    compliant = rng.uniform(size=n_sites) > 0.4
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i:03d}" for i in range(n_sites)],
            "name": [f"站点{i}" for i in range(n_sites)],
            "level": levels,
            "status": "existing",
            "floor_area_m2": rng.uniform(50, 2000, n_sites),
            "ground_floor_area_m2": rng.uniform(20, 800, n_sites),
            "ground_floor_share": rng.uniform(0, 1, n_sites),
            "compliant": compliant,
            "reasons": np.where(compliant, "", "建筑面积 420 m² < 1,000 m²"),
            "population_served": rng.uniform(0, 20000, n_sites),
            "population_in_radius": rng.uniform(0, 20000, n_sites),
            "radius_m": 500.0,
        },
        geometry=shapely.points(
            ox + rng.uniform(0, extent, n_sites), oy + rng.uniform(0, extent, n_sites)
        ),
        crs=CRS,
    )
    cx = ox + rng.uniform(0, extent, n_hex)
    cy = oy + rng.uniform(0, extent, n_hex)
    ang = np.linspace(0, 2 * np.pi, 7)[:-1]
    hexes = shapely.polygons(
        np.stack([cx[:, None] + 144 * np.cos(ang), cy[:, None] + 144 * np.sin(ang)], axis=-1)
    )
    gaps = gpd.GeoDataFrame(
        {
            "hex_id": [f"h{i}" for i in range(n_hex)],
            "population_uncovered": rng.uniform(1, 3000, n_hex),
            "communities": "C001",
            "community_names": "社区1",
            "rank": np.arange(1, n_hex + 1),
        },
        geometry=hexes,
        crs=CRS,
    )
    small = make_evaluation()
    return FakeEvaluation(
        sites=sites,
        communities=communities,
        streets=small.streets,
        gaps=gaps,
        trajectory=small.trajectory,
        demand=small.demand,
        summary=small.summary,
    )


def make_real_evaluation() -> Any:
    """``siting.evaluate.evaluate`` on canonical frames shaped like :func:`make_evaluation`
    (straight-line distances, centroid demand)."""
    from siting.evaluate import evaluate
    from siting.network import EuclideanNetwork

    fake = make_evaluation()
    comm = fake.communities[
        ["community_id", "name", "kind", "street", "population", "households", "party_members",
         "geometry"]
    ].rename(columns={"community_id": "id"})  # fmt: skip
    sites = fake.sites[
        ["site_id", "name", "level", "floor_area_m2", "ground_floor_area_m2", "community_id",
         "status", "geometry"]
    ].rename(columns={"site_id": "id"})  # fmt: skip
    sites = sites.assign(upgrade_year=[np.nan, 1.0, np.nan])
    return evaluate(comm, sites, EuclideanNetwork(CRS), demand="centroid", hex_size=150.0)
