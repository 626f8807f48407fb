"""Catchments over the network for :mod:`siting.evaluate`: the nearest site of each demand point
(optionally only within the site's own radius), the population each site serves, and the demand
points within each site's radius.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _catchment(
    network: Any,
    d_xy: np.ndarray,
    s_xy: np.ndarray,
    mask: np.ndarray,
    radius: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest site among ``mask`` for each demand point (positions into all sites).

    With ``radius`` (per site), only a site within its own radius counts (-1 / inf otherwise).
    """
    pos = np.flatnonzero(mask)
    none = np.full(len(d_xy), -1, dtype=np.int64), np.full(len(d_xy), np.inf)
    if len(pos) == 0 or len(d_xy) == 0:
        return none
    cutoff = None if radius is None else float(np.max(radius[pos]))
    idx, dist = network.nearest(d_xy, s_xy[pos], cutoff=cutoff)
    out = np.where(idx >= 0, pos[np.maximum(idx, 0)], -1)
    if radius is not None:
        far = (out >= 0) & (dist > radius[np.maximum(out, 0)])
        out[far] = -1
        dist = np.where(far, np.inf, dist)
    return out, dist


def _served(idx: np.ndarray, pop: Any, hh: Any, pm: Any, n: int) -> np.ndarray:
    """(3, n) population, households and Party members per site of a catchment."""
    ok = idx >= 0
    return np.vstack(
        [np.bincount(idx[ok], weights=w[ok], minlength=n) for w in (pop, hh, pm)]
    ).astype(np.float64)


def _within_radius(
    network: Any, s_xy: np.ndarray, d_xy: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(site, demand, distance) triples with distance <= the site's radius."""
    m = network.distances(s_xy, d_xy, float(np.nanmax(radius))).tocsr()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    ok = m.data <= radius[rows]
    return rows[ok], m.indices[ok].astype(np.int64), m.data[ok]
