"""Fixes after the browser trial of the app (warnings shown, estate households, errors in the
solving box, downloads, overview counts, misleading text); AppTest where a page is involved."""

from __future__ import annotations

import threading
import warnings

import pytest

from siting._errors import SitingWarning
from tests._apptest import DEMO, needs_demo, upload_broken_communities
from tests._apptest import start_app as _app


def test_recording_survives_catch_warnings_in_another_thread() -> None:
    """A ``catch_warnings`` block in another thread that began before the collector was
    installed and ends while this thread records must not send the warnings to stderr."""
    from siting.ui.warm import recording

    saved = warnings.showwarning
    # as on the server (warm.start sets it before any thread starts): every repetition shown
    warnings.filterwarnings("always", category=SitingWarning)
    warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
    entered, leave, left = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        with warnings.catch_warnings():
            entered.set()
            leave.wait(10)
        left.set()

    th = threading.Thread(target=other)
    th.start()
    entered.wait(10)

    def work() -> int:
        leave.set()
        left.wait(10)  # the other thread put back the showwarning it saw
        warnings.warn("first", SitingWarning, stacklevel=1)
        warnings.warn("second", SitingWarning, stacklevel=1)
        return 7

    try:
        value, msgs = recording(work)
    finally:
        th.join()
        warnings.showwarning = saved
    assert value == 7
    assert msgs == ("first", "second")


def _bd09_sites_csv() -> bytes:
    """The demo's first 40 sites as a CSV in Baidu's BD-09 coordinates (each names its
    community, so the loader can tell the coordinates are shifted)."""
    import geopandas as gpd

    from siting.coords import wgs84_to_bd09

    s = gpd.read_file(DEMO / "sites.gpkg", engine="pyogrio").iloc[:40]
    lon, lat = wgs84_to_bd09(s.geometry.x.to_numpy(), s.geometry.y.to_numpy())
    frame = s.drop(columns="geometry").assign(lon=lon, lat=lat)
    return frame.to_csv(index=False).encode("utf-8")


