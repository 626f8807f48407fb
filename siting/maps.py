"""Folium maps of an evaluation: coverage, gaps, service areas, sites, proposals, new estates.

Map builders read result frames (in a metric CRS) and return a :class:`folium.Map`; they import
no Streamlit, so the CLI writes the same maps the app shows. Every overlay is a ``FeatureGroup``
in a layer control; labels, tooltips and the legend are Chinese first with English.

Basemaps: ``"none"`` (no tiles, works offline; the default), ``"osm"`` (OpenStreetMap),
``"tianditu"`` (天地图 vector tiles and annotations; needs the user's key) and ``"amap"`` (高德;
its tiles are in GCJ-02, so every overlay is shifted from WGS-84 to GCJ-02 to line up).

Large layers are simplified in metres before reprojection and coordinates are rounded to six
decimals (about 0.1 m), which keeps the demo map HTML small and fast to render.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from branca.element import Element, MacroElement, Template

from siting._errors import InputError, Problem
from siting.schema import KIND_LABELS_ZH, LEVEL_LABELS_ZH, LEVELS

__all__ = [
    "BASEMAPS",
    "district_map",
    "estate_map",
    "find_local_leaflet",
    "proposals_map",
    "save_map",
]

logger = logging.getLogger(__name__)

BASEMAPS = ("none", "osm", "tianditu", "amap")

#: Sequential scale for coverage share 0-1 (ColorBrewer PuBu).
COVERAGE_COLORS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
#: Sequential scale for uncovered population (ColorBrewer OrRd).
GAP_COLORS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
COMPLIANT_COLOR = "#1a9850"
NONCOMPLIANT_COLOR = "#d73027"
UNKNOWN_COLOR = "#878787"
PROPOSED_COLOR = "#2166ac"
SERVICE_AREA_COLORS = {300.0: "#54278f", 500.0: "#3182bd", 1000.0: "#41ab5d"}
NO_TILES_BACKGROUND = "#eef0f3"

LEVEL_LABELS_EN = {
    "district_center": "district center",
    "street_center": "street center",
    "station": "station",
    "point": "point",
}
STATUS_LABELS_ZH = {"covered": "已覆盖", "partly": "部分覆盖", "gap": "缺口"}
SITE_STATUS_ZH = {"existing": "现状", "planned": "规划"}

_TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_TIANDITU_ATTR = (
    '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a> 国家地理信息公共服务平台'
)
_AMAP_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)
_AMAP_ATTR = '&copy; <a href="https://www.amap.com/">高德地图 AutoNavi</a> (GCJ-02)'
_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_OSM_ATTR = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

#: Where a local Leaflet may be found (after ``SITING_LEAFLET_DIR``): vendored, Debian's packages.
_LEAFLET_DIRS = (
    # the copy vendored for the app (package data, read as files: siting.ui is not imported)
    str(Path(__file__).resolve().parent / "ui" / "static" / "leaflet"),
    "/usr/share/javascript/leaflet",
    "/usr/share/nodejs/leaflet/dist",
)

_FONT = '"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",sans-serif'
_TOOLTIP_STYLE = f"font-family:{_FONT};font-size:12px;"

# Site symbols: (CSS of the div, icon size px). Centers are squares/diamonds with a dark ring,
# stations circles, points small dots; the fill colour says compliant or not.
_SYMBOLS = {
    "district_center": ("width:16px;height:16px;border:3px solid #222;", 22),
    "street_center": ("width:12px;height:12px;border:2px solid #222;transform:rotate(45deg);", 18),
    "station": (
        "width:11px;height:11px;border:2px solid #fff;border-radius:50%;box-shadow:0 0 0 1px #333;",
        15,
    ),
    "point": (
        "width:7px;height:7px;border:1px solid #fff;border-radius:50%;box-shadow:0 0 0 1px #555;",
        9,
    ),
}


# --- geometry -------------------------------------------------------------------------------


def _gcj_shift(coords: np.ndarray) -> np.ndarray:
    from siting.coords import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def _round6(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, 6)


def _lonlat(geoms: gpd.GeoSeries, *, simplify_m: float, gcj: bool) -> np.ndarray:
    """Simplify in metres, reproject to lon/lat, shift to GCJ-02 if asked, round to 1e-6 deg."""
    if geoms.crs is None:
        raise ValueError("map layers need a CRS (evaluation frames carry their metric CRS)")
    arr = np.asarray(geoms.values, dtype=object)
    crs = pyproj.CRS.from_user_input(geoms.crs)
    if simplify_m > 0:
        # a geographic input is simplified in degrees of about the same size
        tol = simplify_m / 111_320.0 if crs.is_geographic else simplify_m
        arr = shapely.simplify(arr, tol, preserve_topology=True)
    arr = np.asarray(gpd.GeoSeries(arr, crs=crs).to_crs(4326).values, dtype=object)
    if gcj:
        arr = shapely.transform(arr, _gcj_shift)
    return shapely.transform(arr, _round6)


def _collection(geoms: np.ndarray, props: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with ids 0..n-1 (missing/empty geometries dropped)."""
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame = gpd.GeoDataFrame(
        props.reset_index(drop=True).loc[keep].reset_index(drop=True),
        geometry=list(geoms[keep]),
    )
    return frame.to_geo_dict(na="null", drop_id=False)


