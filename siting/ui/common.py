"""What every page shares: the sidebar, the session's settings, cached loading and evaluation,
the problem table, maps and exports.

Session state (one browser session each, never shared):
``cfg``  dict of the user's choices (files, coordinate system, standard, overrides, basemap);
``files`` the session's private :class:`~siting.ui.uploads.SessionFiles` folder.
Caches are keyed by file content (SHA-256) and parameters; cached values carry no session data
beyond what the same file content gives anyone who has it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from siting import pipeline, settings
from siting._errors import InputError, Problem
from siting.ui import warm
from siting.ui.i18n import LANGS, lang, t
from siting.ui.uploads import SessionFiles
from siting.ui.warm import recording

__all__ = [
    "Context",
    "cfg",
    "context",
    "context_or_stop",
    "exports",
    "language_switch",
    "loaded_text",
    "problem_table",
    "recording",
    "show_map",
    "sidebar",
    "table",
    "widget",
]

logger = logging.getLogger(__name__)

BASEMAPS = ("none", "osm", "tianditu", "amap")
# Fixed bilingual labels: a label that changed with the language would reset the widget.
BASEMAP_LABELS = {
    "none": "无底图(离线) No tiles",
    "osm": "OpenStreetMap",
    "tianditu": "天地图 Tianditu",
    "amap": "高德 AMap",
}
COORDS = ("wgs84", "cgcs2000", "gcj02", "bd09")
COORD_LABELS = {"wgs84": "WGS-84", "cgcs2000": "CGCS2000", "gcj02": "GCJ-02", "bd09": "BD-09"}


def _default_cfg() -> dict[str, Any]:
    return {
        "files": {},  # role -> {"name", "path", "sha256"}
        "coords": "wgs84",
        "crs": "",
        "standard": settings.DEFAULT_STANDARD,
        "overrides": {},
        "demand": "grid",
        "basemap": "none",
        "tianditu_key": "",
    }


def cfg() -> dict[str, Any]:
    """The session's settings (created on first use)."""
    if "cfg" not in st.session_state:
        st.session_state["cfg"] = _default_cfg()
    return st.session_state["cfg"]


def session_files() -> SessionFiles:
    """The session's private upload folder."""
    if "files" not in st.session_state:
        st.session_state["files"] = SessionFiles()
    return st.session_state["files"]


def widget(fn: Callable[..., Any], label: str, name: str, **kwargs: Any) -> Any:
    """A widget whose value lives in ``cfg()[name]`` and so survives page switches.

    Streamlit forgets a widget's state when a page without it runs; the value is kept in
    ``cfg`` and seeded back into the widget key (``w_<name>``) when the page shows again.
    """
    c = cfg()
    key = f"w_{name}"
    if key not in st.session_state and name in c:
        st.session_state[key] = c[name]
    value = fn(label, key=key, **kwargs)
    c[name] = value
    return value


# ----------------------------------------------------------------------------- sidebar
def language_switch() -> str:
    """The 中文/English switch (kept in ``st.session_state["lang"]``); returns the language."""
    if "lang" not in st.session_state:
        st.session_state["lang"] = "zh"
    return st.sidebar.radio(
        "语言 / Language", list(LANGS), key="lang", format_func=LANGS.get, horizontal=True
    )


def sidebar() -> Any:
    """The shared sidebar below the page list: data in use and the basemap.

    Returns the slot for :func:`sidebar_status` (filled after the page ran).
    """
    c = cfg()
    with st.sidebar:
        # filled after the page ran (sidebar_status), so an upload shows at once
        slot = st.empty()
        widget(
            st.selectbox,
            t("basemap"),
            "basemap",
            options=list(BASEMAPS),
            format_func=BASEMAP_LABELS.get,
        )
        if c["basemap"] == "tianditu":
            widget(
                st.text_input,
                t("tianditu_key"),
                "tianditu_key",
                type="password",
                help=t("tianditu_key_help"),
            )
    return slot


