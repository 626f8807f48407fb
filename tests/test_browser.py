"""End to end: the app in headless Chromium (Playwright), on the bundled demo, loopback only.

Starts ``streamlit run app.py`` on a free port of 127.0.0.1, opens every page, checks that the
maps (Leaflet inside the streamlit-folium iframe, served offline) and figures appear, changes
the walking radius, runs the location model, uploads an estate and a broken file, downloads the
workbook and opens it; a second test draws an estate with the Leaflet Draw toolbar and reads the
verdict. Screenshots and the measured timings go to ``tests/artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
APP = str(ROOT / "app.py")
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
TIMEOUT_MS = 60_000


def _demo_present() -> bool:
    from siting import settings

    return (settings.demo_dir() / "communities.gpkg").exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def first_tab(browser: object) -> Iterator[tuple[object, object]]:
    """(context, page): the tab the end-to-end test opens the app in, made before the server
    starts (see :func:`server`)."""
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN"
    )
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx, page
    finally:
        ctx.close()


@contextlib.contextmanager
def _run_server(cache: Path, log: Path) -> Iterator[tuple[str, float, float]]:
    """``streamlit run app.py`` on a free loopback port with ``cache`` as SITING_CACHE_DIR;
    yields (base URL, seconds until healthy, spawn time)."""
    port = _free_port()
    env = {**os.environ, "SITING_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                APP,
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        yield base, time.perf_counter() - t0, t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _skip_without_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    if not _demo_present():
        pytest.skip("the bundled demo (data/demo) is missing")


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's cache folder (networks, stored evaluations): empty when the first server
    starts, as after a fresh install."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def server(
    first_tab: tuple[object, object], app_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, float, float]]:
    """The app on a free loopback port; yields (base URL, seconds until healthy, spawn time).

    Chromium is launched and a blank tab opened first (``first_tab``) so that the time from
    ``streamlit run`` to the first page is the server's and the page's, as for a user whose
    browser is already open, not Chromium's start-up or a new tab's. The cache starts empty,
    so this is the first start after an install (the demo is evaluated, in a second process).
    """
    _skip_without_browser()
    with _run_server(app_cache, tmp_path_factory.mktemp("server") / "streamlit.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield b
        finally:
            b.close()


def _wait_map(page: object, *, timeout: float = TIMEOUT_MS) -> None:
    """Wait until the map iframe shows Leaflet with drawn features."""
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator(".leaflet-container").wait_for(state="visible", timeout=timeout)
    drawn = frame.locator("canvas, path.leaflet-interactive, .leaflet-marker-icon")
    drawn.first.wait_for(state="attached", timeout=timeout)


def _idle(page: object, timeout: float = TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout)


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_app_end_to_end(
    server: tuple[str, float, float], first_tab: tuple[object, object], tmp_path: Path
) -> None:
    base, t_start, t_spawn = server
    _ctx, page = first_tab
    try:
        _walk_through(page, base, t_start, t_spawn, tmp_path)
        assert (ARTIFACTS / "overview.png").stat().st_size > 0
    except Exception:
        _shot(page, "failure")
        raise


def test_first_page_after_a_restart(
    server: tuple[str, float, float],
    browser: object,
    app_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A second start on the same cache (the usual start): the demo's evaluation is read from
    the store. Times ``streamlit run`` to the overview's figures and map, as the first start."""
    # the first server stores the demo's evaluation during its start-up
    deadline = time.monotonic() + 120
    while not list(app_cache.glob("evaluations/*/meta.json")):
        assert time.monotonic() < deadline, "the first server did not store the evaluation"
        time.sleep(0.2)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = tmp_path_factory.mktemp("server2") / "streamlit.log"
    try:
        with _run_server(app_cache, log) as (base, t_start, t_spawn):
            page.goto(base + "/")
            page.locator('[data-testid="stMetric"]').first.wait_for(state="visible")
            _wait_map(page)
            first = round(time.perf_counter() - t_spawn, 2)
            assert page.get_by_text("覆盖率").first.is_visible()
        assert "demo warmed (read from the store)" in log.read_text(errors="replace")
    finally:
        ctx.close()
    path = ARTIFACTS / "browser_timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings.update(
        {"restart_server_start_s": round(t_start, 2), "first_page_after_restart_s": first}
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings, indent=2))
    print("\nfirst page after a restart:", first, "s")
    assert first < 20.0


