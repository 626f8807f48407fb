"""Typed defaults used across siting. The CLI and the app override them explicitly.

Nothing here is read from the environment at import time except the cache folder, which may be
set with ``SITING_CACHE_DIR`` (so CI and tests can point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

#: CRS assumed for lon/lat input without a CRS (WGS-84).
DEFAULT_GEOGRAPHIC_CRS = "EPSG:4326"

#: A point snapped to the road network farther than this (metres) is reported.
SNAP_WARN_DISTANCE_M = 300.0

#: Spacing of grid demand points inside communities (metres).
DEMAND_GRID_SPACING_M = 100.0

#: Edge of the hexagons that aggregate uncovered population (metres, about 250 m across).
GAP_HEX_SIZE_M = 250.0

#: Service-area cut-offs drawn on maps (metres of walking).
SERVICE_AREA_CUTOFFS_M = (300.0, 500.0, 1000.0)

#: Time limit for location models (seconds).
SOLVER_TIME_LIMIT_S = 60.0

#: Largest upload accepted by the app (bytes).
MAX_UPLOAD_BYTES = 200 * 1024 * 1024

#: Standards profile used when none is named.
DEFAULT_STANDARD = "default"


def cache_dir() -> Path:
    """Folder for cached road networks (``SITING_CACHE_DIR`` or ``~/.cache/siting``)."""
    env = os.environ.get("SITING_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "siting"


def demo_dir() -> Path:
    """Folder of the bundled demo district (``data/demo`` next to the package)."""
    return Path(__file__).resolve().parent.parent / "data" / "demo"


def threads() -> int:
    """Worker threads for searches and GEOS work: ``SITING_THREADS``, else up to 4 cores."""
    env = os.environ.get("SITING_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))
