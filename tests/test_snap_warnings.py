"""Far-from-road warnings: one per input layer, naming the layer, the user's ids and the distance,
once per command (snap_warnings_once), and the same whether the service areas are cached or not.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from siting._errors import SitingWarning
from siting.network import WalkNetwork, quiet_snapping, snap_warnings_once

CRS = "EPSG:32651"
ADVICE = (
    " - their walking distances start with that straight line; check their coordinates (and "
    "the coordinate system), or use a road file that includes the streets and paths near them"
)


@pytest.fixture
def net() -> WalkNetwork:
    """Three nodes on the x axis: (0, 0), (100, 0), (200, 0)."""
    g = nx.Graph(crs=CRS)
    for k in range(3):
        g.add_node(k, x=100.0 * k, y=0.0)
    g.add_edge(0, 1, length=100.0)
    g.add_edge(1, 2, length=100.0)
    return WalkNetwork.from_graph(g, source="tiny.graphml")


# sites: S1 on node (0, 0); S9 1,000 m north of it
SITES = np.array([[0.0, 0.0], [0.0, 1000.0]])
SITE_IDS = ["S1", "S9"]
# demand grid points by community: C1 400 m and 500 m from node (100, 0); C2 350 m from
# (200, 0) and one 41 m from (0, 0)
GRID = np.array([[100.0, 400.0], [100.0, -500.0], [200.0, 350.0], [40.0, 10.0]])
GRID_IDS = ["C1", "C1", "C2", "C2"]
# candidates: K1 40 m from (200, 0); K7 2,000 m east of (200, 0)
CAND = np.array([[160.0, 5.0], [2200.0, 0.0]])
CAND_IDS = ["K1", "K7"]


def _caught(fn: Callable[[], Any]) -> list[str]:
    """The SitingWarning messages ``fn`` emits (every one, not once per code location)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fn()
    assert all(issubclass(r.category, SitingWarning) for r in rec), [str(r) for r in rec]
    return [str(r.message) for r in rec]


def _layers(net: WalkNetwork) -> None:
    net.snap(SITES, label="sites", ids=SITE_IDS)
    net.snap(GRID, label="demand grid points", ids=GRID_IDS)
    net.snap(CAND, label="candidates", ids=CAND_IDS)


def test_one_warning_per_layer_names_layer_ids_distance_and_fix(net: WalkNetwork) -> None:
    msgs = _caught(lambda: _layers(net))
    src = "more than 300 m from the nearest road node of tiny.graphml"
    assert msgs == [
        f"1 of 2 sites are {src}; farthest: S9 (1000 m){ADVICE}",
        # ids repeated in a layer (the community of each grid point) are named once, counted
        f"3 of 4 demand grid points are {src}; farthest: C1 (2 points, up to 500 m), "
        f"C2 (350 m){ADVICE}",
        f"1 of 2 candidates are {src}; farthest: K7 (2000 m){ADVICE}",
    ]


def test_ids_default_to_the_index_then_positions(net: WalkNetwork) -> None:
    named = gpd.GeoSeries(shapely.points(SITES), index=["HS001", "HS012"], crs=CRS)
    assert _caught(lambda: net.snap(named, label="sites"))[0].startswith(
        "1 of 2 sites are more than 300 m"
    )
    assert "farthest: HS012 (1000 m) - " in _caught(lambda: net.snap(named, label="sites"))[0]
    assert "farthest: #1 (1000 m) - " in _caught(lambda: net.snap(SITES))[0]
    with pytest.raises(ValueError, match="ids has 1 values for 2 points"):
        net.snap(SITES, ids=["S1"])


def test_more_than_ten_ids_are_counted(net: WalkNetwork) -> None:
    far = np.column_stack([np.zeros(12), 1000.0 + np.arange(12.0)])  # 1000 ... 1011 m
    msg = _caught(lambda: net.snap(far, label="sites", ids=[f"S{k}" for k in range(12)]))[0]
    assert "farthest: S11 (1011 m), S10 (1010 m), " in msg
    assert ", S2 (1002 m) and 2 more - " in msg and "S1 " not in msg