def _walk_through(page: object, base: str, t_start: float, t_spawn: float, tmp_path: Path) -> None:
    timings: dict[str, float] = {"server_start_s": round(t_start, 2)}

    # Overview (the default page): figures and the district map.
    t0 = time.perf_counter()
    page.goto(base + "/")
    page.locator('[data-testid="stMetric"]').first.wait_for(state="visible")
    timings["overview_figures_s"] = round(time.perf_counter() - t0, 2)
    _wait_map(page)
    timings["overview_map_s"] = round(time.perf_counter() - t0, 2)
    # from `streamlit run` to the first page with its figures and map (server start included)
    timings["first_page_after_start_s"] = round(time.perf_counter() - t_spawn, 2)
    assert page.get_by_text("覆盖率").first.is_visible()
    page.wait_for_timeout(500)
    _shot(page, "overview")

    # Warm page load (caches filled): what a second user sees.
    t0 = time.perf_counter()
    page.goto(base + "/")
    _wait_map(page)
    timings["overview_warm_s"] = round(time.perf_counter() - t0, 2)

    # Coverage: change the radius with the keyboard, time until figure and map are updated.
    page.goto(base + "/coverage")
    _wait_map(page)
    _idle(page)
    assert page.get_by_text("500 米内无站的社区").first.is_visible()
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    t0 = time.perf_counter()
    thumb.press("ArrowRight")
    page.get_by_text("600 米内无站的社区").first.wait_for(state="visible")
    timings["radius_change_figure_s"] = round(time.perf_counter() - t0, 2)
    _idle(page)
    _wait_map(page)
    timings["radius_change_map_s"] = round(time.perf_counter() - t0, 2)
    # the screenshot once the new map has replaced the old one (not part of the timing)
    page.wait_for_timeout(1000)
    _wait_map(page)
    page.wait_for_timeout(500)
    _shot(page, "coverage_600m")

    # Compliance: the three-year chart and the workbook download.
    from openpyxl import load_workbook  # imported here: not part of the first page's time

    page.goto(base + "/compliance")
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(state="visible")
    _idle(page)
    _shot(page, "compliance")
    with page.expect_download(timeout=TIMEOUT_MS) as dl:
        page.get_by_role("button", name="下载 Excel 报表").click()
    xlsx = tmp_path / "report.xlsx"
    dl.value.save_as(xlsx)
    wb = load_workbook(xlsx, read_only=True)
    assert "站点" in wb.sheetnames
    # rows counted by reading them (write-only sheets carry no <dimension>: max_row is None)
    assert sum(1 for _ in wb["站点"].iter_rows(values_only=True)) > 10
    wb.close()

    # Proposals: three new stations, before/after and the map.
    page.goto(base + "/proposals")
    _idle(page)
    t0 = time.perf_counter()
    page.get_by_role("button", name="计算选址").click()
    page.get_by_text("建议新建站点").first.wait_for(state="visible", timeout=120_000)
    _wait_map(page, timeout=120_000)
    timings["proposals_solve_s"] = round(time.perf_counter() - t0, 2)
    page.wait_for_timeout(500)
    _shot(page, "proposals")

    # New estate: upload the outline, the map shows it.
    from siting import pipeline

    estate_file = pipeline.demo_paths()["estate"]
    page.goto(base + "/estate")
    _idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        str(estate_file)
    )
    _idle(page)
    _wait_map(page)
    page.locator('[data-testid="stAlert"]').first.wait_for(state="visible")
    page.wait_for_timeout(500)
    _shot(page, "estate")

    # Data: a broken communities file and a sites file give the problem table, no traceback.
    page.goto(base + "/data")
    _idle(page)
    bad = tmp_path / "communities.csv"
    bad.write_text("编号,人口\nC1,abc\n", encoding="utf-8")
    inputs = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    inputs.nth(0).set_input_files(str(bad))
    _idle(page)
    inputs.nth(1).set_input_files(str(pipeline.demo_paths()["sites"]))
    _idle(page)
    page.get_by_text("数据问题").first.wait_for(state="visible")
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "data_problems")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(timings, indent=2))
    print("\nbrowser timings:", json.dumps(timings))
    # generous bounds (2 shared cores); the measured figures are in browser_timings.json
    assert timings["overview_warm_s"] < 5.0, timings
    assert timings["first_page_after_start_s"] < 20.0, timings
    assert timings["radius_change_map_s"] < 6.0, timings


