"""Run by tests/test_store.py in a subprocess that the test kills with SIGKILL mid-save.

Usage: ``python store_crash_helper.py STORE MARKER N_VALUES``

1. saves version 1 of scenario ``"crash"`` (the small frames of :func:`version_one`);
2. starts saving version 2 with a large, incompressible result table of ``N_VALUES`` floats;
   inside the transaction, after every row has been written and just before COMMIT, it writes
   ``MARKER`` and sleeps, waiting to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting.store import Scenario, Store

NAME = "crash"


def version_one() -> Scenario:
    """The small scenario saved as version 1 (the test rebuilds it to compare)."""
    sites = gpd.GeoDataFrame(
        {
            "id": ["S1", "S2"],
            "name": ["东湖党群服务站", "西园服务点"],
            "floor_area_m2": [320.0, 80.0],
        },
        geometry=[shapely.Point(500_100, 3_400_200), shapely.Point(500_900, 3_400_700)],
        crs="EPSG:4547",
    )
    return Scenario(
        name=NAME,
        description="版本一",
        inputs={"sites": sites},
        parameters={"standard": "default", "radius_m": 500.0},
        summary={"coverage_rate": 0.5, "sites_total": 2},
    )


def version_two(n_values: int) -> Scenario:
    big = pd.DataFrame({"noise": np.random.default_rng(7).random(n_values)})
    return Scenario(
        name=NAME,
        description="版本二 (never committed)",
        parameters={"standard": "default", "radius_m": 1000.0},
        summary={"coverage_rate": 0.9, "sites_total": 3},
        results={"big": big},
    )


def main(store_path: str, marker: str, n_values: int) -> None:
    store = Store.open(store_path)
    assert store.save(version_one()) == 1

    def wait_to_be_killed() -> None:
        Path(marker).write_text("in transaction\n", encoding="utf-8")
        time.sleep(120)
        sys.exit("not killed")  # the test failed to kill us; leave without committing

    store._before_commit = wait_to_be_killed
    store.save(version_two(n_values))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
