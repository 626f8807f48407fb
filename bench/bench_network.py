"""Benchmark of the walking-network engine (issue 3).

Run ``python bench/bench_network.py`` (full) or ``--quick`` (small, about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EARTH = 6_371_009.0
LON0, LAT0 = 121.40, 31.20  # Shanghai


def synthetic_city(n_nodes: int, *, seed: int = 0, block: float = 100.0, drop: float = 0.05):
    """Perturbed square grid of about ``n_nodes`` nodes, ``block`` metres apart.

    Returns metric x, y and undirected edges u, v (a share ``drop`` of grid edges removed).
    """
    rng = np.random.default_rng(seed)
    side = round(float(np.sqrt(n_nodes)))
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = (j * block + rng.normal(0, block * 0.15, i.shape)).ravel()
    y = (i * block + rng.normal(0, block * 0.15, i.shape)).ravel()
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(len(u)) >= drop
    return x, y, u[keep], v[keep], side


def to_lonlat(x, y):
    lat = LAT0 + np.degrees(y / EARTH)
    lon = LON0 + np.degrees(x / (EARTH * np.cos(np.radians(LAT0))))
    return lon, lat


def write_osm_xml(path, n_nodes: int, *, seed: int = 0, way_nodes: int = 10) -> int:
    """Write a synthetic raw OSM XML city: grid streets as ways of ``way_nodes`` nodes along rows
    and columns, plus non-highway ways (buildings) and a motorway. Returns the node count."""
    x, y, _, _, side = synthetic_city(n_nodes, seed=seed)
    lon, lat = to_lonlat(x, y)
    idx = np.arange(side * side).reshape(side, side)
    n = side * side
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"bench\">\n"
        )
        ids = np.arange(1, n + 1)
        lines = [
            f'  <node id="{k}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>\n'
            for k, la, lo in zip(ids.tolist(), lat.tolist(), lon.tolist(), strict=True)
        ]
        f.writelines(lines)
        wid = 1
        chains = [idx[r, :] for r in range(side)] + [idx[:, c] for c in range(side)]
        hw = ("residential", "footway", "service", "tertiary", "primary")
        out = []
        for ci, chain in enumerate(chains):
            for s in range(0, side - 1, way_nodes - 1):
                seg = chain[s : s + way_nodes]
                if len(seg) < 2:
                    continue
                nds = "".join(f'<nd ref="{k + 1}"/>' for k in seg.tolist())
                out.append(
                    f'  <way id="{wid}" version="1">{nds}'
                    f'<tag k="highway" v="{hw[ci % len(hw)]}"/></way>\n'
                )
                wid += 1
        # buildings (closed rings over street nodes) and a motorway: must not become edges
        for b in range(min(50, side - 2)):
            ring = [idx[b, b], idx[b, b + 1], idx[b + 1, b + 1], idx[b + 1, b], idx[b, b]]
            nds = "".join(f'<nd ref="{k + 1}"/>' for k in ring)
            out.append(f'  <way id="{wid}" version="1">{nds}<tag k="building" v="yes"/></way>\n')
            wid += 1
        diag = [idx[k, k] for k in range(0, side, 7)]
        nds = "".join(f'<nd ref="{k + 1}"/>' for k in diag)
        out.append(f'  <way id="{wid}" version="1">{nds}<tag k="highway" v="motorway"/></way>\n')
        f.writelines(out)
        f.write("</osm>\n")
    return n


# --------------------------------------------------------------------------- measurements
CUTOFF = 1000.0


def make_network(n_nodes: int, seed: int = 0):
    from siting.network import WalkNetwork

    x, y, u, v, _ = synthetic_city(n_nodes, seed=seed)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    return WalkNetwork(x, y, u, v, length, "EPSG:32651", source="synthetic")


def random_points(net, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = net.bounds
    return np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(case: str, n_nodes: int, n_sites: int, n_demand: int, osm: str) -> dict:
    """One measurement in a fresh process (so ru_maxrss is this step's peak)."""
    from siting import _graphsearch

    out: dict = {"case": case}
    t = time.perf_counter()
    out["compile_or_load_kernels_s"] = _graphsearch.warm_up()
    if case == "distances":
        net = make_network(n_nodes)
        sites, demand = random_points(net, n_sites, 1), random_points(net, n_demand, 2)
        out["rss_before_mb"] = maxrss_mb()
        t, c = time.perf_counter(), time.process_time()
        m = net.distances(demand, sites, CUTOFF)
        out["distances_s"] = time.perf_counter() - t
        out["distances_cpu_s"] = time.process_time() - c
        out["pairs"] = int(m.nnz)
        t = time.perf_counter()
        idx, _ = net.nearest(demand, sites)
        out["nearest_s"] = time.perf_counter() - t
        out["reachable_share"] = float((idx >= 0).mean())
    elif case == "evaluate400k":
        from siting.network import WalkNetwork

        t0 = time.perf_counter()
        net = WalkNetwork.from_osm(osm)
        out["load_cached_s"] = time.perf_counter() - t0
        out["cached"] = net.report.get("cached")
        sites, demand = random_points(net, n_sites, 1), random_points(net, n_demand, 2)
        t = time.perf_counter()
        net.snap(demand)
        net.snap(sites)
        out["snap_s"] = time.perf_counter() - t
        t = time.perf_counter()
        net.nearest(demand, sites)
        out["nearest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        m = net.distances(demand, sites, CUTOFF)
        out["distances_s"] = time.perf_counter() - t
        out["pairs"] = int(m.nnz)
        out["total_s"] = time.perf_counter() - t0
        out["nodes"] = net.n_nodes
    elif case == "load":
        from siting.network import WalkNetwork

        t, c = time.perf_counter(), time.process_time()
        net = WalkNetwork.from_osm(osm, cache=False)
        out["from_osm_s"] = time.perf_counter() - t
        out["from_osm_cpu_s"] = time.process_time() - c
        out["nodes"] = net.n_nodes
    elif case == "osmnx_load":
        import osmnx as ox

        t, c = time.perf_counter(), time.process_time()
        G = ox.graph_from_xml(osm, bidirectional=True, simplify=False)
        out["osmnx_graph_from_xml_s"] = time.perf_counter() - t
        out["osmnx_graph_from_xml_cpu_s"] = time.process_time() - c
        out["nodes"] = G.number_of_nodes()
    out["peak_rss_mb"] = maxrss_mb()
    return out


def run_child(case: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--child", case] + [
        f"--{k.replace('_', '-')}={v}" for k, v in kw.items()
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def references(n_nodes: int, n_sites: int, sample: int, ego_sample: int) -> dict:
    """networkx per-site Dijkstra, osmnx ego_graph recipe and scipy csgraph, on site samples."""
    import networkx as nx
    from scipy.sparse import csgraph

    net = make_network(n_nodes)
    sites = random_points(net, n_sites, 1)
    node, _ = net.snap(sites)
    G = nx.Graph()
    G.add_weighted_edges_from(
        zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True), weight="length"
    )
    out = {}
    t, c = time.perf_counter(), time.process_time()
    for s in node[:sample]:
        nx.single_source_dijkstra_path_length(G, int(s), cutoff=CUTOFF, weight="length")
    out["networkx_s"] = (time.perf_counter() - t) * n_sites / sample
    out["networkx_cpu_s"] = (time.process_time() - c) * n_sites / sample
    t, c = time.perf_counter(), time.process_time()
    for s in node[:ego_sample]:
        # the osmnx isochrone recipe: one ego graph per site, then its node points' hull
        sub = nx.ego_graph(G, int(s), radius=CUTOFF, distance="length")
        pts = np.column_stack([net.x[list(sub.nodes)], net.y[list(sub.nodes)]])
        import shapely

        shapely.convex_hull(shapely.multipoints(pts))
    out["osmnx_ego_graph_s"] = (time.perf_counter() - t) * n_sites / ego_sample
    out["osmnx_ego_graph_cpu_s"] = (time.process_time() - c) * n_sites / ego_sample
    graph = net.graph
    t = time.perf_counter()
    for a in range(0, sample, 100):
        csgraph.dijkstra(graph, directed=False, indices=node[a : a + 100], limit=CUTOFF)
    out["scipy_csgraph_s"] = (time.perf_counter() - t) * n_sites / sample
    out["sample"] = sample
    out["ego_sample"] = ego_sample
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--child", default="")
    ap.add_argument("--n-nodes", type=int, default=100_000)
    ap.add_argument("--n-sites", type=int, default=5_000)
    ap.add_argument("--n-demand", type=int, default=20_000)
    ap.add_argument("--osm", default="")
    ap.add_argument(
        "--osmnx-nodes",
        type=int,
        default=0,
        help="size of the file osmnx loads (default: same file)",
    )
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n_nodes, args.n_sites, args.n_demand, args.osm)))
        return
    q = args.quick
    n1, s1, d1 = (20_000, 1_000, 4_000) if q else (100_000, 5_000, 20_000)
    n4, s4, d4 = (40_000, 1_000, 10_000) if q else (400_000, 5_000, 50_000)
    work = Path(tempfile.mkdtemp(prefix="bench_network_"))
    os.environ["SITING_CACHE_DIR"] = str(work / "cache")
    print(
        f"# bench_network {'--quick' if q else ''}: cutoff {CUTOFF:.0f} m, seeded synthetic perturbed grid (100 m blocks)"
    )

    print(f"\n## {n1:,} nodes, {s1:,} sites, {d1:,} demand points")
    ours = [run_child("distances", n_nodes=n1, n_sites=s1, n_demand=d1) for _ in range(3)]
    best = min(ours, key=lambda r: r["distances_s"])
    print(
        f"numba kernels compile/load: first process {ours[0]['compile_or_load_kernels_s']:.2f} s (cache=True; later processes load it)"
    )
    print(
        f"ours distances: {best['distances_s']:.3f} s (best of 3; {best['pairs']:,} pairs), peak RSS {max(r['peak_rss_mb'] for r in ours):.0f} MB (whole process, python+libs {best['rss_before_mb']:.0f} MB before)"
    )
    print(
        f"ours nearest:   {min(r['nearest_s'] for r in ours):.3f} s (all {d1:,} demand points, best of 3)"
    )
    ref = references(n1, s1, sample=min(500, s1), ego_sample=min(100, s1))
    print(
        f"networkx single_source_dijkstra_path_length(cutoff) per site: {ref['networkx_s']:.2f} s (timed on {ref['sample']} sites, extrapolated linearly to {s1:,})"
    )
    print(
        f"osmnx ego_graph recipe per site: {ref['osmnx_ego_graph_s']:.2f} s (timed on {ref['ego_sample']} sites, extrapolated)"
    )
    print(
        f"scipy csgraph.dijkstra(limit) in tiles of 100: {ref['scipy_csgraph_s']:.2f} s (timed on {ref['sample']} sites, extrapolated)"
    )
    d = best["distances_s"]
    dc = min(r["distances_cpu_s"] for r in ours)
    print(
        f"CPU seconds (less sensitive to other load on the machine): ours {dc:.3f} s, networkx {ref['networkx_cpu_s']:.2f} s, ego_graph {ref['osmnx_ego_graph_cpu_s']:.2f} s; ratios {ref['networkx_cpu_s'] / dc:.1f}x and {ref['osmnx_ego_graph_cpu_s'] / dc:.1f}x"
    )
    print(
        f"ratios: networkx/ours = {ref['networkx_s'] / d:.1f}x (target >= 8), ego_graph/ours = {ref['osmnx_ego_graph_s'] / d:.1f}x (target >= 150), csgraph/ours = {ref['scipy_csgraph_s'] / d:.1f}x"
    )

    print(
        f"\n## loading: synthetic raw OSM XML, {n4:,} nodes (grid streets in short ways + buildings + a motorway)"
    )
    osm = work / f"city{n4}.osm"
    write_osm_xml(osm, n4)
    print(f"file: {osm.stat().st_size / 1e6:.0f} MB")
    loads = [run_child("load", osm=str(osm)) for _ in range(2)]
    ours_load = min(r["from_osm_s"] for r in loads)
    print(
        f"ours WalkNetwork.from_osm (pyosmium, no cache): {ours_load:.2f} s, peak RSS {max(r['peak_rss_mb'] for r in loads):.0f} MB"
    )
    ox_nodes = args.osmnx_nodes or n4
    ox_file = osm
    if ox_nodes != n4:
        ox_file = work / f"city{ox_nodes}.osm"
        write_osm_xml(ox_file, ox_nodes)
    oxr = run_child("osmnx_load", osm=str(ox_file))
    per_node = oxr["osmnx_graph_from_xml_s"] / oxr["nodes"]
    # the same file: compare the times as they are; a smaller file: scale per node
    ox_s = oxr["osmnx_graph_from_xml_s"] if ox_file == osm else per_node * loads[0]["nodes"]
    same = (
        "the same file"
        if ox_file == osm
        else f"a {ox_nodes:,}-node file, scaled per node to {n4:,}"
    )
    print(
        f"osmnx.graph_from_xml(simplify=False): {oxr['osmnx_graph_from_xml_s']:.1f} s on {same}; peak RSS {oxr['peak_rss_mb']:.0f} MB"
    )
    print(f"ratio: osmnx/ours = {ox_s / ours_load:.1f}x (target >= 10)")
    ours_cpu = min(r["from_osm_cpu_s"] for r in loads)
    ox_cpu = oxr["osmnx_graph_from_xml_cpu_s"]
    if ox_file != osm:
        ox_cpu = ox_cpu / oxr["nodes"] * loads[0]["nodes"]
    print(
        f"CPU seconds: ours {ours_cpu:.2f} s, osmnx {ox_cpu:.1f} s; ratio {ox_cpu / ours_cpu:.1f}x"
    )
    run_child("load", osm=str(osm))  # not cached (cache=False); now fill the cache:
    from siting.network import WalkNetwork

    WalkNetwork.from_osm(osm)

    print(f"\n## whole evaluate-like step: {n4:,} nodes, {s4:,} sites, {d4:,} demand points")
    ev = [run_child("evaluate400k", osm=str(osm), n_sites=s4, n_demand=d4) for _ in range(2)]
    e = min(ev, key=lambda r: r["total_s"])
    print(
        f"load from cache {e['load_cached_s']:.2f} s (cached={e['cached']}), snap {e['snap_s']:.2f} s, nearest {e['nearest_s']:.2f} s, distances {e['distances_s']:.2f} s ({e['pairs']:,} pairs)"
    )
    print(
        f"total {e['total_s']:.2f} s (target < 10), peak RSS {max(r['peak_rss_mb'] for r in ev):.0f} MB (target < 2048)"
    )


if __name__ == "__main__":
    main()