def test_queries_warn_only_when_given_a_label(net: WalkNetwork) -> None:
    # the queries of a run are subsets, unions and repeats of the layers: silent by default
    silent = _caught(
        lambda: (
            net.distances(GRID, CAND, 5000.0),
            net.nearest(GRID, SITES),
            net.reached(SITES, 500.0),
            net.service_areas(SITES, [300.0, 500.0]),
        )
    )
    assert silent == []
    msgs = _caught(
        lambda: net.distances(GRID, CAND, 5000.0, label=(None, "candidates"), ids=(None, CAND_IDS))
    )
    assert len(msgs) == 1 and msgs[0].startswith("1 of 2 candidates are more than 300 m")
    assert "farthest: K7 (2000 m) - " in msgs[0]
    msgs = _caught(
        lambda: net.nearest(
            GRID, SITES, label=("demand grid points", "sites"), ids=(GRID_IDS, SITE_IDS)
        )
    )
    assert [m.split(" are ")[0] for m in msgs] == ["3 of 4 demand grid points", "1 of 2 sites"]
    # service areas snap their points twice (areas and the reached nodes): one warning
    msgs = _caught(lambda: net.service_areas(SITES, [300.0], label="sites", ids=SITE_IDS))
    assert len(msgs) == 1 and "farthest: S9 (1000 m) - " in msgs[0]
    msgs = _caught(lambda: net.reached(SITES, 300.0, label="sites", ids=SITE_IDS))
    assert len(msgs) == 1 and "farthest: S9 (1000 m) - " in msgs[0]


def test_queries_answer_the_same_with_or_without_a_label(net: WalkNetwork) -> None:
    plain = net.distances(GRID, CAND, 5000.0).toarray()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SitingWarning)
        named = net.distances(GRID, CAND, 5000.0, label=("g", "c")).toarray()
    # by hand: grid point (40, 10) snaps to (0, 0) (41.2 m), K1 (160, 5) to (200, 0) (40.3 m)
    assert plain[3, 0] == pytest.approx(np.hypot(40, 10) + 200 + np.hypot(40, 5))
    np.testing.assert_array_equal(plain, named)


def test_each_point_reported_once_within_a_command(net: WalkNetwork) -> None:
    def run() -> None:
        _layers(net)
        _layers(net)  # the same layers again (an evaluation after a proposal): nothing
        net.snap(GRID[:2], label="uncovered demand points", ids=GRID_IDS[:2])  # a subset
        with snap_warnings_once():  # nested: the outer block's record
            net.snap(SITES, label="sites", ids=SITE_IDS)
        # the sites with a proposal's new sites: only the new far one, the count of the rest
        with_new = np.vstack([SITES, [[100.0, 0.0], [100.0, 700.0]]])
        net.snap(with_new, label="sites", ids=[*SITE_IDS, "P1", "P2"])
        net.distances(with_new, CAND, 3000.0, label=("sites", "candidates"))

    with snap_warnings_once():
        msgs = _caught(run)
    assert [m.split(" are ")[0] for m in msgs] == [
        "1 of 2 sites",
        "3 of 4 demand grid points",
        "1 of 2 candidates",
        "1 of 4 sites",
    ]
    assert msgs[3] == (
        "1 of 4 sites are more than 300 m from the nearest road node of tiny.graphml "
        f"(besides 1 reported above); farthest: P2 (700 m){ADVICE}"
    )
    # after the block every snap reports all its far points again
    assert len(_caught(lambda: _layers(net))) == 3


def test_once_per_network_and_not_when_quiet(net: WalkNetwork) -> None:
    g = nx.Graph(crs=CRS)
    g.add_node(0, x=0.0, y=0.0)
    g.add_node(1, x=100.0, y=0.0)
    g.add_edge(0, 1, length=100.0)
    other = WalkNetwork.from_graph(g, source="other.graphml")

    def run() -> None:
        with quiet_snapping():  # silenced points are not counted as reported
            net.snap(SITES, label="sites", ids=SITE_IDS)
        net.snap(SITES, label="sites", ids=SITE_IDS)
        other.snap(SITES, label="sites", ids=SITE_IDS)  # another network: its own warning

    with snap_warnings_once():
        msgs = _caught(run)
    assert len(msgs) == 2
    assert "tiny.graphml; farthest: S9" in msgs[0] and "other.graphml; farthest: S9" in msgs[1]


def test_the_record_is_per_thread(net: WalkNetwork) -> None:
    # another session's thread does not share this block's record (nor is silenced by it)
    seen: list[list[str]] = []

    def elsewhere() -> None:
        seen.append(_caught(lambda: net.snap(SITES, label="sites", ids=SITE_IDS)))

    with snap_warnings_once():
        assert len(_caught(lambda: net.snap(SITES, label="sites", ids=SITE_IDS))) == 1
        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        assert _caught(lambda: net.snap(SITES, label="sites", ids=SITE_IDS)) == []
    assert len(seen) == 1 and len(seen[0]) == 1


