"""The evaluation pipeline shared by the CLI and the app: load, build distances, evaluate, write.

Each step is a plain function so the app can cache them separately (the road network by file
content, the evaluation by inputs and parameters).
"""

from __future__ import annotations

import contextlib
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import settings
from siting._errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "Inputs",
    "demo_paths",
    "evaluate_inputs",
    "load_inputs",
    "load_network",
    "write_outputs",
]


@dataclass(frozen=True)
class Inputs:
    """Validated inputs of one district, all in one metric CRS."""

    communities: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    roads: str | None
    files: dict[str, str] = field(default_factory=dict)
    is_demo: bool = False


def demo_paths() -> dict[str, Path]:
    """Paths of the bundled demo district's files.

    Raises
    ------
    InputError
        When the demo folder is missing (a broken install).
    """
    d = settings.demo_dir()
    paths = {
        "communities": d / "communities.gpkg",
        "sites": d / "sites.gpkg",
        "roads": d / "roads.osm.gz",
        "candidates": d / "candidates.gpkg",
        "estate": d / "estate.geojson",
        "estate_site": d / "estate_site.geojson",
        "water": d / "water.geojson",
    }
    if not paths["communities"].exists():
        raise InputError.one(
            str(d),
            "",
            "",
            "the bundled demo district is missing",
            "install siting from its source folder (pip install -e .) or run `siting demo --out DIR`",
        )
    return paths


def load_inputs(
    communities: str | Path | None = None,
    sites: str | Path | None = None,
    *,
    roads: str | Path | None = None,
    coords: str = "wgs84",
    crs: str | None = None,
    communities_coords: str | None = None,
    sites_coords: str | None = None,
) -> Inputs:
    """Load and validate communities and sites (the bundled demo when both are None).

    Parameters
    ----------
    communities, sites
        Files as accepted by :func:`siting.io.load_communities` / :func:`siting.io.load_sites`.
    roads
        A road file, ``"none"`` for straight-line distances, or None: the demo's roads for the
        demo, straight-line for user data.
    coords
        Coordinate system of lon/lat inputs: ``wgs84``, ``cgcs2000``, ``gcj02`` or ``bd09``
        (never applied to projected survey data such as CGCS2000 Gauss-Kruger).
    communities_coords, sites_coords
        The same for one file (default: ``coords``), e.g. AMap sites with bureau communities.
    crs
        CRS for inputs that carry none (e.g. ``EPSG:4549``).
    """
    from siting import io

    is_demo = communities is None and sites is None
    if is_demo:
        p = demo_paths()
        communities, sites = p["communities"], p["sites"]
        if roads is None:
            roads = p["roads"]
    elif communities is None or sites is None:
        missing = "--communities" if communities is None else "--sites"
        raise InputError.one(
            "",
            "",
            missing,
            "only one of --communities and --sites was given",
            "give both files, or neither to use the bundled demo district",
        )
    comm = io.load_communities(communities, coords=communities_coords or coords, crs=crs)
    st = io.load_sites(sites, coords=sites_coords or coords, crs=crs, communities=comm)
    roads_s = None if roads is None or str(roads).lower() == "none" else str(roads)
    files = {"communities": str(communities), "sites": str(sites), "roads": roads_s or "none"}
    return Inputs(comm, st, roads_s, files, is_demo)


