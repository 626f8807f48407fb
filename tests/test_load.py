"""Isolation and load: many sessions on one app, each with its own uploads, and bounded memory.

- 10 simultaneous browser sessions (one headless Chromium, 10 contexts) on one server on
  127.0.0.1 each upload their own small district (different populations) and must read back
  their own figures, equal to :mod:`siting.pipeline`'s, never another session's.
- A rerun keeps the reply to a browser's upload-URL request (Streamlit dropped it, and that
  session's upload never started).
- 50 load-and-evaluate cycles in fresh sessions (AppTest, in this process): the resident memory
  after cycle 50 minus after cycle 10 stays under a bound (no per-session leak).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from test_app import APP, _expected, _variant
from test_browser import CHROMIUM, app_cache, browser, first_tab, server  # noqa: F401  (fixtures)

N_SESSIONS = 10
TIMEOUT_MS = 150_000


def _rss_mb(pid: str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _upload(page, nth: int, path: Path) -> None:
    inputs = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    inputs.nth(nth).set_input_files(str(path))


def _shown(page, name: str, nth: int, path: Path) -> None:
    """Wait until the session lists the uploaded file; upload it once more if a rerun lost it."""
    try:
        page.get_by_text(name).first.wait_for(state="visible", timeout=60_000)
    except Exception:
        _upload(page, nth, path)
        page.get_by_text(name).first.wait_for(state="visible")


def _reply(request_id: str):
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg()
    msg.file_urls_response.response_id = request_id
    return msg


def _delta(text: str):
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg()
    msg.metadata.delta_path[:] = [0, 0]
    msg.delta.new_element.markdown.body = text
    return msg


def test_upload_url_reply_survives_a_rerun() -> None:
    """The cause of the ten-session hang: a rerun's queue clear dropped the reply to the
    browser's upload-URL request, so that upload never started."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    from siting.ui import warm

    assert warm.keep_upload_replies()
    assert warm.keep_upload_replies()  # once per process: the hook is not stacked
    assert not hasattr(ForwardMsgQueue.clear.__wrapped__, "__wrapped__")

    q = ForwardMsgQueue()
    q.enqueue(_delta("old run"))
    q.enqueue(_reply("r1"))
    q.clear(retain_lifecycle_msgs=True)  # what a starting script run does
    assert [m.WhichOneof("type") for m in q.flush()] == ["file_urls_response"]
    assert q.is_empty()

    # after the clear, deltas still coalesce by path and the reply goes first
    q.enqueue(_reply("r2"))
    q.clear(retain_lifecycle_msgs=True)
    q.enqueue(_delta("a"))
    q.enqueue(_delta("b"))
    out = q.flush()
    assert [m.WhichOneof("type") for m in out] == ["file_urls_response", "delta"]
    assert out[0].file_urls_response.response_id == "r2"
    assert out[1].delta.new_element.markdown.body == "b"

    # a full clear (session gone) drops everything, as before
    q.enqueue(_reply("r3"))
    q.clear()
    assert q.is_empty()

    # Streamlit itself drops the reply (if this starts failing, Streamlit fixed it upstream and
    # keep_upload_replies can go)
    plain = ForwardMsgQueue()
    plain.enqueue(_reply("r4"))
    ForwardMsgQueue.clear.__wrapped__(plain, retain_lifecycle_msgs=True)
    assert plain.is_empty()


