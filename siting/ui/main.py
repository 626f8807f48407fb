"""The page router run for every browser session (``app.py`` serves it; AppTest runs it directly).

Order: the upload-reply fix (:func:`siting.ui.warm.keep_upload_replies`), page setup, the demo
warm-up (once per process), the login gate, the language switch, the navigation and the shared
sidebar, then the chosen page.
"""

import os
import sys
from pathlib import Path

import streamlit as st

from siting.ui import auth, common, warm
from siting.ui.i18n import t

HERE = Path(__file__).resolve().parent
# Streamlit puts the main script's folder first on sys.path; siting/ui's module names must not
# shadow top-level modules (a library's "import coverage" found a page once), so take it off.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]

# before any upload of this process: a rerun must not drop the browser's upload URL
warm.keep_upload_replies()
st.set_page_config(page_title="党群服务站点规划 siting", page_icon=":material/map:", layout="wide")
warm.start()
if not auth.gate():
    st.stop()
common.language_switch()
pages = [
    st.Page(
        str(HERE / "page_data.py"),
        title=t("page_data"),
        icon=":material/folder_open:",
        url_path="data",
    ),
    st.Page(
        str(HERE / "page_overview.py"),
        title=t("page_overview"),
        icon=":material/dashboard:",
        url_path="overview",
        default=True,
    ),
    st.Page(
        str(HERE / "page_coverage.py"),
        title=t("page_coverage"),
        icon=":material/map:",
        url_path="coverage",
    ),
    st.Page(
        str(HERE / "page_compliance.py"),
        title=t("page_compliance"),
        icon=":material/task_alt:",
        url_path="compliance",
    ),
    st.Page(
        str(HERE / "page_proposals.py"),
        title=t("page_proposals"),
        icon=":material/add_location_alt:",
        url_path="proposals",
    ),
    st.Page(
        str(HERE / "page_estate.py"),
        title=t("page_estate"),
        icon=":material/apartment:",
        url_path="estate",
    ),
    st.Page(
        str(HERE / "page_scenarios.py"),
        title=t("page_scenarios"),
        icon=":material/bookmarks:",
        url_path="scenarios",
    ),
]
page = st.navigation(pages)
slot = common.sidebar()
auth.logout_button()
try:
    page.run()
finally:
    common.sidebar_status(slot)
    warm.later()  # the download modules, now that the first page is out
