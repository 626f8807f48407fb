"""End to end: the app in headless Chromium (Playwright), on the bundled demo, loopback only.

Starts ``streamlit run app.py`` on a free port of 127.0.0.1, opens every page, checks that the
maps (Leaflet inside the streamlit-folium iframe, served offline) and figures appear, changes
the walking radius, runs the location model, uploads an estate and a broken file, downloads the
workbook and opens it. Screenshots and the measured timings go to ``tests/artifacts/``.
"""

from __future__ import annotations

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
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float, float]]:
    """The app on a free loopback port; yields (base URL, seconds until healthy, spawn time)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    if not _demo_present():
        pytest.skip("the bundled demo (data/demo) is missing")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "SITING_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
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
            time.sleep(0.2)
        yield base, time.perf_counter() - t0, t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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


def test_app_end_to_end(server: tuple[str, float, float], browser: object, tmp_path: Path) -> None:
    base, t_start, t_spawn = server
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="zh-CN"
    )
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        _walk_through(page, base, t_start, t_spawn, tmp_path)
        assert (ARTIFACTS / "overview.png").stat().st_size > 0
    except Exception:
        _shot(page, "failure")
        raise
    finally:
        ctx.close()


def _walk_through(page: object, base: str, t_start: float, t_spawn: float, tmp_path: Path) -> None:
    from openpyxl import load_workbook

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
    page.wait_for_timeout(500)
    _shot(page, "coverage_600m")

    # Compliance: the three-year chart and the workbook download.
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
    assert wb["站点"].max_row > 10
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


def test_chromium_binary_is_usable() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    assert shutil.which(CHROMIUM) is not None
