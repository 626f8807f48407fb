"""The tiny hand-checkable district of tests/test_propose.py (drawn there), shared with
tests/test_cli_propose.py: three 1 km communities in a row, streets every 250 m, one existing
station S in C1, candidates X1-X3. Returns ``(net, comm, sites, cands, evaluation)``."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from siting.evaluate import evaluate
from siting.network import WalkNetwork

CRS = "EPSG:32651"


def make_district(households: tuple[float, float, float] = (1900.0, 1150.0, 1500.0)):
    G = nx.Graph(crs=CRS)
    step = 250.0
    xs, ys = np.arange(0, 3001, step), np.arange(0, 1001, step)
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            G.add_node((i, j), x=float(x), y=float(y))
            if i:
                G.add_edge((i - 1, j), (i, j), length=step)
            if j:
                G.add_edge((i, j - 1), (i, j), length=step)
    net = WalkNetwork.from_graph(nx.convert_node_labels_to_integers(G), crs=CRS)
    comm = gpd.GeoDataFrame(
        {
            "id": ["C1", "C2", "C3"],
            "name": ["一社区", "二社区", "三社区"],
            "kind": ["residential"] * 3,
            "street": ["东街道"] * 3,
            "population": [5000.0, 3000.0, 4000.0],
            "households": list(households),
            "party_members": [100.0, 60.0, 80.0],
        },
        geometry=[shapely.box(1000 * i, 0, 1000 * (i + 1), 1000) for i in range(3)],
        crs=CRS,
    )
    sites = gpd.GeoDataFrame(
        {
            "id": ["S"],
            "name": ["一社区站"],
            "level": ["station"],
            "floor_area_m2": [1200.0],
            "ground_floor_area_m2": [800.0],
            "community_id": ["C1"],
            "status": ["existing"],
            "upgrade_year": [np.nan],
        },
        geometry=[shapely.Point(500, 500)],
        crs=CRS,
    )
    cands = gpd.GeoDataFrame(
        {
            "id": ["X1", "X2", "X3"],
            "name": ["甲", "乙", "丙"],
            "source": ["street"] * 3,
            "floor_area_m2": [np.nan, 300.0, np.nan],
            "ground_floor_area_m2": [np.nan] * 3,
        },
        geometry=shapely.points([[1500, 500], [2000, 500], [2500, 500]]),
        crs=CRS,
    )
    ev = evaluate(comm, sites, net, demand="centroid")
    return net, comm, sites, cands, ev
