"""Tests of siting.maps on the hand-built evaluation of tests/_evalfixture.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from _evalfixture import (
    CRS,
    make_evaluation,
    make_large_evaluation,
    make_proposals,
    make_service_areas,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from siting import maps
from siting._errors import InputError
from siting.maps import district_map, estate_map, proposals_map, save_map

KEY = "0123456789abcdef0123456789abcdef"


def js(text: str) -> str:
    """How folium's ``tojson`` writes a string inside the page (non-ASCII \\u-escaped)."""
    return json.dumps(text)[1:-1]


def js_html(text: str) -> str:
    """How folium's ``tojson`` writes an HTML string (also ``<``, ``>``, ``&`` and ``'``
    escaped)."""
    from jinja2.utils import htmlsafe_json_dumps

    return str(htmlsafe_json_dumps(text))[1:-1]


def layers(m: folium.Map) -> dict[str, list[folium.GeoJson]]:
    """FeatureGroup name -> the GeoJson layers inside it."""
    out: dict[str, list[folium.GeoJson]] = {}
    for child in m._children.values():
        if isinstance(child, folium.FeatureGroup):
            out[child.layer_name] = [
                g for g in child._children.values() if isinstance(g, folium.GeoJson)
            ]
    return out


def features(m: folium.Map, prefix: str) -> list[dict]:
    found = [
        f
        for name, gs in layers(m).items()
        if name.startswith(prefix)
        for g in gs
        for f in g.data["features"]
    ]
    return found


def coords_of(feature: dict) -> np.ndarray:
    return np.array(shapely.get_coordinates(shapely.geometry.shape(feature["geometry"])))


@pytest.fixture(scope="module")
def ev():
    return make_evaluation()


@pytest.fixture(scope="module")
def full_map(ev):
    return district_map(
        ev, service_areas=make_service_areas(ev), proposals=make_proposals(ev), title="示范区 demo"
    )


@pytest.fixture(scope="module")
def page(full_map) -> str:
    return full_map.get_root().render()


def test_layers_and_feature_counts(full_map):
    names = list(layers(full_map))
    assert names == [
        "社区覆盖率 Community coverage",
        "缺口六边形 Gap hexagons",
        "服务范围 300 m Service area",
        "服务范围 500 m Service area",
        "服务范围 1,000 m Service area",
        "站点·街镇党群服务中心 street center",
        "站点·党群服务站 station",
        "站点·党群服务点 point",
        "拟新建站点 Proposed stations",
    ]
    assert len(features(full_map, "社区覆盖率")) == 3
    assert len(features(full_map, "缺口")) == 2
    assert len(features(full_map, "站点")) == 3
    assert len(features(full_map, "拟新建")) == 1
    # the two overlapping 1,000 m circles are dissolved into one feature per cut-off
    for cutoff in ("300", "500", "1,000"):
        assert len(features(full_map, f"服务范围 {cutoff} m")) == 1
    assert isinstance(
        next(c for c in full_map._children.values() if isinstance(c, folium.LayerControl)),
        folium.LayerControl,
    )


def test_legend_and_tooltips_in_chinese(page):
    for text in (
        "社区覆盖率",
        "站点层级",
        "达标 compliant",
        "未达标",
        "拟新建站点",
        "缺口",
        "街镇党群服务中心",
        "步行 500 m 服务范围",
        "覆盖率 coverage 73.9%",
    ):
        assert js(text) in page, text
    for alias in (
        "名称",
        "街镇",
        "人口",
        "覆盖率(站及以上)",
        "最近站点及距离",
        "状态",
        "缺什么",
        "层级",
        "建筑面积",
        "一层面积占比",
        "是否达标(原因)",
        "服务人口",
    ):
        assert js(f'"{alias}"') in page or f'"{js(alias)}"' in page, alias
    assert "<title>示范区 demo</title>" in page