def demo_inputs(communities: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> Inputs:
    """The demo's :class:`Inputs` from its frames as :func:`load_inputs` validated them (kept by
    the app's evaluation store), with the demo's current file paths."""
    p = demo_paths()
    files = {
        "communities": str(p["communities"]),
        "sites": str(p["sites"]),
        "roads": str(p["roads"]),
    }
    return Inputs(communities, sites, str(p["roads"]), files, True)


def load_network(roads: str | None, communities: gpd.GeoDataFrame) -> Any:
    """The distance provider: a walking network from ``roads``, or straight lines when None."""
    from siting.network import EuclideanNetwork, WalkNetwork, check_covers

    if roads is None:
        return EuclideanNetwork(communities.crs)
    net = WalkNetwork.from_file(roads, crs=communities.crs)
    try:
        check_covers(net, communities, "communities")
    except InputError as err:
        raise _crs_first(err, net, communities) from None
    return net


def _crs_first(err: InputError, net: Any, communities: gpd.GeoDataFrame) -> InputError:
    """The road check's error, saying that the communities' CRS may be wrong when it came from
    --crs or was assumed (a wrong --crs moves a whole file by hundreds of kilometres), and
    naming a CGCS2000 Gauss-Kruger zone that puts the communities on the roads when one does."""
    from siting._errors import Problem
    from siting._loading import CRS_CODE, CRS_FILE, CRS_READ, CRS_SOURCE

    source = communities.attrs.get(CRS_SOURCE)
    if source not in ("option", "assumed") or len(err.problems) != 1:
        return err
    first = err.problems[0]
    read = communities.attrs.get(CRS_READ, "")
    said = "from --crs" if source == "option" else "assumed, as the file has none"
    roads = first.file or "the road file"
    what = first.what.split(";")[0].replace("features of communities lie", "features lie")
    what = what.replace("the road network's extent", f"the extent of {roads}")
    better = _crs_on_roads(net, communities, communities.attrs.get(CRS_CODE))
    if better is not None:
        code, n = better
        hint = f": read in {code}, {n} of {len(communities)} would (give --crs {code} if that is the data's CRS)"
    else:
        hint = " (give the CRS the coordinates are in, e.g. from their .prj file)"
    return InputError(
        [
            Problem(
                communities.attrs.get(CRS_FILE, "communities"),
                "",
                "crs",
                f"{what} when read in {read} ({said}); the coordinates may be in another CRS",
                f"check --crs first{hint}; if the CRS is right, use a road file that covers the "
                "area of the communities",
            )
        ]
    )


def _crs_on_roads(
    net: Any, communities: gpd.GeoDataFrame, code: str | None
) -> tuple[str, int] | None:
    """The CGCS2000 3-degree Gauss-Kruger CRS (EPSG:4513-4554) in which most communities lie
    within the road network's extent, with how many; None if none does or the data were not
    read in a projected CRS."""
    import pyproj

    if not code:
        return None
    read = pyproj.CRS.from_user_input(code)
    if not read.is_projected or net.crs is None:
        return None
    xy = shapely.get_coordinates(communities.geometry.representative_point().to_crs(read).values)
    minx, miny, maxx, maxy = net.bounds
    m = settings.SNAP_WARN_DISTANCE_M
    best: tuple[str, int] | None = None
    for epsg in range(4513, 4555):
        candidate = pyproj.CRS.from_epsg(epsg)
        if candidate.equals(read):
            continue
        t = pyproj.Transformer.from_crs(candidate, net.crs, always_xy=True)
        x, y = t.transform(xy[:, 0], xy[:, 1])
        inside = (x >= minx - m) & (x <= maxx + m) & (y >= miny - m) & (y <= maxy + m)
        n = int(np.count_nonzero(inside))
        if n >= 0.5 * len(xy) and (best is None or n > best[1]):
            best = (f"EPSG:{epsg}", n)
    return best


def evaluate_inputs(
    inputs: Inputs,
    network: Any,
    *,
    standard: Any = None,
    demand: str = "grid",
    spacing: float = settings.DEMAND_GRID_SPACING_M,
) -> Any:
    """Run :func:`siting.evaluate.evaluate` on loaded inputs."""
    from siting.evaluate import evaluate
    from siting.standards import load_standard

    std = (
        standard
        if standard is not None and not isinstance(standard, str)
        else load_standard(standard or settings.DEFAULT_STANDARD)
    )
    return evaluate(
        inputs.communities, inputs.sites, network, standard=std, demand=demand, spacing=spacing
    )


def write_outputs(
    evaluation: Any,
    out_dir: str | Path,
    *,
    network: Any = None,
    basemap: str = "none",
    tianditu_key: str | None = None,
    side: Any = None,
) -> dict[str, Path]:
    """Write summary.json, sites.csv, communities.csv, streets.csv, gaps.geojson, report.xlsx
    and map.html into ``out_dir``; returns the paths written.

    ``side``: a :class:`siting._sideproc.SideProcess` to write the workbook in while this
    process writes the rest (the same file either way).
    """
    from concurrent.futures import ThreadPoolExecutor

    from siting.maps import district_map, save_map
    from siting.report import SHEETS, write_evaluation_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["report"] = out / "report.xlsx"
    if side is not None:  # the tables without geometry (the workbook has none) to the process
        parts = {a: getattr(evaluation, a, None) for a in SHEETS.values()}
        parts = {
            a: pd.DataFrame(v.drop(columns=v.geometry.name))
            if isinstance(v, gpd.GeoDataFrame)
            else v
            for a, v in parts.items()
        }
        report_done = side.run(write_evaluation_xlsx, parts, paths["report"])
    else:
        write_evaluation_xlsx(evaluation, paths["report"])
        report_done = None
    # service areas are GEOS work (no GIL): draw them while the tables are written
    pool = ThreadPoolExecutor(1)
    areas_job = (
        pool.submit(service_areas_for_map, evaluation, network) if network is not None else None
    )

    paths["summary"] = out / "summary.json"
    _atomic_text(paths["summary"], json.dumps(evaluation.summary, ensure_ascii=False, indent=2))

    sites = _with_lonlat(evaluation.sites)
    paths["sites"] = out / "sites.csv"
    _atomic_text(paths["sites"], sites.to_csv(index=False), encoding="utf-8-sig")
    comms = _with_lonlat(evaluation.communities)
    paths["communities"] = out / "communities.csv"
    _atomic_text(paths["communities"], comms.to_csv(index=False), encoding="utf-8-sig")
    paths["streets"] = out / "streets.csv"
    _atomic_text(paths["streets"], evaluation.streets.to_csv(index=False), encoding="utf-8-sig")

    paths["gaps"] = out / "gaps.geojson"
    gaps = evaluation.gaps.to_crs(4326)
    tmp = paths["gaps"].with_suffix(".tmp.geojson")
    gaps.to_file(tmp, driver="GeoJSON", engine="pyogrio")
    tmp.replace(paths["gaps"])

    areas = areas_job.result() if areas_job is not None else None
    pool.shutdown()
    paths["map"] = out / "map.html"
    m = district_map(evaluation, service_areas=areas, basemap=basemap, tianditu_key=tianditu_key)
    save_map(m, paths["map"])
    if report_done is not None:
        report_done()
    return paths


def service_areas_for_map(
    evaluation: Any, network: Any, cutoffs: Sequence[float] | None = None
) -> gpd.GeoDataFrame:
    """Walking service areas of the station-or-higher sites, for maps.

    Parameters
    ----------
    evaluation
        The evaluation (its ``sites`` frame with ``radius_m``).
    network
        The distance provider.
    cutoffs
        Walking distances to draw for every site (e.g. 300/500/1,000 m); None draws each site's
        own service radius (stations 500 m, centers 1,000 m in the default profile), which is
        what the coverage figures use and a third of the work.
    """
    from siting.schema import STATION_OR_HIGHER

    sites = evaluation.sites
    keep = sites[sites["level"].isin(STATION_OR_HIGHER)].reset_index(drop=True)
    if cutoffs is not None:
        radius = np.broadcast_to(np.nan, len(keep))
        groups = [(np.arange(len(keep)), [float(c) for c in cutoffs])]
    else:
        radius = keep["radius_m"].to_numpy(dtype=float)
        groups = [(np.flatnonzero(radius == r), [float(r)]) for r in np.unique(radius)]
    key = _areas_key(network, keep, radius, cutoffs)
    cached = _load_areas(key, keep.crs)
    if cached is not None:
        return cached
    parts = [(rows, network.service_areas(keep.geometry.iloc[rows], cuts)) for rows, cuts in groups]
    frames = []
    for rows, areas in parts:
        idx = rows[areas["point_index"].to_numpy()]
        frames.append(
            areas.assign(
                point_index=idx,
                site_id=keep["site_id"].to_numpy()[idx],
                level=keep["level"].to_numpy()[idx],
            )
        )
    if not frames:
        return gpd.GeoDataFrame(
            {"point_index": [], "cutoff_m": [], "site_id": [], "level": []},
            geometry=[],
            crs=sites.crs,
        )
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=sites.crs)
    _save_areas(key, out)
    return out


