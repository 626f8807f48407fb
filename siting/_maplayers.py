"""Layers of :mod:`siting.maps`: colours and labels, lon/lat GeoJSON of metric frames, and one builder
per overlay (communities, gaps, service areas, sites, proposals, markers) and per basemap.

Large layers are simplified in metres before reprojection and coordinates are rounded to six
decimals (about 0.1 m), which keeps the demo map HTML small and fast to render. With the AMap
basemap every overlay is shifted from WGS-84 to GCJ-02.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from siting._errors import InputError, Problem
from siting.schema import KIND_LABELS_ZH, LEVEL_LABELS_ZH, LEVELS

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


def _log_ramp(
    values: Iterable[float], colors: tuple[str, ...], vmin: float, vmax: float
) -> list[str]:
    """Hex colours on ``colors`` for values vmin..vmax on a log scale (skewed counts such as the
    uncovered residents of gap hexagons: a linear scale leaves all but the largest pale)."""
    v = np.asarray(list(values), dtype=float)
    lo = max(float(vmin), 1.0)
    hi = max(float(vmax), lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(np.maximum(v, lo) / lo) / np.log(hi / lo) if hi > lo else np.ones_like(v)
    return _ramp(np.where(np.isnan(v), np.nan, t), colors, 1.0)


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
    vmin, vmax = _gap_range(pop)
    props = pd.DataFrame(
        {
            "rank": _num(_col(g, "rank")),
            "population": _num(pop),
            "communities": _text(_col(g, "community_names", "")),
        }
    )
    styles = [
        {"fillColor": col, "color": "#b30000", "weight": 0.6, "fillOpacity": 0.7}
        for col in _log_ramp(pop, GAP_COLORS, vmin, vmax)
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


def _gap_range(pop: pd.Series) -> tuple[float, float]:
    """Smallest and largest uncovered population of the gap hexagons (0, 0 when none)."""
    p = pd.to_numeric(pop, errors="coerce").dropna()
    return (float(p.min()), float(p.max())) if len(p) else (0.0, 0.0)


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


def _site_layers(
    sites: gpd.GeoDataFrame, *, gcj: bool, hidden: tuple[str, ...] = ()
) -> list[folium.FeatureGroup]:
    """One layer per level; inside, compliant (green) and non-compliant (red) markers. Levels in
    ``hidden`` start switched off (listed in the layer control)."""
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
            name=f"站点·{LEVEL_LABELS_ZH.get(lv, lv)} {LEVEL_LABELS_EN.get(lv, lv)}",
            show=lv not in hidden,
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
