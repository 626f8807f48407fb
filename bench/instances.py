"""Seeded synthetic location instances for the benchmarks.

A city is a jittered street grid (100 m blocks, some links missing, edge lengths stretched a
little as real walking paths are); demand points are drawn from a population surface (a mixture
of a few dense centres over a thin background) and snapped to the nearest street node, the snap
distance being walked too; candidates are street nodes drawn with a probability that follows
population (sites go where people are) plus a uniform share. Network distances come from
``scipy.sparse.csgraph.dijkstra`` on that grid; nothing here depends on ``siting.network``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

__all__ = ["Instance", "make_instance"]


@dataclass(frozen=True)
class Instance:
    """One synthetic instance (distances in metres)."""

    coverage: sp.csr_array  # demand x candidates, network distance <= radius
    cover_dist: sp.csr_array  # the same pairs with their distances
    weights: np.ndarray  # population per demand point
    demand_xy: np.ndarray
    candidate_xy: np.ndarray
    seed: int
    radius: float
    full: np.ndarray | None  # dense demand x candidates network distance (when asked)


def _city(rng: np.random.Generator, width: float, spacing: float):
    k = int(width // spacing) + 1
    gx, gy = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    xy = np.column_stack([gx.ravel(), gy.ravel()]).astype(float) * spacing
    xy += rng.uniform(-0.2, 0.2, xy.shape) * spacing
    idx = np.arange(k * k).reshape(k, k)
    a = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    b = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    keep = rng.random(len(a)) > 0.12  # missing links: walls, rivers, gated estates
    a, b = a[keep], b[keep]
    length = np.linalg.norm(xy[a] - xy[b], axis=1) * rng.uniform(1.0, 1.15, len(a))
    g = sp.csr_array((length, (a, b)), shape=(k * k, k * k))
    g = sp.csr_array(g + g.T)
    _, lab = connected_components(g, directed=False)
    giant = lab == np.bincount(lab).argmax()
    return xy, g, giant


def _population(rng: np.random.Generator, n: int, width: float, n_centres: int = 8):
    centres = rng.uniform(0.1, 0.9, (n_centres, 2)) * width
    sigma = rng.uniform(0.05, 0.14, n_centres) * width
    share = rng.dirichlet(np.ones(n_centres) * 2.0)
    n_bg = int(0.15 * n)
    comp = rng.choice(n_centres, size=n - n_bg, p=share)
    pts = centres[comp] + rng.normal(size=(n - n_bg, 2)) * sigma[comp, None]
    pts = np.vstack([pts, rng.uniform(0, width, (n_bg, 2))])
    return np.clip(pts, 0, width), centres, sigma, share


def make_instance(
    n_demand: int,
    n_candidates: int,
    *,
    seed: int = 0,
    width_m: float | None = None,
    radius: float = 1000.0,
    full_distances: bool = False,
) -> Instance:
    """Build an instance of ``n_demand`` points and ``n_candidates`` candidate sites.

    ``width_m`` is the side of the square district (default grows with the number of demand
    points: about 10 km for 2,000 points). With ``full_distances`` the dense network distance
    matrix is returned as well (for p-median).
    """
    rng = np.random.default_rng(seed)
    width = width_m if width_m is not None else 10_000.0 * np.sqrt(max(n_demand, 1) / 2000.0)
    xy, g, giant = _city(rng, width, 100.0)
    nodes = np.flatnonzero(giant)
    tree = cKDTree(xy[nodes])
    pts, _, _, _ = _population(rng, n_demand, width)
    snap, node_pos = tree.query(pts)
    d_node = nodes[node_pos]
    w = np.round(rng.lognormal(np.log(250.0), 0.6, n_demand))
    # candidates: 70% follow population, 30% uniform over street nodes
    n_pop = int(0.7 * n_candidates)
    cpts, _, _, _ = _population(np.random.default_rng(seed + 1), 4 * n_candidates, width)
    _, cpos = tree.query(cpts)
    cand = np.unique(nodes[cpos])
    rng.shuffle(cand)
    cand = list(cand[:n_pop])
    rest = np.setdiff1d(nodes, cand)
    cand = np.array(cand + list(rng.choice(rest, n_candidates - len(cand), replace=False)))
    rows, cols, vals = [], [], []
    full = np.empty((n_demand, n_candidates)) if full_distances else None
    for s in range(0, n_candidates, 250):
        chunk = cand[s : s + 250]
        lim = np.inf if full_distances else radius
        dist = dijkstra(g, indices=chunk, limit=lim)[:, d_node].T + snap[:, None]
        if full is not None:
            full[:, s : s + len(chunk)] = dist
        r, c = np.nonzero(dist <= radius)
        rows.append(r)
        cols.append(c + s)
        vals.append(dist[r, c])
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    shape = (n_demand, n_candidates)
    cov_d = sp.csr_array((v, (r, c)), shape=shape)
    cov = sp.csr_array((np.ones(len(r), dtype=bool), (r, c)), shape=shape)
    return Instance(cov, cov_d, w, pts, xy[cand], seed, radius, full)
