"""Process-wide warm-up: the bundled demo loaded and evaluated once, its network on demand.

The demo is not a user's upload, so one read-only copy serves every session of the process.
:func:`start` runs :func:`demo` in a background thread from the server's start (``app.py``
calls it as the server imports it), so the first visitor finds the demo ready (or nearly);
:func:`demo` waits for that work instead of repeating it.

The demo's default evaluation is kept in the disk store (:mod:`siting._evalstore`, keyed by
the demo's files, the engine's code and the library versions): a restarted server reads it
(about 0.1 s) instead of evaluating. When the store does not have it, :func:`start` evaluates
it in a second process (``python -m siting.ui.warm KEY``), so that work and this process's
imports use both cores; if that process cannot start or fails, this process evaluates. The
network is built on first use (:attr:`DemoBase.network`) or in the background after the first
page (:func:`later`), with the modules of the downloads and the drawing tool. The map modules (folium,
streamlit-folium) are imported meanwhile by a second thread.

Nothing here holds session data: uploads go through the content-keyed caches of
:mod:`siting.ui.common`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from siting import settings

__all__ = [
    "DemoBase",
    "defer_component_scan",
    "demo",
    "eval_key",
    "keep_upload_replies",
    "later",
    "log_to_stderr",
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
_deferred: list[Callable[[], None]] = []  # Streamlit's component scan (defer_component_scan)

#: The interpreter's thread switch interval in the app's server (Python's default: 5 ms). While
#: the warm-up threads import and evaluate, the server's event loop waits for the GIL at every
#: step of serving the page's files and messages; a shorter interval lets it in sooner. Measured
#: on the demo (2 cores, load 6, three alternating rounds of two starts): first page with its
#: map 4.46-4.73 s at 0.5 ms against 4.83-5.64 s at 5 ms.
SWITCH_INTERVAL_S = 0.0005

#: Largest walking radius the app offers (the coverage page's slider); one distance search
#: with this bound serves every smaller radius.
MAX_RADIUS_M = 1000.0


class DemoBase:
    """The demo's inputs, (reusing) network and default evaluation, shared read-only.

    The network is built on first use (:attr:`network`): the overview shows a stored
    evaluation without it, and :func:`later` builds it in the background after the first page.
    """

    def __init__(
        self,
        key: str,
        inputs: Any,
        warnings: tuple[str, ...],
        ekey: str,
        evaluation: Any,
        eval_warnings: tuple[str, ...],
        network: Any = None,
    ) -> None:
        self.key = key
        self.inputs = inputs
        self.warnings = warnings
        self.ekey = ekey
        self.evaluation = evaluation
        self.eval_warnings = eval_warnings
        self._network = network
        self._net_lock = threading.Lock()

    @property
    def network(self) -> Any:
        """The demo's walking network (a :class:`~siting.ui.reuse.ReuseNetwork`), built once."""
        with self._net_lock:
            if self._network is None:
                # its warnings are in ``warnings`` already (stored with the evaluation)
                self._network, _w = _demo_network(self.inputs)
            return self._network

    @property
    def network_ready(self) -> bool:
        return self._network is not None


def _ensure_hook() -> None:
    """Install (again, if something replaced it) the per-thread SitingWarning collector.

    The collector replaces ``warnings._showwarnmsg`` (which ``warnings.warn`` calls for every
    warning it shows), not ``warnings.showwarning``: ``warnings.catch_warnings`` saves and
    restores ``showwarning`` and is not thread-safe, so a block of it in another thread (the
    warm-up's imports and evaluation, another session's evaluation or table) that began before
    the hook was installed put the plain printer back while this thread's loading ran, and its
    warnings went to the server's stderr instead of the page. ``catch_warnings`` leaves
    ``_showwarnmsg`` alone.
    """
    from siting._errors import SitingWarning

    current = warnings._showwarnmsg  # type: ignore[attr-defined]
    if getattr(current, "_siting_collector", False):
        return

    def collector(msg: warnings.WarningMessage) -> None:
        sinks = getattr(_local, "sinks", None)
        if sinks and issubclass(msg.category, SitingWarning):
            sinks[-1].append(str(msg.message))
            return
        current(msg)

    collector._siting_collector = True  # type: ignore[attr-defined]
    warnings._showwarnmsg = collector  # type: ignore[attr-defined]


