"""总览 Overview: the key figures of the district and its map."""

import pandas as pd
import streamlit as st

from siting.schema import LEVELS
from siting.ui import common
from siting.ui.i18n import lang, t

st.title(t("page_overview"))
ctx = common.context_or_stop()
s = ctx.evaluation.summary
st.caption(common.loaded_text(ctx))

per_site = s["population_total"] / s["sites_total"] if s["sites_total"] else float("nan")
cols = st.columns(4)
cols[0].metric(t("coverage_rate"), common.pct(s["coverage_rate"]), help=t("coverage_rate_help"))
cols[1].metric(t("compliance_rate"), common.pct(s["compliance_rate"]))
cols[1].caption(t("compliant_of", n=s["sites_compliant"], total=s["sites_total"]))
cols[2].metric(t("population_per_site"), f"{per_site:,.0f}")
cols[3].metric(t("population_total"), f"{s['population_total']:,.0f}")

# the sites the headline counts (the evaluation's current sites: existing ones); planned
# sites in a column of their own, so the compliant column adds up to the headline's figure
levels = s["by_level"]
by_level = pd.DataFrame(
    {
        t("level"): [common.level_label(lv) for lv in LEVELS],
        t("count"): [int(levels[lv]["sites_total"]) for lv in LEVELS],
        t("compliant"): [int(levels[lv]["sites_compliant"]) for lv in LEVELS],
    }
)
sites = ctx.evaluation.sites
if s.get("sites_planned"):
    planned = sites["status"].eq("planned") if "status" in sites.columns else None
    if planned is not None and planned.any():
        by_level[t("planned_col")] = [
            int((planned & (sites["level"] == lv)).sum()) for lv in LEVELS
        ]
left, right = st.columns([1, 2])
with left:
    st.subheader(t("sites_by_level"))
    common.small_table(by_level)
    counted = s.get("compliance_levels") or []
    sep = "、" if lang() == "zh" else ", "
    st.caption(t("by_level_note", levels=sep.join(common.level_label(lv) for lv in counted)))
with right:
    from siting.maps import district_map

    st.subheader(t("district_map"))
    # the many small 党群服务点 markers start switched off (the layer control shows them)
    m = district_map(ctx.evaluation, hidden_levels=("point",), **common.map_options())
    common.show_map(m, key="map_overview", returned=())
common.evaluation_exports("siting_overview", ctx, m)
