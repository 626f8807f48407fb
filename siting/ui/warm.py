"""Process-wide warm-up: the bundled demo loaded, its network built and evaluated once.

The demo is not a user's upload, so one read-only copy serves every session of the process.
:func:`start` runs :func:`demo` in a background thread from the first script run of the process
(``app.py`` calls it before the router imports its modules), so the first visitor finds the
demo ready (or nearly); :func:`demo` waits for that work instead of repeating it. The map
modules (folium, streamlit-folium) are imported meanwhile by a second thread, the download
modules (openpyxl) only after the first page ran (:func:`later`).

Nothing here holds session data: uploads go through the content-keyed caches of
:mod:`siting.ui.common`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from siting import settings

__all__ = [
    "DemoBase",
    "demo",
    "eval_key",
    "keep_upload_replies",
    "later",
    "recording",
    "start",
    "timings",
]

logger = logging.getLogger(__name__)

# Warnings are collected per thread (each session's script runs in its own thread): a hook on
# warnings.showwarning hands SitingWarnings to the collecting thread's list, so one user's
# warnings never land in another user's list and sessions do not wait for each other (a
# process-wide lock around catch_warnings serialised every evaluation of every session).
_local = threading.local()

_lock = threading.Lock()  # held while the demo is built
_start_lock = threading.Lock()  # starting threads, installing the reply fix: never waits long
_state: dict[str, Any] = {}
_thread: threading.Thread | None = None
_started: set[str] = set()
_timings: dict[str, float] = {}

#: Largest walking radius the app offers (the coverage page's slider); one distance search
#: with this bound serves every smaller radius.
MAX_RADIUS_M = 1000.0


@dataclasses.dataclass(frozen=True)
class DemoBase:
    """The demo's inputs, (reusing) network and default evaluation, shared read-only."""

    key: str
    inputs: Any
    network: Any
    warnings: tuple[str, ...]
    ekey: str
    evaluation: Any
    eval_warnings: tuple[str, ...]


