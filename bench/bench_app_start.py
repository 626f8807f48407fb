"""Time from ``streamlit run app.py`` to the overview's figures and map in headless Chromium.

    python bench/bench_app_start.py [--repeat 5] [--root DIR]

Each start is a fresh server on a free loopback port; a blank tab is open before the server is
spawned (a user whose browser is already open). Two kinds of start alternate:

- ``first``: an empty cache folder, as after an install (the demo is evaluated, in a second
  process, and stored);
- ``again``: the cache the previous starts filled (the demo's evaluation read from the store).

Printed per start: seconds until the health check answers, until the first figure (stMetric)
and until the Leaflet map has drawn; then the median and range per kind. The machine has 2
cores shared with other work, so compare kinds (or trees, with ``--root``) within one run.
``--root`` times another checkout (e.g. a ``git worktree`` of an older commit), put first on
``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_once(browser: object, root: Path, cache: Path) -> dict[str, float]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = ctx.new_page()
    port = _port()
    env = {**os.environ, "SITING_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 60:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        healthy = time.perf_counter() - t0
        page.goto(base + "/")
        page.locator('[data-testid="stMetric"]').first.wait_for(state="visible", timeout=60_000)
        figures = time.perf_counter() - t0
        frame = page.frame_locator(MAP_FRAME).first
        frame.locator(".leaflet-container").wait_for(state="visible", timeout=60_000)
        frame.locator("canvas, path.leaflet-interactive, .leaflet-marker-icon").first.wait_for(
            state="attached", timeout=60_000
        )
        drawn = time.perf_counter() - t0
    finally:
        ctx.close()
        proc.terminate()
        proc.wait(timeout=20)
    return {"healthy": healthy, "figures": figures, "map": drawn, "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="starts of each kind")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout to time")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = args.root.resolve()
    kept = Path(tempfile.mkdtemp(prefix="siting-bench-cache-"))
    results: dict[str, list[dict[str, float]]] = {"first": [], "again": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            start_once(browser, root, kept)  # fills the kept cache
            for i in range(args.repeat):
                for kind in ("first", "again"):
                    cache = (
                        Path(tempfile.mkdtemp(prefix="siting-bench-")) if kind == "first" else kept
                    )
                    r = start_once(browser, root, cache)
                    results[kind].append(r)
                    print(
                        f"{kind:5s} {i + 1}: healthy {r['healthy']:.2f} s, figures "
                        f"{r['figures']:.2f} s, map {r['map']:.2f} s (load {r['load']:.1f})",
                        flush=True,
                    )
        finally:
            browser.close()
    for kind, rows in results.items():
        maps = [r["map"] for r in rows]
        print(
            f"{kind}: map drawn median {statistics.median(maps):.2f} s "
            f"(min {min(maps):.2f}, max {max(maps):.2f}) over {len(maps)} starts"
        )


if __name__ == "__main__":
    main()
