"""The app's side of the scenario store: what a saved scenario holds and how loading restores it.

A scenario saved from the app holds the session's canonical communities and sites (inputs),
its parameters (:func:`session_parameters`) and the evaluation's summary and tables (results).
Loading writes the inputs into the session's private upload folder as GeoPackages and restores
the parameters into ``cfg()`` (and the widgets showing them); the road network is not stored,
so it is kept only when this session has the same roads file uploaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from siting.ui import common

__all__ = [
    "compare",
    "delete",
    "listing",
    "load_into_session",
    "save",
    "session_parameters",
    "store_label",
    "store_location",
]

#: Session settings a scenario keeps (cfg key -> default when absent).
PARAMS: dict[str, Any] = {
    "standard": None,
    "overrides": {},
    "demand": "grid",
    "coords": "wgs84",
    "crs": "",
    "radius": 500,
}
#: Widget keys showing those settings (re-seeded from cfg after a load).
_WIDGETS = ("w_standard", "w_demand", "w_coords", "w_crs", "w_radius")


def store_location() -> str:
    """``SITING_STORE`` or the default store location."""
    from siting.store import default_store_location

    return os.environ.get("SITING_STORE") or default_store_location()


def store_label(location: str) -> str:
    """The location with any password in a URL hidden."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", location)


def _open(location: str) -> Any:
    from siting.store import Store

    return Store.open(location)


def session_parameters() -> dict[str, Any]:
    """The session's settings as JSON-able scenario parameters."""
    c = common.cfg()
    files = c["files"]
    params = {k: c.get(k, d) for k, d in PARAMS.items()}
    params["overrides"] = {k: float(v) for k, v in dict(params["overrides"]).items()}
    params["source"] = "upload" if "communities" in files and "sites" in files else "demo"
    params["files"] = {r: v["name"] for r, v in files.items()}
    if "roads" in files:
        params["roads_sha256"] = files["roads"]["sha256"]
    return params


def save(location: str, name: str, ctx: Any, *, description: str = "") -> int:
    """Save the session's inputs, parameters and results as ``name``; returns the version.

    Raises
    ------
    InputError
        A bad name, or a store that cannot be opened or written.
    """
    from siting.store import Scenario, validate_name

    name = validate_name(name)
    scenario = Scenario.from_evaluation(
        name,
        ctx.evaluation,
        inputs={"communities": ctx.inputs.communities, "sites": ctx.inputs.sites},
        parameters=session_parameters(),
        description=description,
    )
    with _open(location) as store:
        return int(store.save(scenario))


def listing(location: str) -> pd.DataFrame:
    """The stored scenarios (latest versions) with their key figures."""
    with _open(location) as store:
        table = store.list()
    keep = [
        c
        for c in ("name", "version", "updated", "description", "coverage_rate", "compliance_rate")
        if c in table.columns
    ]
    return table[keep]


def delete(location: str, name: str) -> int:
    """Delete every version of ``name``; returns how many were removed."""
    with _open(location) as store:
        return int(store.delete(name))


def compare(location: str, a: str, b: str) -> pd.DataFrame:
    """Key figures and differing parameters of two scenarios side by side."""
    with _open(location) as store:
        return store.compare(a, b)


def _frame_file(frame: Any, folder: Path, name: str) -> tuple[Path, str]:
    path = folder / f"{name}.gpkg"
    out = frame.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].astype(str)
    out.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def load_into_session(location: str, name: str) -> tuple[str, int, str]:
    """Load ``name`` and restore its inputs and parameters into this session.

    Returns
    -------
    (name, version, note)
        ``note`` is an i18n key to show (``""`` when none).

    Raises
    ------
    InputError
        When the scenario does not exist or cannot be read.
    """
    with _open(location) as store:
        sc = store.load(name)
    c = common.cfg()
    params = dict(sc.parameters)
    files = common.session_files()
    note = ""
    if params.get("source") == "upload" and {"communities", "sites"} <= set(sc.inputs):
        roads = c["files"].get("roads")
        keep_roads = roads is not None and roads.get("sha256") == params.get("roads_sha256")
        new: dict[str, Any] = {"roads": roads} if keep_roads else {}
        if not keep_roads:
            files.remove("roads")
            if params.get("roads_sha256"):
                note = "scen_no_roads"
        with tempfile.TemporaryDirectory(prefix="siting-scenario-") as tmp:
            for role in ("communities", "sites"):
                path, _ = _frame_file(sc.inputs[role], Path(tmp), role)
                stored = files.store(role, f"{role}.gpkg", path.read_bytes())
                shown = params.get("files", {}).get(role, f"{role}.gpkg")
                new[role] = {
                    "name": f"{shown} ({sc.name})",
                    "path": str(stored.path),
                    "sha256": stored.sha256,
                    "stamp": ("scenario", sc.name, sc.version, role),
                }
        c["files"] = new
        # stored frames are in their metric CRS already: read them as they are
        params["coords"], params["crs"] = "wgs84", ""
    else:
        for role in list(c["files"]):
            files.remove(role)
        c["files"] = {}
    for key, default in PARAMS.items():
        value = params.get(key, default)
        if value is not None:
            c[key] = dict(value) if isinstance(value, dict) else value
    for key in _WIDGETS:
        st.session_state.pop(key, None)
    for key in [k for k in st.session_state if str(k).startswith("thresholds_")]:
        st.session_state.pop(key, None)
    return sc.name, int(sc.version or 0), note