def sidebar_status(slot: Any) -> None:
    """Write which data is in use into the sidebar ``slot`` made by :func:`sidebar`."""
    if _uploaded():
        files = cfg()["files"]
        names = ", ".join(files[r]["name"] for r in ("communities", "sites", "roads") if r in files)
        if rejected():
            bad = ", ".join(files[r]["name"] for r in rejected() if r in files)
            slot.caption(f"{t('uploads_not_used')}: {bad}")
        else:
            slot.caption(f"{t('using_upload')}: {names}")
    else:
        slot.caption(t("using_demo"))


def _uploaded() -> bool:
    f = cfg()["files"]
    return "communities" in f and "sites" in f


# ----------------------------------------------------------------------------- loading
@dataclasses.dataclass(frozen=True)
class Context:
    """Everything a result page needs, for the session's current inputs and settings."""

    inputs: Any
    evaluation: Any
    standard: Any
    key: str
    warnings: tuple[str, ...]
    #: gives the distance provider; the demo's is built on first use (the overview does not
    #: need it, so a stored evaluation is shown without building the network)
    network_fn: Callable[[], Any] = dataclasses.field(repr=False, compare=False)

    @property
    def network(self) -> Any:
        """The distance provider (a :class:`~siting.ui.reuse.ReuseNetwork`)."""
        return self.network_fn()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@st.cache_data(max_entries=64, show_spinner=False)
def _demo_digest(path: str, mtime: float) -> str:
    return _file_digest(Path(path))


def _relabel(err: InputError, names: dict[str, str]) -> InputError:
    """The error with stored paths replaced by the names the user uploaded."""

    def fix(s: str) -> str:
        for path, name in names.items():
            s = s.replace(path, name)
        return s

    return InputError(
        [Problem(fix(p.file), p.where, p.field, fix(p.what), fix(p.fix)) for p in err.problems]
    )


@st.cache_data(max_entries=16, show_spinner=False)
def _load_inputs(
    key: str,
    _communities: str | None,
    _sites: str | None,
    _roads: str | None,
    coords: str,
    crs: str,
) -> tuple[Any, tuple[str, ...]]:
    return recording(
        lambda: pipeline.load_inputs(
            _communities, _sites, roads=_roads, coords=coords, crs=crs or None
        )
    )


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_network(key: str, _inputs: Any) -> tuple[Any, tuple[str, ...]]:
    from siting.ui.reuse import ReuseNetwork

    net, msgs = recording(lambda: pipeline.load_network(_inputs.roads, _inputs.communities))
    return ReuseNetwork(net, floor=warm.MAX_RADIUS_M), msgs


# cache_resource (not cache_data): handing out the cached object itself (no copy) keeps a
# page switch fast; the network is a ReuseNetwork, so a new radius reuses the distance searches.
# Pages never modify an Evaluation.
@st.cache_resource(max_entries=32, ttl=3600, show_spinner=False)
def _evaluate(
    key: str, _inputs: Any, _network: Any, _standard: Any, demand: str
) -> tuple[Any, tuple[str, ...]]:
    return recording(
        lambda: pipeline.evaluate_inputs(_inputs, _network, standard=_standard, demand=demand)
    )


def standard_with_overrides(extra: dict[str, Any] | None = None) -> Any:
    """The chosen standards profile with the session's threshold overrides (and ``extra``)."""
    from siting.standards import load_standard

    c = cfg()
    std = load_standard(c["standard"])
    over = {**c["overrides"], **(extra or {})}
    return std.with_overrides(**over) if over else std


def _inputs_key() -> tuple[str, dict[str, str | None]]:
    """Key (content digests and settings) and stored paths of the session's uploads."""
    c = cfg()
    files = c["files"]
    paths = {r: files[r]["path"] if r in files else None for r in ("communities", "sites", "roads")}
    parts = [
        files[r]["sha256"] if r in files else "none" for r in ("communities", "sites", "roads")
    ]
    key = hashlib.sha256("|".join([*parts, c["coords"], c["crs"]]).encode()).hexdigest()
    return key, paths


