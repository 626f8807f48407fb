"""A second process for the Excel workbook while the main one writes the rest.

Writing the demo's workbook is about 0.5 s of pure-Python openpyxl work (serialising 24,000
cells) and the map about as much; under the GIL a thread cannot overlap them, a process can.
The process is spawned when a command starts, so its imports (pandas, openpyxl) happen while the
main process loads and evaluates; the job is then sent the tables (geometry dropped) and writes
the file atomically. Anything going wrong with the process (it cannot start, it dies) falls back
to writing in the main process; errors of the writing itself are raised as usual.
``SITING_SIDE_PROCESS=0`` turns it off; on a single core it is off.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["SideProcess"]


def _warm() -> bool:
    import siting.report  # noqa: F401  (pandas and openpyxl, the slow imports)

    return True


class SideProcess:
    """At most one worker process; :meth:`run` falls back to the caller's process."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if (os.cpu_count() or 1) < 2 or os.environ.get("SITING_SIDE_PROCESS", "1") == "0":
            return
        try:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(1, mp_context=ctx)
            self._pool.submit(_warm)
        except (OSError, RuntimeError, ValueError) as exc:  # no processes here: work in-process
            logger.info("no side process (%s); writing in the main process", exc)
            self._pool = None

    def run(self, fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
        """Start ``fn(*args)``; returns a function that waits for and returns its result."""
        if self._pool is not None:
            try:
                fut: Future[Any] = self._pool.submit(fn, *args)
            except (BrokenProcessPool, RuntimeError, OSError):
                fut = None  # type: ignore[assignment]
            if fut is not None:

                def wait() -> Any:
                    try:
                        return fut.result()
                    except BrokenProcessPool:
                        logger.info("side process died; writing in the main process")
                        return fn(*args)

                return wait
        result = fn(*args)
        return lambda: result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> SideProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