def recording(fn: Callable[[], Any]) -> tuple[Any, tuple[str, ...]]:
    """Run ``fn`` collecting the :class:`~siting._errors.SitingWarning` messages it emits in
    this thread (other sessions run concurrently and keep their own)."""
    from siting._errors import SitingWarning

    _ensure_hook()
    # every repetition is shown (not once per code location), so each session sees its own
    warnings.filterwarnings("always", category=SitingWarning)
    sinks = _local.__dict__.setdefault("sinks", [])
    sinks.append([])
    from siting.network import snap_warnings_once

    try:
        with snap_warnings_once():  # each point far from the streets named once per result
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


def _demo_network(inputs: Any) -> tuple[Any, tuple[str, ...]]:
    from siting import pipeline
    from siting.ui.reuse import ReuseNetwork

    network, msgs = recording(lambda: pipeline.load_network(inputs.roads, inputs.communities))
    return ReuseNetwork(network, floor=MAX_RADIUS_M), msgs


#: The demo's files (``pipeline.demo_paths`` without importing the pipeline).
DEMO_FILES = ("communities.gpkg", "sites.gpkg", "roads.osm.gz")


def store_key() -> str:
    """Key of the demo's default evaluation in the disk store (:mod:`siting._evalstore`);
    cheap (no pandas), so :func:`start` can look the store up before anything is imported."""
    from siting import _evalstore

    files = [settings.demo_dir() / f for f in DEMO_FILES]
    return _evalstore.entry_key(
        [f for f in files if f.exists()], f"standard={settings.DEFAULT_STANDARD}", "demand=grid"
    )


def _evaluate_demo(inputs: Any) -> tuple[Any, Any, tuple[str, ...], tuple[str, ...]]:
    """(network, evaluation, network warnings, evaluation warnings) of the demo's defaults."""
    from siting import pipeline
    from siting.standards import load_standard

    network, w2 = _demo_network(inputs)
    std = load_standard(settings.DEFAULT_STANDARD)
    evaluation, w3 = recording(
        lambda: pipeline.evaluate_inputs(inputs, network, standard=std, demand="grid")
    )
    return network, evaluation, w2, w3


def evaluate_and_store(key: str) -> bool:
    """Evaluate the demo's defaults and store the result under ``key`` (run by the side
    process of :func:`start`); True when stored."""
    from siting import pipeline

    inputs, w1 = recording(pipeline.load_inputs)
    _network, evaluation, w2, w3 = _evaluate_demo(inputs)
    _store(key, inputs, evaluation, w1, w2, w3)
    return True


#: Names of the demo's validated inputs among a stored entry's extra frames.
_INPUT_FRAMES = {"communities": "input_communities", "sites": "input_sites"}


def _store(key: str, inputs: Any, evaluation: Any, *notes: tuple[str, ...]) -> None:
    from siting import _evalstore

    _evalstore.save(
        key,
        evaluation,
        dict(zip(("load", "network", "evaluation"), notes, strict=True)),
        extra={name: getattr(inputs, role) for role, name in _INPUT_FRAMES.items()},
    )


