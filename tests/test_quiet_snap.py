"""quiet_snapping silences the far-from-streets warning in its own thread only."""

from __future__ import annotations

import threading
import warnings

import networkx as nx
import numpy as np

from siting import SitingWarning
from siting.network import WalkNetwork, quiet_snapping


def _net() -> WalkNetwork:
    g = nx.Graph(crs="EPSG:32651")
    g.add_node(0, x=0.0, y=0.0)
    g.add_node(1, x=100.0, y=0.0)
    g.add_edge(0, 1, length=100.0)
    return WalkNetwork.from_graph(g, crs="EPSG:32651")


def _snap_warnings(net: WalkNetwork) -> list[str]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        net.snap(np.array([[5000.0, 0.0]]))
    return [str(r.message) for r in rec if issubclass(r.category, SitingWarning)]


def test_quiet_in_block_and_only_in_its_thread() -> None:
    net = _net()
    assert len(_snap_warnings(net)) == 1  # 4,900 m from the nearest node
    other: list[list[str]] = []
    inside = threading.Event()
    done = threading.Event()

    def elsewhere() -> None:
        inside.wait(5)
        # another session's thread while the block is open in the main thread: still warned
        other.append(_snap_warnings(net))
        done.set()

    t = threading.Thread(target=elsewhere)
    t.start()
    with quiet_snapping():
        inside.set()
        done.wait(5)
        assert _snap_warnings(net) == []
    t.join()
    assert len(other) == 1 and len(other[0]) == 1
    assert len(_snap_warnings(net)) == 1  # restored after the block


def test_quiet_also_silences_labelled_queries_and_snap_warnings_once() -> None:
    from siting.network import snap_warnings_once

    net = _net()
    far = np.array([[5000.0, 0.0]])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with snap_warnings_once(), quiet_snapping():
            net.snap(far, label="sites", ids=["S9"])
            net.distances(far, far, 100.0, label=("sites", "sites"))
            net.service_areas(far, [100.0], label="sites")
    assert [r for r in rec if issubclass(r.category, SitingWarning)] == []
