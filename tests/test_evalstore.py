"""The disk store of evaluations (siting._evalstore) and the app's stored demo (siting.ui.warm).

A stored evaluation must come back exactly (every frame, dtype, CRS and the summary); its key
must change with any input byte, setting or engine file; a damaged entry must be dropped, not
shown; the side process must store the demo's default evaluation, and a warm-up that finds it
must give the same figures as one that evaluates.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from siting import _evalstore
from tests._evalfixture import make_real_evaluation


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "evaluations"


def _assert_same(a: object, b: object) -> None:
    for name in _evalstore.FRAMES:
        fa, fb = getattr(a, name), getattr(b, name)
        assert type(fa) is type(fb), name
        pd.testing.assert_frame_equal(fa, fb, check_exact=True)
        if isinstance(fa, gpd.GeoDataFrame):
            assert fa.crs == fb.crs, name
            assert fa.geometry.name == fb.geometry.name
    assert a.summary == b.summary  # type: ignore[attr-defined]


def test_round_trip_is_exact(store: Path) -> None:
    ev = make_real_evaluation()
    notes = {"network": ["道路网有 2 个不连通部分"], "evaluation": []}
    kept = {"input_sites": ev.sites[["site_id", "geometry"]], "table": ev.streets}
    folder = _evalstore.save("k1", ev, notes, extra=kept)
    assert folder == store / "k1"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{n}.parquet" for n in (*_evalstore.FRAMES, *kept)] + ["meta.json"]
    )
    got = _evalstore.load("k1", ev.standard)
    assert got is not None
    back, back_notes, back_extra = got
    _assert_same(ev, back)
    assert back.standard is ev.standard
    assert back_notes == notes
    assert list(back_extra) == ["input_sites", "table"]
    assert isinstance(back_extra["input_sites"], gpd.GeoDataFrame)
    assert back_extra["input_sites"].crs == ev.sites.crs
    pd.testing.assert_frame_equal(back_extra["input_sites"], kept["input_sites"], check_exact=True)
    pd.testing.assert_frame_equal(back_extra["table"], kept["table"], check_exact=True)
    # the summary is stored as readable JSON (Chinese kept)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["summary"]["population_total"] == ev.summary["population_total"]
    assert "道路网" in (folder / "meta.json").read_text(encoding="utf-8")


def test_extra_frames_may_not_shadow_the_evaluation(store: Path) -> None:
    ev = make_real_evaluation()
    with pytest.raises(ValueError, match="sites"):
        _evalstore.save("k0", ev, extra={"sites": ev.sites})
    assert not (store / "k0").exists()


def test_missing_entry_is_none(store: Path) -> None:
    assert _evalstore.load("nothing-here", None) is None


def test_damaged_entry_is_dropped(store: Path) -> None:
    ev = make_real_evaluation()
    folder = _evalstore.save("k2", ev)
    data = (folder / "demand.parquet").read_bytes()
    (folder / "demand.parquet").write_bytes(data[: len(data) // 2])  # truncated
    assert _evalstore.load("k2", ev.standard) is None
    assert not folder.exists()  # so the next save writes a good one
    _evalstore.save("k2", ev)
    got = _evalstore.load("k2", ev.standard)
    assert got is not None
    _assert_same(ev, got.evaluation)


def test_other_format_is_not_read(store: Path) -> None:
    ev = make_real_evaluation()
    folder = _evalstore.save("k3", ev)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["format"] = _evalstore.FORMAT + 1
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert _evalstore.load("k3", ev.standard) is None


def test_concurrent_saves_of_one_key(store: Path) -> None:
    ev = make_real_evaluation()
    errors: list[BaseException] = []

    def save() -> None:
        try:
            _evalstore.save("same", ev)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert [p.name for p in store.iterdir()] == ["same"]  # no temporary folder left
    got = _evalstore.load("same", ev.standard)
    assert got is not None
    _assert_same(ev, got.evaluation)


def test_key_follows_every_input(tmp_path: Path) -> None:
    a, b = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    a.write_bytes(b"communities v1")
    b.write_bytes(b"sites")
    k = _evalstore.entry_key([a, b], "standard=default", "demand=grid")
    assert k == _evalstore.entry_key([a, b], "standard=default", "demand=grid")
    assert k != _evalstore.entry_key([a, b], "standard=gb50180", "demand=grid")
    assert k != _evalstore.entry_key([a, b], "standard=default", "demand=centroid")
    assert k != _evalstore.entry_key([b, a], "standard=default", "demand=grid")
    a.write_bytes(b"communities v2")
    assert k != _evalstore.entry_key([a, b], "standard=default", "demand=grid")


def test_code_digest_covers_engine_files_not_the_ui() -> None:
    import siting

    root = Path(siting.__file__).parent
    _evalstore.code_digest.cache_clear()
    before = _evalstore.code_digest()
    # a change in an engine file changes it; one in siting/ui does not
    engine = root / "_geom.py"
    ui = root / "ui" / "i18n.py"
    for path, changes in ((engine, True), (ui, False)):
        text = path.read_bytes()
        try:
            path.write_bytes(text + b"\n# probe\n")
            _evalstore.code_digest.cache_clear()
            assert (_evalstore.code_digest() != before) is changes, path
        finally:
            path.write_bytes(text)
            _evalstore.code_digest.cache_clear()
    assert _evalstore.code_digest() == before


def test_failed_write_leaves_no_partial_entry(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_evalstore.os, "rename", full_disk)
    with pytest.raises(OSError, match="No space"):
        _evalstore.save("k4", make_real_evaluation())
    assert list(store.iterdir()) == []  # the temporary folder is gone too
    assert _evalstore.load("k4", None) is None


# ----------------------------------------------------------------------------- the app's demo
def _fresh_warm(monkeypatch: pytest.MonkeyPatch) -> object:
    from siting.ui import warm

    monkeypatch.setattr(warm, "_state", {})
    monkeypatch.setattr(warm, "_timings", {})
    return warm


@pytest.mark.slow
def test_side_process_stores_the_demo_and_warm_up_uses_it(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = _fresh_warm(monkeypatch)
    monkeypatch.setenv("SITING_SIDE_PROCESS", "1")
    key = warm.store_key()
    warm._side_start()
    assert "side" in warm._state  # a child process was started: nothing was stored yet
    base = warm.demo()
    assert warm.timings().get("stored") == 1.0  # read from the store, not evaluated here
    assert (store / key / "meta.json").exists()
    assert not base.network_ready  # the overview needs no network

    # the same figures as evaluating in this process
    from siting import pipeline
    from siting.standards import load_standard

    inputs = pipeline.load_inputs()
    net = pipeline.load_network(inputs.roads, inputs.communities)
    fresh = pipeline.evaluate_inputs(inputs, net, standard=load_standard("default"))
    _assert_same(fresh, base.evaluation)
    # and the same validated inputs, with this checkout's demo paths
    for role in ("communities", "sites"):
        a, b = getattr(inputs, role), getattr(base.inputs, role)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert a.crs == b.crs
    assert (base.inputs.roads, base.inputs.files, base.inputs.is_demo) == (
        inputs.roads,
        inputs.files,
        inputs.is_demo,
    )
    # the network comes on first use, and a second start finds the entry (no child)
    assert base.network.kind == net.kind
    assert base.network_ready
    warm = _fresh_warm(monkeypatch)
    warm._side_start()
    assert "side" not in warm._state


@pytest.mark.slow
def test_warm_up_without_side_process_stores_it(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = _fresh_warm(monkeypatch)
    monkeypatch.setenv("SITING_SIDE_PROCESS", "0")
    warm._side_start()
    assert "side" not in warm._state
    base = warm.demo()
    assert "stored" not in warm.timings()  # evaluated in this process ...
    assert base.network_ready
    assert (store / warm.store_key() / "meta.json").exists()  # ... and stored for next time


def test_failed_side_process_falls_back(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    warm = _fresh_warm(monkeypatch)
    # a child that fails (as a crash would): the warm-up evaluates in this process
    warm._state["side"] = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert warm._side_wait() is False
    assert "side" not in warm._state


def test_component_scan_is_deferred_until_after_the_first_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlit.components.v2.component_manager import BidiComponentManager

    warm = _fresh_warm(monkeypatch)
    monkeypatch.setattr(warm, "_deferred", [])
    calls: list[tuple[object, bool]] = []

    def scan(self: object, *, start_file_watching: bool = True) -> None:
        calls.append((self, start_file_watching))

    # monkeypatch restores Streamlit's own method after the test
    monkeypatch.setattr(BidiComponentManager, "discover_and_register_components", scan)
    assert warm.defer_component_scan() is True
    assert warm.defer_component_scan() is True  # once: not wrapped twice
    assert BidiComponentManager.discover_and_register_components.__wrapped__ is scan
    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    assert calls == []  # the runtime's start does not scan ...
    warm._run_deferred()
    assert calls == [(manager, False)]  # ... the background step after the first page does
    warm._run_deferred()
    assert len(calls) == 1


def test_side_process_reports_a_failure_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    # the cache folder is a file: the store cannot be written
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    env = {**os.environ, "SITING_CACHE_DIR": str(blocker)}
    proc = subprocess.run(
        [sys.executable, "-m", "siting.ui.warm", "k"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "the demo was not stored by the side process" in proc.stderr
    assert "Traceback" not in proc.stderr
