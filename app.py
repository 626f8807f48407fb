"""The siting web app: ``streamlit run app.py``. A router; the pages live in ``siting/ui/``."""

import streamlit as st

from siting.ui import common
from siting.ui.i18n import t

st.set_page_config(page_title="党群服务站点规划 siting", page_icon=":material/map:", layout="wide")
common.language_switch()
pages = [
    st.Page(
        "siting/ui/data.py", title=t("page_data"), icon=":material/folder_open:", url_path="data"
    ),
    st.Page(
        "siting/ui/overview.py",
        title=t("page_overview"),
        icon=":material/dashboard:",
        url_path="overview",
        default=True,
    ),
    st.Page(
        "siting/ui/coverage.py",
        title=t("page_coverage"),
        icon=":material/map:",
        url_path="coverage",
    ),
    st.Page(
        "siting/ui/compliance.py",
        title=t("page_compliance"),
        icon=":material/task_alt:",
        url_path="compliance",
    ),
    st.Page(
        "siting/ui/proposals.py",
        title=t("page_proposals"),
        icon=":material/add_location_alt:",
        url_path="proposals",
    ),
    st.Page(
        "siting/ui/estate.py",
        title=t("page_estate"),
        icon=":material/apartment:",
        url_path="estate",
    ),
]
page = st.navigation(pages)
common.sidebar()
page.run()
