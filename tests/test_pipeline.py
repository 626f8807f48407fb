"""The pipeline shared by the CLI and the app: inputs, network, evaluation, service areas."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely

from siting import pipeline
from siting._errors import InputError
from siting.network import WalkNetwork


def test_demo_paths_exist() -> None:
    paths = pipeline.demo_paths()
    for key in ("communities", "sites", "roads", "candidates", "estate", "estate_site"):
        assert paths[key].exists(), key


def test_only_one_input_is_an_error() -> None:
    with pytest.raises(InputError, match="only one of --communities and --sites"):
        pipeline.load_inputs("c.gpkg", None)


def _grid_net() -> WalkNetwork:
    # a 5 x 5 street grid, 100 m blocks, in a metric CRS
    g = nx.grid_2d_graph(5, 5)
    h = nx.Graph(crs="EPSG:32651")
    for i, j in g.nodes:
        h.add_node((i, j), x=300_000.0 + 100 * i, y=3_400_000.0 + 100 * j)
    for a, b in g.edges:
        h.add_edge(a, b, length=100.0)
    return WalkNetwork.from_graph(h)


class _Ev:
    def __init__(self, net: WalkNetwork) -> None:
        import geopandas as gpd

        self.sites = gpd.GeoDataFrame(
            {
                "site_id": ["A", "B", "P"],
                "level": ["station", "street_center", "point"],
                "radius_m": [150.0, 250.0, 100.0],
            },
            geometry=shapely.points(
                [[300_200.0, 3_400_200.0], [300_000.0, 3_400_000.0], [300_400.0, 3_400_400.0]]
            ),
            crs=net.crs,
        )


def test_service_areas_own_radius_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path))
    net = _grid_net()
    ev = _Ev(net)
    areas = pipeline.service_areas_for_map(ev, net)
    # points are not drawn; each station-or-higher site at its own radius
    assert sorted(zip(areas["site_id"], areas["cutoff_m"], strict=True)) == [
        ("A", 150.0),
        ("B", 250.0),
    ]
    a = areas.set_index("site_id").geometry
    # A (centre node) reaches 100 m along each street, not the diagonal neighbour 141 m away
    assert a["A"].contains(shapely.Point(300_300.0, 3_400_200.0))
    assert not a["A"].contains(shapely.Point(300_300.0, 3_400_300.0))
    assert a["B"].contains(shapely.Point(300_200.0, 3_400_000.0))
    # the second call reads the cache and gives the same polygons
    assert list((tmp_path / "areas").glob("*.npz"))
    again = pipeline.service_areas_for_map(ev, net)
    assert list(again["site_id"]) == list(areas["site_id"])
    assert np.allclose(again.area, areas.area)
    assert all(shapely.equals_exact(again.geometry.values, areas.geometry.values, 1e-6))
    # fixed cut-offs draw every site at each
    three = pipeline.service_areas_for_map(ev, net, [100.0, 200.0, 300.0])
    assert len(three) == 6 and set(three["cutoff_m"]) == {100.0, 200.0, 300.0}


def _cells(path: Path) -> dict[str, list[list[object]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path)
    return {
        n: [[(c.value, c.number_format) for c in r] for r in wb[n].iter_rows()]
        for n in wb.sheetnames
    }


def test_workbook_from_the_side_process_equals_in_process(tmp_path: Path) -> None:
    """The side process writes the same workbook (values and number formats) as the main
    process; a side process that died falls back to writing in the main process."""
    from _evalfixture import make_evaluation

    from siting._sideproc import SideProcess

    ev = make_evaluation()
    plain = pipeline.write_outputs(ev, tmp_path / "plain")
    with SideProcess() as side:
        assert side._pool is not None  # two cores or more here
        para = pipeline.write_outputs(ev, tmp_path / "side", side=side)
        assert sorted(p.name for p in para.values()) == sorted(p.name for p in plain.values())
        assert _cells(para["report"]) == _cells(plain["report"])
        # kill the worker: the next workbook is still written, by the main process
        for proc in list(side._pool._processes.values()):  # type: ignore[union-attr]
            proc.kill()
            proc.join()
        again = pipeline.write_outputs(ev, tmp_path / "after", side=side)
    assert _cells(again["report"]) == _cells(plain["report"])
    assert not list((tmp_path / "side").glob(".*.tmp"))  # nothing half written left behind


def test_python_m_siting_in_a_spawned_worker_does_not_rerun_the_cli() -> None:
    import runpy

    with pytest.raises(SystemExit):
        runpy.run_module("siting", run_name="__main__", alter_sys=False)
    runpy.run_module("siting", run_name="__mp_main__")  # what a spawned worker does: nothing
