"""覆盖与缺口 Coverage & gaps: who is within walking reach of a station, and where the gaps are."""

import dataclasses

import streamlit as st

from siting.schema import LEVELS
from siting.ui import common
from siting.ui.i18n import t
from siting.ui.pick import clicked_feature

st.title(t("page_coverage"))
c = common.cfg()
c.setdefault("radius", 500)
c.setdefault("levels", list(LEVELS))
c.setdefault("show_areas", False)
left, right = st.columns([1, 2])
radius = common.widget(
    left.select_slider, t("radius"), "radius", options=[300, 400, 500, 600, 800, 1000]
)
levels = common.widget(
    right.multiselect, t("levels"), "levels", options=list(LEVELS), format_func=common.level_label
)

ctx = common.context_or_stop(extra_overrides={"station_service_radius_m": float(radius)})
ev = ctx.evaluation
s = ev.summary
comm = ev.communities
lacking = comm[~(comm["nearest_station_distance_m"] <= radius)]

cols = st.columns(3)
cols[0].metric(t("coverage_rate"), common.pct(s["coverage_rate"]), help=t("coverage_rate_help"))
cols[1].metric(t("lacking_metric", radius=radius), f"{len(lacking)}")
uncovered = s["population_total"] - s["population_covered"]  # all of them, not just the gaps
cols[2].metric(t("uncovered_pop"), f"{uncovered:,.0f}")

from siting.maps import district_map  # noqa: E402

shown = dataclasses.replace(ev, sites=ev.sites[ev.sites["level"].isin(levels)])
areas = None
if common.widget(st.toggle, t("show_areas"), "show_areas", help=t("show_areas_help")):
    with st.spinner(t("solving")):
        areas, area_warned = common.service_areas(ctx.key, (float(radius),), ctx)
    common.show_warnings(area_warned)
    areas = areas[areas["level"].isin(levels)]
# the 党群服务点 layer starts off unless points are the only level chosen (580 markers on the demo)
hidden = ("point",) if set(levels) - {"point"} else ()
m = district_map(shown, service_areas=areas, hidden_levels=hidden, **common.map_options())
out = common.show_map(m, key="map_coverage", returned=("last_object_clicked",))

hit = clicked_feature(out.get("last_object_clicked"), ev)
if hit is None:
    st.caption(t("click_hint"))
else:
    kind, row = hit
    st.subheader(f"{t('clicked')}: {t(kind)} {row.get('name', '')}")
    st.dataframe(row.to_frame(name="").astype(str), width="stretch")

st.subheader(
    t("lacking_title", radius=radius, n=len(lacking))
    if len(lacking)
    else t("lacking_none", radius=radius)
)
cols_l = [
    "community_id",
    "name",
    "street",
    "population",
    "nearest_station_id",
    "nearest_station_distance_m",
    "covered_share",
    "coverage_status",
    "missing",
]
common.table(lacking.sort_values("population", ascending=False)[cols_l], key="lacking_table")
st.subheader(t("gap_table"))
common.table(ev.gaps.drop(columns="geometry").sort_values("rank"))
common.evaluation_exports("siting_coverage", ctx, m)
