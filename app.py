"""The siting web app: ``streamlit run app.py``.

Serves :mod:`siting.ui.main` (the page router) through Streamlit's ASGI app so the bundled demo
is loaded, its road network built and evaluated in the background as soon as the server
starts (:func:`siting.ui.warm.start`), before the first visitor arrives. Pages live in
``siting/ui/``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st


@asynccontextmanager
async def _lifespan(_app: Any) -> AsyncIterator[None]:
    from siting.ui import warm

    warm.start()
    yield None


app = st.App(str(Path(__file__).resolve().parent / "siting" / "ui" / "main.py"), lifespan=_lifespan)
