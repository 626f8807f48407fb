"""Uploaded files of one browser session: a private temporary folder, content digests.

Each session gets its own folder (``tempfile.mkdtemp``, mode 0700) held by an object in that
session's state; the folder is removed when the session ends (the object is garbage collected)
or when the interpreter exits. Nothing here is shared between sessions. Files are stored under
a sanitised name (the user's base name, never a path) and identified by their SHA-256, which the
caches use as key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

from siting import settings
from siting._errors import InputError

__all__ = ["SHAPEFILE_PARTS", "SessionFiles", "Stored", "combine_shapefile", "digest", "safe_name"]

logger = logging.getLogger(__name__)

#: Extensions the app accepts, by role (the loaders check the content).
ACCEPTED: dict[str, tuple[str, ...]] = {
    "communities": ("gpkg", "geojson", "json", "zip", "shp", "csv", "xlsx"),
    "sites": ("gpkg", "geojson", "json", "zip", "shp", "csv", "xlsx"),
    "roads": ("osm", "gz", "bz2", "pbf", "graphml", "xml"),
    "candidates": ("gpkg", "geojson", "json", "zip", "csv", "xlsx"),
    "estate": ("gpkg", "geojson", "json", "zip", "kml"),
}


@dataclass(frozen=True)
class Stored:
    """One stored upload: the name the user gave, where it is, and its SHA-256."""

    name: str
    path: Path
    sha256: str


def digest(data: bytes) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def safe_name(name: str) -> str:
    """The base name of an uploaded file with anything but letters, digits, ``._-`` replaced.

    Examples
    --------
    >>> safe_name("../../etc/passwd")
    'passwd'
    >>> safe_name("社区 边界.geojson")
    '社区_边界.geojson'
    """
    base = re.split(r"[\\/]", name)[-1].strip().lstrip(".")
    base = re.sub(r"[^\w.\-]", "_", base)
    return base[:120] or "upload"


class SessionFiles:
    """The private upload folder of one session.

    Parameters
    ----------
    max_bytes
        Largest accepted file (default :data:`siting.settings.MAX_UPLOAD_BYTES`).
    """

    def __init__(self, *, max_bytes: int = settings.MAX_UPLOAD_BYTES) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="siting-session-"))
        self.max_bytes = max_bytes
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.dir), True)

    def store(self, role: str, name: str, data: bytes) -> Stored:
        """Write an upload into ``<dir>/<role>/`` (replacing the previous one of that role).

        Raises
        ------
        InputError
            When the file is empty, too large or of an extension not accepted for ``role``.
        """
        clean = safe_name(name)
        ext = clean.rsplit(".", 1)[-1].lower() if "." in clean else ""
        if len(data) > self.max_bytes:
            raise InputError.one(
                name,
                "",
                "",
                f"the file is {len(data) / 1e6:.0f} MB, over the limit of "
                f"{self.max_bytes / 1e6:.0f} MB",
                "split the file or simplify its geometry",
            )
        if not data:
            raise InputError.one(name, "", "", "the file is empty", "upload the file again")
        allowed = ACCEPTED.get(role, ())
        if allowed and ext not in allowed:
            raise InputError.one(
                name,
                "",
                "",
                f"files of type .{ext or '?'} are not read here",
                "use one of: " + ", ".join("." + a for a in allowed),
            )
        folder = self.dir / role
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        path = folder / clean
        path.write_bytes(data)
        logger.info("stored %s upload (%d bytes)", role, len(data))
        return Stored(name=name, path=path, sha256=digest(data))

    def remove(self, role: str) -> None:
        """Forget the upload of ``role``."""
        shutil.rmtree(self.dir / role, ignore_errors=True)

    def close(self) -> None:
        """Remove the folder now."""
        self._cleanup()


#: The parts of a shapefile an upload box takes together (zipped in memory, see
#: :func:`combine_shapefile`); the first three are required.
SHAPEFILE_PARTS: tuple[str, ...] = ("shp", "dbf", "shx", "prj", "cpg")


def combine_shapefile(files: list[tuple[str, bytes]]) -> tuple[str, bytes, str]:
    """Several uploaded files as one: the parts of one shapefile (same name, extensions of
    :data:`SHAPEFILE_PARTS`) zipped in memory, as ``(<stem>.zip, bytes, <stem>.shp)`` (the
    stored name, the content, the name to show). One file is returned as it is
    (``(name, bytes, name)``).

    Raises
    ------
    InputError
        When the files are not the parts of one shapefile, or .shp, .dbf or .shx is missing
        (the message names the missing parts).
    """
    import io
    import zipfile

    if len(files) == 1:
        name, data = files[0]
        return name, data, name
    names = [safe_name(n) for n, _ in files]
    listed = ", ".join(n for n, _ in files)
    parts: dict[str, tuple[str, bytes]] = {}
    stems = set()
    for (_, data), clean in zip(files, names, strict=True):
        stem, _, ext = clean.rpartition(".")
        ext = ext.lower()
        if not stem or ext not in SHAPEFILE_PARTS or ext in parts:
            raise InputError.one(
                listed,
                "",
                "",
                "several files were given, but they are not the parts of one shapefile",
                "upload one file, or the .shp, .dbf, .shx, .prj and .cpg files of one shapefile "
                "(same name) together",
            )
        stems.add(stem.lower())
        parts[ext] = (stem, data)
    if len(stems) != 1:
        raise InputError.one(
            listed,
            "",
            "",
            "the shapefile parts have different names: " + ", ".join(sorted(stems)),
            "select the .shp, .dbf, .shx, .prj and .cpg files of one shapefile (same name)",
        )
    stem = parts[next(iter(parts))][0]
    missing = [f".{e}" for e in SHAPEFILE_PARTS[:3] if e not in parts]
    if missing:
        raise InputError.one(
            listed,
            "",
            "",
            f"the shapefile {stem} lacks its " + ", ".join(missing) + " file(s)",
            "select the .shp, .dbf and .shx files (and .prj, .cpg) together, or upload a .zip "
            "of them",
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for ext, (_, data) in parts.items():
            zf.writestr(f"{stem}.{ext}", data)
    return f"{stem}.zip", buf.getvalue(), f"{stem}.shp"