@pytest.mark.browser
def test_ten_sessions_see_only_their_own_results(server, browser, tmp_path: Path) -> None:  # noqa: F811
    base = server[0]
    t0 = time.perf_counter()
    expected = {}
    files = {}
    for i in range(N_SESSIONS):
        (tmp_path / f"e{i}").mkdir()
        expected[i] = _expected(i, tmp_path / f"e{i}")
        comm, sites = _variant(i)
        d = tmp_path / f"v{i}"
        d.mkdir()
        (d / f"社区{i}.geojson").write_bytes(comm)
        (d / f"站点{i}.csv").write_bytes(sites)
        files[i] = (d / f"社区{i}.geojson", d / f"站点{i}.csv")
    pops = {f"{s['population_total']:,.0f}" for s in expected.values()}
    assert len(pops) == N_SESSIONS  # every session's answer differs

    # Let the server finish its start-up warm-up (demo network and evaluation) first: this test
    # is about ten users at once on a running server. (A session that waited forever for its
    # second upload was Streamlit dropping the upload-URL reply when a rerun started, fixed by
    # siting.ui.warm.keep_upload_replies, see test_upload_url_reply_survives_a_rerun.)
    first = browser.new_context()
    try:
        warm = first.new_page()
        warm.set_default_timeout(TIMEOUT_MS)
        warm.goto(base + "/")
        warm.locator('[data-testid="stMetric"]').first.wait_for(state="visible")
    finally:
        first.close()
    contexts = [
        browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(N_SESSIONS)
    ]
    pages = [c.new_page() for c in contexts]
    try:
        for p in pages:
            p.set_default_timeout(TIMEOUT_MS)
            p.goto(base + "/data")
        for p in pages:
            p.locator('[data-testid="stFileUploader"] input[type="file"]').nth(1).wait_for(
                state="attached"
            )
        # all sessions upload before any result is awaited, so the server works on them
        # together; within a session the second file goes in after the first one's rerun has
        # shown it (an upload during a rerun can be replaced by the rerun's fresh widget)
        for i, p in enumerate(pages):
            _upload(p, 0, files[i][0])
        for i, p in enumerate(pages):
            _shown(p, files[i][0].name, 0, files[i][0])
            _upload(p, 1, files[i][1])
        for i, p in enumerate(pages):
            _shown(p, files[i][1].name, 1, files[i][1])
            p.get_by_text("已载入").first.wait_for(state="visible")
        for p in pages:
            p.get_by_role("link", name="总览").first.click()
        seen = {}
        for i, p in enumerate(pages):
            metric = p.locator('[data-testid="stMetric"]').filter(has_text="总人口")
            metric.first.wait_for(state="visible")
            value = metric.first.locator('[data-testid="stMetricValue"]').inner_text().strip()
            cov = p.locator('[data-testid="stMetric"]').filter(has_text="覆盖率").first
            seen[i] = (value, cov.locator('[data-testid="stMetricValue"]').inner_text().strip())
        elapsed = time.perf_counter() - t0
        print(f"\n{N_SESSIONS} sessions: all figures read in {elapsed:.1f} s")
        for i, (pop, cov) in seen.items():
            s = expected[i]
            assert pop == f"{s['population_total']:,.0f}", (i, seen)
            assert cov == f"{100 * s['coverage_rate']:.1f}%", (i, seen)
        assert len({v[0] for v in seen.values()}) == N_SESSIONS
        assert elapsed < 170
    finally:
        for c in contexts:
            c.close()


def test_memory_is_bounded_over_50_cycles() -> None:
    from streamlit.testing.v1 import AppTest

    rss = {}
    t0 = time.perf_counter()
    for cycle in range(1, 51):
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        at.switch_page("page_data.py").run()
        comm, sites = _variant(cycle % 10)
        at.file_uploader(key="up_communities").set_value(("c.geojson", comm, "application/json"))
        at.file_uploader(key="up_sites").set_value(("s.csv", sites, "text/csv"))
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.success, "no evaluation"
        del at
        if cycle in (10, 30, 50):
            gc.collect()
            rss[cycle] = _rss_mb()
    growth = rss[50] - rss[10]
    print(
        f"\nRSS after cycle 10/30/50: {rss[10]:.0f}/{rss[30]:.0f}/{rss[50]:.0f} MB, "
        f"growth 10->50 {growth:+.1f} MB, {time.perf_counter() - t0:.0f} s"
    )
    assert growth < 60.0, rss
