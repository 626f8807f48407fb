"""Write road networks as OpenStreetMap XML (OSM 0.6), deterministically.

Two steps, used by the synthetic demo district (:mod:`siting.demo`):

- :func:`ways_from_lines` nodes a set of tagged lines (in a metric CRS) into OSM topology:
  lines that cross share a node, a water polygon cuts every line except those allowed to bridge
  it (their part over the water becomes a separate ``bridge=yes`` way), and only the largest
  connected part is kept;
- :func:`write_osm_xml` writes nodes and ways as OSM XML, gzip-compressed with a zero timestamp
  when the name ends in ``.gz``, so the same input always gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["OsmWay", "WayNetwork", "ways_from_lines", "write_osm_xml"]

log = logging.getLogger(__name__)

Tags = Mapping[str, str]


@dataclass(frozen=True)
class OsmWay:
    """One OSM way: node positions (into the node arrays) and its tags."""

    nodes: np.ndarray
    tags: Tags


@dataclass(frozen=True)
class WayNetwork:
    """Noded ways in the metric CRS of the input lines.

    ``xy`` holds one row per node; ``ways`` refer to rows of ``xy``.
    """

    xy: np.ndarray
    ways: list[OsmWay]


def ways_from_lines(
    lines: np.ndarray,
    tags: Sequence[Tags],
    *,
    bridge_tags: Sequence[Tags | None],
    water: shapely.Geometry | None = None,
    grid_m: float = 0.01,
    min_piece_m: float = 0.05,
) -> WayNetwork:
    """Node tagged lines into OSM ways.

    Parameters
    ----------
    lines
        LineStrings in a metric CRS.
    tags
        Tags of each line.
    bridge_tags
        For each line, extra tags of its parts over ``water`` (``bridge=yes`` is added), or
        None when the line must not cross the water (its parts over the water are dropped).
    water
        Polygon(s) of water; None for none.
    grid_m
        Node coordinates are rounded to this grid; nodes closer than that are one node.
    min_piece_m
        Pieces shorter than this (slivers where a line ends just past another) are dropped.

    Returns
    -------
    WayNetwork
        Nodes and ways of the largest connected part, ways ordered by input line.
    """
    lines = np.asarray(lines, dtype=object)
    n_src = len(lines)
    if len(tags) != n_src or len(bridge_tags) != n_src:
        raise ValueError("lines, tags and bridge_tags must have the same length")
    src_lines = lines
    if water is not None and not shapely.is_empty(water):
        # the banks node every line that reaches the water; they are not ways themselves
        src_lines = np.concatenate([lines, [shapely.boundary(water)]])
    pieces = shapely.get_parts(shapely.union_all(src_lines))
    pieces = pieces[shapely.length(pieces) >= min_piece_m]
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    # which line each piece comes from: nearest segment (small boxes keep the tree fast)
    xy, line_of = shapely.get_coordinates(src_lines, return_index=True)
    seg = np.flatnonzero(line_of[1:] == line_of[:-1])
    segs = shapely.linestrings(
        np.stack([xy[seg], xy[seg + 1]], axis=1).reshape(-1, 2),
        indices=np.repeat(np.arange(len(seg)), 2),
    )
    got, hit = shapely.STRtree(segs).query_nearest(mid, max_distance=grid_m, all_matches=False)
    if len(got) != len(pieces):  # pragma: no cover - every piece lies on an input line
        raise RuntimeError("a noded piece matches no input line")
    src = line_of[seg[hit]]
    keep = src < n_src
    pieces, mid, src = pieces[keep], mid[keep], src[keep]
    on_water = np.zeros(len(pieces), dtype=bool)
    if water is not None and not shapely.is_empty(water):
        on_water = shapely.contains_xy(water, shapely.get_x(mid), shapely.get_y(mid))
    may_bridge = np.array([b is not None for b in bridge_tags], dtype=bool)
    keep = ~on_water | may_bridge[src]
    pieces, src, on_water = pieces[keep], src[keep], on_water[keep]

    # orient each piece along its source line and order pieces along it
    first = shapely.get_point(pieces, 0)
    last = shapely.get_point(pieces, -1)
    t0 = shapely.line_locate_point(lines[src], first)
    t1 = shapely.line_locate_point(lines[src], last)
    flip = t1 < t0
    pieces[flip] = shapely.reverse(pieces[flip])
    order = np.lexsort((np.minimum(t0, t1), src))
    pieces, src, on_water = pieces[order], src[order], on_water[order]

    coords, piece_of = shapely.get_coordinates(pieces, return_index=True)
    key = np.round(coords / grid_m).astype(np.int64)
    uniq, node = np.unique(key, axis=0, return_inverse=True)
    node = node.ravel()
    xy = uniq.astype(np.float64) * grid_m

    # largest connected part
    same = piece_of[1:] == piece_of[:-1]
    a, b = node[:-1][same], node[1:][same]
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(xy), len(xy)))
    _, label = csgraph.connected_components(graph, directed=False)
    big = np.argmax(np.bincount(label))
    start = np.searchsorted(piece_of, np.arange(len(pieces)))
    end = np.append(start[1:], len(piece_of)) - 1
    in_big = label[node[start]] == big

    # a way is a run of consecutive pieces of one line, joined end to start, same bridge state
    joined = np.zeros(len(pieces), dtype=bool)
    joined[1:] = (
        (src[1:] == src[:-1])
        & (on_water[1:] == on_water[:-1])
        & (node[start[1:]] == node[end[:-1]])
        & in_big[1:]
        & in_big[:-1]
    )
    ways: list[OsmWay] = []
    run: list[np.ndarray] = []
    cur_tags: dict[str, str] = {}
    for i in np.flatnonzero(in_big):
        seq = node[start[i] : end[i] + 1]
        if joined[i] and run:
            run.append(seq[1:])
        else:
            if run:
                ways.append(_way(run, cur_tags))
            run = [seq]
        cur_tags = dict(tags[src[i]])
        if on_water[i]:
            cur_tags.update(bridge_tags[src[i]] or {})
            cur_tags.update({"bridge": "yes", "layer": "1"})
    if run:
        ways.append(_way(run, cur_tags))

    used = np.unique(np.concatenate([w.nodes for w in ways]))
    remap = np.full(len(xy), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    ways = [OsmWay(remap[w.nodes], w.tags) for w in ways]
    log.info("noded %d lines into %d ways and %d nodes", n_src, len(ways), len(used))
    return WayNetwork(xy[used], ways)


def _way(run: list[np.ndarray], tags: Tags) -> OsmWay:
    seq = np.concatenate(run)
    # drop repeated consecutive nodes (a piece shorter than the grid)
    seq = seq[np.append(True, seq[1:] != seq[:-1])]
    return OsmWay(seq, tags)


def _tag_xml(tags: Tags, indent: str) -> str:
    return "".join(
        f"{indent}<tag k={quoteattr(k)} v={quoteattr(str(v))}/>\n" for k, v in tags.items()
    )


def write_osm_xml(
    path: str | Path,
    *,
    node_ids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    ways: Sequence[tuple[int, Sequence[int], Tags]],
    node_tags: Mapping[int, Tags] | None = None,
    generator: str = "siting",
) -> Path:
    """Write nodes and ways as OSM 0.6 XML (gzip-compressed when ``path`` ends in ``.gz``).

    Parameters
    ----------
    path
        Output file.
    node_ids, lon, lat
        Positive node ids and WGS-84 coordinates (written with 7 decimals, as OSM stores them).
    ways
        ``(way id, node ids, tags)`` per way.
    node_tags
        Tags of tagged nodes (points of interest), by node id.
    generator
        The ``generator`` attribute of the file.

    Returns
    -------
    Path
        The file written. The bytes depend only on the arguments (no timestamps).
    """
    path = Path(path)
    node_ids = np.asarray(node_ids, dtype=np.int64)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if len(node_ids) and node_ids.min() <= 0:
        raise ValueError("OSM node ids must be positive")
    node_tags = node_tags or {}
    out = io.StringIO()
    out.write("<?xml version='1.0' encoding='UTF-8'?>\n")
    out.write(f'<osm version="0.6" generator={quoteattr(generator)}>\n')
    out.write(
        f'  <bounds minlat="{lat.min():.7f}" minlon="{lon.min():.7f}" '
        f'maxlat="{lat.max():.7f}" maxlon="{lon.max():.7f}"/>\n'
    )
    for i, x, y in zip(node_ids.tolist(), lon.tolist(), lat.tolist(), strict=True):
        head = f'  <node id="{i}" version="1" lat="{y:.7f}" lon="{x:.7f}"'
        t = node_tags.get(i)
        if t:
            out.write(f"{head}>\n{_tag_xml(t, '    ')}  </node>\n")
        else:
            out.write(f"{head}/>\n")
    for wid, refs, t in ways:
        out.write(f'  <way id="{int(wid)}" version="1">\n')
        out.write("".join(f'    <nd ref="{int(r)}"/>\n' for r in refs))
        out.write(_tag_xml(t, "    "))
        out.write("  </way>\n")
    out.write("</osm>\n")
    data = out.getvalue().encode("utf-8")
    if path.name.endswith(".gz"):
        with (
            path.open("wb") as f,
            gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz,
        ):
            gz.write(data)
    else:
        path.write_bytes(data)
    return path
