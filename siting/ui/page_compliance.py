"""达标评估 Compliance: sites and their reasons, streets, the three-year view, the upgrade plan."""

import altair as alt
import pandas as pd
import streamlit as st

from siting._errors import InputError
from siting.ui import common
from siting.ui.i18n import lang, t

st.title(t("page_compliance"))
ctx = common.context_or_stop()
ev = ctx.evaluation
s = ev.summary

cols = st.columns(3)
cols[0].metric(t("compliance_rate"), common.pct(s["compliance_rate"]))
cols[0].caption(t("compliant_of", n=s["sites_compliant"], total=s["sites_total"]))
cols[1].metric(t("sites_total"), f"{s['sites_total']}")
cols[2].metric(t("coverage_rate"), common.pct(s["coverage_rate"]))

# The three-year chart: compliance per programme year against its target.
st.subheader(t("trajectory"))
traj = ev.trajectory.copy()
traj["label"] = [t("now") if y == 0 else t("year_n", n=int(y)) for y in traj["year"]]
long = pd.concat(
    [
        traj.assign(series=t("actual"), rate=traj["compliance_rate"]),
        traj[traj["year"] > 0].assign(series=t("target"), rate=traj["target_rate"]),
    ]
)
order = list(traj["label"])
bars = (
    alt.Chart(long[long["series"] == t("actual")])
    .mark_bar(color="#3182bd")
    .encode(
        x=alt.X("label:N", sort=order, title=t("year")),
        y=alt.Y(
            "rate:Q",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
            title=t("compliance_rate"),
        ),
        tooltip=["label", alt.Tooltip("rate:Q", format=".1%"), "sites_compliant", "sites_total"],
    )
)
ticks = (
    alt.Chart(long[long["series"] == t("target")])
    .mark_tick(color="#e6550d", thickness=3, size=40)
    .encode(
        x=alt.X("label:N", sort=order),
        y="rate:Q",
        tooltip=["label", alt.Tooltip("rate:Q", format=".0%")],
    )
)
st.altair_chart(bars + ticks, width="stretch")
st.caption(
    f"■ {t('actual')}   — {t('target')} "
    + " / ".join(f"{v:.0%}" for v in traj.loc[traj["year"] > 0, "target_rate"])
)

st.subheader(t("site_table"))
only_failing = st.toggle(t("only_failing"), value=False, key="only_failing")
sites = ev.sites.drop(columns="geometry")
if only_failing:
    sites = sites[~sites["compliant"]]
show = [
    "site_id",
    "name",
    "level",
    "street",
    "compliant",
    "reasons",
    "floor_area_m2",
    "ground_floor_share",
    "shortfall_m2",
    "population_served",
    "max_population",
    "overloaded",
    "required_funding_yuan",
]
common.table(sites[[c for c in show if c in sites.columns]])

st.subheader(t("street_table"))
common.table(ev.streets)

st.subheader(t("plan_title"))
plan_key = ("plan", ctx.key)
if st.button(t("plan_run")):
    with st.status(t("solving"), expanded=False) as status:
        try:
            st.session_state["plan"] = (plan_key, *common.upgrade_plan(ctx))
        except InputError as err:
            status.update(label=t("failed"), state="error", expanded=True)
            common.problem_table(err)
        else:
            status.update(label=t("solved"), state="complete")
saved = st.session_state.get("plan")
plan = saved[1] if saved and saved[0] == plan_key else None
if plan is not None:
    common.show_warnings(saved[2] if saved else ())
    for note in plan.notes:  # each note: Chinese, a newline, English
        zh, _, en = note.partition("\n")
        st.caption(common.app_wording(zh if lang() == "zh" else (en or zh)))
    from siting.plan import PLAN_LABELS_ZH

    common.table(plan.years, labels=PLAN_LABELS_ZH)
    common.table(plan.actions, labels=PLAN_LABELS_ZH)


def _xlsx() -> bytes:
    extra = {} if plan is None else {"提升计划": plan.actions, "逐年": plan.years}
    return common.evaluation_xlsx(ev, extra=extra)


common.exports("siting_compliance", xlsx=_xlsx, layers=lambda: common.evaluation_layers(ev))
