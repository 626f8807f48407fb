"""Fast reading of OpenStreetMap files (XML ``.osm``/``.osm.bz2``/``.osm.gz`` and PBF) into arrays.

One streaming pass with pyosmium (C++ parsing, node locations kept in its own index) keeps the
walkable ``highway=*`` ways and returns node coordinates (lon/lat), undirected edges between
consecutive way nodes and their great-circle lengths, restricted to the largest connected
component. No networkx graph is built, which is what makes this much faster than
``osmnx.graph_from_xml`` on a city extract.

Walkable-way filter (:func:`walkable`), decided for Chinese districts:

- only ways with a ``highway`` tag; ``oneway`` is ignored (people walk both ways);
- dropped: ``area=yes`` (squares drawn as outlines), ``foot=no``, ``access=private|no`` unless
  ``foot=yes|designated|permissive``, ``motorway``/``motorway_link`` and ``motorroad=yes``
  (expressways, elevated roads 高架) unless ``foot=yes``, and ways that are not (yet) roads:
  ``construction``, ``proposed``, ``planned``, ``abandoned``, ``razed``, ``disused``, ``raceway``,
  ``bus_guideway``, ``escape``, ``no``, ``services``, ``rest_area``;
- kept: ``trunk``/``trunk_link`` (in Chinese cities these usually have sidewalks; tagged
  ``foot=no`` where walking is forbidden), ``cycleway`` (walked in practice), ``steps``,
  ``elevator``, ``platform``, ``service``, ``footway``, ``path``, ``pedestrian`` and the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from siting._errors import InputError, warn

__all__ = [
    "EARTH_RADIUS_M",
    "RawNetwork",
    "great_circle",
    "read_osm",
    "read_osm_cached",
    "read_osm_osmnx",
    "walkable",
]

log = logging.getLogger(__name__)

#: ``highway`` values of paths a car extract leaves out: a file without any is a drive network.
WALK_ONLY_HIGHWAY = frozenset(
    {"footway", "path", "pedestrian", "steps", "cycleway", "service", "track", "corridor"}
)

#: A file with at least this many walkable ways and no footway/path/service way is taken for a
#: drive-only extract.
DRIVE_ONLY_MIN_WAYS = 50

#: Mean Earth radius used for great-circle lengths (same as osmnx).
EARTH_RADIUS_M = 6_371_009.0

#: ``highway`` values that are not walkable streets.
EXCLUDED_HIGHWAY = frozenset(
    {
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "razed",
        "disused",
        "raceway",
        "bus_guideway",
        "escape",
        "no",
        "services",
        "rest_area",
    }
)
MOTORWAY = frozenset({"motorway", "motorway_link"})
FOOT_OK = frozenset({"yes", "designated", "permissive"})

#: Suffixes pyosmium reads.
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".pbf", ".osm.pbf", ".xml", ".o5m")


@dataclass
class RawNetwork:
    """Arrays of a walking network in lon/lat (WGS-84)."""

    lon: np.ndarray
    lat: np.ndarray
    #: node key: the OSM fixed-point location (1e-7 degree) of lon and lat packed in 64 bits
    #: (see :func:`node_key`); OSM node ids are not kept
    osmid: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


def _linestring_coords(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of hex-WKB linestrings and the index of the line each belongs to.

    Decoded with numpy in one pass (hex -> bytes once, then the fixed WKB layout: byte order,
    type, point count, x/y doubles), several times faster than parsing each line with GEOS.
    Falls back to shapely for anything but plain little-endian 2D linestrings.
    """
    if not lines:
        return np.empty((0, 2)), np.empty(0, dtype=np.int64)
    lens = np.fromiter((len(h) for h in lines), dtype=np.int64, count=len(lines)) // 2
    buf = np.frombuffer(bytes.fromhex("".join(lines)), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    head = buf[starts[:, None] + np.arange(9)]
    kind = head[:, 1:5].copy().view("<u4").ravel()
    if not ((head[:, 0] == 1).all() and (kind == 2).all()):
        geoms = shapely.from_wkb(lines)
        return shapely.get_coordinates(geoms, return_index=True)
    npts = head[:, 5:9].copy().view("<u4").ravel().astype(np.int64)
    line = np.repeat(np.arange(len(lines)), npts)
    # everything but the 9-byte headers is the x/y doubles of the lines, in order
    header = np.zeros(len(buf), dtype=bool)
    header[(starts[:, None] + np.arange(9)).ravel()] = True
    xy = buf[~header].view("<f8").reshape(-1, 2)
    return xy, line


def node_key(lon: Any, lat: Any) -> np.ndarray:
    """The key of nodes at ``lon``/``lat`` as :func:`read_osm` builds it (``RawNetwork.osmid``)."""
    fx = np.round(np.asarray(lon, dtype=np.float64) * 1e7).astype(np.int64)
    fy = np.round(np.asarray(lat, dtype=np.float64) * 1e7).astype(np.int64)
    return ((fx + (1 << 31)) << 32) | (fy + (1 << 31))


def walkable(tags: Any) -> str:
    """Why a way is not walkable (``""`` when it is); ``tags`` is a mapping-like tag list."""
    hw = tags.get("highway")
    if hw is None:
        return "not highway"
    if tags.get("area") == "yes":
        return "area=yes"
    foot = tags.get("foot")
    if foot == "no":
        return "foot=no"
    if hw in EXCLUDED_HIGHWAY:
        return f"highway={hw}"
    if (hw in MOTORWAY or tags.get("motorroad") == "yes") and foot not in FOOT_OK:
        return "motorway"
    if tags.get("access") in ("private", "no") and foot not in FOOT_OK:
        return "access=private/no"
    return ""


def great_circle(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Haversine distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def read_osm(path: str | Path, *, label: str | None = None) -> RawNetwork:
    """Read the walkable network of an OSM file, largest connected component only.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    label
        Name of the file in messages (default: the file name).

    Returns
    -------
    RawNetwork
        Node lon/lat and OSM ids, undirected edges (node positions) with great-circle lengths,
        and ``report``: counts of ways kept and dropped by reason, nodes and edges dropped.

    Raises
    ------
    InputError
        When the file is unreadable or not OSM, holds no ways, or no walkable ways.
    """
    import osmium

    path = Path(path)
    name = label or path.name
    if not path.exists():
        raise InputError.one(name, "", "", "the road file does not exist", "check the path")
    if path.stat().st_size == 0:
        raise InputError.one(
            name, "", "", "the road file is empty", "export the roads again from OpenStreetMap"
        )

    wkb = osmium.geom.WKBFactory()
    all_nodes = osmium.geom.use_nodes.ALL  # one coordinate per node reference
    lines: list[str] = []  # hex WKB of whole ways, built by osmium in C++
    pieces: list[list[tuple[float, float]]] = []  # ways with nodes missing, split there
    dropped: dict[str, int] = {}
    n_ways = 0
    walk_only = 0
    missing = 0
    try:
        fp = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        )
        for w in fp:
            if not isinstance(w, osmium.osm.Way):  # the entity filter passes ways only
                continue
            n_ways += 1
            why = walkable(w.tags)
            if why:
                dropped[why] = dropped.get(why, 0) + 1
                continue
            if w.tags.get("highway") in WALK_ONLY_HIGHWAY:
                walk_only += 1
            try:
                lines.append(wkb.create_linestring(w, use_nodes=all_nodes))
            except (RuntimeError, osmium.InvalidLocationError):
                # a node outside a clipped extract (or a one-node way): split the way there
                piece: list[tuple[float, float]] = []
                for nr in w.nodes:
                    loc = nr.location
                    if loc.valid():
                        piece.append((loc.lon, loc.lat))
                    else:
                        missing += 1
                        pieces.append(piece)
                        piece = []
                pieces.append(piece)
    except (RuntimeError, OSError, ValueError) as exc:
        raise InputError.one(
            name,
            "",
            "",
            f"cannot read it as OpenStreetMap data ({exc})",
            "give an OSM XML (.osm, .osm.bz2, .osm.gz) or PBF (.osm.pbf) road file",
        ) from exc
    if n_ways == 0:
        raise InputError.one(
            name,
            "",
            "",
            "the file holds no OSM ways (empty or not an OSM extract)",
            "export the district's roads from OpenStreetMap (XML or PBF)",
        )
    kept = n_ways - sum(dropped.values())
    if kept == 0:
        raise InputError.one(
            name,
            "",
            "highway",
            f"none of its {n_ways} ways is a walkable highway=* way",
            "use an extract that contains the street network",
        )
    # every way as a run of coordinates; consecutive coordinates of one way are an edge
    xy, way = _linestring_coords(lines)
    pieces = [p for p in pieces if len(p) >= 2]
    if pieces:
        extra = np.concatenate([np.asarray(p, dtype=np.float64) for p in pieces])
        extra_way = np.repeat(np.arange(len(pieces)) + len(lines), [len(p) for p in pieces])
        xy = np.concatenate([xy, extra]) if len(xy) else extra
        way = np.concatenate([way, extra_way]) if len(way) else extra_way
    # Nodes are identified by their location in OSM's own fixed-point units (1e-7 degree, about
    # 1 cm): OSM stores locations that way, so two references to one node always match. (Two
    # distinct nodes mapped at exactly the same spot become one, which is what walking needs.)
    key = node_key(xy[:, 0], xy[:, 1])
    uniq, inv = np.unique(key, return_inverse=True)
    node_lon = np.empty(len(uniq))
    node_lat = np.empty(len(uniq))
    node_lon[inv] = xy[:, 0]
    node_lat[inv] = xy[:, 1]
    same_way = way[1:] == way[:-1]
    u, v = inv[:-1][same_way], inv[1:][same_way]
    loop = u == v
    u, v = u[~loop], v[~loop]
    length = great_circle(node_lon[u], node_lat[u], node_lon[v], node_lat[v])
    if len(u) == 0:
        raise InputError.one(
            name,
            "",
            "highway",
            "the walkable ways have no segments (nodes missing from the extract)",
            "use a complete extract (with the ways' nodes)",
        )
    report = {
        "ways_total": n_ways,
        "ways_kept": kept,
        "ways_dropped": dict(sorted(dropped.items())),
        "ways_walk_only": walk_only,
        "nodes_missing_from_extract": missing,
    }
    return _largest_component(name, uniq, node_lon, node_lat, u, v, length, report)


def _largest_component(
    name: str,
    osmid: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length: np.ndarray,
    report: dict[str, Any],
) -> RawNetwork:
    """Keep the largest connected component and complete ``report`` with what was dropped."""
    n = len(osmid)
    adj = sparse.csr_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    ncomp, comp = csgraph.connected_components(adj, directed=False)
    sizes = np.bincount(comp, minlength=ncomp)
    big = int(np.argmax(sizes))
    keep = comp == big
    newpos = np.cumsum(keep) - 1
    ek = keep[u]
    report = {
        **report,
        "components": int(ncomp),
        "nodes_total": int(n),
        "nodes_kept": int(keep.sum()),
        "edges_kept": int(ek.sum()),
        "nodes_dropped_outside_largest_component": int(n - keep.sum()),
        "edges_dropped_outside_largest_component": int((~ek).sum()),
    }
    log.info(
        "%s: %s of %s ways walkable; kept %d nodes, %d edges (largest of %d components); "
        "dropped ways %s, %d nodes in smaller components",
        name,
        report.get("ways_kept", "?"),
        report.get("ways_total", "?"),
        int(keep.sum()),
        int(ek.sum()),
        ncomp,
        report.get("ways_dropped", {}),
        report["nodes_dropped_outside_largest_component"],
    )
    return RawNetwork(
        lon=lon[keep],
        lat=lat[keep],
        osmid=osmid[keep],
        u=newpos[u[ek]],
        v=newpos[v[ek]],
        length=length[ek],
        report=report,
    )


def read_osm_osmnx(path: str | Path, *, label: str | None = None) -> RawNetwork:
    """Like :func:`read_osm` but parsed by ``osmnx.graph_from_xml`` (slower; a fallback).

    osmnx keeps only some way tags on edges (``highway``, ``access``, ``area``...), so the
    ``foot``/``motorroad`` parts of :func:`walkable` apply only when osmnx kept those tags.
    """
    import osmnx as ox

    path = Path(path)
    name = label or path.name
    if not path.exists() or path.stat().st_size == 0:
        raise InputError.one(name, "", "", "the road file is missing or empty", "check the path")
    try:
        G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    except Exception as exc:  # osmnx raises many kinds on bad XML
        raise InputError.one(
            name,
            "",
            "",
            f"osmnx cannot read it as OpenStreetMap XML ({exc})",
            "give an OSM XML (.osm, .osm.bz2) road file",
        ) from exc
    nodes = np.fromiter(G.nodes, dtype=np.int64, count=G.number_of_nodes())
    if len(nodes) == 0:
        raise InputError.one(
            name, "", "highway", "no walkable ways in the file", "use an extract with streets"
        )
    data = G.nodes
    lon = np.array([data[k]["x"] for k in nodes.tolist()], dtype=np.float64)
    lat = np.array([data[k]["y"] for k in nodes.tolist()], dtype=np.float64)
    pos = {k: i for i, k in enumerate(nodes.tolist())}
    dropped: dict[str, int] = {}
    uu, vv = [], []
    for a, b, d in G.edges(data=True):
        tags = {k: (v[0] if isinstance(v, list) else v) for k, v in d.items()}
        why = walkable(tags)
        if why:
            dropped[why] = dropped.get(why, 0) + 1
            continue
        if a != b:
            uu.append(pos[a])
            vv.append(pos[b])
    if not uu:
        raise InputError.one(
            name, "", "highway", "no walkable ways in the file", "use an extract with streets"
        )
    u = np.asarray(uu, dtype=np.int64)
    v = np.asarray(vv, dtype=np.int64)
    und = np.unique(np.column_stack([np.minimum(u, v), np.maximum(u, v)]), axis=0)
    u, v = und[:, 0], und[:, 1]
    used = np.zeros(len(nodes), dtype=bool)
    used[u] = used[v] = True
    newpos = np.cumsum(used) - 1
    u, v = newpos[u], newpos[v]
    lon, lat, nodes = lon[used], lat[used], nodes[used]
    length = great_circle(lon[u], lat[u], lon[v], lat[v])
    report = {"engine": "osmnx", "edges_dropped": dict(sorted(dropped.items()))}
    return _largest_component(name, nodes, lon, lat, u, v, length, report)


# --------------------------------------------------------------------------- cache
#: Bump when the filter or the cached arrays change, so old caches are not reused.
CACHE_VERSION = 3  # 3: ways_walk_only in the report


def file_digest(path: str | Path) -> str:
    """SHA-256 of the file's bytes (hex). Any change of content gives a new cache key.

    Hashing the whole file (about 1 s per GB) is cheap next to parsing it, and unlike size and
    modification time it cannot miss an edit or be fooled by a copy.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def cache_path(path: str | Path, *, engine: str = "pyosmium") -> Path:
    """Cache file of a road file: ``<cache_dir>/networks/<sha256>-<engine>-v<version>.npz``."""
    from siting import settings

    key = f"{file_digest(path)}-{engine}-v{CACHE_VERSION}"
    return settings.cache_dir() / "networks" / f"{key}.npz"


def save_cache(raw: RawNetwork, target: Path) -> None:
    """Write ``raw`` as an uncompressed ``.npz`` (plain arrays, no pickle), atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        lon=raw.lon,
        lat=raw.lat,
        osmid=raw.osmid,
        u=raw.u.astype(np.int32 if len(raw.lon) < 2**31 else np.int64),
        v=raw.v.astype(np.int32 if len(raw.lon) < 2**31 else np.int64),
        length=raw.length,
        report=np.array(json.dumps(raw.report)),
    )
    os.replace(tmp, target)