def _ensure_hook() -> None:
    """Install (again, if something replaced it) the per-thread SitingWarning collector."""
    from siting._errors import SitingWarning

    current = warnings.showwarning
    if getattr(current, "_siting_collector", False):
        return

    def collector(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        sinks = getattr(_local, "sinks", None)
        if sinks and issubclass(category, SitingWarning):
            sinks[-1].append(str(message))
            return
        current(message, category, filename, lineno, file, line)

    collector._siting_collector = True  # type: ignore[attr-defined]
    warnings.showwarning = collector


def recording(fn: Callable[[], Any]) -> tuple[Any, tuple[str, ...]]:
    """Run ``fn`` collecting the :class:`~siting._errors.SitingWarning` messages it emits in
    this thread (other sessions run concurrently and keep their own)."""
    from siting._errors import SitingWarning

    _ensure_hook()
    # every repetition is shown (not once per code location), so each session sees its own
    warnings.filterwarnings("always", category=SitingWarning)
    sinks = _local.__dict__.setdefault("sinks", [])
    sinks.append([])
    try:
        value = fn()
    finally:
        msgs = sinks.pop()
    return value, tuple(dict.fromkeys(msgs))


def eval_key(key: str, standard: Any, demand: str) -> str:
    """Cache key of an evaluation: inputs key, the standard's values, the demand method."""
    return hashlib.sha256(
        json.dumps([key, standard.to_dict(), demand], sort_keys=True, default=str).encode()
    ).hexdigest()


def demo_key() -> str:
    """Key of the bundled demo's inputs (content digests of its files)."""
    from siting import pipeline

    paths = pipeline.demo_paths()
    parts = ["demo"] + [
        hashlib.sha256(paths[r].read_bytes()).hexdigest()
        for r in ("communities", "sites", "roads")
        if paths[r].exists()
    ]
    return hashlib.sha256("|".join([*parts, "wgs84", ""]).encode()).hexdigest()


def _build() -> DemoBase:
    from siting import pipeline
    from siting.standards import load_standard
    from siting.ui.reuse import ReuseNetwork

    t0 = time.perf_counter()
    key = demo_key()
    inputs, w1 = recording(pipeline.load_inputs)
    t1 = time.perf_counter()
    network, w2 = recording(lambda: pipeline.load_network(inputs.roads, inputs.communities))
    network = ReuseNetwork(network, floor=MAX_RADIUS_M)
    t2 = time.perf_counter()
    std = load_standard(settings.DEFAULT_STANDARD)
    evaluation, w3 = recording(
        lambda: pipeline.evaluate_inputs(inputs, network, standard=std, demand="grid")
    )
    t3 = time.perf_counter()
    _timings.update(
        {"load_s": t1 - t0, "network_s": t2 - t1, "evaluate_s": t3 - t2, "total_s": t3 - t0}
    )
    logger.info(
        "demo warmed: load %.2f s, network %.2f s, evaluation %.2f s", t1 - t0, t2 - t1, t3 - t2
    )
    return DemoBase(key, inputs, network, (*w1, *w2), eval_key(key, std, "grid"), evaluation, w3)


def demo() -> DemoBase:
    """The demo's shared inputs, network and default evaluation (built once per process).

    Raises
    ------
    InputError
        When the demo is missing or unusable (raised again on every call).
    """
    with _lock:
        if "base" not in _state and "error" not in _state:
            try:
                _state["base"] = _build()
            except Exception as err:  # kept, so every session sees the same error
                _state["error"] = err
        if "error" in _state:
            raise _state["error"]
        return _state["base"]


#: Modules the first page needs right after its figures (the map): imported while the demo
#: is built, in a thread of their own, so the map does not wait for them.
MAP_MODULES = ("folium", "folium.plugins", "streamlit_folium", "siting.maps", "siting.ui.assets")
#: Modules only the downloads need: imported once the first page has run (:func:`later`), so
#: they do not compete with the first page for the interpreter.
EXPORT_MODULES = ("openpyxl", "siting.report")


def _imports(names: tuple[str, ...], key: str) -> None:
    t0 = time.perf_counter()
    try:
        for name in names:
            importlib.import_module(name)
    except Exception:  # the page importing it shows the error
        logger.warning("import warm-up failed", exc_info=True)
    _timings[key] = time.perf_counter() - t0
    logger.info("imported %s in %.2f s", ", ".join(names), _timings[key])


def _thread_start(
    target: Callable[..., None], name: str, *args: Any, ctx: Any = None
) -> threading.Thread:
    th = threading.Thread(target=target, args=args, name=name, daemon=True)
    if ctx is not None:
        from streamlit.runtime.scriptrunner import add_script_run_ctx

        add_script_run_ctx(th, ctx)
    th.start()
    return th


def _warm(ctx: Any) -> None:
    # streamlit-folium registers its map component with the server only when imported by a
    # thread that has a script-run context (without one every map of the process stays blank),
    # so the import thread borrows the context of the run that started the warm-up
    names = (
        MAP_MODULES if ctx is not None else tuple(m for m in MAP_MODULES if "streamlit" not in m)
    )
    _thread_start(_imports, "siting-warm-imports", names, "imports_s", ctx=ctx)
    try:
        demo()
    except Exception:  # the pages show it
        logger.warning("demo warm-up failed", exc_info=True)


def keep_upload_replies() -> bool:
    """Make Streamlit keep its upload-URL replies when a rerun starts (once per process).

    A file upload starts with the browser asking the server for an upload URL (a
    ``file_urls_request``); the reply waits in the session's outgoing queue until the server's
    next flush. When a run of the session's script starts in between (the rerun of the
    session's previous upload, say), Streamlit 1.67 clears that queue keeping only lifecycle
    messages (and toasts), so the reply is dropped; the browser then waits for it forever and
    the file never uploads, nor does a second try in the same uploader. With several busy
    sessions the flush comes late and this hit about one run in two of the ten-session load
    test. The reply belongs to no script run, so it is kept, as Streamlit keeps toasts.

    Returns True when the queue keeps them (False if this Streamlit has no such queue).
    """
    try:
        from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
    except ImportError:  # pragma: no cover - another Streamlit layout
        logger.warning("cannot keep upload-URL replies: no streamlit ForwardMsgQueue")
        return False
    with _start_lock:
        clear = ForwardMsgQueue.clear
        if getattr(clear, "_siting_keeps_replies", False):
            return True

        def clear_keeping_replies(
            self: Any,
            retain_lifecycle_msgs: bool = False,
            fragment_ids_this_run: list[str] | None = None,
        ) -> None:
            queue = getattr(self, "_queue", None)
            replies = (
                [m for m in queue if m.WhichOneof("type") == "file_urls_response"]
                if retain_lifecycle_msgs and queue
                else []
            )
            clear(
                self,
                retain_lifecycle_msgs=retain_lifecycle_msgs,
                fragment_ids_this_run=fragment_ids_this_run,
            )
            if replies:
                # non-delta messages: the cleared queue's delta index is unaffected
                self._queue[:0] = replies
                logger.info("kept %d upload-URL replies across a rerun", len(replies))

        clear_keeping_replies._siting_keeps_replies = True  # type: ignore[attr-defined]
        clear_keeping_replies.__wrapped__ = clear  # type: ignore[attr-defined]
        ForwardMsgQueue.clear = clear_keeping_replies  # type: ignore[method-assign]
    return True


def start() -> threading.Thread:
    """Start the warm-up in a background thread (once per process); returns the thread.

    The thread builds the demo (:func:`demo`) while another imports the map modules
    (:data:`MAP_MODULES`).
    """
    global _thread
    with _start_lock:
        if _thread is None:
            from streamlit.runtime.scriptrunner import get_script_run_ctx

            ctx = get_script_run_ctx(suppress_warning=True)
            _thread = _thread_start(_warm, "siting-warm", ctx)
            logger.info("warm-up started")
        return _thread


def later() -> None:
    """Import the modules of the downloads (:data:`EXPORT_MODULES`) in the background, once
    per process: call it after a page has run."""
    with _start_lock:
        if "later" in _started:
            return
        _started.add("later")
    _thread_start(_imports, "siting-warm-exports", EXPORT_MODULES, "export_imports_s")


def timings() -> dict[str, float]:
    """Seconds spent by the warm-up steps so far (``load_s``, ``network_s``, ...)."""
    return dict(_timings)
