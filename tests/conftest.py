"""Shared tiny fixtures: three square communities and three sites near Shanghai (lon/lat).

Layout (each square 0.01 degree, about 950 m x 1110 m)::

    31.21 +------+------+
          |  C1  |  C2  |     S1 in C1, S2 in C2, S3 east of C2 (outside every community)
    31.20 +------+------+
          |  C3  |
    31.19 +------+
        121.40 121.41 121.42
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box


@pytest.fixture
def communities_lonlat() -> gpd.GeoDataFrame:
    """Three square communities in EPSG:4326 with Chinese headers."""
    return gpd.GeoDataFrame(
        {
            "编号": ["C1", "C2", "C3"],
            "名称": ["东社区", "西村", "南居委"],
            "类型": ["社区", "村", "城中村"],
            "街镇": ["甲街道", "甲街道", "乙镇"],
            "人口": [3000, 1200, 800],
            "户数": [1000, 400, 300],
        },
        geometry=[
            box(121.40, 31.20, 121.41, 31.21),
            box(121.41, 31.20, 121.42, 31.21),
            box(121.40, 31.19, 121.41, 31.20),
        ],
        crs="EPSG:4326",
    )


@pytest.fixture
def sites_table() -> pd.DataFrame:
    """Three sites as a lon/lat table with Chinese headers (S3 lies outside every community)."""
    return pd.DataFrame(
        {
            "编号": ["S1", "S2", "S3"],
            "名称": ["甲站", "乙点", "丙中心"],
            "层级": ["党群服务站", "点", "街镇中心"],
            "建筑面积": ["1,200", "300㎡", "2000"],
            "一层面积": [600, 100, 1500],
            "经度": [121.405, 121.415, 121.43],
            "纬度": [31.205, 31.205, 31.205],
        }
    )


@pytest.fixture
def plan_second_solve_finds_nothing(monkeypatch):
    """Make the upgrade plan's second solve (the one without the budget) find no plan, as at a
    time limit; yields the list of calls made (one entry per solve)."""
    import siting.plan as plan_mod

    real = plan_mod._fewest_short_then_cheapest
    calls: list[int] = []

    def second_finds_nothing(*args, **kwargs):
        calls.append(1)
        return (None, [], False) if len(calls) == 2 else real(*args, **kwargs)

    monkeypatch.setattr(plan_mod, "_fewest_short_then_cheapest", second_finds_nothing)
    return calls