def _rejected_roles(err: InputError) -> list[str]:
    """The uploaded roles whose files the problems name (all uploads when none is named: then
    no upload is in use either)."""
    files = cfg()["files"]
    named = [
        r
        for r in ("communities", "sites", "roads")
        if r in files
        and any(files[r]["name"] in f"{p.file} {p.where} {p.what}" for p in err.problems)
    ]
    return named or [r for r in ("communities", "sites", "roads") if r in files]


def rejected() -> list[str]:
    """Roles of uploads the last load rejected (see :func:`context`)."""
    return list(cfg().get("rejected") or [])


def context(*, extra_overrides: dict[str, Any] | None = None) -> Context:
    """Load, build distances and evaluate for the session's inputs (cached).

    The demo's inputs, network and default evaluation are shared by the whole process
    (:mod:`siting.ui.warm`); uploads are cached by content, never shared by name.

    Raises
    ------
    InputError
        When a file or a setting is unusable (names are the user's file names).
    """
    c = cfg()
    names = {v["path"]: v["name"] for v in c["files"].values()}
    t0 = time.perf_counter()
    try:
        base = None
        if _uploaded():
            key, paths = _inputs_key()
            inputs, w1 = _load_inputs(
                key, paths["communities"], paths["sites"], paths["roads"], c["coords"], c["crs"]
            )
            network, w2 = _load_network(key, inputs)
            w12 = (*w1, *w2)
            network_fn: Callable[[], Any] = lambda: network  # noqa: E731
        else:
            base = warm.demo()
            key, inputs, w12 = base.key, base.inputs, base.warnings
            network_fn = lambda: base.network  # noqa: E731
        std = standard_with_overrides(extra_overrides)
        ekey = warm.eval_key(key, std, c["demand"])
        if base is not None and ekey == base.ekey:
            evaluation, w3 = base.evaluation, base.eval_warnings
        else:
            evaluation, w3 = _evaluate(ekey, inputs, network_fn(), std, c["demand"])
    except InputError as err:
        err = _relabel(err, names)
        c["rejected"] = _rejected_roles(err)
        raise err from None
    c.pop("rejected", None)
    logger.info("context ready in %.2f s", time.perf_counter() - t0)
    return Context(inputs, evaluation, std, ekey, (*w12, *w3), network_fn)


def context_or_stop(**kwargs: Any) -> Context:
    """:func:`context` with its warnings shown (:func:`show_warnings`), or the problem table
    and ``st.stop()`` when the inputs are unusable."""
    try:
        with st.spinner(t("solving")):
            ctx = context(**kwargs)
    except InputError as err:
        problem_table(err)
        st.stop()
        raise  # unreachable: st.stop() raises
    show_warnings(ctx.warnings)
    return ctx


def loaded_text(ctx: Context) -> str:
    """ "Loaded N communities, M sites, <distance mode>" for the page header."""
    return t(
        "loaded",
        communities=len(ctx.inputs.communities),
        sites=len(ctx.inputs.sites),
        mode=t(f"mode_{ctx.evaluation.summary['distance_mode']}"),
    )


#: Columns of people (shown as whole numbers with thousands separators).
_PEOPLE = ("population", "households", "party_members", "capacity_residents", "max_population")
#: Columns of shares (shown as percentages).
_SHARES = ("_share", "_share_any", "_rate", "_rate_any")


def column_format(col: str, dtype: Any) -> str | None:
    """The display format of a numeric column (``st.column_config.NumberColumn``): people and
    yuan as whole numbers with thousands separators, shares as percentages; None otherwise.

    Examples
    --------
    >>> column_format("population_covered", np.dtype(float)), column_format("coverage_rate", float)
    ('%,.0f', 'percent')
    >>> column_format("population", np.dtype(bool)) is None, column_format("name", object) is None
    (True, True)
    """
    dt = np.dtype(dtype) if not isinstance(dtype, pd.api.extensions.ExtensionDtype) else dtype
    if not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt):
        return None
    if col.endswith(_SHARES) or col in ("coverage_rate", "compliance_rate", "target_rate"):
        return "percent"
    if col.startswith(_PEOPLE) or col.endswith("_yuan"):
        return "%,.0f"
    return None