def test_tooltip_values(full_map):
    comm = {f["properties"]["name"]: f["properties"] for f in features(full_map, "社区覆盖率")}
    assert comm["梅园社区"]["covered"] == "100%"
    assert comm["兰溪村"]["covered"] == "0%"
    assert comm["兰溪村"]["status"] == "缺口"
    assert comm["兰溪村"]["missing"] == "缺少党群服务站"
    assert comm["梅园社区"]["missing"] == "—"
    assert comm["梅园社区"]["nearest"] == "东街道党群服务中心 · 120 m"
    assert comm["梅园社区"]["population"] == "12,000"
    site = {f["properties"]["name"]: f["properties"] for f in features(full_map, "站点")}
    assert site["竹林站"]["compliant"].startswith("否 — 建筑面积 420 m²")
    assert site["竹林站"]["ground_share"] == "29%"
    assert site["竹林站"]["floor_area"] == "420 m²"
    assert site["东街道党群服务中心"]["compliant"] == "是"
    assert site["东街道党群服务中心"]["served"] == "12,000"
    assert site["兰溪点"]["level"] == "党群服务点"


def test_compliance_colours(full_map):
    station = layers(full_map)["站点·党群服务站 station"]
    (g,) = station
    assert maps.NONCOMPLIANT_COLOR in g.marker.icon.options["html"]
    center = layers(full_map)["站点·街镇党群服务中心 street center"]
    assert maps.COMPLIANT_COLOR in center[0].marker.icon.options["html"]


def test_community_colour_scale(full_map):
    (g,) = layers(full_map)["社区覆盖率 Community coverage"]
    by_name = {
        f["properties"]["name"]: g.style_function(f)["fillColor"] for f in g.data["features"]
    }
    assert by_name["梅园社区"] == maps.COVERAGE_COLORS[-1]
    assert by_name["兰溪村"] == maps.COVERAGE_COLORS[0]


def test_gap_colour_scale_and_legend(ev, full_map, page):
    """Gap hexagons coloured by uncovered residents on a log scale from the smallest gap (2,500)
    to the largest (3,000); the legend gives both ends and their geometric middle (2,739)."""
    (g,) = layers(full_map)["缺口六边形 Gap hexagons"]
    by_pop = {
        f["properties"]["population"]: g.style_function(f)["fillColor"] for f in g.data["features"]
    }
    assert by_pop == {"2,500": maps.GAP_COLORS[0], "3,000": maps.GAP_COLORS[-1]}
    assert js("未覆盖人口 uncovered (≥ 2,500)") in page
    assert js_html("<span>2,500</span><span>2,739</span><span>3,000</span>") in page
    # a wide range: the geometric middle gets the middle colour (a linear scale would not)
    wide = ev.gaps.iloc[[0, 1, 0]].assign(population_uncovered=[100.0, 10_000.0, 1_000.0])
    m = district_map({"communities": ev.communities, "sites": None, "gaps": wide})
    (g,) = layers(m)["缺口六边形 Gap hexagons"]
    colours = {
        f["properties"]["population"]: g.style_function(f)["fillColor"] for f in g.data["features"]
    }
    assert colours == {
        "100": maps.GAP_COLORS[0],
        "10,000": maps.GAP_COLORS[-1],
        "1,000": maps.GAP_COLORS[2],
    }


def test_legend_compact_and_layer_control_folds_on_small_maps(full_map, page):
    """The legend sits bottom left in a <details> (folds to its title on maps under 400 px);
    the layer list is folded to its icon on maps under 700 px (the app's), open on taller ones
    (a saved map in a browser window)."""
    ctl = [c for c in full_map._children.values() if isinstance(c, folium.LayerControl)]
    assert len(ctl) == 1
    assert re.search(r"collapsed: map_\w+\.getSize\(\)\.y < 700", page)
    assert 'L.control({position: "bottomleft"})' in page
    assert 'L.DomUtil.create("details", "siting-legend")' in page
    assert "div.open = map.getSize().y >= 400" in page
    assert js_html("<summary>示范区 demo</summary>") in page
    # two columns: area colours, then site symbols
    assert page.count(js_html('<div class="sl-col">')) == 2


