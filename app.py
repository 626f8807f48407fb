"""The siting web app: ``streamlit run app.py``.

An ASGI :class:`streamlit.App` serving the page router :mod:`siting.ui.main` (pages live in
``siting/ui/``). Importing this module (the server does it as it starts, before any browser
connects) starts the process-wide warm-up (:func:`siting.ui.warm.start`): the bundled demo is
loaded, its road network built and evaluated once (shared read-only by every session) and the
map modules are imported, so the first visitor finds them ready.
"""

from pathlib import Path

import streamlit as st

from siting.ui import warm

warm.keep_upload_replies()
warm.start()

app = st.App(str(Path(__file__).resolve().parent / "siting" / "ui" / "main.py"))
