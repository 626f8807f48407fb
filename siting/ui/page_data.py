"""数据 Data: the bundled demo or the user's files, coordinate system, standards profile."""

import streamlit as st

from siting._errors import InputError
from siting.standards import LEVEL_FIELDS, available_standards
from siting.ui import common, thresholds
from siting.ui.i18n import lang, t
from siting.ui.uploads import ACCEPTED, SHAPEFILE_PARTS, combine_shapefile

st.title(t("page_data"))
st.write(t("data_intro"))
c = common.cfg()


def _take(role: str, upload) -> None:
    """Store a new upload of ``role`` in the session's folder (or report why not). ``upload``
    is one file, or a list (the communities' box takes several files: the parts of one
    shapefile, zipped here)."""
    files = upload if isinstance(upload, list) else [upload] if upload is not None else []
    if not files:
        return
    stamps = tuple((f.name, f.size, getattr(f, "file_id", "")) for f in files)
    stamp = stamps[0] if len(stamps) == 1 else stamps  # one file: as before
    if c["files"].get(role, {}).get("stamp") == stamp:
        return
    try:
        name, data, shown = combine_shapefile([(f.name, f.getvalue()) for f in files])
        stored = common.session_files().store(role, name, data)
    except InputError as err:
        common.problem_table(err)
        return
    c["files"][role] = {
        "name": shown,
        "path": str(stored.path),
        "sha256": stored.sha256,
        "stamp": stamp,
    }


cols = st.columns(3)
marks = {}  # the file list's marks, written once the files were loaded (✔ used, ✘ rejected)
for col, role, help_key in zip(
    cols,
    ("communities", "sites", "roads"),
    ("upload_help", "upload_help", "roads_help"),
    strict=True,
):
    several = role == "communities"  # a shapefile's parts, selected together
    up = col.file_uploader(
        t(f"upload_{role}"),
        type=list(dict.fromkeys([*ACCEPTED[role], *(SHAPEFILE_PARTS if several else ())])),
        help=t("upload_help_parts" if several else help_key),
        key=f"up_{role}",
        accept_multiple_files=several,
    )
    _take(role, up)
    marks[role] = col.empty()

if c["files"] and st.button(t("use_demo")):
    for role in list(c["files"]):
        common.session_files().remove(role)
    c["files"].clear()
    st.rerun()
if ("communities" in c["files"]) != ("sites" in c["files"]):
    st.info(t("need_both"))

left, right = st.columns(2)
common.widget(
    left.selectbox,
    t("coords"),
    "coords",
    options=list(common.COORDS),
    format_func=common.COORD_LABELS.get,
    help=t("coords_help"),
)
common.widget(right.text_input, t("crs"), "crs", placeholder="EPSG:4549")
common.widget(left.selectbox, t("standard"), "standard", options=available_standards())
common.widget(
    right.radio,
    t("demand"),
    "demand",
    options=["grid", "centroid"],
    format_func=lambda d: t(f"demand_{d}"),
    horizontal=True,
)

# Editable thresholds: one row per level, the profile's values as defaults.
from siting.standards import load_standard  # noqa: E402

base = load_standard(c["standard"])
st.subheader(t("thresholds"))
table = base.table()
table = table[table["level"] != ""]
wide = table.pivot(index="level", columns="setting", values="value").astype(float)
wide = wide[list(LEVEL_FIELDS)]
for k, v in c["overrides"].items():
    for lv in wide.index:
        if k.startswith(lv + "_") and k[len(lv) + 1 :] in wide.columns:
            wide.loc[lv, k[len(lv) + 1 :]] = float(v)
# Shown with labels in the session's language (levels and settings), rows by level (区级, 街镇,
# 站, 点) and no limit as text, not "Infinity"; the values map back by position, so the override
# keys stay the profile's field names.
wide = thresholds.order_levels(wide)
fields = list(wide.columns)
shown, text_cols = thresholds.shown_values(wide)
shown.index = [common.level_label(lv) for lv in wide.index]
shown.index.name = t("level")
shown.columns = [t(f"th_{f}") for f in fields]
edited = st.data_editor(
    shown,
    key=f"thresholds_{c['standard']}_{lang()}",
    width="stretch",
    column_config={
        t(f"th_{f}"): st.column_config.TextColumn(help=t("th_no_limit_help")) for f in text_cols
    },
)
edited.index, edited.columns = wide.index, fields
overrides, unreadable = thresholds.overrides_from(edited, base, c["overrides"])
if unreadable:
    st.warning(t("th_unreadable", cells=", ".join(unreadable)))
if overrides != c["overrides"]:
    c["overrides"] = overrides
if c["overrides"] and st.button(t("reset_thresholds")):
    c["overrides"] = {}
    for k in [k for k in st.session_state if str(k).startswith("thresholds_")]:
        st.session_state.pop(k, None)
    st.rerun()

# Load now, so problems show on this page.
try:
    with st.spinner(t("solving")):
        ctx = common.context()
except InputError as err:
    common.problem_table(err)
else:
    st.success(common.loaded_text(ctx))
    common.show_warnings(ctx.warnings)
for role, mark in marks.items():
    if role in c["files"]:
        name = c["files"][role]["name"]
        if role in common.rejected():
            mark.caption(f"✘ {name}: {t('file_rejected')}")
        else:
            mark.caption(f"✔ {name}")
