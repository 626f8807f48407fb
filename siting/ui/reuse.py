"""A distance provider that remembers its answers, so a radius change does not search again.

:class:`ReuseNetwork` wraps a :class:`~siting.network.WalkNetwork` or
:class:`~siting.network.EuclideanNetwork` and is passed to :func:`siting.evaluate.evaluate`
unchanged: the evaluation itself (every figure) is the engine's. Only the two bulk queries are
remembered, per content of the origin and destination arrays:

- ``distances(o, d, cutoff)``: computed once with ``max(cutoff, floor)`` and the pairs within the
  asked ``cutoff`` taken from it (a shortest-path search with a larger bound reaches the same
  nodes at the same distances, so the answer is the one the network gives for ``cutoff``);
- ``nearest(o, d, cutoff)``: remembered per exact arguments.

Everything else (``crs``, ``kind``, ``snap``, ``service_areas`` ...) goes to the wrapped
provider. The wrapper is safe to share between sessions: it holds no user state beyond the
inputs its owner was built for, and a lock guards the memo.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from scipy import sparse

from siting.network import as_xy

__all__ = ["ReuseNetwork"]

logger = logging.getLogger(__name__)


def _digest(points: Any) -> str:
    xy = np.ascontiguousarray(as_xy(points), dtype=np.float64)
    return hashlib.blake2b(xy.tobytes() + str(xy.shape).encode(), digest_size=16).hexdigest()


class ReuseNetwork:
    """Wrap a distance provider and remember its bulk answers.

    Parameters
    ----------
    network
        The provider to wrap.
    floor
        Smallest cut-off used for ``distances`` (the largest radius the app offers), so one
        search serves every smaller radius.
    max_entries
        Answers kept (least recently used dropped first).
    """

    def __init__(self, network: Any, *, floor: float = 1000.0, max_entries: int = 32) -> None:
        self._net = network
        self._floor = float(floor)
        self._max = int(max_entries)
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def wrapped(self) -> Any:
        """The wrapped provider."""
        return self._net

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not found here: crs, kind, bounds, snap, service_areas...
        if name.startswith("__") or name in ("_net", "_memo", "_lock"):
            raise AttributeError(name)
        return getattr(self._net, name)

    def _get(self, key: tuple[Any, ...], compute: Any) -> Any:
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                self.hits += 1
                return self._memo[key]
        value = compute()
        with self._lock:
            self.misses += 1
            self._memo[key] = value
            while len(self._memo) > self._max:
                self._memo.popitem(last=False)
        return value

    def distances(self, origins: Any, destinations: Any, cutoff: float) -> sparse.csr_matrix:
        """As the wrapped ``distances``; pairs within ``cutoff`` (0 kept)."""
        cutoff = float(cutoff)
        bound = max(cutoff, self._floor)
        key = ("distances", _digest(origins), _digest(destinations), bound)
        full = self._get(key, lambda: self._net.distances(origins, destinations, bound).tocsr())
        if cutoff >= bound:
            return full.copy()
        coo = full.tocoo()
        keep = coo.data <= cutoff
        out = sparse.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=full.shape)
        out.sort_indices()
        return out

    def nearest(
        self, origins: Any, destinations: Any, cutoff: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """As the wrapped ``nearest`` (remembered per arguments)."""
        key = (
            "nearest",
            _digest(origins),
            _digest(destinations),
            None if cutoff is None else float(cutoff),
        )
        idx, dist = self._get(key, lambda: self._net.nearest(origins, destinations, cutoff))
        return idx.copy(), dist.copy()