def load_cache(target: Path) -> RawNetwork | None:
    """Read a cache file written by :func:`save_cache` (``None`` when missing or unreadable)."""
    if not target.exists():
        return None
    try:
        with np.load(target, allow_pickle=False) as z:
            return RawNetwork(
                lon=z["lon"],
                lat=z["lat"],
                osmid=z["osmid"],
                u=z["u"].astype(np.int64),
                v=z["v"].astype(np.int64),
                length=z["length"],
                report=json.loads(str(z["report"])),
            )
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable network cache %s (%s)", target, exc)
        return None


def read_osm_cached(
    path: str | Path, *, engine: str = "pyosmium", cache: bool = True, label: str | None = None
) -> RawNetwork:
    """:func:`read_osm` (or :func:`read_osm_osmnx`) through the on-disk cache."""
    reader = {"pyosmium": read_osm, "osmnx": read_osm_osmnx}.get(engine)
    if reader is None:
        raise ValueError(f"engine must be 'pyosmium' or 'osmnx', not {engine!r}")
    target = cache_path(path, engine=engine) if cache and Path(path).is_file() else None
    if target is not None:
        raw = load_cache(target)
        if raw is not None:
            log.info("%s: network loaded from cache %s", label or Path(path).name, target.name)
            raw.report["cached"] = True
            _warn_drive_only(raw, label or Path(path).name)
            return raw
    raw = reader(path, label=label)
    if target is not None:
        try:
            save_cache(raw, target)
        except OSError as exc:
            log.warning("cannot write network cache %s (%s)", target, exc)
    raw.report["cached"] = False
    _warn_drive_only(raw, label or Path(path).name)
    return raw


def _warn_drive_only(raw: RawNetwork, name: str) -> None:
    """Warn when the roads look like a drive-only extract (no footway, path or service way)."""
    kept, walk_only = raw.report.get("ways_kept", 0), raw.report.get("ways_walk_only")
    if walk_only == 0 and kept >= DRIVE_ONLY_MIN_WAYS:
        warn(
            f"{name}: highway: none of its {kept:,} walkable ways is a footway, path or "
            "service road: it looks like a drive-only extract (osmnx network_type='drive'), so "
            "walks through estates and alleys are missing and walking distances come out too "
            "long - use a walk or all-roads extract (network_type='walk' or 'all')"
        )