def figure_text(item: str, value: Any, *, difference: bool = False) -> str:
    """A figure named ``item`` (a dotted key: its last part decides) as text: shares as
    percentages (a difference in percentage points), people and yuan as whole numbers with
    thousands separators, anything else as it is.

    Examples
    --------
    >>> figure_text("coverage_rate", 0.75123), figure_text("coverage_rate", 0.012, difference=True)
    ('75.1%', '+1.2 pp')
    >>> figure_text("summary.population_covered", 103065.4361), figure_text("standard", "x")
    ('103,065', 'x')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return "" if value is None else str(value)
    v = float(value)
    if np.isnan(v):
        return ""
    fmt = column_format(str(item).rsplit(".", 1)[-1], np.dtype(float))
    if fmt == "percent":
        return f"{100 * v:+.1f} pp" if difference else f"{100 * v:.1f}%"
    if fmt is not None:
        return f"{v:+,.0f}" if difference else f"{v:,.0f}"
    return str(value)


def table_config(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """``column_config`` of :func:`table`: headers in the session's language (Chinese:
    ``labels``, then the result columns' labels; English: the app's English labels), the
    canonical name as the tooltip; numbers formatted by :func:`column_format`. The data and
    its column names stay as they are."""
    from siting._labels import column_label_zh
    from siting.ui.i18n import COLUMN_LABELS_EN

    config: dict[str, Any] = {}
    for c in frame.columns:
        name = str(c)
        if lang() == "zh":
            label = (labels or {}).get(name) or column_label_zh(name)
        else:
            label = COLUMN_LABELS_EN.get(name, name)
        fmt = column_format(name, frame[c].dtype)
        if fmt is not None:
            config[name] = st.column_config.NumberColumn(
                label if label != name else None, help=name if label != name else None, format=fmt
            )
        elif label != name:
            config[name] = st.column_config.Column(label, help=name)
    return config


def table(frame: pd.DataFrame, *, labels: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """``st.dataframe`` with headers in the session's language and people, yuan and shares
    formatted (:func:`table_config`; ``labels``: Chinese headers of this table's columns, on
    top of the result columns' ones)."""
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("width", "stretch")
    kwargs.setdefault("column_config", table_config(frame, labels))
    return st.dataframe(frame, **kwargs)


def small_table(frame: pd.DataFrame) -> str:
    """A few rows as a Markdown table (``st.markdown``); returns the Markdown.

    For the overview's counts: the interactive data grid costs the first page about 1.4 MB of
    lazily loaded JavaScript (the grid and Arrow), measured 0.25 s of its time (map drawn,
    median of 5 alternating starts: 3.94 s with the grid, 3.67 s without). Markdown's special
    characters in cells are escaped, line breaks become spaces, integers get thousands
    separators.
    """

    def cell(v: Any) -> str:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            text = f"{v:,}"
        elif isinstance(v, (float, np.floating)):
            text = "" if np.isnan(v) else f"{v:,.4g}"
        else:
            text = str(v)
        return re.sub(r"([\\`*_\[\]<>|$~#])", r"\\\1", text.replace("\n", " "))

    head = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    md = "\n".join([head, rule, *body])
    st.markdown(md)
    return md


def problem_table(err: InputError) -> pd.DataFrame:
    """Show an :class:`InputError` as a table (file, row, field, problem, fix)."""
    frame = pd.DataFrame([p.as_dict() for p in err.problems])
    for col in ("what", "fix"):
        if col in frame.columns:
            frame[col] = frame[col].map(lambda v: app_wording(v) if isinstance(v, str) else v)
    frame = frame.rename(
        columns={
            "file": t("col_file"),
            "where": t("col_where"),
            "field": t("col_field"),
            "what": t("col_what"),
            "fix": t("col_fix"),
        }
    )
    st.error(t("problems_title"))
    st.dataframe(frame, hide_index=True, width="stretch")
    return frame


def show_warnings(msgs: tuple[str, ...] | list[str], *, names: dict[str, str] | None = None) -> Any:
    """Show repairs, assumptions and doubts about the data in a warning box (a lead line, then
    each message); stored paths are replaced by the names the user uploaded (``names``, the
    session's uploads by default). Returns the box, or None when there is nothing to say."""
    if not msgs:
        return None
    if names is None:
        names = {v["path"]: v["name"] for v in cfg()["files"].values()}
    items = []
    for m in dict.fromkeys(msgs):
        for path, name in names.items():
            m = m.replace(path, name)
        m = app_wording(m)
        items.append("- " + re.sub(r"([\\`*_\[\]<>|$~#])", r"\\\1", m.replace("\n", " ")))
    text = f"**{t('warnings_title')} ({len(items)})**: {t('warnings_lead')}\n\n" + "\n".join(items)
    return st.warning(text)


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def service_areas(
    key: str, cutoffs: tuple[float, ...], _ctx: Context
) -> tuple[Any, tuple[str, ...]]:
    """Walking service areas of the station-or-higher sites (cached by evaluation), and the
    warnings of drawing them."""
    from siting.schema import STATION_OR_HIGHER

    sites = _ctx.evaluation.sites
    keep = sites[sites["level"].isin(STATION_OR_HIGHER)]
    areas, msgs = recording(lambda: _ctx.network.service_areas(keep.geometry, list(cutoffs)))
    idx = areas["point_index"].to_numpy()
    areas = areas.assign(
        site_id=keep["site_id"].to_numpy()[idx], level=keep["level"].to_numpy()[idx]
    )
    return areas, msgs


# ----------------------------------------------------------------------------- maps
def map_options() -> dict[str, Any]:
    """``basemap`` and ``tianditu_key`` for :func:`siting.maps.district_map`."""
    c = cfg()
    basemap = c["basemap"]
    if basemap == "tianditu" and not c["tianditu_key"]:
        st.info(t("tianditu_no_key"))
        basemap = "none"
    opts: dict[str, Any] = {"basemap": basemap}
    if basemap == "tianditu":
        opts["tianditu_key"] = c["tianditu_key"]
    return opts


def show_map(
    m: Any, *, key: str, returned: tuple[str, ...] = ("last_object_clicked",), height: int = 560
) -> dict[str, Any]:
    """Render a folium map (vendored Leaflet, so it works offline); returns the clicked data.

    Only ``returned`` objects are sent back, so panning and zooming do not rerun the page.
    """
    from streamlit_folium import st_folium

    from siting.ui.assets import localize

    localize(m)
    t0 = time.perf_counter()
    out = st_folium(
        m, key=key, height=height, use_container_width=True, returned_objects=list(returned)
    )
    logger.info("map %s sent in %.2f s", key, time.perf_counter() - t0)
    return out or {}


def map_html(m: Any) -> bytes:
    """The map as a standalone HTML page (vendored Leaflet inlined, so it opens offline)."""
    from siting.ui.assets import localize

    return localize(m).get_root().render().encode("utf-8")


# ----------------------------------------------------------------------------- exports
def evaluation_xlsx(evaluation: Any, *, extra: dict[str, Any] | None = None) -> bytes:
    """The evaluation workbook as bytes, with ``extra`` tables (name -> DataFrame) appended."""
    import tempfile

    from openpyxl import load_workbook

    from siting.report import write_evaluation_xlsx

    with tempfile.TemporaryDirectory(prefix="siting-export-") as d:
        path = Path(d) / "report.xlsx"
        write_evaluation_xlsx(evaluation, path)
        frames = {k: v for k, v in (extra or {}).items() if v is not None and len(v)}
        if frames:
            wb = load_workbook(path)
            for name, frame in frames.items():
                ws = wb.create_sheet(str(name)[:31])
                plain = pd.DataFrame(frame).drop(columns="geometry", errors="ignore")
                ws.append([str(c) for c in plain.columns])
                for row in plain.itertuples(index=False):
                    ws.append([_cell(v) for v in row])
            wb.save(path)
        return path.read_bytes()


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, (int, float, str, bool)):
        return v
    try:
        return v.item()
    except AttributeError:
        return str(v)