def test_coordinates_lonlat_and_rounded(ev, full_map):
    t = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    (f,) = [f for f in features(full_map, "站点") if f["properties"]["name"] == "竹林站"]
    x, y = ev.sites.geometry.iloc[1].coords[0]
    lon, lat = t.transform(x, y)
    got = coords_of(f)[0]
    assert got == pytest.approx([lon, lat], abs=1e-6)
    for feat in features(full_map, ""):
        c = coords_of(feat)
        assert np.all(np.round(c, 6) == c)
        assert np.all((c[:, 0] > 121.4) & (c[:, 0] < 121.6) & (c[:, 1] > 31.2) & (c[:, 1] < 31.3))


def _site_coords(m: folium.Map) -> np.ndarray:
    feats = sorted(features(m, "站点"), key=lambda f: f["properties"]["name"])
    return np.array([coords_of(f)[0] for f in feats])


def test_amap_shifts_to_gcj02_and_others_do_not(ev):
    from siting.coords import wgs84_to_gcj02

    base = _site_coords(district_map(ev))
    for basemap, key in (("osm", None), ("tianditu", KEY)):
        assert np.array_equal(
            _site_coords(district_map(ev, basemap=basemap, tianditu_key=key)), base
        )
    shifted = _site_coords(district_map(ev, basemap="amap"))
    lon, lat = wgs84_to_gcj02(base[:, 0], base[:, 1])
    assert shifted == pytest.approx(np.column_stack([lon, lat]), abs=2e-6)
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dist = geod.inv(base[:, 0], base[:, 1], shifted[:, 0], shifted[:, 1])
    assert np.all((dist > 100) & (dist < 1000)), dist  # hundreds of metres in Shanghai
    # polygons move too
    c0 = coords_of(features(district_map(ev), "社区")[0])
    c1 = coords_of(features(district_map(ev, basemap="amap"), "社区")[0])
    assert np.abs(c1 - c0).max() > 1e-3


def test_basemap_tiles_and_attribution(ev):
    none = district_map(ev).get_root().render()
    assert "tile.openstreetmap.org" not in none and "tianditu" not in none
    assert maps.NO_TILES_BACKGROUND in none
    assert "jquery" not in none and "bootstrap" not in none
    osm = district_map(ev, basemap="osm").get_root().render()
    assert "tile.openstreetmap.org" in osm and "OpenStreetMap" in osm and "contributors" in osm
    tdt = district_map(ev, basemap="tianditu", tianditu_key=KEY).get_root().render()
    assert "tianditu.gov.cn/vec_w/wmts" in tdt and "tianditu.gov.cn/cva_w/wmts" in tdt
    assert f"tk={KEY}" in tdt and js("天地图") in tdt
    amap = district_map(ev, basemap="amap").get_root().render()
    assert "autonavi.com" in amap and js("高德地图") in amap and js("GCJ-02") in amap


@pytest.mark.parametrize("key", [None, "", "   "])
def test_tianditu_without_key_errors(ev, key):
    with pytest.raises(InputError, match="Tianditu key"):
        district_map(ev, basemap="tianditu", tianditu_key=key)


def test_bad_key_and_unknown_basemap(ev):
    with pytest.raises(InputError, match="not a Tianditu key"):
        district_map(ev, basemap="tianditu", tianditu_key="abc&x=<script>")
    with pytest.raises(InputError, match="unknown basemap 'google'"):
        district_map(ev, basemap="google")


def test_inputs_not_mutated(ev):
    before = ev.communities.copy()
    district_map(ev, basemap="amap", simplify_m=50)
    assert ev.communities.crs == before.crs
    assert ev.communities.geometry.geom_equals_exact(before.geometry, 0).all()


def test_simplification_reduces_vertices():
    ev = make_evaluation()
    wiggly = ev.communities.copy()
    wiggly["geometry"] = wiggly.geometry.buffer(50, quad_segs=64)
    ev2 = type(ev)(**{**ev.__dict__, "communities": wiggly})
    n_raw = len(coords_of(features(district_map(ev2, simplify_m=0), "社区")[0]))
    n_simple = len(coords_of(features(district_map(ev2, simplify_m=5), "社区")[0]))
    assert n_simple < n_raw / 3


