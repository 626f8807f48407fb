"""Folium maps of an evaluation: coverage, gaps, service areas, sites, proposals, new estates.

Map builders read result frames (in a metric CRS) and return a :class:`folium.Map`; they import
no Streamlit, so the CLI writes the same maps the app shows. Every overlay is a ``FeatureGroup``
in a layer control; labels, tooltips and the legend are Chinese first with English.

Basemaps: ``"none"`` (no tiles, works offline; the default), ``"osm"`` (OpenStreetMap),
``"tianditu"`` (天地图 vector tiles and annotations; needs the user's key) and ``"amap"`` (高德;
its tiles are in GCJ-02, so every overlay is shifted from WGS-84 to GCJ-02 to line up).

Large layers are simplified in metres before reprojection and coordinates are rounded to six
decimals (about 0.1 m), which keeps the demo map HTML small and fast to render; importing this
module makes branca keep rendered pieces as text instead of compiling each as a Jinja template
(:mod:`siting._branca_fast`: the same HTML, rendered 2-3x faster).

The colours, labels and overlay builders live in :mod:`siting._maplayers`, the legend in
:mod:`siting._legend`; the public colours and labels are re-exported here.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from branca.element import Element

from siting import _branca_fast
from siting._legend import _LayerControl, _Legend, _legend_html
from siting._maplayers import BASEMAPS as BASEMAPS
from siting._maplayers import COMPLIANT_COLOR as COMPLIANT_COLOR
from siting._maplayers import COVERAGE_COLORS as COVERAGE_COLORS
from siting._maplayers import GAP_COLORS as GAP_COLORS
from siting._maplayers import LEVEL_LABELS_EN as LEVEL_LABELS_EN
from siting._maplayers import NO_TILES_BACKGROUND as NO_TILES_BACKGROUND
from siting._maplayers import NONCOMPLIANT_COLOR as NONCOMPLIANT_COLOR
from siting._maplayers import PROPOSED_COLOR as PROPOSED_COLOR
from siting._maplayers import SERVICE_AREA_COLORS as SERVICE_AREA_COLORS
from siting._maplayers import SITE_STATUS_ZH as SITE_STATUS_ZH
from siting._maplayers import STATUS_LABELS_ZH as STATUS_LABELS_ZH
from siting._maplayers import UNKNOWN_COLOR as UNKNOWN_COLOR
from siting._maplayers import (
    _collection,
    _community_layer,
    _frame,
    _gap_layer,
    _gap_range,
    _gcj_shift,
    _lonlat,
    _marker_layer,
    _service_area_layers,
    _site_layers,
    _star,
    _tile_layer,
    _tooltip,
)
from siting.schema import LEVELS

# rendered pieces of a map are kept as text, not compiled as Jinja templates (same HTML)
_branca_fast.install()

__all__ = [
    "BASEMAPS",
    "district_map",
    "estate_map",
    "find_local_leaflet",
    "proposals_map",
    "save_map",
]

logger = logging.getLogger(__name__)

#: Where a local Leaflet may be found (after ``SITING_LEAFLET_DIR``): vendored, Debian's packages.
_LEAFLET_DIRS = (
    # the copy vendored for the app (package data, read as files: siting.ui is not imported)
    str(Path(__file__).resolve().parent / "ui" / "static" / "leaflet"),
    "/usr/share/javascript/leaflet",
    "/usr/share/nodejs/leaflet/dist",
)


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
    hidden_levels: tuple[str, ...] = (),
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
    hidden_levels
        Site levels whose layer starts switched off (still in the layer control), e.g.
        ``("point",)``: on the demo the 580 small 党群服务点 are most of the markers a browser
        draws, and the first map shows in about half the time without them.

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
    gap_min = gap_max = None
    if gaps is not None and len(gaps):
        _gap_layer(gaps, simplify_m=simplify_m, gcj=gcj).add_to(m)
        gap_min, gap_max = _gap_range(gaps["population_uncovered"])
        n_layers += 1
    cutoffs: list[float] = []
    if service_areas is not None and len(service_areas):
        for fg in _service_area_layers(service_areas, simplify_m=simplify_m, gcj=gcj):
            fg.add_to(m)
            n_layers += 1
        cutoffs = sorted(float(c) for c in pd.to_numeric(service_areas["cutoff_m"]).unique())
    levels: list[str] = []
    if sites is not None and len(sites):
        for fg in _site_layers(sites, gcj=gcj, hidden=tuple(hidden_levels)):
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
        gap_min=gap_min,
        cutoffs=cutoffs,
        levels=levels,
        proposals=has_proposals,
        extra=extra,
        notes=notes,
    )
    m.add_child(_Legend(legend, background=NO_TILES_BACKGROUND if basemap == "none" else None))
    _LayerControl(position="topright").add_to(m)
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
        f'<div><span style="color:#e6550d;font-size:13px;">★</span> 开发商拟选址 proposed'
        f' site <span style="color:{PROPOSED_COLOR};font-size:13px;">★</span> 建议位置'
        " suggested</div>"
    ]
    lines = [verdict] if isinstance(verdict, str) else list(verdict or [])
    extra += [f"<div>{html.escape(v)}</div>" for v in lines]
    legend = _legend_html(title=title, coverage=False, levels=levels, extra=extra)
    m.add_child(_Legend(legend, background=NO_TILES_BACKGROUND if basemap == "none" else None))
    _LayerControl().add_to(m)
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
