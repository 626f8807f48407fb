"""The siting web app: ``streamlit run app.py``.

Runs the page router :mod:`siting.ui.main` on every script run (pages live in ``siting/ui/``).
The first run starts the process-wide warm-up (:func:`siting.ui.warm.start`): the bundled demo
is loaded, its road network built and evaluated once and shared read-only by every session.

(Streamlit's ASGI ``st.App`` with a lifespan hook would start the warm-up with the server, but
in Streamlit 1.67 the streamlit-folium map component stays blank in that mode.)
"""

import runpy
from pathlib import Path

runpy.run_path(
    str(Path(__file__).resolve().parent / "siting" / "ui" / "main.py"), run_name="__main__"
)