def tables_xlsx(frames: dict[str, Any]) -> bytes:
    """Tables (sheet name -> DataFrame) as a workbook with the report's formatting."""
    import tempfile

    from siting.report import write_table_xlsx

    with tempfile.TemporaryDirectory(prefix="siting-export-") as d:
        path = Path(d) / "tables.xlsx"
        write_table_xlsx(frames, path)
        return path.read_bytes()


def gpkg_bytes(layers: dict[str, Any]) -> bytes:
    """GeoDataFrames written as layers of one GeoPackage, returned as bytes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="siting-export-") as d:
        path = Path(d) / "siting.gpkg"
        for name, gdf in layers.items():
            if gdf is None or len(gdf) == 0:
                continue
            frame = gdf.copy()
            for col in frame.columns:
                if col != frame.geometry.name and frame[col].dtype == object:
                    frame[col] = frame[col].astype(str)
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


def evaluation_layers(evaluation: Any) -> dict[str, Any]:
    """The evaluation's map layers for a GeoPackage."""
    return {
        "communities": evaluation.communities,
        "sites": evaluation.sites,
        "gaps": evaluation.gaps,
    }


def exports(
    name: str,
    *,
    xlsx: Callable[[], bytes],
    layers: Callable[[], dict[str, Any]],
    m: Any | None = None,
) -> None:
    """The three download buttons of a result page (files made only when clicked).

    A click does not rerun the page (``on_click="ignore"``): a rerun dropped the file the
    browser was about to fetch ("Deferred file ... not found", 2 of about 30 clicks)."""
    st.subheader(t("exports"))
    cols = st.columns(3)
    cols[0].download_button(
        t("export_xlsx"),
        data=xlsx,
        file_name=f"{name}.xlsx",
        key=f"dl_xlsx_{name}",
        on_click="ignore",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    cols[1].download_button(
        t("export_gpkg"),
        data=lambda: gpkg_bytes(layers()),
        file_name=f"{name}.gpkg",
        key=f"dl_gpkg_{name}",
        on_click="ignore",
        mime="application/geopackage+sqlite3",
    )
    if m is not None:
        cols[2].download_button(
            t("export_html"),
            data=lambda: map_html(m),
            file_name=f"{name}.html",
            key=f"dl_html_{name}",
            on_click="ignore",
            mime="text/html",
        )


def evaluation_exports(name: str, ctx: Context, m: Any | None = None) -> None:
    """Exports of an evaluation: the workbook, the layers, the map."""
    ev = ctx.evaluation
    exports(name, xlsx=lambda: evaluation_xlsx(ev), layers=lambda: evaluation_layers(ev), m=m)


def level_label(level: str) -> str:
    """A site level in the current language."""
    from siting.schema import LEVEL_LABELS_ZH

    if st.session_state.get("lang", "zh") == "zh":
        return LEVEL_LABELS_ZH.get(level, level)
    return level.replace("_", " ")


def pct(x: float) -> str:
    """A share as a percentage with one decimal."""
    return "–" if x is None or pd.isna(x) else f"{100 * float(x):.1f}%"


# ----------------------------------------------------------------------------- candidates
@st.cache_data(max_entries=16, show_spinner=False)
def _load_candidates(
    key: str, _path: str, name: str, coords: str, _communities: Any
) -> tuple[Any, tuple[str, ...]]:
    from siting.io import load_candidates

    return recording(
        lambda: load_candidates(_path, coords=coords, communities=_communities, name=name)
    )


CANDIDATE_SOURCES = ("auto", "buildings", "file")


def candidate_sources(ctx: Context) -> list[str]:
    """The candidate sources offered: auto (as ``siting propose``), the demo's vacant
    buildings (demo only), an uploaded file."""
    return [s for s in CANDIDATE_SOURCES if s != "buildings" or ctx.inputs.is_demo]


def candidates(ctx: Context, source: str = "auto", upload: Any = None) -> tuple[Any, str]:
    """:func:`candidates_warned` without the warnings."""
    gdf, label, _ = candidates_warned(ctx, source, upload)
    return gdf, label


def candidates_warned(
    ctx: Context, source: str = "auto", upload: Any = None
) -> tuple[Any, str, tuple[str, ...]]:
    """Candidate locations and their label: ``auto`` as ``siting propose --candidates auto``
    (street nodes and OSM places, plus the demo's vacant buildings on the demo), ``buildings``
    the demo's vacant buildings, ``file`` the uploaded file (``None`` gives no candidates).
    Also the warnings of loading or making them (kept with the cached result).

    Raises
    ------
    InputError
        When the uploaded file is unusable, or auto candidates need a road network.
    """

    c = cfg()
    if source == "file":
        if upload is None:
            import geopandas as gpd

            from siting.candidates import CANDIDATE_COLUMNS

            empty = gpd.GeoDataFrame(
                {k: [] for k in CANDIDATE_COLUMNS if k != "geometry"},
                geometry=gpd.GeoSeries([], crs=ctx.inputs.communities.crs),
            )
            return empty, t("cand_upload"), ()
        stored = session_files().store("candidates", upload.name, upload.getvalue())
        gdf, msgs = _load_candidates(
            stored.sha256 + ctx.key,
            str(stored.path),
            upload.name,
            c["coords"],
            ctx.inputs.communities,
        )
        return gdf, upload.name, msgs
    if source == "buildings" and ctx.inputs.is_demo:
        path = pipeline.demo_paths()["candidates"]
        key = _demo_digest(str(path), path.stat().st_mtime)
        gdf, msgs = _load_candidates(key, str(path), path.name, "wgs84", ctx.inputs.communities)
        return gdf, path.name, msgs
    gdf, msgs = _auto_candidates(ctx.key, ctx)
    return gdf, "auto", msgs


def water(ctx: Context) -> Any:
    """Water polygons of the district (OSM roads file, the demo's water layer), cached."""
    return _water(ctx.key, ctx)


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def _water(key: str, _ctx: Context) -> Any:
    from siting.candidates import water_areas

    inputs = _ctx.inputs
    return water_areas(inputs.roads, inputs.communities.crs, demo=inputs.is_demo)


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def _auto_candidates(key: str, _ctx: Context) -> tuple[Any, tuple[str, ...]]:
    from siting.candidates import default_candidates

    (gdf, note), msgs = recording(lambda: default_candidates(_ctx.inputs, _ctx.network))
    return gdf, (*msgs, *([note] if note else []))


def upgrade_plan(ctx: Context) -> tuple[Any, tuple[str, ...]]:
    """The three-year upgrade plan (:func:`siting.plan.plan_upgrades`) of the evaluation, and
    the warnings of making it."""
    from siting.plan import plan_upgrades

    # as `siting plan`: the demo's vacant buildings are the buildings a site may move into
    cands = candidates(ctx, "buildings")[0] if ctx.inputs.is_demo else None
    return recording(
        lambda: plan_upgrades(
            ctx.evaluation,
            communities=ctx.inputs.communities,
            candidates=cands,
            network=ctx.network,
            standard=ctx.standard,
        )
    )


# ----------------------------------------------------------------------------- estate
def _estate_dict(gdf: Any, name: str) -> dict[str, Any]:
    row = gdf.to_crs(4326).iloc[0]
    hh = row.get("households", float("nan"))
    return {
        "geometry": row.geometry,
        "households": float(hh) if hh is not None else float("nan"),
        "name": str(row.get("name", "") or name),
    }


def estate_from_upload(ctx: Context, upload: Any) -> dict[str, Any]:
    """An uploaded estate outline as ``{"geometry" (WGS-84), "households", "name",
    "warnings"}`` (the loader's warnings, with the user's file name).

    Raises
    ------
    InputError
        When the file is unusable.
    """
    from siting.io import load_estate

    stored = session_files().store("estate", upload.name, upload.getvalue())
    gdf, msgs = recording(
        lambda: load_estate(
            str(stored.path),
            coords=cfg()["coords"],
            communities=ctx.inputs.communities,
            name=upload.name,
        )
    )
    est = _estate_dict(gdf, upload.name)
    est["warnings"] = tuple(m.replace(str(stored.path), upload.name) for m in msgs)
    return est


def demo_estate(ctx: Context) -> tuple[dict[str, Any], tuple[float, float] | None]:
    """The demo's planned estate and the developer's proposed site (lon, lat)."""
    import geopandas as gpd

    from siting.io import load_estate

    paths = pipeline.demo_paths()
    gdf, _ = recording(
        lambda: load_estate(str(paths["estate"]), communities=ctx.inputs.communities)
    )
    site = None
    if paths["estate_site"].exists():
        pts = gpd.read_file(paths["estate_site"], engine="pyogrio").to_crs(4326)
        if len(pts):
            site = (float(pts.geometry.iloc[0].x), float(pts.geometry.iloc[0].y))
    return _estate_dict(gdf, "estate"), site


def estate_verdict(
    ctx: Context,
    polygon: Any,
    *,
    households: float,
    site: tuple[float, float] | None,
    floor_area: float,
    ground_floor_area: float,
) -> tuple[Any, tuple[str, ...]]:
    """:func:`siting.estate.check_estate` for an estate drawn or uploaded in WGS-84, and its
    warnings.

    Raises
    ------
    InputError
        Households not positive or other unusable values.
    """
    import geopandas as gpd
    from shapely import Point

    from siting.estate import check_estate

    crs = ctx.inputs.communities.crs
    est = gpd.GeoDataFrame({"id": ["estate"]}, geometry=[polygon], crs=4326).to_crs(crs)
    proposed = None
    if site is not None:
        proposed = gpd.GeoDataFrame(
            {
                "floor_area_m2": [float(floor_area)],
                "ground_floor_area_m2": [float(ground_floor_area)],
            },
            geometry=[Point(site)],
            crs=4326,
        ).to_crs(crs)
    return recording(
        lambda: check_estate(
            est,
            float(households),
            sites=ctx.inputs.sites,
            network=ctx.network,
            standard=ctx.standard,
            proposed_site=proposed,
            communities=ctx.inputs.communities,
        )
    )


#: The engine's words for command-line users, and what the app says instead.
_APP_WORDING = (
    ("（可用 siting propose 选址）", "（可在「选址建议」页选址）"),
    ("(可用 siting propose 选址)", "(可在「选址建议」页选址)"),
    ("is for siting propose", "is for the Proposals page"),
)


def app_wording(text: str) -> str:
    """An engine message as the app says it: the 选址建议 page instead of ``siting propose``,
    the 数据 page's coordinate system instead of ``--coords``."""
    for a, b in _APP_WORDING:
        text = text.replace(a, b)
    text = re.sub(
        r"run again with --coords (\w+)(?: \(or --\w+-coords \w+ for the \w+ alone\))?",
        lambda m: t("choose_coords", coords=COORD_LABELS.get(m.group(1), m.group(1))),
        text,
    )
    text = re.sub(r"--(?:\w+-)?coords(?: \w+)?", t("coords_setting"), text)
    for flag, label in (("--crs", "crs"), ("--roads", "upload_roads"), ("--standard", "standard")):
        text = re.sub(
            rf"(?<![\w-]){flag}(?![\w-])", t("setting_on_data_page", setting=t(label)), text
        )
    return text


def reasons_frame(ok: bool | None, reasons: list[str]) -> pd.DataFrame:
    """The verdict and its reasons as a one-column table for the workbook."""
    head = t("verdict_none") if ok is None else t("verdict_ok") if ok else t("verdict_fail")
    return pd.DataFrame({t("verdict"): [head, *reasons]})
