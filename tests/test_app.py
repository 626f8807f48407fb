"""The Streamlit app with ``streamlit.testing.v1.AppTest``: every page on the bundled demo.

Figures shown must equal what :mod:`siting.pipeline` computes directly; a broken upload must
show the problem table (file, row, field, problem, fix), never an exception. Helpers that do not
need Streamlit (uploads, assets, drawn shapes, clicks) are unit-tested at the end.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from siting._errors import InputError
from tests._apptest import APP, DEMO, needs_demo, upload_broken_communities
from tests._apptest import start_app as _app


@pytest.fixture(scope="module")
def direct():
    """Inputs, network and evaluation of the demo computed without the app."""
    from siting import pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = pipeline.load_inputs()
        network = pipeline.load_network(inputs.roads, inputs.communities)
        ev = pipeline.evaluate_inputs(inputs, network)
    return inputs, network, ev


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def app():
    return _app()


@needs_demo
def test_overview_figures_equal_pipeline(app, direct) -> None:
    _, _, ev = direct
    s = ev.summary
    m = _metrics(app)
    assert m["覆盖率"] == f"{100 * s['coverage_rate']:.1f}%"
    assert m["达标率"] == f"{100 * s['compliance_rate']:.1f}%"
    assert m["总人口"] == f"{s['population_total']:,.0f}"
    assert m["每站点服务人口"] == f"{s['population_total'] / s['sites_total']:,.0f}"
    # the counts by level: a Markdown table (header, rule, one row per level)
    md = next(m.value for m in app.markdown if m.value.startswith("| 层级"))
    rows = [line.strip("|").split("|") for line in md.splitlines()[2:]]
    assert len(rows) == 4
    # the existing sites (the planned ones are not counted, as in the headline)
    existing = ev.sites[ev.sites["status"] == "existing"]
    assert sum(int(r[1].strip().replace(",", "")) for r in rows) == len(existing)
    assert sum(int(r[2].strip().replace(",", "")) for r in rows) == int(existing["compliant"].sum())


@needs_demo
def test_english_switch(app) -> None:
    app.sidebar.radio(key="lang").set_value("en").run()
    assert not app.exception
    assert "Coverage rate" in _metrics(app)
    app.sidebar.radio(key="lang").set_value("zh").run()
    assert "覆盖率" in _metrics(app)


@needs_demo
def test_coverage_page_lists_communities_without_station(app, direct) -> None:
    _, _, ev = direct
    app.switch_page("page_coverage.py").run()
    assert not app.exception, [e.value for e in app.exception]
    lacking = int((~(ev.communities["nearest_station_distance_m"] <= 500)).sum())
    m = _metrics(app)
    assert m["500 米内无站的社区"] == str(lacking)
    assert m["覆盖率"] == f"{100 * ev.summary['coverage_rate']:.1f}%"
    # every resident beyond a station's radius, not only those in gap hexagons
    uncovered = ev.summary["population_total"] - ev.summary["population_covered"]
    assert m["未覆盖人口"] == f"{uncovered:,.0f}"
    assert uncovered > ev.gaps["population_uncovered"].sum()
    table = next(d.value for d in app.dataframe if "missing" in d.value.columns)
    assert len(table) == lacking
    assert (table["nearest_station_distance_m"].fillna(float("inf")) > 500).all()


@needs_demo
def test_coverage_radius_reevaluates(app, direct) -> None:
    from siting import pipeline

    inputs, network, ev = direct
    app.switch_page("page_coverage.py").run()
    app.select_slider(key="w_radius").set_value(800).run()
    assert not app.exception, [e.value for e in app.exception]
    std = ev.standard.with_overrides(station_service_radius_m=800.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wide = pipeline.evaluate_inputs(inputs, network, standard=std)
    m = _metrics(app)
    assert m["覆盖率"] == f"{100 * wide.summary['coverage_rate']:.1f}%"
    assert "800 米内无站的社区" in m
    app.select_slider(key="w_radius").set_value(500).run()


@needs_demo
def test_compliance_page(app, direct) -> None:
    _, _, ev = direct
    app.switch_page("page_compliance.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert _metrics(app)["达标率"] == f"{100 * ev.summary['compliance_rate']:.1f}%"
    assert len(app.dataframe[0].value) == len(ev.sites)
    # Chinese headers in Chinese mode, the canonical name as the tooltip; data unchanged
    config = json.loads(app.dataframe[0].proto.columns)
    assert config["reasons"] == {"label": "不达标原因", "help": "reasons"}
    assert config["population_served"]["label"] == "服务人口"
    assert "reasons" in app.dataframe[0].value.columns
    app.toggle(key="only_failing").set_value(True).run()
    assert len(app.dataframe[0].value) == int((~ev.sites["compliant"]).sum())


@needs_demo
def test_compliance_page_upgrade_plan(app, direct) -> None:
    from siting.ui.common import app_wording

    app.switch_page("page_compliance.py").run()
    assert not app.exception, [e.value for e in app.exception]
    next(b for b in app.button if b.label == "计算提升计划").click().run()
    assert not app.exception, [e.value for e in app.exception]
    _key, plan, _warned = app.session_state["plan"]
    shown = [c.value for c in app.caption]
    assert plan.notes, "the demo plan has notes (scheduled upgrades)"
    for note in plan.notes:
        zh, _, en = note.partition("\n")
        zh = app_wording(zh)  # the 选址建议 page named instead of `siting propose`
        assert zh in shown and en not in shown  # one language, the current one
    years = next(d.value for d in app.dataframe if "target_rate" in d.value.columns)
    assert years["met"].all() and len(years) == 3
    # the same plan as `siting plan` on the demo (its vacant buildings as move targets)
    from siting import io, pipeline
    from siting.plan import plan_upgrades

    _, network, ev = direct
    comm = pipeline.load_inputs().communities
    cands = io.load_candidates(pipeline.demo_paths()["candidates"], communities=comm)
    cli = plan_upgrades(ev, communities=comm, candidates=cands, network=network)
    assert plan.total_cost_yuan == pytest.approx(cli.total_cost_yuan)


@needs_demo
def test_proposals_page_solves(app) -> None:
    app.switch_page("page_proposals.py").run()
    assert not app.exception, [e.value for e in app.exception]
    app.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    m = _metrics(app)
    assert m["建议新建站点"] == "3"
    assert "新站按标准站(建筑面积不低于标准)评价" in [c.value for c in app.caption]
    # the status box (st.status) says the answer is proven, in Chinese
    boxes = [e for e in app.main.children.values() if type(e).__name__ == "Status"]
    assert [b.label for b in boxes] == ["计算完成: 已证明为最优方案"]
    before = float(m["覆盖率 · 现状"].rstrip("%"))
    after = float(m["覆盖率 · 新增后"].rstrip("%"))
    assert after >= before


@needs_demo
def test_proposals_page_capacity_and_status(app) -> None:
    app.switch_page("page_proposals.py").run()
    assert not app.exception, [e.value for e in app.exception]
    box = next(c for c in app.checkbox if c.label == "按建筑面积限定服务人口")
    box.check().run()
    app.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    params, result, _warned = app.session_state["proposal"]
    assert params[-1] is True and result.summary["capacity"] is True
    sol = result.solution
    shown = [c.value for c in app.caption]
    if sol.status == "optimal":
        assert "已证明为最优方案" in shown
    else:
        assert f"时限内的最好方案,与最优方案相差不超过 {100 * sol.gap:.2f}%" in shown
    assert _metrics(app)["建议新建站点"] == "3"
    s = result.summary
    r = params[5]
    assert (
        f"{r} 米内有站点的居民占比:{100 * s['coverage_rate_within_radius_before']:.1f}% → "
        f"{100 * s['coverage_rate_within_radius_after']:.1f}%" in shown
    )
    assert "新站按标准站(建筑面积不低于标准)评价" not in shown  # own floor areas here
    within = 100 * s["coverage_rate_after_within_capacity"]
    assert any(c.startswith("按面积容量可服务的覆盖率:") and f"→ {within:.1f}%" in c for c in shown)
    box.uncheck().run()


@needs_demo
def test_proposals_page_auto_candidates_match_the_cli(app, tmp_path, capsys) -> None:
    """The page's default candidates are `siting propose`'s (`--candidates auto`): the same
    stations for the same model, p and radius."""
    from siting.cli import main

    app.switch_page("page_proposals.py").run()
    radio = next(r for r in app.radio if r.label == "候选点来源")
    assert radio.value == "auto" and radio.options == [
        "自动:沿街路口、广场公园及闲置建筑",
        "示例区闲置公共建筑",
        "上传候选点文件",
    ]
    app.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    params, result, _warned = app.session_state["proposal"]
    model, p, radius = params[3:6]
    assert (model, p, radius) == ("mclp", 3, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            ["propose", "--model", model, "--p", str(p), "--radius", str(radius),
             "--out", str(tmp_path)]
        )  # fmt: skip
    assert code == 0
    cli = gpd.read_file(tmp_path / "proposals.geojson")
    assert sorted(result.stations["id"]) == sorted(cli["id"])
    shown = [c.value for c in app.caption]
    assert any(c.startswith("候选点: 自动 (") for c in shown), shown
    assert "1,465" in next(c for c in shown if c.startswith("候选点: 自动 ("))


@needs_demo
def test_proposals_page_buildings_and_file_sources(app) -> None:
    app.switch_page("page_proposals.py").run()
    radio = next(r for r in app.radio if r.label == "候选点来源")
    radio.set_value("buildings").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "候选点: candidates.gpkg (52)" in [c.value for c in app.caption]
    assert not app.button[0].disabled
    # "upload a file" without a file: nothing to solve over, the button is off
    next(r for r in app.radio if r.label == "候选点来源").set_value("file").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "候选点: 未上传文件 (0)" in [c.value for c in app.caption]
    assert app.button[0].disabled
    next(r for r in app.radio if r.label == "候选点来源").set_value("auto").run()


@needs_demo
def test_estate_page_upload(app) -> None:
    app.switch_page("page_estate.py").run()
    assert not app.exception
    assert any("画出或上传" in i.value for i in app.info)
    data = (DEMO / "estate.geojson").read_bytes()
    app.file_uploader(key="up_estate").set_value(("estate.geojson", data, "application/json"))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.info or app.success or app.error  # a verdict is shown
    # the suggestion lands 33 m from S0094 (640 m2): the advice to build with it is shown
    assert any("S0094" in w.value and "多社区一中心" in w.value for w in app.warning)


@needs_demo
def test_data_page_broken_upload_shows_problem_table() -> None:
    at = _app()
    at.switch_page("page_data.py").run()
    assert not at.exception
    assert any("示例" in c.value for c in at.caption)
    upload_broken_communities(at)
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "数据问题" in at.error[0].value
    table = at.dataframe[-1].value
    assert list(table.columns) == ["文件", "行/编号", "字段", "问题", "修改方法"]
    assert (table["文件"] == "社区.csv").all()  # the user's name, not the server's temp path
    # Other pages show the same table instead of a traceback.
    at.switch_page("page_overview.py").run()
    assert not at.exception
    assert at.error


def test_upload_rules(tmp_path: Path) -> None:
    from siting.ui.uploads import SessionFiles, safe_name

    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\x\\社区 边界.geojson") == "社区_边界.geojson"
    a, b = SessionFiles(max_bytes=100), SessionFiles(max_bytes=100)
    assert a.dir != b.dir
    stored = a.store("communities", "../x.csv", b"id,population\n1,2\n")
    assert stored.path.parent.parent == a.dir and stored.path.read_bytes().startswith(b"id")
    with pytest.raises(InputError, match="over the limit"):
        a.store("communities", "big.csv", b"x" * 101)
    with pytest.raises(InputError, match="not read here"):
        a.store("communities", "run.exe", b"MZ")
    with pytest.raises(InputError, match="empty"):
        a.store("sites", "s.csv", b"")
    d = a.dir
    a.close()
    assert not d.exists()
    d = b.dir
    del b
    import gc

    gc.collect()
    assert not d.exists()  # removed when the session's object goes away


def test_localize_makes_maps_offline() -> None:
    import folium
    from folium.plugins import Draw

    from siting.ui.assets import localize

    m = folium.Map(tiles=None)
    Draw().add_to(m)
    folium.CircleMarker([31.2, 121.4], radius=3).add_to(m)
    html = localize(m).get_root().render()
    assert "cdn.jsdelivr.net" not in html and "cdnjs" not in html and "code.jquery" not in html
    js = [u for u in html.split('src="')[1:] if u.startswith("data:text/javascript;base64,")]
    decoded = [base64.b64decode(u.split(",", 1)[1].split('"', 1)[0]) for u in js]
    assert any(b"Leaflet 1.9.4" in d for d in decoded)
    assert any(b"Leaflet.draw" in d for d in decoded)


def test_drawn_shapes_and_clicks() -> None:
    from siting.ui.drawing import drawn_shapes
    from siting.ui.pick import clicked_feature

    poly = {"type": "Feature", "geometry": box(121.40, 31.20, 121.41, 31.21).__geo_interface__}
    pt = {"type": "Feature", "geometry": Point(121.405, 31.205).__geo_interface__}
    est, site = drawn_shapes([poly, pt, {"geometry": None}])
    assert est.geometry.iloc[0].equals(box(121.40, 31.20, 121.41, 31.21))
    assert site.geometry.iloc[0].equals(Point(121.405, 31.205))
    assert drawn_shapes(None) == (None, None)
    est_gcj, _ = drawn_shapes([poly], gcj02=True)
    shift = est_gcj.to_crs(32651).centroid.iloc[0].distance(est.to_crs(32651).centroid.iloc[0])
    assert 100 < shift < 1000  # GCJ-02 drawn on AMap tiles comes back to WGS-84

    class Ev:
        sites = gpd.GeoDataFrame(
            {"site_id": ["S1"], "name": ["甲站"]}, geometry=[Point(121.405, 31.205)], crs=4326
        ).to_crs(32651)
        communities = gpd.GeoDataFrame(
            {"community_id": ["C1"], "name": ["东社区"]},
            geometry=[box(121.40, 31.20, 121.41, 31.21)],
            crs=4326,
        ).to_crs(32651)

    kind, row = clicked_feature({"lat": 31.2051, "lng": 121.4051}, Ev)
    assert (kind, row["site_id"]) == ("site", "S1")
    kind, row = clicked_feature({"lat": 31.201, "lng": 121.401}, Ev)
    assert (kind, row["community_id"]) == ("community", "C1")
    assert clicked_feature({"lat": 30.0, "lng": 120.0}, Ev) is None
    assert clicked_feature(None, Ev) is None


# ----------------------------------------------------------------------------- small uploads
def _variant(i: int) -> tuple[bytes, bytes]:
    """A small district (4 communities, 2 sites) whose populations depend on ``i``."""
    import json

    feats = []
    for k, (x, y) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        poly = box(121.40 + 0.01 * x, 31.20 + 0.01 * y, 121.41 + 0.01 * x, 31.21 + 0.01 * y)
        props = {"编号": f"C{k}", "名称": f"社区{k}", "人口": 1000 + 137 * i + 311 * k}
        props["户数"] = props["人口"] // 3
        feats.append({"type": "Feature", "properties": props, "geometry": poly.__geo_interface__})
    comm = json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)
    sites = (
        "编号,名称,层级,建筑面积,一层面积,经度,纬度\n"
        f"S1,甲站,党群服务站,{400 + 10 * i},{200 + 5 * i},121.405,31.205\n"
        "S2,乙站,党群服务站,1200,700,121.415,31.215\n"
    )
    return comm.encode(), sites.encode()


def _upload(at, i: int) -> None:
    comm, sites = _variant(i)
    at.file_uploader(key="up_communities").set_value((f"社区{i}.geojson", comm, "application/json"))
    at.file_uploader(key="up_sites").set_value((f"站点{i}.csv", sites, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _expected(i: int, tmp_path: Path) -> dict:
    from siting import pipeline

    comm, sites = _variant(i)
    (tmp_path / "c.geojson").write_bytes(comm)
    (tmp_path / "s.csv").write_bytes(sites)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = pipeline.load_inputs(tmp_path / "c.geojson", tmp_path / "s.csv")
        net = pipeline.load_network(inputs.roads, inputs.communities)
        return pipeline.evaluate_inputs(inputs, net).summary


def test_upload_updates_sidebar_at_once_and_figures(tmp_path: Path) -> None:
    at = _app()
    at.switch_page("page_data.py").run()
    _upload(at, 3)
    # the sidebar says so in the same run as the upload, with the file names
    assert any("正在使用上传的数据" in c.value and "社区3.geojson" in c.value for c in at.caption)
    at.switch_page("page_overview.py").run()
    s = _expected(3, tmp_path)
    assert _metrics(at)["总人口"] == f"{s['population_total']:,.0f}"
    assert _metrics(at)["覆盖率"] == f"{100 * s['coverage_rate']:.1f}%"


@needs_demo
def test_threshold_table_has_chinese_labels() -> None:
    at = _app()
    at.switch_page("page_data.py").run()
    frame = next(d.value for d in at.dataframe if "服务半径(米,步行)" in d.value.columns)
    assert "服务半径(米,步行)" in frame.columns and "最小建筑面积(m²)" in frame.columns
    assert "党群服务站" in list(frame.index)
    assert frame.index.name == "层级"


# ----------------------------------------------------------------------------- radius reuse
@needs_demo
@pytest.mark.parametrize("radius", [300.0, 800.0])
def test_reuse_network_gives_the_engines_figures(direct, radius: float) -> None:
    import pandas as pd

    from siting import pipeline
    from siting.ui.reuse import ReuseNetwork

    inputs, network, ev = direct
    reuse = ReuseNetwork(network, floor=1000.0)
    std = ev.standard.with_overrides(station_service_radius_m=radius)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.evaluate_inputs(inputs, reuse)  # fills the memo at the 500 m default
        fast = pipeline.evaluate_inputs(inputs, reuse, standard=std)
        plain = pipeline.evaluate_inputs(inputs, network, standard=std)
    assert reuse.hits > 0
    assert fast.summary == plain.summary
    for name in ("sites", "communities", "gaps", "streets", "trajectory"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(plain, name))


def test_reuse_network_filters_pairs_by_cutoff() -> None:
    import numpy as np

    from siting.network import EuclideanNetwork
    from siting.ui.reuse import ReuseNetwork

    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 2000, (40, 2)), rng.uniform(0, 2000, (30, 2))
    plain = EuclideanNetwork("EPSG:32651")
    reuse = ReuseNetwork(plain, floor=1500.0)
    for cutoff in (1500.0, 700.0, 300.0, 2500.0):
        got, want = reuse.distances(a, b, cutoff), plain.distances(a, b, cutoff)
        assert (got != want).nnz == 0 and got.nnz == want.nnz
    i1, d1 = reuse.nearest(a, b, 400.0)
    i2, d2 = plain.nearest(a, b, 400.0)
    assert (i1 == i2).all() and np.array_equal(d1, d2)
    assert reuse.kind == plain.kind and reuse.crs == plain.crs
    assert reuse.misses == 3 and reuse.hits == 2  # 1500 searched once for 1500/700/300


# ----------------------------------------------------------------------------- login
@needs_demo
def test_password_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SITING_PASSWORD", "正确 horse")
    monkeypatch.delenv("SITING_REQUIRE_LOGIN", raising=False)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception
    assert not at.metric and not at.dataframe  # nothing but the form
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert at.error and "密码不正确" in at.error[0].value
    assert not at.metric and not at.dataframe
    at.text_input(key="login_password").input("正确 horse")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "覆盖率" in _metrics(at)
    assert at.session_state["auth_ok"] is True


def test_password_compare() -> None:
    from siting.ui.auth import password_ok

    assert password_ok("密码", "密码")
    assert not password_ok("密码 ", "密码") and not password_ok("", "x")


# ----------------------------------------------------------------------------- scenarios
@needs_demo
def test_scenarios_save_list_load_compare_delete(tmp_path: Path, monkeypatch) -> None:
    from siting.store import Store

    store = tmp_path / "scen.sqlite"
    monkeypatch.setenv("SITING_STORE", str(store))
    a = _app()
    a.switch_page("page_data.py").run()
    _upload(a, 5)
    a.switch_page("page_scenarios.py").run()
    assert not a.exception, [e.value for e in a.exception]
    assert any("还没有保存的方案" in i.value for i in a.info)
    a.text_input(key="scen_name").input("方案五")
    a.button[0].click().run()  # the form's save button
    assert not a.exception, [e.value for e in a.exception]
    assert any("方案五" in s.value for s in a.success)
    a.session_state["cfg"]["overrides"] = {"station_service_radius_m": 300.0}
    a.text_input(key="scen_name").input("半径300")
    a.button[0].click().run()
    with Store.open(store) as s:
        assert s.names() == ["半径300", "方案五"]
        saved = s.load("方案五")
    assert saved.parameters["source"] == "upload"
    assert saved.summary["population_total"] == _expected(5, tmp_path)["population_total"]

    # another session (another browser) loads it: data and parameters restored
    b = _app()
    b.switch_page("page_scenarios.py").run()
    assert list(b.dataframe[0].value["name"]) == ["半径300", "方案五"]
    b.selectbox(key="scen_pick").set_value("半径300").run()
    b.button(key="scen_load").click().run()
    assert not b.exception, [e.value for e in b.exception]
    assert b.session_state["cfg"]["overrides"] == {"station_service_radius_m": 300.0}
    assert any("半径300" in s.value for s in b.success)
    b.switch_page("page_overview.py").run()
    assert _metrics(b)["总人口"] == f"{saved.summary['population_total']:,.0f}"

    # compare and delete
    b.switch_page("page_scenarios.py").run()
    b.selectbox(key="scen_a").set_value("方案五")
    b.selectbox(key="scen_b").set_value("半径300")
    b.button(key="scen_compare_btn").click().run()
    diff = b.dataframe[-1].value
    assert "coverage_rate" in set(diff["item"])
    b.selectbox(key="scen_pick").set_value("方案五").run()
    b.button(key="scen_delete").click().run()
    assert not b.exception, [e.value for e in b.exception]
    with Store.open(store) as s:
        assert s.names() == ["半径300"]


def test_scenarios_bad_store_shows_message(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "not_a_store.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("SITING_STORE", str(bad))
    at = _app()
    at.switch_page("page_scenarios.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "方案库无法使用" in at.error[0].value


def test_small_table_escapes_markdown() -> None:
    import pandas as pd

    from siting.ui.common import small_table

    md = small_table(
        pd.DataFrame({"名称 name": ["a|b", "x*y_z", "$5\nline"], "n": [1234567, 2, 3]})
    )
    lines = md.splitlines()
    assert lines[0] == "| 名称 name | n |"
    assert lines[1] == "|---|---|"
    assert lines[2] == "| a\\|b | 1,234,567 |"
    assert lines[3] == "| x\\*y\\_z | 2 |"
    assert lines[4] == "| \\$5 line | 3 |"
