"""选址建议 Proposals: where new stations cover the most residents, before and after."""

import math

import streamlit as st

from siting._errors import InputError
from siting.ui import common
from siting.ui.i18n import t

st.title(t("page_proposals"))


def _verdict(sol) -> str:  # type: ignore[no-untyped-def]
    """Proven optimal, or how far from the optimum the answer may be (unknown without a bound)."""
    if sol.status == "optimal":
        return t("status_optimal")
    if not math.isfinite(sol.gap):
        return t("status_unknown_gap")
    return t("status_feasible", gap=f"{100 * sol.gap:.2f}%")


c = common.cfg()
ctx = common.context_or_stop()

c.setdefault("model", "mclp")
c.setdefault("n_new", 3)
c.setdefault("p_radius", 500)
c.setdefault("budget", 0.0)
c.setdefault("cost", 100.0)
c.setdefault("use_capacity", False)
left, mid, right = st.columns(3)
model = common.widget(
    left.radio,
    t("model"),
    "model",
    options=["mclp", "lscp", "pmedian"],
    format_func=lambda m: t(f"model_{m}"),
)
n_new = common.widget(
    left.number_input,
    t("n_new"),
    "n_new",
    min_value=1,
    max_value=50,
    step=1,
    disabled=model == "lscp",
)
radius = common.widget(
    mid.select_slider, t("radius"), "p_radius", options=[300, 400, 500, 600, 800, 1000]
)
c.setdefault("cand_source", "auto")
sources = common.candidate_sources(ctx)
if c["cand_source"] not in sources:
    c["cand_source"] = "auto"
cand_source = common.widget(
    mid.radio,
    t("cand_pick"),
    "cand_source",
    options=sources,
    format_func=lambda s: t(
        f"cand_{s}_demo" if s == "auto" and ctx.inputs.is_demo else f"cand_{s}"
    ),
    help=t("cand_pick_help"),
)
cand_up = (
    mid.file_uploader(
        t("cand_file"), type=["gpkg", "geojson", "json", "zip", "csv", "xlsx"], key="up_candidates"
    )
    if cand_source == "file"
    else None
)
use_capacity = common.widget(
    mid.checkbox, t("use_capacity"), "use_capacity", help=t("use_capacity_help")
)
budget = common.widget(right.number_input, t("budget"), "budget", min_value=0.0, step=10.0)
cost = common.widget(right.number_input, t("cost_per_station"), "cost", min_value=1.0, step=10.0)
p = int(n_new) if not budget else int(min(n_new, budget // cost))
if budget:
    right.caption(t("budget_p", p=p))

try:
    with st.spinner(t("solving")):
        candidates, cand_label, cand_warned = common.candidates_warned(ctx, cand_source, cand_up)
except InputError as err:
    common.problem_table(err)
    st.stop()
shown_label = t("cand_auto_label") if cand_label == "auto" else cand_label
st.caption(f"{t('candidates_source')}: {shown_label} ({len(candidates):,})")
common.show_warnings(cand_warned)

params = (ctx.key, cand_label, len(candidates), model, p, radius, bool(use_capacity))
if st.button(t("solve"), type="primary", disabled=p < 1 or not len(candidates)):
    from siting.propose import propose

    with st.status(t("solving"), expanded=False) as status:
        try:
            result, warned = common.recording(
                lambda: propose(
                    ctx.evaluation,
                    ctx.network,
                    candidates,
                    communities=ctx.inputs.communities,
                    sites=ctx.inputs.sites,
                    model=model,
                    p=p,
                    radius=float(radius),
                    capacity=bool(use_capacity),
                    candidates_label=cand_label,
                    water=common.water(ctx),
                    standard=ctx.standard,
                )
            )
        except InputError as err:
            status.update(label=t("failed"), state="error", expanded=True)
            common.problem_table(err)
            st.stop()
        sol = result.solution
        verdict = _verdict(sol)
        status.update(label=f"{t('solved')}: {verdict}", state="complete")
    st.session_state["proposal"] = (params, result, warned)

saved = st.session_state.get("proposal")
result = saved[1] if saved and saved[0] == params else None
if result is not None:
    common.show_warnings(saved[2] if saved else ())  # on every rerun, not only in the solving box
    b, a = result.before.summary, result.after.summary
    lack_b = int((~(result.before.communities["nearest_station_distance_m"] <= radius)).sum())
    lack_a = int((~(result.after.communities["nearest_station_distance_m"] <= radius)).sum())
    cols = st.columns(4)
    cols[0].metric(f"{t('coverage_rate')} · {t('before')}", common.pct(b["coverage_rate"]))
    cols[1].metric(
        f"{t('coverage_rate')} · {t('after')}",
        common.pct(a["coverage_rate"]),
        f"{100 * (a['coverage_rate'] - b['coverage_rate']):+.1f} pp",
    )
    cols[2].metric(
        t("lacking_metric", radius=radius), lack_a, lack_a - lack_b, delta_color="inverse"
    )
    cols[3].metric(t("proposed"), len(result.stations))
    sol = result.solution
    st.caption(_verdict(sol))
    s = result.summary
    st.caption(
        t(
            "within_radius",
            r=radius,
            b=common.pct(s["coverage_rate_within_radius_before"]),
            a=common.pct(s["coverage_rate_within_radius_after"]),
        )
    )
    if s.get("coverage_rate_after_within_capacity") is not None:
        st.caption(
            t(
                "within_capacity",
                b=common.pct(s["coverage_rate_before"]),
                a=common.pct(s["coverage_rate_after_within_capacity"]),
            )
        )
    if s.get("mean_walk_m") is not None:
        st.caption(t("mean_walk", m=f"{s['mean_walk_m']:,.0f}"))
    if s.get("population_unreachable"):
        st.caption(t("unreachable_note", n=f"{s['population_unreachable']:,.0f}", r=radius))
    if s.get("new_stations_asked") and s["new_stations"] < s["new_stations_asked"]:
        st.caption(t("fewer_note", k=s["new_stations"], p=s["new_stations_asked"], r=radius))
    if not s["capacity"]:
        st.caption(t("assumed_standard"))
    from siting.maps import proposals_map

    m = proposals_map(result.before, result.stations, after=result.after, **common.map_options())
    common.show_map(m, key="map_proposals", returned=())
    ll = result.stations.to_crs(4326).geometry
    table = result.stations.drop(columns="geometry").assign(lon=ll.x.round(6), lat=ll.y.round(6))
    st.subheader(t("proposed"))
    from siting.propose import PROPOSAL_LABELS_ZH

    common.table(table, labels=PROPOSAL_LABELS_ZH)
    common.exports(
        "siting_proposals",
        xlsx=lambda: common.tables_xlsx(
            {"建议新站": table, "新增后站点": result.after.sites.drop(columns="geometry")}
        ),
        layers=lambda: {"proposed": result.stations, **common.evaluation_layers(result.after)},
        m=m,
    )