# ---------------------------------------------------------------- evaluation and map areas
def _district() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, WalkNetwork]:
    g = nx.Graph(crs=CRS)
    nodes = {"A": (0, 0), "B": (400, 0), "C": (800, 0), "D": (1400, 0)}
    for n, (x, y) in nodes.items():
        g.add_node(n, x=float(x), y=float(y))
    for u, v, length in [("A", "B", 400), ("B", "C", 400), ("C", "D", 600)]:
        g.add_edge(u, v, length=float(length))
    net = WalkNetwork.from_graph(g, source="district.graphml")
    comms = gpd.GeoDataFrame(
        {
            "id": ["C1", "C2"],
            "name": ["东一社区", "西村"],
            "kind": ["residential", "village"],
            "street": ["东街", "东街"],
            "population": [3000.0, 2000.0],
            "households": [1000.0, 800.0],
            "party_members": [100.0, 50.0],
        },
        geometry=[box(-100, -200, 600, 400), box(600, -200, 1700, 400)],
        crs=CRS,
    )
    site = dict(level="station", floor_area_m2=1200.0, ground_floor_area_m2=700.0,
                status="existing", upgrade_year=np.nan)  # fmt: skip
    sites = gpd.GeoDataFrame(
        [
            dict(id="S1", name="一站", community_id="C1", geometry=Point(400, 0), **site),
            # 290 m east and 190 m south of D: 347 m from the nearest node
            dict(id="S9", name="九站", community_id="C2", geometry=Point(1690, -190), **site),
        ],
        geometry="geometry",
        crs=CRS,
    )
    demand = gpd.GeoDataFrame(
        {
            "community_id": ["C1", "C2", "C2"],
            "population": [3000.0, 1500.0, 500.0],
            "households": [1000.0, 600.0, 200.0],
            "party_members": [100.0, 40.0, 10.0],
        },
        geometry=[Point(0, 0), Point(800, 0), Point(1000, 350)],  # the last 350 m from C
        crs=CRS,
    )
    return comms, sites, demand, net


def test_evaluation_and_map_areas_warn_the_same_with_a_cold_or_warm_cache(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siting.evaluate import evaluate
    from siting.pipeline import service_areas_for_map

    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    comms, sites, demand, net = _district()

    def run() -> list[str]:
        def body() -> None:
            with snap_warnings_once():
                ev = evaluate(comms, sites, net, demand=demand, start_year=2025)
                areas = service_areas_for_map(ev, net)
                assert sorted(areas["site_id"]) == ["S1", "S9"]

        return _caught(body)

    cold = run()
    assert list((tmp_path / "cache" / "areas").iterdir())  # the areas were cached
    warm = run()
    assert cold == warm
    far = [m for m in cold if "road node" in m]
    assert [m.split(";")[0] for m in far] == [
        "1 of 3 demand points are more than 300 m from the nearest road node of district.graphml",
        "1 of 2 sites are more than 300 m from the nearest road node of district.graphml",
    ]
    assert "farthest: S9 (347 m) - " in far[1]


def test_app_recording_names_each_far_point_once(net: WalkNetwork) -> None:
    """An app result (warm.recording) lists a far site once, however often the work snaps it."""
    from siting.ui.warm import recording

    def work() -> int:
        net.snap(SITES, label="sites", ids=SITE_IDS)
        # re-evaluated with a new station N1, also far: only N1 is new
        more = np.vstack([SITES, [[200.0, -900.0]]])
        net.snap(more, label="sites", ids=[*SITE_IDS, "N1"])
        return 7

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recording's own hook collects them
        value, msgs = recording(work)
    assert value == 7
    assert len([m for m in msgs if "S9" in m]) == 1, msgs
    assert len([m for m in msgs if "N1" in m]) == 1, msgs


def test_one_command_names_each_far_point_once(net: WalkNetwork, monkeypatch, capsys) -> None:
    """`siting ...` runs in one snap_warnings_once block: a layer snapped again (propose's
    re-evaluation with the new stations) does not repeat the far sites."""
    from siting import cli

    def command(args) -> int:  # type: ignore[no-untyped-def]
        net.snap(SITES, label="sites", ids=SITE_IDS)
        net.snap(np.vstack([SITES, [[200.0, -900.0]]]), label="sites", ids=[*SITE_IDS, "N1"])
        return 0

    monkeypatch.setattr(cli, "cmd_scenario", command)
    assert cli.main(["scenario", "list"]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len([ln for ln in lines if "S9" in ln]) == 1, err
    assert len([ln for ln in lines if "N1" in ln]) == 1, err