def test_missing_layers_are_skipped():
    ev = make_evaluation()
    m = district_map({"communities": ev.communities, "sites": ev.sites.iloc[:0], "gaps": None})
    assert list(layers(m)) == ["社区覆盖率 Community coverage"]


def test_proposals_map_before_after(ev):
    after = type(ev)(**{**ev.__dict__, "summary": {**ev.summary, "coverage_rate": 0.9}})
    m = proposals_map(ev, make_proposals(ev), after=after)
    names = list(layers(m))
    assert names[0] == "社区覆盖率(新增前) Coverage before"
    assert "拟新建站点 Proposed stations" in names
    page = m.get_root().render()
    assert js("73.9% → 90.0%") in page
    (p,) = features(m, "拟新建")
    assert p["properties"]["服务人口"] == "2,800"
    assert p["properties"]["名称"] == "新建站 1"


def test_estate_map(ev):
    ox, oy = ev.sites.geometry.iloc[0].coords[0]
    estate = shapely.box(ox - 200, oy - 100, ox, oy + 100)
    m = estate_map(
        estate,
        crs=CRS,
        sites=ev.sites,
        proposed_site=shapely.Point(ox - 100, oy),
        suggested_site=shapely.Point(ox - 10, oy + 90),
        radius_m=600,
        verdict=["不达标: 未配建党群服务站"],
    )
    names = list(layers(m))
    assert names[0] == "新建小区 Estate"
    assert len(features(m, "站点")) == 1  # only S1 is within 600 m of the estate
    assert len(features(m, "拟选址")) == 1 and len(features(m, "建议位置")) == 1
    assert js("不达标: 未配建党群服务站") in m.get_root().render()
    with pytest.raises(ValueError, match="crs"):
        estate_map(estate)


def test_save_map_inlines_local_leaflet(ev, tmp_path, monkeypatch):
    d = tmp_path / "leaflet"
    d.mkdir()
    (d / "leaflet.js").write_text("/* LOCAL-LEAFLET-JS */ var L = {};", encoding="utf-8")
    (d / "leaflet.css").write_text("/* LOCAL-LEAFLET-CSS */", encoding="utf-8")
    monkeypatch.setenv("SITING_LEAFLET_DIR", str(d))
    out = save_map(district_map(ev), tmp_path / "m.html")
    text = out.read_text(encoding="utf-8")
    assert "LOCAL-LEAFLET-JS" in text and "LOCAL-LEAFLET-CSS" in text
    assert 'leaflet.js"' not in text and 'leaflet.css"' not in text
    cdn = save_map(district_map(ev), tmp_path / "cdn.html", inline_leaflet=False).read_text()
    assert "LOCAL-LEAFLET-JS" not in cdn and "/dist/leaflet.js" in cdn
    # no temporary files left beside the outputs
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["cdn.html", "m.html"]


def test_save_map_requires_leaflet_when_asked(ev, tmp_path, monkeypatch):
    monkeypatch.delenv("SITING_LEAFLET_DIR", raising=False)
    monkeypatch.setattr(maps, "_LEAFLET_DIRS", (str(tmp_path / "nowhere"),))
    with pytest.raises(FileNotFoundError, match="libjs-leaflet"):
        save_map(district_map(ev), tmp_path / "m.html", inline_leaflet=True)
    assert not (tmp_path / "m.html").exists()
    save_map(district_map(ev), tmp_path / "m.html")  # default: falls back to the CDN link
    assert "/dist/leaflet.js" in (tmp_path / "m.html").read_text()


def test_demo_sized_map_stays_small(tmp_path):
    ev = make_large_evaluation()
    keep = ev.sites[ev.sites["level"] != "point"]
    areas = gpd.GeoDataFrame(
        {"cutoff_m": np.repeat([300.0, 500.0, 1000.0], len(keep))},
        geometry=np.concatenate([keep.geometry.buffer(r).to_numpy() for r in (300, 500, 1000)]),
        crs=CRS,
    )
    path = save_map(
        district_map(ev, service_areas=areas), tmp_path / "big.html", inline_leaflet=False
    )
    size = path.stat().st_size
    assert size < 3_000_000, size
    m = district_map(ev)
    assert len(features(m, "社区")) == 196 and len(features(m, "缺口")) == 1000
    assert len(features(m, "站点")) == 500


