"""The siting web app: ``streamlit run app.py``.

An ASGI :class:`streamlit.App` serving the page router :mod:`siting.ui.main` (pages live in
``siting/ui/``). Importing this module (the server does it as it starts, before any browser
connects) starts the process-wide warm-up (:func:`siting.ui.warm.start`): the bundled demo is
loaded with its stored evaluation (evaluated once in a second process when there is none;
shared read-only by every session) and the map modules are imported, so the first visitor finds
them ready; the demo's network is built, and Streamlit's scan for installed v2 components run,
after the first page (:func:`siting.ui.warm.defer_component_scan`).
"""

from pathlib import Path

import streamlit as st

from siting.ui import warm

warm.log_to_stderr()
warm.keep_upload_replies()
warm.defer_component_scan()  # before the server starts its runtime
warm.start()

app = st.App(str(Path(__file__).resolve().parent / "siting" / "ui" / "main.py"))
