"""Safe extraction of user zip files (zipped shapefiles, uploads).

A zip is inspected before anything is written: member names that escape the target folder
(absolute paths, drive letters, ``..``), too many members, a total uncompressed size over the
limit or an absurd compression ratio (a zip bomb) are rejected with an :class:`InputError`.
Only members with expected extensions are extracted, into a temporary folder that is removed
when the ``with`` block ends, whatever happens inside it. Nothing is executed or unpickled.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Final

from siting import settings
from siting._errors import InputError, Problem

__all__ = ["GEO_EXTENSIONS", "MAX_MEMBERS", "MAX_RATIO", "check_zip", "safe_extract"]

logger = logging.getLogger(__name__)

#: Default largest number of members in a zip.
MAX_MEMBERS: Final = 1000
#: Default largest ratio of uncompressed to compressed size (per member and overall).
MAX_RATIO: Final = 100.0
#: Extensions extracted by default: shapefile parts and the other readable formats.
GEO_EXTENSIONS: Final = frozenset(
    {".shp", ".shx", ".dbf", ".prj", ".cpg", ".gpkg", ".geojson", ".json", ".csv", ".xlsx"}
)
# Small members compress extremely well for innocent reasons (a .prj of zeros, an empty .dbf):
# the ratio rule only applies to members larger than this.
_RATIO_MIN_BYTES: Final = 1024 * 1024


def _bad(file: str, where: str, what: str, fix: str) -> Problem:
    return Problem(file, where, "", what, fix)


def _unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe to extract, or ``None``."""
    if "\x00" in name:
        return "contains a NUL character"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "is an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "climbs out of the folder with '..'"
    return None


def check_zip(
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    max_members: int = MAX_MEMBERS,
    max_bytes: int | None = None,
    max_ratio: float = MAX_RATIO,
) -> list[zipfile.ZipInfo]:
    """Inspect a zip without extracting it; return its file members.

    Parameters
    ----------
    path
        The zip file.
    label
        The file name shown in messages (default: ``path``).
    max_members
        Largest number of members.
    max_bytes
        Largest total uncompressed size (default :data:`siting.settings.MAX_UPLOAD_BYTES`).
    max_ratio
        Largest ratio of uncompressed to compressed size, for members over 1 MB and overall.

    Returns
    -------
    list of zipfile.ZipInfo
        The members that are files (folders left out).

    Raises
    ------
    InputError
        Listing every reason the zip is refused.
    """
    label = os.fspath(path) if label is None else label
    limit = settings.MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise InputError.one(
            label,
            "",
            "",
            f"is not a readable zip file ({exc})",
            "re-create the zip (for example 'Send to > Compressed folder') and upload it again",
        ) from None
    problems: list[Problem] = []
    if len(infos) > max_members:
        problems.append(
            _bad(
                label,
                "",
                f"holds {len(infos)} members, more than the limit of {max_members}",
                "zip only the files of one layer (.shp, .shx, .dbf, .prj, .cpg)",
            )
        )
    for info in infos[: max_members + 1]:
        reason = _unsafe_name(info.filename)
        if reason:
            problems.append(
                _bad(
                    label,
                    f"member {info.filename!r}",
                    f"{reason}, which is refused for safety",
                    "zip the files themselves, with plain relative names",
                )
            )
        if info.flag_bits & 0x1:
            problems.append(
                _bad(
                    label,
                    f"member {info.filename!r}",
                    "is encrypted",
                    "zip the files again without a password",
                )
            )
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if total > limit:
        problems.append(
            _bad(
                label,
                "",
                f"would unpack to {total:,} bytes, more than the limit of {limit:,}",
                "split the data or simplify geometries; an administrator can raise MAX_UPLOAD_BYTES",
            )
        )
    worst = max(
        (i for i in infos if i.file_size > _RATIO_MIN_BYTES),
        key=lambda i: i.file_size / max(i.compress_size, 1),
        default=None,
    )
    overall = total / max(packed, 1)
    if worst is not None and worst.file_size / max(worst.compress_size, 1) > max_ratio:
        ratio = worst.file_size / max(worst.compress_size, 1)
        problems.append(
            _bad(
                label,
                f"member {worst.filename!r}",
                f"compresses {ratio:,.0f} to 1, more than {max_ratio:,.0f} to 1 (looks like a zip bomb)",
                "upload the original data files, not a crafted archive",
            )
        )
    elif total > _RATIO_MIN_BYTES and overall > max_ratio:
        problems.append(
            _bad(
                label,
                "",
                f"compresses {overall:,.0f} to 1, more than {max_ratio:,.0f} to 1 (looks like a zip bomb)",
                "upload the original data files, not a crafted archive",
            )
        )
    if problems:
        raise InputError(problems)
    return [info for info in infos if not info.is_dir()]


@contextmanager
def _as_input_error(label: str) -> Iterator[None]:
    try:
        yield
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise InputError.one(
            label,
            "",
            "",
            f"is damaged and cannot be unpacked ({exc})",
            "re-create the zip and upload it again",
        ) from None


@contextmanager
def safe_extract(
    path: str | os.PathLike[str],
    *,
    label: str | None = None,
    extensions: Iterable[str] = GEO_EXTENSIONS,
    max_members: int = MAX_MEMBERS,
    max_bytes: int | None = None,
    max_ratio: float = MAX_RATIO,
) -> Iterator[list[Path]]:
    """Check a zip with :func:`check_zip`, then extract the expected files to a temporary folder.

    Parameters
    ----------
    path
        The zip file.
    label
        The file name shown in messages (default: ``path``).
    extensions
        Lower-case extensions (with the dot) to extract; other members are skipped. Folders
        inside the zip are kept; macOS ``__MACOSX`` metadata is skipped.
    max_members, max_bytes, max_ratio
        Limits, see :func:`check_zip`.

    Yields
    ------
    list of pathlib.Path
        The extracted files, sorted; the folder is deleted when the block ends.

    Raises
    ------
    InputError
        If the zip is refused, or a member unpacks to more bytes than it declared.
    """
    label = os.fspath(path) if label is None else label
    limit = settings.MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    infos = check_zip(
        path, label=label, max_members=max_members, max_bytes=limit, max_ratio=max_ratio
    )
    wanted = {e.lower() for e in extensions}
    tmp = tempfile.mkdtemp(prefix="siting-zip-")
    try:
        root = Path(tmp).resolve()
        out: list[Path] = []
        written = 0
        with zipfile.ZipFile(path) as zf, _as_input_error(label):
            for info in infos:
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if (parts and parts[0] == "__MACOSX") or PurePosixPath(name).name.startswith("._"):
                    continue
                if PurePosixPath(name).suffix.lower() not in wanted:
                    continue
                target = (root / name).resolve()
                if root not in target.parents:  # belt and braces after check_zip
                    raise InputError.one(
                        label,
                        f"member {info.filename!r}",
                        "",
                        "escapes the extraction folder",
                        "zip the files themselves, with plain relative names",
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                # Copy with a running byte count: the sizes in the zip directory can lie.
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limit:
                            raise InputError.one(
                                label,
                                f"member {info.filename!r}",
                                "",
                                f"unpacks to more than the limit of {limit:,} bytes",
                                "split the data; an administrator can raise MAX_UPLOAD_BYTES",
                            )
                        dst.write(chunk)
                out.append(target)
        logger.debug("extracted %d of %d members of %s", len(out), len(infos), label)
        yield sorted(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