def test_saved_html_is_complete(ev, tmp_path):
    path = save_map(district_map(ev, title="示范区"), tmp_path / "x" / "map.html")
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "L.control" in text and "siting-legend" in text


def test_vendored_leaflet_is_inlined_with_its_images(ev, tmp_path, monkeypatch):
    monkeypatch.delenv("SITING_LEAFLET_DIR", raising=False)
    found = maps.find_local_leaflet()
    if found is None:
        pytest.skip("no local Leaflet on this machine")
    text = save_map(district_map(ev), tmp_path / "m.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net/npm/leaflet" not in text
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', text)  # nothing fetched
    if "images/layers.png" in found[1].read_text(encoding="utf-8"):
        assert "url(data:image/png;base64," in text


def test_real_evaluation_map():
    from _evalfixture import make_real_evaluation

    ev = make_real_evaluation()
    m = district_map(ev, basemap="amap")
    assert len(features(m, "社区覆盖率")) == len(ev.communities)
    assert len(features(m, "站点")) == len(ev.sites)
    assert len(features(m, "缺口")) == len(ev.gaps)
    site = {f["properties"]["name"]: f["properties"] for f in features(m, "站点")}
    s2 = ev.sites.set_index("name").loc["竹林站"]
    assert site["竹林站"]["compliant"] == "否 — " + s2["reasons"].replace("<", "&lt;")
    comm = {f["properties"]["name"]: f["properties"] for f in features(m, "社区覆盖率")}
    assert comm["兰溪村"]["status"] == "缺口"


def test_hidden_levels_start_switched_off_but_stay_in_the_layer_control() -> None:
    """``hidden_levels=("point",)``: the point layer is off, every other layer on, and the point
    layer is still listed (the user can switch it on)."""
    import json

    import folium

    ev = make_evaluation()
    m = district_map(ev, basemap="none", hidden_levels=("point",))
    groups = {
        c.layer_name: c.show for c in m._children.values() if isinstance(c, folium.FeatureGroup)
    }
    name = "站点·党群服务点 point"
    assert groups.pop(name) is False
    assert groups and all(groups.values()), groups
    html = m.get_root().render()
    assert name in html or json.dumps(name)[1:-1] in html
    shown = district_map(ev, basemap="none")
    assert all(c.show for c in shown._children.values() if isinstance(c, folium.FeatureGroup))


# ----------------------------------------------------------------------------- branca fast path
_NO_JINJA = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200).filter(
    lambda s: not any(m in s for m in ("{{", "{%", "{#", "\r"))
)


@settings(max_examples=300, deadline=None)
@given(_NO_JINJA)
def test_plain_text_renders_as_jinja_would(text: str) -> None:
    import jinja2

    from siting._branca_fast import PlainText, template

    assert isinstance(template(text), PlainText)
    assert template(text).render(this=None, kwargs={}) == jinja2.Template(text).render()


@pytest.mark.parametrize(
    "text", ["a {{ 1 + 1 }} b", "{% if true %}x{% endif %}", "a{# c #}", "a\r\nb"]
)
def test_template_syntax_is_still_compiled(text: str) -> None:
    import jinja2

    from siting._branca_fast import PlainText, template

    t = template(text)
    assert not isinstance(t, PlainText)
    assert t.render() == jinja2.Template(text).render()


def test_map_html_is_the_same_with_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import branca.element as be
    import jinja2

    from siting._branca_fast import template

    ev = make_evaluation()
    assert be.Template is template  # installed by importing siting.maps

    def html() -> str:
        m = district_map(ev)
        # element ids are random: compare the documents with the ids blanked
        return re.sub(r"[0-9a-f]{32}", "ID", m.get_root().render())

    fast = html()
    monkeypatch.setattr(be, "Template", jinja2.Template)
    slow = html()
    assert fast == slow
    assert "L.map(" in fast and len(fast) > 10_000
