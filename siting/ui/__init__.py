"""The Streamlit pages of the siting app (the only part of siting that imports Streamlit).

``app.py`` at the repository root is the router; each page is one short module here, the
shared sidebar, loaders, maps and exports are in :mod:`siting.ui.common`.
"""
