"""A disk store of evaluations, so a restarted app shows the demo without evaluating it again.

An entry is a folder named by its key under ``<cache dir>/evaluations/``: one Parquet file (WKB
geometry) per frame of the :class:`~siting.evaluate.Evaluation` and per extra frame kept with it
(the validated inputs, for the app's demo), and ``meta.json`` with the
summary, the warnings that came with the evaluation and the key's parts. The key (:func:`entry_key`)
covers everything the result depends on: the input files' contents, the standard's values, the
demand method, the engine's source code (every ``.py`` of the package outside ``siting/ui``) and
the versions of the libraries that compute it. Any change gives a new key, so a stale entry is
never read; old entries are simply left (they are small: about 2 MB for the demo).

Writing is atomic: the files go to a temporary folder that is renamed into place; a reader
never sees half an entry, and two processes writing the same entry both succeed (the second
rename finds the first one's folder and drops its own). An entry that cannot be read (a
truncated file, a library that changed its format) is removed and recomputed by the caller.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from siting import settings

__all__ = ["FRAMES", "Stored", "code_digest", "entry_key", "load", "save", "store_dir"]

logger = logging.getLogger(__name__)

#: The Evaluation's frames, in the order they are stored.
FRAMES = ("sites", "communities", "streets", "gaps", "trajectory", "demand")
#: Libraries whose versions enter the key (their results or file formats could change).
LIBRARIES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "scipy", "pyarrow", "pyogrio")
#: Bumped when the layout of an entry changes.
FORMAT = 1


def store_dir() -> Path:
    """``<cache dir>/evaluations`` (``SITING_CACHE_DIR`` moves it, as for the networks)."""
    return settings.cache_dir() / "evaluations"


@functools.cache
def code_digest() -> str:
    """Digest of the engine's files (``siting/**/*.py`` and the shipped standards profiles
    ``*.toml``, outside ``siting/ui``) and the versions of :data:`LIBRARIES`; computed once per
    process (about 20 ms)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.toml")]):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("ui/"):
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for lib in LIBRARIES:
        try:
            version = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{lib}={version}\0".encode())
    return h.hexdigest()


def entry_key(files: Iterable[Path], *parts: str) -> str:
    """Key of an evaluation of ``files`` (by content) with the settings named by ``parts``
    (the standard and demand method, say ``"standard=default", "demand=grid"``: a shipped
    profile is named, as its file is covered by :func:`code_digest`; any other standard is
    given as its values, ``json.dumps(standard.to_dict(), sort_keys=True)``)."""
    h = hashlib.sha256(f"siting-evaluation-{FORMAT}\0{code_digest()}\0".encode())
    for path in files:
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    for part in parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()


class Stored(NamedTuple):
    """What :func:`load` gives back."""

    evaluation: Any
    #: the warnings that came with it, by step (as given to :func:`save`)
    notes: dict[str, list[str]]
    #: the other frames given to :func:`save` (``extra``), by name
    extra: dict[str, Any]


def save(
    key: str,
    evaluation: Any,
    notes: Mapping[str, Sequence[str]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Store ``evaluation`` under ``key``; returns the folder.

    ``notes``: the warnings that came with it, by step (``{"network": [...], ...}``);
    ``extra``: other (Geo)DataFrames to keep with it (the validated inputs, say), by name.
    Both are given back by :func:`load`.

    Raises
    ------
    OSError
        When the cache folder cannot be written (the caller goes on without the store).
    """
    final = store_dir() / key
    if (final / "meta.json").exists():
        return final
    frames = {name: getattr(evaluation, name) for name in FRAMES}
    extra = dict(extra or {})
    clash = set(extra) & set(frames)
    if clash:
        raise ValueError(f"extra frames may not be named like the evaluation's: {sorted(clash)}")
    frames.update(extra)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
    try:
        for name, frame in frames.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=True)
        crs = {n: getattr(f, "crs", None) for n, f in frames.items()}
        meta = {
            "format": FORMAT,
            "frames": list(frames),
            "extra": list(extra),
            "crs": {n: c.to_wkt() for n, c in crs.items() if c is not None},
            "geo": {n: f.geometry.name for n, f in frames.items() if hasattr(f, "geometry")},
            "summary": evaluation.summary,
            "notes": {k: list(v) for k, v in (notes or {}).items()},
        }
        (tmp / "meta.json").write_text(
            json.dumps(meta, ensure_ascii=False, allow_nan=True, default=_jsonable),
            encoding="utf-8",
        )
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "meta.json").exists():  # not another writer's finished entry
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def load(key: str, standard: Any) -> Stored | None:
    """The evaluation stored under ``key`` with its notes and extra frames (see :func:`save`),
    or None when there is none (or it cannot be read). ``standard`` is the one the key was made
    with (it is not stored)."""
    folder = store_dir() / key
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    try:
        import geopandas as gpd
        import pandas as pd
        from pyproj import CRS

        from siting.evaluate import Evaluation

        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            return None
        crs_cache: dict[str, Any] = {}
        frames = {}
        for name in meta["frames"]:
            frame = pd.read_parquet(folder / f"{name}.parquet")
            if name in meta["geo"]:
                # geometry from WKB with one CRS object per distinct CRS: geopandas.read_parquet
                # parses the CRS of every file again (about 40 ms each)
                wkt = meta["crs"].get(name)
                if wkt is not None and wkt not in crs_cache:
                    crs_cache[wkt] = CRS.from_wkt(wkt)
                col = meta["geo"][name]
                frame[col] = gpd.GeoSeries.from_wkb(frame[col], index=frame.index)
                frame = gpd.GeoDataFrame(
                    frame, geometry=col, crs=None if wkt is None else crs_cache[wkt]
                )
            frames[name] = frame
        extra = {name: frames.pop(name) for name in meta["extra"]}
        evaluation = Evaluation(**frames, summary=meta["summary"], standard=standard)
    except Exception as exc:  # a damaged or foreign entry: dropped, the caller evaluates again
        logger.warning("dropping the unreadable stored evaluation %s: %s", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return Stored(evaluation, {k: list(v) for k, v in meta["notes"].items()}, extra)


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in the summary as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
