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
#: (page, Material icon); each lives in ``page_<name>.py``, is titled ``t("page_<name>")`` and
#: served at ``/<name>``; the overview is the default page.
PAGES = (
    ("data", ":material/folder_open:"),
    ("overview", ":material/dashboard:"),
    ("coverage", ":material/map:"),
    ("compliance", ":material/task_alt:"),
    ("proposals", ":material/add_location_alt:"),
    ("estate", ":material/apartment:"),
    ("scenarios", ":material/bookmarks:"),
)
pages = [
    st.Page(
        str(HERE / f"page_{name}.py"),
        title=t(f"page_{name}"),
        icon=icon,
        url_path=name,
        default=name == "overview",
    )
    for name, icon in PAGES
]
page = st.navigation(pages)
slot = common.sidebar()
auth.logout_button()
try:
    page.run()
finally:
    common.sidebar_status(slot)
    warm.later()  # the later pages' modules and the demo network, now that the first page is out