# --- formatting -------------------------------------------------------------------------------


def _col(df: pd.DataFrame, name: str, default: Any = np.nan) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(default, index=df.index)


def _text(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).map(html.escape)


def _num(s: pd.Series, unit: str = "") -> pd.Series:
    return pd.to_numeric(s, errors="coerce").map(
        lambda v: "—" if pd.isna(v) or not np.isfinite(v) else f"{v:,.0f}{unit}"
    )


def _pct(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").map(lambda v: "—" if pd.isna(v) else f"{v:.0%}")


def _ramp(values: Iterable[float], colors: tuple[str, ...], vmax: float) -> list[str]:
    """Hex colours interpolated on ``colors`` for values 0..vmax (NaN -> grey)."""
    v = np.asarray(list(values), dtype=float)
    t = np.clip(v / vmax if vmax > 0 else np.zeros_like(v), 0.0, 1.0)
    t = np.round(t * 50) / 50  # 2% steps keep the number of distinct styles small
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    stops = np.linspace(0.0, 1.0, len(colors))
    chan = np.column_stack([np.interp(t, stops, rgb[:, k]) for k in range(3)])
    out = [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in np.rint(chan)]
    return [UNKNOWN_COLOR if np.isnan(x) else c for x, c in zip(v, out, strict=True)]


def _gradient(colors: tuple[str, ...]) -> str:
    return f"linear-gradient(to right,{','.join(colors)})"


# --- frames of an evaluation -------------------------------------------------------------------


def _frame(evaluation: Any, name: str) -> Any:
    if isinstance(evaluation, Mapping):
        return evaluation.get(name)
    return getattr(evaluation, name, None)


def _tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True, style=_TOOLTIP_STYLE)


def _popup(fields: list[str], aliases: list[str]) -> folium.GeoJsonPopup:
    return folium.GeoJsonPopup(fields=fields, aliases=aliases, style=_TOOLTIP_STYLE)