def _map_box(page: object) -> dict[str, float]:
    """The Leaflet map's box in page pixels (mouse clicks go through the component iframe)."""
    box = page.frame_locator(MAP_FRAME).first.locator(".leaflet-container").bounding_box()
    assert box is not None
    return box


def test_estate_drawn_on_the_map(server: tuple[str, float, float], browser: object) -> None:
    """新建小区: draw the estate with the Leaflet Draw polygon tool and the developer's site
    with the marker tool, enter the households: the verdict with its reasons appears (the
    required floor area, the share within reach of existing stations, the area shortfall)."""
    base = server[0]
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        page.goto(base + "/estate")
        _idle(page)
        _wait_map(page)
        frame = page.frame_locator(MAP_FRAME).first
        frame.locator(".leaflet-draw-draw-polygon").wait_for(state="visible")
        timings["estate_page_s"] = round(time.perf_counter() - t0, 2)
        page.get_by_text("请先画出或上传小区范围").first.wait_for(state="visible")
        # zoom in twice on the district centre: 100 px is then about 600 m
        for _ in range(2):
            frame.locator(".leaflet-control-zoom-in").click()
            page.wait_for_timeout(400)
        box = _map_box(page)
        cx, cy = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5
        ring = [(-45, -35), (40, -45), (55, 25), (5, 50), (-50, 30)]
        frame.locator(".leaflet-draw-draw-polygon").click()
        for dx, dy in ring:
            page.mouse.click(cx + dx, cy + dy)
            page.wait_for_timeout(250)
        t0 = time.perf_counter()
        page.mouse.click(cx + ring[0][0], cy + ring[0][1])  # the first vertex closes the ring
        # the drawn outline goes back to Python: the page reruns and shows the verdict
        page.get_by_role("heading", name="结论").wait_for(state="visible")
        page.get_by_text("配建面积按 30 m²/百户").first.wait_for(state="visible")
        timings["estate_drawn_verdict_s"] = round(time.perf_counter() - t0, 2)
        _idle(page)
        _wait_map(page)
        # the drawn estate is on the map now (the estate layer of the estate map)
        page.get_by_text("未给出拟建站点").first.wait_for(state="visible")

        # the developer's site: a marker inside the estate
        frame = page.frame_locator(MAP_FRAME).first
        frame.locator(".leaflet-draw-draw-marker").click()
        box = _map_box(page)
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.get_by_text("拟建站点经度").first.wait_for(state="visible")
        _idle(page)
        page.get_by_text("建筑面积 600 m² < 应配建 1,000 m²").first.wait_for(state="visible")

        # 4,000 households: 30 m² per 100 households = 1,200 m² (above the 1,000 m² minimum)
        hh = page.get_by_label("户数")
        hh.fill("4000")
        hh.press("Enter")
        page.get_by_text("计 1,200 m²").first.wait_for(state="visible")
        _idle(page)
        page.get_by_text("取大值 1,200 m²").first.wait_for(state="visible")
        page.get_by_text("现有站点步行 500 m 内覆盖小区居民").first.wait_for(state="visible")
        # the default proposed area (600 m²) is short of the 1,200 m² required: not compliant
        page.get_by_text("不符合要求").first.wait_for(state="visible")
        page.get_by_text("建筑面积 600 m² < 应配建 1,200 m²").first.wait_for(state="visible")
        assert page.locator('[data-testid="stException"]').count() == 0
        page.wait_for_timeout(500)
        _shot(page, "estate_drawn")
        page.screenshot(path=str(ARTIFACTS / "estate_drawn_full.png"), full_page=True)
        assert (ARTIFACTS / "estate_drawn.png").stat().st_size > 0

        # the demo estate replaces the drawing (the drawing already read must not come back)
        caption = page.get_by_text("拟建站点经度").first
        drawn_site = caption.inner_text()
        page.get_by_role("button", name="使用示例小区").click()
        _idle(page)
        page.wait_for_timeout(1500)
        _idle(page)
        assert page.get_by_text("拟建站点经度").first.inner_text() != drawn_site
        assert page.locator('[data-testid="stException"]').count() == 0
        (ARTIFACTS / "estate_draw_timings.json").write_text(json.dumps(timings, indent=2))
        print("\nestate draw timings:", json.dumps(timings))
    except Exception:
        _shot(page, "failure_estate_draw")
        raise
    finally:
        ctx.close()


def test_chromium_binary_is_usable() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    assert shutil.which(CHROMIUM) is not None
