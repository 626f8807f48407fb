"""方案 Scenarios: save, list, load, compare and delete named scenarios (:mod:`siting.store`).

The store is ``SITING_STORE`` or the default location (:func:`siting.store.default_store_location`).
Loading restores the scenario's inputs (as this session's private files) and parameters into
this session only. Store problems show as messages, never as a traceback.
"""

import streamlit as st

from siting._errors import InputError
from siting.ui import common, scenario_io
from siting.ui.i18n import t

st.title(t("page_scenarios"))
where = scenario_io.store_location()
st.caption(t("scen_intro", where=scenario_io.store_label(where)))


def _problem(err: InputError) -> None:
    st.error(t("scen_store_error"))
    common.problem_table(err)


# ----------------------------------------------------------------------------- save
st.subheader(t("scen_save"))
with st.form("scen_save_form", clear_on_submit=False):
    name = st.text_input(t("scen_name"), key="scen_name", max_chars=100)
    desc = st.text_input(t("scen_desc"), key="scen_desc")
    save = st.form_submit_button(t("scen_save_btn"))
if save:
    try:
        ctx = common.context()
        version = scenario_io.save(where, name, ctx, description=desc)
    except InputError as err:
        _problem(err)
    else:
        st.success(t("scen_saved", name=name.strip(), version=version))

# ----------------------------------------------------------------------------- list
st.subheader(t("scen_list"))
try:
    table = scenario_io.listing(where)
except InputError as err:
    _problem(err)
    st.stop()
if table.empty:
    st.info(t("scen_none"))
    st.stop()
common.table(table, key="scen_table")  # rates as percentages, headers translated
names = list(table["name"])

left, right = st.columns(2)
pick = left.selectbox(t("scen_pick"), names, key="scen_pick")
b1, b2 = right.columns(2)
if b1.button(t("scen_load_btn"), key="scen_load"):
    try:
        loaded, version, note = scenario_io.load_into_session(where, pick)
    except InputError as err:
        _problem(err)
    else:
        st.success(t("scen_loaded", name=loaded, version=version))
        if note:
            st.info(t(note))
if b2.button(t("scen_delete_btn"), key="scen_delete"):
    try:
        scenario_io.delete(where, pick)
    except InputError as err:
        _problem(err)
    else:
        st.session_state.pop("scen_pick", None)
        st.success(t("scen_deleted", name=pick))
        st.rerun()

# ----------------------------------------------------------------------------- compare
st.subheader(t("scen_compare"))
ca, cb = st.columns(2)
a = ca.selectbox(t("scen_a"), names, key="scen_a")
b = cb.selectbox(t("scen_b"), names, index=min(1, len(names) - 1), key="scen_b")
if st.button(t("scen_compare_btn"), key="scen_compare_btn"):
    try:
        diff = scenario_io.compare(where, a, b)
    except InputError as err:
        _problem(err)
    else:
        # shares as percentages, people and yuan as whole numbers (the stored figures as such)
        shown = diff.assign(
            **{
                col: [
                    common.figure_text(item, v, difference=col == "difference")
                    for item, v in zip(diff["item"], diff[col], strict=True)
                ]
                for col in ("a", "b", "difference")
                if col in diff.columns
            }
        )
        st.dataframe(shown, hide_index=True, width="stretch", key="scen_diff")