def _upload_bd09(at) -> None:
    at.switch_page("page_data.py").run()
    at.file_uploader(key="up_communities").set_value(
        ("社区.gpkg", (DEMO / "communities.gpkg").read_bytes(), "application/octet-stream")
    )
    at.file_uploader(key="up_sites").set_value(("站点_bd09.csv", _bd09_sites_csv(), "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _bd09_warning(at) -> str:
    hits = [w.value for w in at.warning if "BD-09" in w.value]
    assert len(hits) == 1, [w.value for w in at.warning]
    return hits[0]


@needs_demo
def test_loader_warnings_show_on_every_page_and_rerun() -> None:
    at = _app()
    _upload_bd09(at)
    assert at.success  # loaded
    w = _bd09_warning(at)
    assert w.startswith("**请核对数据")  # the Chinese lead line
    assert "站点\\_bd09.csv" in w  # the user's file name (Markdown-escaped) ...
    assert "siting-session" not in w  # ... not the server's stored path
    assert "数据" in w and "--coords" not in w  # what to do in the app, not a CLI flag
    at.run()  # a rerun takes the cached result: the warning is still there
    _bd09_warning(at)
    for page in ("page_overview.py", "page_coverage.py", "page_compliance.py"):
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        _bd09_warning(at)


@needs_demo
def test_plan_notes_point_to_the_proposals_page() -> None:
    at = _app()
    at.switch_page("page_compliance.py").run()
    next(b for b in at.button if b.label == "计算提升计划").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(c.value for c in at.caption)
    assert "分设新站" in shown  # the demo's plan splits overloaded sites
    assert "siting propose" not in shown
    assert "「选址建议」页" in shown


def _estate_file(households: int) -> bytes:
    import json

    d = json.loads((DEMO / "estate.geojson").read_text(encoding="utf-8"))
    d["features"][0]["properties"]["households"] = households
    return json.dumps(d, ensure_ascii=False).encode("utf-8")


@needs_demo
def test_estate_upload_households_fill_the_box() -> None:
    at = _app()
    at.switch_page("page_estate.py").run()
    box = at.number_input(key="w_households")
    assert box.value == 1000  # the default before any estate
    at.file_uploader(key="up_estate").set_value(
        ("e1.geojson", _estate_file(1800), "application/json")
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="w_households").value == 1800
    assert at.session_state["cfg"]["households"] == 1800  # what the verdict is computed with
    # the user's own figure after the upload stays, through reruns
    at.number_input(key="w_households").set_value(2000).run()
    at.run()
    assert at.number_input(key="w_households").value == 2000
    # another file with households: its value
    at.file_uploader(key="up_estate").set_value(
        ("e2.geojson", _estate_file(1200), "application/json")
    )
    at.run()
    assert at.number_input(key="w_households").value == 1200


@needs_demo
def test_estate_verdict_says_straight_line_without_roads() -> None:
    import re

    at = _app()
    at.switch_page("page_data.py").run()
    for role, name in (("communities", "communities.gpkg"), ("sites", "sites.gpkg")):
        at.file_uploader(key=f"up_{role}").set_value(
            (name, (DEMO / name).read_bytes(), "application/octet-stream")
        )
    at.run()
    assert any("直线距离" in s.value for s in at.success)  # no road file: straight lines
    at.switch_page("page_estate.py").run()
    at.file_uploader(key="up_estate").set_value(
        ("e.geojson", _estate_file(2400), "application/json")
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert any(re.search(r"直线 [\d,]+ m", x) for x in texts), texts
    assert not any(re.search(r"步行 [\d,]+ m", x) for x in texts), texts


@needs_demo
def test_proposals_error_opens_the_solving_box(monkeypatch: pytest.MonkeyPatch) -> None:
    import siting.propose
    from siting._errors import InputError, Problem

    def broken(*args, **kwargs):
        raise InputError([Problem("候选.csv", "K1", "lon", "不是数字", "填写经度")])

    monkeypatch.setattr(siting.propose, "propose", broken)
    at = _app()
    at.switch_page("page_proposals.py").run()
    next(b for b in at.button if b.label == "计算选址").click().run()
    assert not at.exception, [e.value for e in at.exception]
    boxes = [e for e in at.main.children.values() if type(e).__name__ == "Status"]
    assert len(boxes) == 1
    box = boxes[0]
    assert box.label.startswith("无法计算") and box.state == "error"
    assert box.proto.expanded  # the problem table inside is visible
    table = at.dataframe[-1].value
    assert list(table["问题"]) == ["不是数字"]


@needs_demo
@pytest.mark.parametrize("page", ["page_overview.py", "page_compliance.py", "page_coverage.py"])
def test_downloads_do_not_rerun_the_page(page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    buttons = at.get("download_button")
    assert len(buttons) >= 2
    assert all(b.proto.ignore_rerun for b in buttons), [b.proto.label for b in buttons]


@needs_demo
def test_overview_level_table_counts_the_headline_sites() -> None:
    from siting import pipeline

    at = _app()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = pipeline.load_inputs()
    sites = inputs.sites
    assert (sites["status"] == "planned").sum() == 4  # the demo has planned sites
    n_ok, n_total = (
        int(x)
        for x in next(c.value for c in at.caption if "个站点达标" in c.value)
        .split(" ")[0]
        .split("/")
    )
    md = next(m.value for m in at.markdown if m.value.startswith("| 层级"))
    head = [h.strip() for h in md.splitlines()[0].strip("|").split("|")]
    rows = {
        r[0].strip(): [int(v.strip().replace(",", "")) for v in r[1:]]
        for r in (line.strip("|").split("|") for line in md.splitlines()[2:])
    }
    assert head == ["层级", "数量", "达标", "规划(未计入)"]
    counted = ("区级党群服务中心", "街镇党群服务中心", "党群服务站")
    # the counted levels add up to the headline's "n/total 个站点达标" (75/144 on the demo)
    assert sum(rows[lv][0] for lv in counted) == n_total
    assert sum(rows[lv][1] for lv in counted) == n_ok
    assert sum(r[2] for r in rows.values()) == 4  # the planned ones, shown apart


@needs_demo
def test_rejected_upload_is_marked_not_in_use() -> None:
    at = _app()
    at.switch_page("page_data.py").run()
    upload_broken_communities(at)
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    assert "✘ 社区.csv: 有问题,未使用" in captions
    assert not any(c.startswith("✔ 社区.csv") for c in captions)
    assert not any("正在使用上传的数据" in c for c in captions)
    assert any(c.startswith("上传的数据有问题") and "社区.csv" in c for c in captions)
    # a good file instead: marked in use, the sidebar says so
    at.file_uploader(key="up_communities").set_value(
        ("communities.gpkg", (DEMO / "communities.gpkg").read_bytes(), "application/octet-stream")
    )
    at.run()
    captions = [c.value for c in at.caption]
    assert "✔ communities.gpkg" in captions and "✔ sites.gpkg" in captions
    assert any("正在使用上传的数据" in c for c in captions)


@needs_demo
def test_proposal_warnings_stay_after_reruns() -> None:
    """A candidate 2 km outside the district is left out with a warning: shown on the page
    after solving and on every rerun (it was inside the collapsed solving box, once)."""
    import geopandas as gpd

    comm = gpd.read_file(DEMO / "communities.gpkg", engine="pyogrio")
    inner = comm.to_crs(comm.estimate_utm_crs()).representative_point().to_crs(4326)
    _xmin, ymin, xmax, ymax = comm.total_bounds
    rows = [f"K{i:03d},{p.x:.6f},{p.y:.6f}" for i, p in enumerate(inner.iloc[:20], 1)]
    rows.append(f"FAR1,{xmax + 0.03:.6f},{(ymin + ymax) / 2:.6f}")  # about 3 km east
    data = ("id,lon,lat\n" + "\n".join(rows) + "\n").encode()
    at = _app()
    at.switch_page("page_proposals.py").run()
    next(r for r in at.radio if r.label == "候选点来源").set_value("file").run()
    at.file_uploader(key="up_candidates").set_value(("候选.csv", data, "text/csv"))
    at.run()
    next(b for b in at.button if b.label == "计算选址").click().run()
    assert not at.exception, [e.value for e in at.exception]

    def far_warning() -> str:
        hits = [w.value for w in at.warning if "FAR1" in w.value]
        assert len(hits) == 1, [w.value for w in at.warning]
        return hits[0]

    assert far_warning().startswith("**请核对数据")
    at.run()
    far_warning()


def test_app_wording_replaces_command_line_flags() -> None:
    from siting.ui.common import app_wording

    plan = "分设新站 1 个：S1 2027 年分设 1 个），新站位置待定（可用 siting propose 选址）"
    assert app_wording(plan).endswith("新站位置待定（可在「选址建议」页选址）")
    hint = (
        "s.csv: the coordinates look like Baidu (BD-09): run again with --coords bd09 "
        "(or --sites-coords bd09 for the sites alone)"
    )
    assert app_wording(hint) == (
        "s.csv: the coordinates look like Baidu (BD-09): 在「数据」页把坐标系改为 BD-09"
    )
    crs = "drop --crs (it is for files without a CRS), or check --roads and --crs-x"
    assert app_wording(crs) == (
        "drop 「数据」页的「无坐标系文件的CRS(可选)」 (it is for files without a CRS), "
        "or check 「数据」页的「步行路网(可选)」 and --crs-x"
    )