def _side_start() -> None:
    """Evaluate the demo in a second process when the store does not have it, so that the
    evaluation and the first page's imports use both cores; :func:`_side_wait` collects it.

    A plain ``python -m siting.ui.warm KEY`` child (not multiprocessing: a spawned worker
    would first import the server's ``__main__``, Streamlit). Off with ``SITING_SIDE_PROCESS=0``
    and on a single core.
    """
    import subprocess

    from siting import _evalstore

    if (os.cpu_count() or 1) < 2 or os.environ.get("SITING_SIDE_PROCESS", "1") == "0":
        return
    try:
        key = store_key()
        if (_evalstore.store_dir() / key / "meta.json").exists():
            return
        _state["side"] = subprocess.Popen(
            [sys.executable, "-m", "siting.ui.warm", key],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
    except Exception:  # the warm-up evaluates in this process instead
        logger.warning("no side process for the demo", exc_info=True)


#: Seconds the warm-up waits for the side process before evaluating in this process.
SIDE_TIMEOUT_S = 300.0


def _side_wait() -> bool:
    """Wait for the side process of :func:`_side_start`; True when it stored the evaluation."""
    import subprocess

    proc = _state.pop("side", None)
    if proc is None:
        return False
    try:
        code = proc.wait(timeout=SIDE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    if code != 0:  # its error shows again when this process evaluates
        logger.warning("the side process did not store the demo (exit %s)", code)
    return code == 0


def _build() -> DemoBase:
    from siting import _evalstore, pipeline
    from siting.standards import load_standard

    t0 = time.perf_counter()
    key = demo_key()
    skey = store_key()
    std = load_standard(settings.DEFAULT_STANDARD)
    stored = _evalstore.load(skey, std)
    how = "read from the store"
    if stored is None and _side_wait():
        stored = _evalstore.load(skey, std)
        how = "evaluated by the side process"
    t1 = time.perf_counter()
    network = None
    if stored is not None and set(_INPUT_FRAMES.values()) <= set(stored.extra):
        # the demo's validated inputs and evaluation as they were stored: no reading, no
        # validation, no network (built after the first page)
        inputs = pipeline.demo_inputs(
            stored.extra[_INPUT_FRAMES["communities"]], stored.extra[_INPUT_FRAMES["sites"]]
        )
        evaluation = stored.evaluation
        w1, w2, w3 = (tuple(stored.notes.get(k, ())) for k in ("load", "network", "evaluation"))
        _timings["stored"] = 1.0
    else:
        inputs, w1 = recording(pipeline.load_inputs)
        network, evaluation, w2, w3 = _evaluate_demo(inputs)
        try:
            _store(skey, inputs, evaluation, w1, w2, w3)
        except OSError as exc:  # a read-only cache: next start evaluates again
            logger.warning("cannot store the demo's evaluation: %s", exc)
    t2 = time.perf_counter()
    _timings.update({"side_wait_s": t1 - t0, "evaluate_s": t2 - t1, "total_s": t2 - t0})
    logger.info(
        "demo warmed (%s) in %.2f s (%.2f s of it waiting for the store or the side process)",
        how if "stored" in _timings else "evaluated here",
        t2 - t0,
        t1 - t0,
    )
    return DemoBase(
        key, inputs, (*w1, *w2), eval_key(key, std, "grid"), evaluation, w3, network=network
    )


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
MAP_MODULES = ("folium", "streamlit_folium", "siting.maps", "siting.ui.assets")
#: Modules only later pages need: the downloads' (openpyxl) and the estate page's drawing tool
#: (``folium.plugins`` imports every plugin, compiling about 40 templates: 0.15-0.3 s). Imported
#: once the first page has run (:func:`later`), so they do not compete with the first page for
#: the interpreter.
LATER_MODULES = ("openpyxl", "siting.report", "folium.plugins")


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


def log_to_stderr(level: int = logging.INFO) -> None:
    """Send the ``siting`` loggers to the server's stderr (once per process): the warm-up's
    timings and whether the demo came from the store show in the server log."""
    log = logging.getLogger("siting")
    with _start_lock:
        if any(getattr(h, "_siting_stderr", False) for h in log.handlers):
            return
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._siting_stderr = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.setLevel(level)
        log.propagate = False


def defer_component_scan() -> bool:
    """Make Streamlit's scan for installed v2 components run after the first page (once per
    process; call it before the server starts its runtime, as ``app.py`` does).

    Streamlit 1.67 reads the metadata of every installed distribution when its runtime starts,
    looking for "v2" components; the app uses none (streamlit-folium is a v1 component). The
    scan costs about 0.3 s alone and, competing with the warm-up's imports for the interpreter,
    delayed the server's health check by about 0.8 s (measured: healthy after 1.5-2.0 s with
    it, 0.75-0.97 s deferred; first page with its map 4.5-5.1 s against 3.7-4.2 s). Deferred,
    it runs in :func:`later`'s background thread, so any v2 component installed is still
    registered.

    Returns True when the scan is deferred (False if this Streamlit has no such scan).
    """
    try:
        from streamlit.components.v2.component_manager import BidiComponentManager
    except ImportError:  # pragma: no cover - another Streamlit layout
        return False
    with _start_lock:
        scan = BidiComponentManager.discover_and_register_components
        if getattr(scan, "_siting_deferred", False):
            return True

        def deferred_scan(self: Any, *, start_file_watching: bool = True) -> None:
            with _start_lock:
                _deferred.append(lambda: scan(self, start_file_watching=start_file_watching))

        deferred_scan._siting_deferred = True  # type: ignore[attr-defined]
        deferred_scan.__wrapped__ = scan  # type: ignore[attr-defined]
        BidiComponentManager.discover_and_register_components = deferred_scan  # type: ignore[method-assign]
    return True


def _run_deferred() -> None:
    with _start_lock:
        jobs = list(_deferred)
        _deferred.clear()
    for job in jobs:
        try:
            job()
        except Exception:  # Streamlit logs its own scan errors; never break the app for it
            logger.warning("deferred component scan failed", exc_info=True)


def start() -> threading.Thread:
    """Start the warm-up in a background thread (once per process); returns the thread.

    The thread builds the demo (:func:`demo`) while another imports the map modules
    (:data:`MAP_MODULES`); a second process evaluates the demo if the store lacks it
    (:func:`_side_start`). Sets the interpreter's switch interval (:data:`SWITCH_INTERVAL_S`).
    """
    global _thread
    with _start_lock:
        if _thread is None:
            from streamlit.runtime.scriptrunner import get_script_run_ctx

            ctx = get_script_run_ctx(suppress_warning=True)
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            # before any other thread starts, so every catch_warnings block of another thread
            # saves (and restores) a state with the collector and the "always" filter
            from siting._errors import SitingWarning

            _ensure_hook()
            warnings.filterwarnings("always", category=SitingWarning)
            _side_start()
            _thread = _thread_start(_warm, "siting-warm", ctx)
            logger.info("warm-up started")
        return _thread


def later() -> None:
    """Once per process, after a page has run: import the modules of the downloads
    (:data:`LATER_MODULES`), run Streamlit's deferred component scan
    (:func:`defer_component_scan`) and build the demo's network if the stored evaluation spared it,
    in the background, so the other pages find them ready."""
    with _start_lock:
        if "later" in _started:
            return
        _started.add("later")
    _thread_start(_after_first_page, "siting-warm-later")


def _after_first_page() -> None:
    _imports(LATER_MODULES, "later_imports_s")
    _run_deferred()
    base = _state.get("base")
    if base is not None and not base.network_ready:
        t0 = time.perf_counter()
        try:
            base.network  # noqa: B018  (built on first use)
        except Exception:  # the page that needs it shows the error
            logger.warning("demo network warm-up failed", exc_info=True)
        _timings["network_s"] = time.perf_counter() - t0
        logger.info("demo network built in %.2f s", _timings["network_s"])


def timings() -> dict[str, float]:
    """Seconds spent by the warm-up steps so far (``load_s``, ``network_s``, ...)."""
    return dict(_timings)


if __name__ == "__main__":  # the side process of _side_start: python -m siting.ui.warm KEY
    code = 0
    try:
        evaluate_and_store(sys.argv[1])
    except Exception as exc:  # the server evaluates in its own process and shows any error
        print(f"siting: the demo was not stored by the side process: {exc}", file=sys.stderr)
        code = 1
    # the entry is stored (its files closed); the parent waits for this process's exit, and an
    # orderly interpreter shutdown (freeing pandas, numpy, GEOS ...) took another 0.3 s
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