def _areas_key(network: Any, sites: gpd.GeoDataFrame, radius: Any, cutoffs: Any) -> str | None:
    """Cache key of service areas: the network's arrays, the sites' points and the radii."""
    if getattr(network, "kind", "") != "network":
        return None  # straight-line areas are circles: cheap, not cached
    import hashlib

    h = hashlib.sha256(b"siting-areas-v1")
    for arr in (network.x, network.y, network.u, network.v, network.length):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(shapely.get_coordinates(sites.geometry.values).tobytes())
    h.update(np.asarray(radius, dtype=float).tobytes())
    h.update(repr(None if cutoffs is None else [float(c) for c in cutoffs]).encode())
    h.update(sites["site_id"].astype(str).str.cat(sep="\x1f").encode("utf-8"))
    return h.hexdigest()[:32]


def _areas_path(key: str) -> Path:
    return settings.cache_dir() / "areas" / f"{key}.npz"


def _load_areas(key: str | None, crs: Any) -> gpd.GeoDataFrame | None:
    if key is None or not _areas_path(key).exists():
        return None
    try:
        with np.load(_areas_path(key), allow_pickle=False) as z:
            return gpd.GeoDataFrame(
                {
                    "point_index": z["point_index"],
                    "cutoff_m": z["cutoff_m"],
                    "site_id": z["site_id"].astype(object),
                    "level": z["level"].astype(object),
                },
                geometry=shapely.from_wkb(z["wkb"]),
                crs=crs,
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        logger.info("ignoring an unreadable service-area cache file %s", _areas_path(key))
        return None


def _save_areas(key: str | None, areas: gpd.GeoDataFrame) -> None:
    if key is None:
        return
    import os
    import threading

    path = _areas_path(key)
    # a temporary name of this process and thread: sessions drawing the same areas at once
    # each write their own file and the last rename wins (one shared name could interleave)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            tmp,
            point_index=areas["point_index"].to_numpy(dtype=np.int64),
            cutoff_m=areas["cutoff_m"].to_numpy(dtype=float),
            site_id=areas["site_id"].to_numpy(dtype=str),
            level=areas["level"].to_numpy(dtype=str),
            wkb=shapely.to_wkb(areas.geometry.values, hex=True).astype(str),
        )
        tmp.replace(path)
    except OSError as exc:  # a read-only cache folder only costs time
        logger.info("could not cache service areas: %s", exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _with_lonlat(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The frame without geometry, with WGS-84 ``lon``/``lat`` of each point (a point inside
    each polygon), so a CSV reader can check where things are."""
    pts = shapely.point_on_surface(frame.geometry.values)
    lonlat = gpd.GeoSeries(pts, crs=frame.crs).to_crs(4326)
    xy = shapely.get_coordinates(lonlat.values) if len(frame) else np.empty((0, 2))
    out = pd.DataFrame(frame.drop(columns="geometry"))
    out["lon"] = np.round(xy[:, 0], 6)
    out["lat"] = np.round(xy[:, 1], 6)
    return out


def _atomic_text(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding=encoding)
    tmp.replace(path)