def _styled(styles: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return styles[int(feature["id"])]

    return style


def _community_layer(
    communities: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame | None,
    *,
    name: str,
    show: bool,
    simplify_m: float,
    gcj: bool,
) -> folium.FeatureGroup:
    c = communities.reset_index(drop=True)
    site_names: dict[str, str] = {}
    if sites is not None and len(sites) and "site_id" in sites:
        site_names = dict(zip(sites["site_id"].astype(str), sites["name"].astype(str), strict=True))

    def nearest(id_col: str, dist_col: str) -> pd.Series:
        ids = _col(c, id_col, "").fillna("").astype(str)
        label = ids.map(lambda i: f"{site_names.get(i, '') or i}" if i else "—")
        dist = _num(_col(c, dist_col), " m")
        return _text(label) + " · " + dist

    props = pd.DataFrame(
        {
            "name": _text(_col(c, "name", "")),
            "street": _text(_col(c, "street", "")),
            "kind": _col(c, "kind", "").map(lambda k: KIND_LABELS_ZH.get(k, k)).fillna(""),
            "population": _num(_col(c, "population")),
            "covered": _pct(_col(c, "covered_share")),
            "covered_any": _pct(_col(c, "covered_share_any")),
            "nearest": nearest("nearest_site_id", "nearest_site_distance_m"),
            "nearest_station": nearest("nearest_station_id", "nearest_station_distance_m"),
            "status": _col(c, "coverage_status", "").map(lambda s: STATUS_LABELS_ZH.get(s, s)),
            "missing": _text(_col(c, "missing", "")).replace("", "—"),
        }
    )
    colors = _ramp(_col(c, "covered_share"), COVERAGE_COLORS, 1.0)
    styles = [
        {"fillColor": col, "color": "#555555", "weight": 0.8, "fillOpacity": 0.65} for col in colors
    ]
    data = _collection(_lonlat(c.geometry, simplify_m=simplify_m, gcj=gcj), props)
    fields = list(props.columns)
    aliases = [
        "名称",
        "街镇",
        "类型",
        "人口",
        "覆盖率(站及以上)",
        "覆盖率(任一站点)",
        "最近站点及距离",
        "最近站(站及以上)",
        "状态",
        "缺什么",
    ]
    fg = folium.FeatureGroup(name=name, show=show)
    folium.GeoJson(
        data,
        name=name,
        style_function=_styled(styles),
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        tooltip=_tooltip(fields, aliases),
        popup=_popup(fields, aliases),
        control=False,
    ).add_to(fg)
    return fg


def _gap_layer(gaps: gpd.GeoDataFrame, *, simplify_m: float, gcj: bool) -> folium.FeatureGroup:
    g = gaps.reset_index(drop=True)
    pop = pd.to_numeric(_col(g, "population_uncovered"), errors="coerce")
    vmax = float(pop.max()) if len(pop) and pop.notna().any() else 0.0
    props = pd.DataFrame(
        {
            "rank": _num(_col(g, "rank")),
            "population": _num(pop),
            "communities": _text(_col(g, "community_names", "")),
        }
    )
    styles = [
        {"fillColor": col, "color": "#b30000", "weight": 0.6, "fillOpacity": 0.7}
        for col in _ramp(pop, GAP_COLORS, vmax)
    ]
    data = _collection(_lonlat(g.geometry, simplify_m=simplify_m, gcj=gcj), props)
    fields = list(props.columns)
    aliases = ["缺口排名", "未覆盖人口", "涉及社区"]
    fg = folium.FeatureGroup(name="缺口六边形 Gap hexagons", show=True)
    folium.GeoJson(
        data,
        style_function=_styled(styles),
        tooltip=_tooltip(fields, aliases),
        control=False,
    ).add_to(fg)
    return fg


def _service_area_layers(
    areas: gpd.GeoDataFrame, *, simplify_m: float, gcj: bool
) -> list[folium.FeatureGroup]:
    """One layer per cut-off, the areas of all sites dissolved (overlaps drawn once)."""
    out = []
    cutoffs = sorted(pd.to_numeric(areas["cutoff_m"]).unique())
    geoms = np.asarray(areas.geometry.values, dtype=object)
    for cutoff in cutoffs:
        mask = (pd.to_numeric(areas["cutoff_m"]) == cutoff).to_numpy()
        merged = shapely.union_all(geoms[mask])
        series = gpd.GeoSeries([merged], crs=areas.crs)
        label = f"步行 {cutoff:,.0f} m 服务范围"
        props = pd.DataFrame({"label": [label]})
        data = _collection(_lonlat(series, simplify_m=simplify_m, gcj=gcj), props)
        color = SERVICE_AREA_COLORS.get(float(cutoff), "#636363")
        style = {
            "color": color,
            "weight": 1.5,
            "dashArray": "4 3",
            "fillColor": color,
            "fillOpacity": 0.08,
        }
        fg = folium.FeatureGroup(
            name=f"服务范围 {cutoff:,.0f} m Service area", show=bool(cutoff == 500.0)
        )
        folium.GeoJson(
            data,
            style_function=lambda f, s=style: s,
            tooltip=_tooltip(["label"], ["服务范围"]),
            control=False,
        ).add_to(fg)
        out.append(fg)
    return out


def _site_symbol(level: str, color: str) -> folium.DivIcon:
    css, size = _SYMBOLS.get(level, _SYMBOLS["point"])
    return folium.DivIcon(
        html=f'<div style="{css}background:{color};box-sizing:border-box;"></div>',
        icon_size=(size, size),
        icon_anchor=(size // 2, size // 2),
        class_name="siting-site",
    )


def _site_layers(sites: gpd.GeoDataFrame, *, gcj: bool) -> list[folium.FeatureGroup]:
    """One layer per level; inside, compliant (green) and non-compliant (red) markers."""
    s = sites.reset_index(drop=True)
    compliant = _col(s, "compliant", None)
    reasons = _text(_col(s, "reasons", ""))
    verdict = compliant.map({True: "是", False: "否"}).fillna("—").astype(str)
    verdict = verdict.where(reasons == "", verdict + " — " + reasons)
    props = pd.DataFrame(
        {
            "name": _text(_col(s, "name", "")),
            "level": _col(s, "level", "").map(lambda v: LEVEL_LABELS_ZH.get(v, v)),
            "status": _col(s, "status", "").map(lambda v: SITE_STATUS_ZH.get(v, v)),
            "floor_area": _num(_col(s, "floor_area_m2"), " m²"),
            "ground_share": _pct(_col(s, "ground_floor_share")),
            "compliant": verdict,
            "served": _num(_col(s, "population_served")),
            "in_radius": _num(_col(s, "population_in_radius")),
            "radius": _num(_col(s, "radius_m"), " m"),
        }
    )
    fields = list(props.columns)
    aliases = [
        "名称",
        "层级",
        "状态",
        "建筑面积",
        "一层面积占比",
        "是否达标(原因)",
        "服务人口",
        "半径内人口",
        "服务半径",
    ]
    geoms = _lonlat(s.geometry, simplify_m=0.0, gcj=gcj)
    level = _col(s, "level", "").astype(str).to_numpy()
    levels = [lv for lv in LEVELS if lv in set(level)] + sorted(set(level) - set(LEVELS))
    out = []
    for lv in levels:
        fg = folium.FeatureGroup(
            name=f"站点·{LEVEL_LABELS_ZH.get(lv, lv)} {LEVEL_LABELS_EN.get(lv, lv)}", show=True
        )
        for flag, color in (
            (True, COMPLIANT_COLOR),
            (False, NONCOMPLIANT_COLOR),
            (None, UNKNOWN_COLOR),
        ):
            if flag is None:
                mask = (level == lv) & compliant.isna().to_numpy()
            else:
                mask = (level == lv) & (compliant == flag).fillna(False).to_numpy(dtype=bool)
            if not mask.any():
                continue
            folium.GeoJson(
                _collection(geoms[mask], props.loc[mask]),
                marker=folium.Marker(icon=_site_symbol(lv, color)),
                tooltip=_tooltip(fields, aliases),
                popup=_popup(fields, aliases),
                control=False,
            ).add_to(fg)
        out.append(fg)
    return out


_PROPOSAL_FIELDS = {
    "name": "名称",
    "id": "编号",
    "candidate_id": "候选点编号",
    "level": "层级",
    "floor_area_m2": "建筑面积",
    "population_served": "服务人口",
    "population_added": "新增覆盖人口",
    "population_covered": "覆盖人口",
}


def _marker_layer(
    points: gpd.GeoDataFrame, *, name: str, html_icon: str, size: int, gcj: bool
) -> folium.FeatureGroup:
    p = points.reset_index(drop=True)
    props = pd.DataFrame(index=p.index)
    for col, zh in _PROPOSAL_FIELDS.items():
        if col in p.columns:
            s = p[col]
            if col == "level":
                props[zh] = s.map(lambda v: LEVEL_LABELS_ZH.get(v, v))
            elif pd.api.types.is_numeric_dtype(s):
                props[zh] = _num(s, " m²" if col == "floor_area_m2" else "")
            else:
                props[zh] = _text(s)
    if props.empty:
        props["名称"] = name
    icon = folium.DivIcon(
        html=html_icon,
        icon_size=(size, size),
        icon_anchor=(size // 2, size // 2),
        class_name="siting-proposed",
    )
    fg = folium.FeatureGroup(name=name, show=True)
    fields = list(props.columns)
    folium.GeoJson(
        _collection(_lonlat(p.geometry, simplify_m=0.0, gcj=gcj), props),
        marker=folium.Marker(icon=icon),
        tooltip=_tooltip(fields, fields),
        popup=_popup(fields, fields),
        control=False,
    ).add_to(fg)
    return fg


def _star(color: str, size: int = 24) -> str:
    return (
        f'<div style="font-size:{size}px;line-height:{size}px;color:{color};'
        'text-shadow:0 0 2px #fff,0 0 2px #fff;text-align:center;">★</div>'
    )


# --- the map itself ----------------------------------------------------------------------------


def _tile_layer(basemap: str, tianditu_key: str | None) -> list[folium.TileLayer]:
    if basemap not in BASEMAPS:
        raise InputError(
            Problem(
                "basemap",
                "",
                "basemap",
                f"unknown basemap {basemap!r}",
                f"choose one of {', '.join(BASEMAPS)}",
            )
        )
    if basemap == "none":
        return []
    if basemap == "osm":
        return [folium.TileLayer(_OSM_URL, attr=_OSM_ATTR, name="底图 OpenStreetMap", max_zoom=19)]
    if basemap == "amap":
        return [
            folium.TileLayer(
                _AMAP_URL, attr=_AMAP_ATTR, name="底图 高德 AMap", subdomains="1234", max_zoom=18
            )
        ]
    key = (tianditu_key or "").strip()
    if not key:
        raise InputError(
            Problem(
                "basemap",
                "",
                "tianditu_key",
                "天地图底图需要密钥 (the Tianditu basemap needs a key)",
                "请输入天地图密钥 (enter your Tianditu key, free from console.tianditu.gov.cn), "
                "or choose the 'none' or 'osm' basemap",
            )
        )
    if not re.fullmatch(r"[0-9A-Za-z]{8,64}", key):
        raise InputError(
            Problem(
                "basemap",
                "",
                "tianditu_key",
                f"天地图密钥格式不对 (not a Tianditu key: {key!r})",
                "paste the 32-character key from the Tianditu console",
            )
        )
    vec = folium.TileLayer(
        _TIANDITU_URL.format(layer="vec", key=key, s="{s}"),
        attr=_TIANDITU_ATTR,
        name="底图 天地图 Tianditu",
        subdomains="01234567",
        max_zoom=18,
    )
    cva = folium.TileLayer(
        _TIANDITU_URL.format(layer="cva", key=key, s="{s}"),
        attr=_TIANDITU_ATTR,
        name="天地图注记 labels",
        overlay=True,
        control=False,
        subdomains="01234567",
        max_zoom=18,
    )
    return [vec, cva]


class _Legend(MacroElement):  # type: ignore[misc]
    """A Leaflet control holding the legend HTML (works in saved HTML and in streamlit-folium,
    which keeps only the map's scripts), and the plain background of the tile-less map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            {% if this.background %}
            map.getContainer().style.background = {{ this.background|tojson }};
            {% endif %}
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "siting-legend");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, background: str | None = None) -> None:
        super().__init__()
        self._name = "SitingLegend"
        self.html = html_text
        self.background = background


def _legend_html(
    *,
    title: str | None,
    coverage: bool = True,
    gap_max: float | None = None,
    cutoffs: Iterable[float] = (),
    levels: Iterable[str] = (),
    compliance: bool = True,
    proposals: bool = False,
    extra: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> str:
    bar = "height:10px;width:160px;border:1px solid #999;"
    rows = []
    if title:
        rows.append(
            f'<div style="font-weight:bold;font-size:13px;margin-bottom:4px;">'
            f"{html.escape(title)}</div>"
        )
    if coverage:
        rows.append(
            "<div><b>社区覆盖率</b> Coverage (station or higher within radius)</div>"
            f'<div style="{bar}background:{_gradient(COVERAGE_COLORS)}"></div>'
            '<div style="width:160px;display:flex;justify-content:space-between;">'
            "<span>0%</span><span>50%</span><span>100%</span></div>"
        )
    if gap_max is not None:
        rows.append(
            "<div><b>缺口</b> Gap hexagons (未覆盖人口 uncovered population)</div>"
            f'<div style="{bar}background:{_gradient(GAP_COLORS)}"></div>'
            '<div style="width:160px;display:flex;justify-content:space-between;">'
            f"<span>0</span><span>{gap_max:,.0f}</span></div>"
        )
    cutoffs = list(cutoffs)
    if cutoffs:
        items = "".join(
            f'<span style="display:inline-block;width:18px;height:10px;margin:0 3px 0 6px;'
            f'border:1.5px dashed {SERVICE_AREA_COLORS.get(float(c), "#636363")};"></span>'
            f"{c:,.0f} m"
            for c in cutoffs
        )
        rows.append(f"<div><b>服务范围</b> Walking service areas</div><div>{items}</div>")
    levels = list(levels)
    if levels:
        rows.append("<div><b>站点层级</b> Site levels</div>")
        for lv in levels:
            css, _size = _SYMBOLS.get(lv, _SYMBOLS["point"])
            rows.append(
                f'<div style="display:flex;align-items:center;"><span style="width:24px;'
                f'display:inline-flex;justify-content:center;"><span style="display:inline-block;'
                f'{css}background:{COMPLIANT_COLOR};box-sizing:border-box;"></span></span>'
                f"{LEVEL_LABELS_ZH.get(lv, lv)} {LEVEL_LABELS_EN.get(lv, lv)}</div>"
            )
    if compliance and levels:
        dot = "display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px;"
        rows.append(
            f'<div><span style="{dot}background:{COMPLIANT_COLOR}"></span>达标 compliant'
            f'<span style="{dot}background:{NONCOMPLIANT_COLOR}"></span>未达标 not compliant</div>'
        )
    if proposals:
        rows.append(
            f'<div><span style="color:{PROPOSED_COLOR};font-size:16px;">★</span> '
            "拟新建站点 Proposed new station</div>"
        )
    rows.extend(extra)
    for note in notes:
        rows.append(f'<div style="color:#555;margin-top:3px;">{html.escape(note)}</div>')
    style = (
        f"background:rgba(255,255,255,0.93);padding:8px 10px;border-radius:4px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,0.35);font:11px/1.45 {_FONT};max-width:280px;"
    )
    return f'<div style="{style}">{"".join(rows)}</div>'


def _new_map(
    bounds: np.ndarray, basemap: str, tianditu_key: str | None, title: str | None
) -> folium.Map:
    tiles = _tile_layer(basemap, tianditu_key)
    west, south, east, north = (float(v) for v in bounds)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_start=13,
        control_scale=True,
        prefer_canvas=True,
        zoom_snap=0.25,  # fit the district to the frame more tightly than whole zoom levels
    )
    # only Leaflet itself is needed: no jQuery/Bootstrap/Font Awesome downloads
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    for t in tiles:
        t.add_to(m)
    if title:
        root: Any = m.get_root()
        root.header.add_child(Element(f"<title>{html.escape(title)}</title>"))
    if np.all(np.isfinite(bounds)):
        m.fit_bounds([[south, west], [north, east]])
    return m


def _bounds(frames: Iterable[gpd.GeoDataFrame | gpd.GeoSeries | None], gcj: bool) -> np.ndarray:
    boxes = []
    for f in frames:
        if f is None or len(f) == 0:
            continue
        b = np.asarray(
            gpd.GeoSeries(shapely.box(*f.total_bounds), crs=f.crs).to_crs(4326).total_bounds
        )
        boxes.append(b)
    if not boxes:
        return np.array([np.nan] * 4)
    arr = np.array(boxes)
    out = np.array([arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()])
    if gcj:
        lon, lat = _gcj_shift(out.reshape(2, 2)).T
        out = np.array([lon[0], lat[0], lon[1], lat[1]])
    return out


def district_map(
    evaluation: Any,
    *,
    service_areas: gpd.GeoDataFrame | None = None,
    proposals: gpd.GeoDataFrame | None = None,
    basemap: str = "none",
    tianditu_key: str | None = None,
    title: str | None = None,
    simplify_m: float = 5.0,
    before: Any = None,
) -> folium.Map:
    """The district map: coverage by community, gap hexagons, service areas, sites, proposals.

    Parameters
    ----------
    evaluation
        An ``Evaluation`` (or any object or mapping with ``sites``, ``communities``, ``gaps`` and
        ``summary``), frames in a metric CRS.
    service_areas
        Walking service areas (``cutoff_m, geometry``), e.g. ``network.service_areas(...)``;
        dissolved per cut-off, 500 m shown and the other cut-offs listed but hidden.
    proposals
        Proposed new stations (points; ``name``, ``population_served`` ... shown when present).
    basemap
        ``"none"`` (no tiles, offline), ``"osm"``, ``"tianditu"`` (needs ``tianditu_key``) or
        ``"amap"`` (GCJ-02 tiles: every overlay is shifted to GCJ-02).
    tianditu_key
        The user's Tianditu key.
    title
        Shown on top of the legend and as the page title.
    simplify_m
        Tolerance (metres) for simplifying polygons; 0 keeps them as they are.
    before
        The evaluation before the proposals: adds its community layer (hidden) and the coverage
        rate before -> after to the legend.

    Returns
    -------
    folium.Map

    Raises
    ------
    InputError
        Unknown basemap, or Tianditu without a (well-formed) key.

    Examples
    --------
    >>> from siting.maps import district_map, save_map  # doctest: +SKIP
    >>> save_map(district_map(ev, basemap="none", title="示范区"), "map.html")  # doctest: +SKIP
    """
    gcj = basemap == "amap"
    communities = _frame(evaluation, "communities")
    sites = _frame(evaluation, "sites")
    gaps = _frame(evaluation, "gaps")
    summary = _frame(evaluation, "summary") or {}
    bounds = _bounds([communities, sites], gcj)
    m = _new_map(bounds, basemap, tianditu_key, title)

    n_layers = 0
    extra: list[str] = []
    if before is not None and _frame(before, "communities") is not None:
        _community_layer(
            _frame(before, "communities"),
            _frame(before, "sites"),
            name="社区覆盖率(新增前) Coverage before",
            show=False,
            simplify_m=simplify_m,
            gcj=gcj,
        ).add_to(m)
        b = _frame(before, "summary") or {}
        if "coverage_rate" in b and "coverage_rate" in summary:
            extra.append(
                f"<div><b>覆盖率</b> coverage {b['coverage_rate']:.1%} → "
                f"{summary['coverage_rate']:.1%}</div>"
            )
        n_layers += 1
    if communities is not None and len(communities):
        _community_layer(
            communities,
            sites,
            name="社区覆盖率 Community coverage",
            show=True,
            simplify_m=simplify_m,
            gcj=gcj,
        ).add_to(m)
        n_layers += 1
    gap_max = None
    if gaps is not None and len(gaps):
        _gap_layer(gaps, simplify_m=simplify_m, gcj=gcj).add_to(m)
        gap_max = float(pd.to_numeric(gaps["population_uncovered"]).max())
        n_layers += 1
    cutoffs: list[float] = []
    if service_areas is not None and len(service_areas):
        for fg in _service_area_layers(service_areas, simplify_m=simplify_m, gcj=gcj):
            fg.add_to(m)
            n_layers += 1
        cutoffs = sorted(float(c) for c in pd.to_numeric(service_areas["cutoff_m"]).unique())
    levels: list[str] = []
    if sites is not None and len(sites):
        for fg in _site_layers(sites, gcj=gcj):
            fg.add_to(m)
            n_layers += 1
        present = set(sites["level"].astype(str))
        levels = [lv for lv in LEVELS if lv in present]
    has_proposals = proposals is not None and len(proposals) > 0
    if has_proposals:
        _marker_layer(
            proposals,
            name="拟新建站点 Proposed stations",
            html_icon=_star(PROPOSED_COLOR),
            size=24,
            gcj=gcj,
        ).add_to(m)
        n_layers += 1

    notes = []
    if summary.get("coverage_rate") is not None and not extra:
        notes.append(
            f"覆盖率 coverage {summary['coverage_rate']:.1%} · 达标率 compliance "
            f"{summary.get('compliance_rate', float('nan')):.1%}"
        )
    mode = summary.get("distance_mode")
    if mode:
        notes.append(
            "距离: 步行路网 walking network"
            if mode == "network"
            else "距离: 直线 straight line (no road network)"
        )
    if summary.get("standard"):
        notes.append(f"标准 standard: {summary['standard']}")
    if gcj:
        notes.append("已转换为 GCJ-02 坐标以匹配高德底图 overlays shifted to GCJ-02")
    legend = _legend_html(
        title=title,
        coverage=communities is not None,
        gap_max=gap_max,
        cutoffs=cutoffs,
        levels=levels,
        proposals=has_proposals,
        extra=extra,
        notes=notes,
    )
    m.add_child(_Legend(legend, background=NO_TILES_BACKGROUND if basemap == "none" else None))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    logger.info("district map: %d layers, basemap %s", n_layers, basemap)
    return m


def proposals_map(
    evaluation: Any,
    proposals: gpd.GeoDataFrame,
    *,
    after: Any = None,
    service_areas: gpd.GeoDataFrame | None = None,
    basemap: str = "none",
    tianditu_key: str | None = None,
    title: str | None = "选址建议 Proposed stations",
    simplify_m: float = 5.0,
) -> folium.Map:
    """Proposed new stations over coverage; with ``after``, coverage after them and before.

    Parameters
    ----------
    evaluation
        The evaluation of the current sites (before the proposals).
    proposals
        Proposed station points in a CRS (any columns; ``name``, ``population_served``,
        ``population_added`` are shown when present).
    after
        The evaluation with the proposals added; its communities are drawn (shown), the current
        ones as a hidden "before" layer, and the legend gives the coverage rate before -> after.
    service_areas, basemap, tianditu_key, title, simplify_m
        As in :func:`district_map`.

    Returns
    -------
    folium.Map
    """
    if after is None:
        return district_map(
            evaluation,
            service_areas=service_areas,
            proposals=proposals,
            basemap=basemap,
            tianditu_key=tianditu_key,
            title=title,
            simplify_m=simplify_m,
        )
    return district_map(
        after,
        service_areas=service_areas,
        proposals=proposals,
        basemap=basemap,
        tianditu_key=tianditu_key,
        title=title,
        simplify_m=simplify_m,
        before=evaluation,
    )


def _as_frame(obj: Any, crs: Any, what: str) -> gpd.GeoDataFrame | None:
    if obj is None:
        return None
    if isinstance(obj, gpd.GeoDataFrame):
        return obj
    if isinstance(obj, gpd.GeoSeries):
        return gpd.GeoDataFrame(geometry=obj)
    if isinstance(obj, shapely.Geometry):
        if crs is None:
            raise ValueError(f"{what}: a bare geometry needs crs=")
        return gpd.GeoDataFrame(geometry=[obj], crs=crs)
    raise TypeError(f"{what}: expected a GeoDataFrame, GeoSeries or shapely geometry")


def estate_map(
    estate: Any,
    *,
    sites: gpd.GeoDataFrame | None = None,
    proposed_site: Any = None,
    suggested_site: Any = None,
    radius_m: float = 1000.0,
    crs: Any = None,
    verdict: str | Iterable[str] | None = None,
    basemap: str = "none",
    tianditu_key: str | None = None,
    title: str | None = "新建小区 New estate",
) -> folium.Map:
    """The new-estate check: the estate, existing sites within ``radius_m``, the developer's
    proposed site and the suggested location.

    Parameters
    ----------
    estate
        The estate polygon (GeoDataFrame, GeoSeries or a shapely geometry with ``crs``).
    sites
        Existing sites (evaluation ``sites`` or canonical sites); only those within
        ``radius_m`` of the estate are drawn, coloured by ``compliant`` when present.
    proposed_site, suggested_site
        The developer's proposed site and siting's suggested location (points, same forms as
        ``estate``).
    radius_m
        Search radius around the estate (metres), drawn as a dashed ring.
    crs
        CRS of bare shapely geometries.
    verdict
        The verdict text (one line or several), shown in the legend.
    basemap, tianditu_key, title
        As in :func:`district_map`.

    Returns
    -------
    folium.Map
    """
    gcj = basemap == "amap"
    est = _as_frame(estate, crs, "estate")
    assert est is not None
    if est.crs is None:
        raise ValueError("estate: no CRS")
    if pyproj.CRS.from_user_input(est.crs).is_geographic:
        from siting.projection import metric_crs

        est = est.to_crs(metric_crs(est))
    metric = est.crs
    ring = gpd.GeoSeries([shapely.union_all(est.geometry.values).buffer(radius_m)], crs=metric)
    m = _new_map(_bounds([ring], gcj), basemap, tianditu_key, title)

    fg = folium.FeatureGroup(name="新建小区 Estate", show=True)
    props = pd.DataFrame({"label": ["新建小区 estate"] * len(est)})
    folium.GeoJson(
        _collection(_lonlat(est.geometry, simplify_m=1.0, gcj=gcj), props),
        style_function=lambda f: {
            "color": "#e6550d",
            "weight": 2.5,
            "fillColor": "#fdae6b",
            "fillOpacity": 0.35,
        },
        tooltip=_tooltip(["label"], ["图层"]),
        control=False,
    ).add_to(fg)
    folium.GeoJson(
        _collection(
            _lonlat(ring, simplify_m=1.0, gcj=gcj),
            pd.DataFrame({"label": [f"{radius_m:,.0f} m 范围 radius"]}),
        ),
        style_function=lambda f: {
            "color": "#636363",
            "weight": 1.5,
            "dashArray": "6 4",
            "fillOpacity": 0.0,
        },
        tooltip=_tooltip(["label"], ["范围"]),
        control=False,
    ).add_to(fg)
    fg.add_to(m)

    levels: list[str] = []
    if sites is not None and len(sites):
        near = sites.to_crs(metric)
        near = near[near.geometry.distance(ring.iloc[0]) <= 0.0]
        if len(near):
            for layer in _site_layers(near, gcj=gcj):
                layer.add_to(m)
            levels = [lv for lv in LEVELS if lv in set(near["level"].astype(str))]
    prop = _as_frame(proposed_site, crs, "proposed_site")
    if prop is not None and len(prop):
        prop = prop.to_crs(metric).assign(name="开发商拟选址 developer's proposed site")
        _marker_layer(
            prop, name="拟选址 Proposed site", html_icon=_star("#e6550d", 22), size=22, gcj=gcj
        ).add_to(m)
    sug = _as_frame(suggested_site, crs, "suggested_site")
    if sug is not None and len(sug):
        sug = sug.to_crs(metric).assign(name="建议位置 suggested location")
        _marker_layer(
            sug,
            name="建议位置 Suggested location",
            html_icon=_star(PROPOSED_COLOR),
            size=24,
            gcj=gcj,
        ).add_to(m)
    extra = [
        f'<div><span style="color:#e6550d;font-size:16px;">★</span> 开发商拟选址 proposed'
        f' site <span style="color:{PROPOSED_COLOR};font-size:16px;">★</span> 建议位置'
        " suggested</div>"
    ]
    lines = [verdict] if isinstance(verdict, str) else list(verdict or [])
    extra += [f"<div>{html.escape(v)}</div>" for v in lines]
    legend = _legend_html(title=title, coverage=False, levels=levels, extra=extra)
    m.add_child(_Legend(legend, background=NO_TILES_BACKGROUND if basemap == "none" else None))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


# --- saving --------------------------------------------------------------------------------


def find_local_leaflet() -> tuple[Path, Path] | None:
    """A local Leaflet (``leaflet.js``, ``leaflet.css``): ``SITING_LEAFLET_DIR``, the copy
    vendored in ``siting/ui/static/leaflet`` or Debian's ``libjs-leaflet``; ``None`` if none."""
    dirs = [os.environ.get("SITING_LEAFLET_DIR", ""), *_LEAFLET_DIRS]
    for d in filter(None, dirs):
        for js in ("leaflet.min.js", "leaflet.js"):
            pj, pc = Path(d) / js, Path(d) / "leaflet.css"
            if pj.is_file() and pc.is_file():
                return pj, pc
    return None


def _inline_leaflet(page: str, js: Path, css: Path) -> str:
    code = js.read_text(encoding="utf-8").replace("</script", "<\\/script")
    style = css.read_text(encoding="utf-8")

    def image(match: re.Match[str]) -> str:  # the layer-control icons, as data URIs
        img = css.parent / match.group(1).strip("'\"")
        if not img.is_file() or img.suffix not in (".png", ".svg"):
            return match.group(0)
        mime = "image/svg+xml" if img.suffix == ".svg" else "image/png"
        return f"url(data:{mime};base64,{base64.b64encode(img.read_bytes()).decode('ascii')})"

    style = re.sub(r"url\(([^)]*images/[^)]*)\)", image, style)
    page, n_js = re.subn(
        r'<script src="[^"]*/leaflet(?:@[^/"]*)?/dist/leaflet\.js"></script>',
        lambda _: f"<script>{code}</script>",
        page,
        count=1,
    )
    page, n_css = re.subn(
        r'<link rel="stylesheet" href="[^"]*/leaflet(?:@[^/"]*)?/dist/'
        r'leaflet\.css"\s*/?>',
        lambda _: f"<style>{style}</style>",
        page,
        count=1,
    )
    if not (n_js and n_css):
        logger.warning("could not inline Leaflet (folium's links changed); the CDN is used")
    return page


def save_map(m: folium.Map, path: str | Path, *, inline_leaflet: bool | None = None) -> Path:
    """Write the map as one HTML file, atomically.

    Parameters
    ----------
    m
        The map.
    path
        Output file.
    inline_leaflet
        Embed Leaflet's JS/CSS so the page works without internet: ``None`` (default) when a
        local copy is found (:func:`find_local_leaflet`), ``True`` to require it, ``False`` to
        link folium's CDN. Tiles of online basemaps need the internet anyway.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileNotFoundError
        ``inline_leaflet=True`` but no local Leaflet is installed.
    """
    from siting.report import atomic_path

    page = m.get_root().render()
    if inline_leaflet is not False:
        found = find_local_leaflet()
        if found is None and inline_leaflet:
            raise FileNotFoundError(
                "no local Leaflet: install Debian's libjs-leaflet or set SITING_LEAFLET_DIR"
            )
        if found is not None:
            page = _inline_leaflet(page, *found)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info("wrote map %s (%.0f kB)", path, len(page.encode()) / 1024)
    return path
