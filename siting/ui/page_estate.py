"""新建小区 New estate: draw or upload the estate, enter households and the developer's site,
get the verdict with reasons."""

import json

import geopandas as gpd
import streamlit as st
from folium.plugins import Draw
from shapely import Point

from siting._errors import InputError
from siting.ui import common
from siting.ui.drawing import drawn_shapes, ensure_map_component
from siting.ui.i18n import lang, t

st.title(t("page_estate"))
st.write(t("estate_intro"))
c = common.cfg()
ctx = common.context_or_stop()
opts = common.map_options()

left, right = st.columns([1, 2])
with left:
    up = st.file_uploader(
        t("estate_upload"), type=["geojson", "json", "gpkg", "zip"], key="up_estate"
    )
    fresh = None  # an estate read in this run: its households replace the box's value
    up_stamp = None if up is None else (up.name, up.size, getattr(up, "file_id", ""))
    if up is not None and c.get("estate_stamp") != up_stamp:
        try:
            fresh = c["estate"] = common.estate_from_upload(ctx, up)
            c["estate_stamp"] = up_stamp
        except InputError as err:
            common.problem_table(err)
    if ctx.inputs.is_demo and st.button(t("estate_use_demo")):
        fresh, c["estate_site"] = common.demo_estate(ctx)
        c["estate"] = fresh
    estate = c.get("estate")
    hh = None if fresh is None else fresh.get("households")
    if hh is not None and hh == hh and hh > 0:
        # the file's households, shown in the box (until the user types another)
        c["households"] = st.session_state["w_households"] = round(float(hh))
    c.setdefault("households", 1000)
    c.setdefault("site_area", 600.0)
    c.setdefault("site_ground", 300.0)
    common.widget(st.number_input, t("households"), "households", min_value=1, step=50)
    common.widget(st.number_input, t("site_area"), "site_area", min_value=0.0, step=50.0)
    common.widget(st.number_input, t("site_ground"), "site_ground", min_value=0.0, step=50.0)
    site = c.get("estate_site")
    if site:
        st.caption(f"{t('site_lon')}: {site[0]:.6f}, {t('site_lat')}: {site[1]:.6f}")

check, problem = None, None
estate_warned: tuple[str, ...] = ()
if estate is not None:
    try:
        check, estate_warned = common.estate_verdict(
            ctx,
            estate["geometry"],
            households=c["households"],
            site=site,
            floor_area=c["site_area"],
            ground_floor_area=c["site_ground"],
        )
    except InputError as err:
        problem = err

with right:
    from siting.maps import district_map, estate_map

    geom = None if estate is None else gpd.GeoSeries([estate["geometry"]], crs=4326)
    site_gs = None if not site else gpd.GeoSeries([Point(site)], crs=4326)
    if geom is not None:
        m = estate_map(
            geom,
            sites=ctx.evaluation.sites,
            proposed_site=site_gs,
            suggested_site=None if check is None else check.suggested,
            **opts,
        )
    else:
        m = district_map(ctx.evaluation, **opts)
    Draw(
        export=False,
        position="topleft",
        draw_options={
            "polyline": False,
            "circle": False,
            "circlemarker": False,
            "rectangle": True,
            "polygon": True,
            "marker": True,
        },
        edit_options={"edit": False},
    ).add_to(m)
    ensure_map_component()
    out = common.show_map(m, key="map_estate", returned=("all_drawings",), height=520)
    drawings = out.get("all_drawings")
    # each drawing is read once: a drawing already read must not override a later upload or
    # the demo estate when the map component sends its drawings again
    stamp = json.dumps(drawings, sort_keys=True, default=str) if drawings else None
    poly = point = None
    if stamp != c.get("drawn_stamp"):
        c["drawn_stamp"] = stamp
        poly, point = drawn_shapes(drawings, gcj02=opts["basemap"] == "amap")
    changed = False
    if poly is not None and (
        estate is None or not poly.geometry.iloc[0].equals(estate["geometry"])
    ):
        c["estate"] = {
            "geometry": poly.geometry.iloc[0],
            "households": float("nan"),
            "name": t("drawn"),
        }
        changed = True
    if point is not None:
        xy = (point.geometry.iloc[0].x, point.geometry.iloc[0].y)
        changed = changed or xy != c.get("estate_site")
        c["estate_site"] = xy
    if changed:
        st.rerun()

estate = c.get("estate")
if estate is None:
    st.info(t("no_estate"))
    st.stop()

st.subheader(t("verdict"))
if problem is not None or check is None:
    if problem is not None:
        common.problem_table(problem)
    st.stop()
assert check is not None  # st.stop() ends the script run
common.show_warnings((*estate.get("warnings", ()), *estate_warned))
ok = check.passed
reasons = list(check.reasons if lang() == "zh" else check.reasons_en)
if ok is None:
    st.info(t("verdict_none"))
else:
    (st.success if ok else st.error)(t("verdict_ok") if ok else t("verdict_fail"))
for r in reasons:
    st.markdown(f"- {r}")
advice = set(check.advice)
for note in check.notes:
    if note not in advice:  # advice is shown below, in the current language
        st.caption(note)
for a in check.advice if lang() == "zh" else check.advice_en:
    st.warning(a)
st.dataframe(check.checks, hide_index=True, width="stretch")  # type: ignore[call-overload]
sug = check.suggested.to_crs(4326)
if len(sug):
    st.caption(f"{t('suggested')}: " + "; ".join(f"{p.x:.6f}, {p.y:.6f}" for p in sug.geometry))
est_gdf = gpd.GeoDataFrame(
    {"name": [estate.get("name", "")]}, geometry=[estate["geometry"]], crs=4326
)
checks_table, suggested = check.checks, check.suggested
common.exports(
    "siting_estate",
    xlsx=lambda: common.tables_xlsx(
        {"结论": common.reasons_frame(ok, reasons), "检查项": checks_table}
    ),
    layers=lambda: {"estate": est_gdf, "suggested": suggested},
    m=m,
)
