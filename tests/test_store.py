"""Tests of siting.store: round trips, versions, compare, delete, crash safety, bad files."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting._errors import InputError
from siting.store import KEY_FIGURES, Scenario, Store, default_store_location, validate_name

HERE = Path(__file__).resolve().parent
HELPER = HERE / "store_crash_helper.py"

# --- PostgreSQL: a throw-away local server when the binaries and psycopg are there ----------


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server():
    """URL prefix of a PostgreSQL server on loopback, started in a temp folder for the session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip('psycopg not installed (pip install "psycopg[binary]")')
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    # not under pytest's tmp folder: the postgres user must be able to reach it
    root = Path(tempfile.mkdtemp(prefix="siting-pg-"))
    data, port = root / "data", _free_port()
    as_root = os.geteuid() == 0

    def run(*args: str) -> None:
        cmd = [str(bindir / args[0]), *args[1:]]
        if as_root:  # initdb and postgres refuse to run as root
            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", subprocess.list2cmdline(cmd)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    try:
        if as_root:
            shutil.chown(root, "postgres")
        run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    except (subprocess.SubprocessError, OSError, LookupError) as err:
        detail = getattr(err, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start a local PostgreSQL server: {err} {detail.decode()[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new store's location, in each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "scenarios.sqlite")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(location: str):
    with Store.open(location) as s:
        yield s


# --- tiny fixtures ------------------------------------------------------------------------


def _communities() -> gpd.GeoDataFrame:
    # two unit squares 1 km apart in CGCS2000 / 3-degree GK CM 114E, one a multipolygon
    sq = shapely.box(500_000, 3_400_000, 501_000, 3_401_000)
    return gpd.GeoDataFrame(
        {
            "id": ["C1", "C2"],
            "name": ["东湖社区", "西园社区（二期）"],
            "kind": ["residential", "mixed"],
            "street": ["东湖街道", "西园街道"],
            "population": [5200.0, np.nan],
            "households": [2100.0, 900.0],
            "party_members": [310.0, 45.0],
        },
        geometry=[sq, shapely.MultiPolygon([shapely.affinity.translate(sq, 2000, 0)])],
        crs="EPSG:4547",
    )


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["S1", "S2", "S3"],
            "name": ["东湖党群服务站", "西园服务点", ""],
            "level": ["station", "point", "station"],
            "floor_area_m2": [320.0, 80.0, 250.5],
            "upgrade_year": [np.nan, 2026.0, np.nan],
        },
        geometry=[shapely.Point(500_500, 3_400_500), shapely.Point(502_500, 3_400_500), None],
        # a custom metric CRS as projection.metric_crs may return it (a PROJ string)
        crs="+proj=tmerc +lat_0=0 +lon_0=114 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m",
    )


def _streets() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "street": ["东湖街道", "西园街道"],
            "population": [5200.0, 3000.0],
            "coverage_rate": [0.8, 0.25],
            "sites_total": [2, 1],
            "met": [True, False],
        },
        index=pd.Index(["a", "b"], name="key"),
    )


def _scenario(name: str = "2025 基线", **changes) -> Scenario:
    base = Scenario(
        name=name,
        description="现状评估，500 米步行",
        inputs={"communities": _communities(), "sites": _sites()},
        parameters={"standard": "default", "overrides": {"radius_m": 500.0}, "model": "mclp"},
        summary={
            "population_total": 8200.0,
            "population_covered": 4160.0,
            "coverage_rate": 4160.0 / 8200.0,
            "sites_total": 3,
            "sites_compliant": 1,
            "compliance_rate": 1 / 3,
            "by_street": {"东湖街道": {"coverage_rate": 0.8}, "西园街道": {"coverage_rate": 0.25}},
            "distance_mode": "euclidean",
        },
        results={"streets": _streets(), "sites": _sites().iloc[:2]},
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- round trip ---------------------------------------------------------------------------


def test_round_trip_keeps_frames_crs_and_chinese_text(store: Store) -> None:
    original = _scenario()
    assert store.save(original) == 1
    loaded = store.load("2025 基线")
    assert loaded.name == "2025 基线" and loaded.version == 1
    assert loaded.description == "现状评估，500 米步行"
    assert loaded.parameters == original.parameters
    assert loaded.summary == original.summary
    assert list(loaded.inputs) == ["communities", "sites"]
    assert list(loaded.results) == ["streets", "sites"]
    for key in ("communities", "sites"):
        assert isinstance(loaded.inputs[key], gpd.GeoDataFrame)
        assert_geodataframe_equal(loaded.inputs[key], original.inputs[key], check_dtype=False)
        assert loaded.inputs[key].crs == original.inputs[key].crs
    # the CRS comes back as the user gave it, not as an equivalent PROJJSON document
    assert loaded.inputs["communities"].crs.to_string() == "EPSG:4547"
    assert loaded.inputs["sites"].crs.to_string() == original.inputs["sites"].crs.to_string()
    assert loaded.inputs["sites"].geometry.iloc[2] is None
    assert loaded.inputs["communities"].geometry.iloc[1].geom_type == "MultiPolygon"
    streets = loaded.results["streets"]
    assert not isinstance(streets, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(streets, _streets(), check_dtype=False)
    assert streets["met"].dtype == bool and streets["sites_total"].dtype == np.int64
    assert_geodataframe_equal(loaded.results["sites"], original.results["sites"], check_dtype=False)
    contents = loaded.contents()
    assert contents["key"].tolist() == ["communities", "sites", "streets", "sites"]
    assert contents["role"].tolist() == ["input", "input", "result", "result"]
    assert contents["rows"].tolist() == [2, 3, 2, 2]
    assert contents.loc[0, "crs"] == "EPSG:4547" and contents.loc[2, "crs"] == ""
    assert loaded.created is not None and loaded.updated is not None
    assert loaded.created.tzinfo is not None and loaded.created == loaded.updated
    # saving did not touch the caller's object
    assert original.version is None and original.created is None


def test_round_trip_of_empty_frames_and_empty_scenario(store: Store) -> None:
    empty = _sites().iloc[:0]
    store.save(Scenario("空", inputs={"sites": empty}, results={"t": pd.DataFrame()}))
    loaded = store.load("空")
    assert len(loaded.inputs["sites"]) == 0
    assert list(loaded.inputs["sites"].columns) == list(empty.columns)
    assert loaded.results["t"].shape == (0, 0)
    store.save(Scenario("bare"))
    bare = store.load("bare")
    assert (bare.inputs, bare.results, bare.parameters, bare.summary) == ({}, {}, {}, {})


def test_numpy_values_in_parameters_become_plain_json(store: Store) -> None:
    params = {"radius": np.float64(500.0), "p": np.int64(4), "ids": np.array([1, 2]), "t": (1, 2)}
    store.save(Scenario("np", parameters=params, summary={"rate": np.nan, "big": np.inf}))
    loaded = store.load("np")
    assert loaded.parameters == {"radius": 500.0, "p": 4, "ids": [1, 2], "t": [1, 2]}
    assert type(loaded.parameters["p"]) is int
    assert np.isnan(loaded.summary["rate"]) and loaded.summary["big"] == np.inf


def test_nothing_is_pickled(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    for attr in ("dumps", "loads", "dump", "load"):
        monkeypatch.setattr(pickle, attr, refuse)
    store.save(_scenario())
    assert len(store.load("2025 基线").inputs["sites"]) == 3


# --- versions, list, delete ---------------------------------------------------------------


def test_versions_are_numbered_and_kept(store: Store) -> None:
    for i in range(3):
        assert store.save(_scenario(description=f"v{i + 1}", summary={"sites_total": i})) == i + 1
    store.save(_scenario("other"))
    table = store.versions("2025 基线")
    assert table["version"].tolist() == [1, 2, 3]
    assert table["description"].tolist() == ["v1", "v2", "v3"]
    assert table["sites_total"].tolist() == [0.0, 1.0, 2.0]
    assert table["updated"].is_monotonic_increasing
    assert store.load("2025 基线").version == 3
    second = store.load("2025 基线", version=2)
    assert second.description == "v2" and second.summary == {"sites_total": 1}
    assert second.created == store.load("2025 基线", 1).created  # first save of the name
    assert second.updated > second.created
    assert "2025 基线" in store and "nope" not in store and 42 not in store


def test_resave_without_description_keeps_it(store: Store) -> None:
    """`--save NAME` again dropped the description: None now keeps the latest version's."""
    assert store.save(_scenario(description="现状, 街道核对后")) == 1
    assert store.save(_scenario(description=None)) == 2
    assert store.load("2025 基线").description == "现状, 街道核对后"
    assert store.save(_scenario(description="新说明")) == 3  # a new one replaces it
    assert store.save(_scenario(description=None)) == 4
    assert store.versions("2025 基线")["description"].tolist() == [
        "现状, 街道核对后",
        "现状, 街道核对后",
        "新说明",
        "新说明",
    ]
    assert store.save(_scenario("新方案", description=None)) == 1  # a new name: empty
    assert store.load("新方案").description == ""
    assert store.save(_scenario(description="")) == 5  # an explicit empty one clears it
    assert store.load("2025 基线").description == ""


def test_list_shows_latest_version_and_key_figures(store: Store) -> None:
    assert store.list().empty
    assert list(store.list().columns[:6]) == [
        "name",
        "version",
        "versions",
        "created",
        "updated",
        "description",
    ]
    store.save(_scenario("b"))
    store.save(_scenario("b", description="second", summary={"coverage_rate": 0.9}))
    store.save(_scenario("a"))
    table = store.list()
    assert table["name"].tolist() == ["a", "b"]
    assert table["version"].tolist() == [1, 2]
    assert table["versions"].tolist() == [1, 2]
    assert table.loc[1, "description"] == "second"
    assert table.loc[1, "coverage_rate"] == 0.9 and np.isnan(table.loc[1, "sites_total"])
    assert table.loc[0, "population_covered"] == 4160.0
    assert all(table[k].dtype == np.float64 for k in KEY_FIGURES)
    assert str(table["updated"].dt.tz) == "UTC"
    assert store.names() == ["a", "b"]


def test_delete_one_version_then_all(store: Store) -> None:
    for _ in range(3):
        store.save(_scenario())
    assert store.delete("2025 基线", version=2) == 1
    assert store.versions("2025 基线")["version"].tolist() == [1, 3]
    assert store.save(_scenario()) == 4  # numbers are not reused
    with pytest.raises(InputError, match=r"no version 2 - use one of the stored versions: 1, 3, 4"):
        store.load("2025 基线", 2)
    assert store.delete("2025 基线") == 3
    assert "2025 基线" not in store and store.list().empty
    with pytest.raises(InputError, match="the store is empty"):
        store.delete("2025 基线")
    assert store.save(_scenario()) == 1  # a deleted name starts again


def test_missing_name_lists_available_names(store: Store) -> None:
    store.save(_scenario("甲方案"))
    store.save(_scenario("乙方案"))
    with pytest.raises(InputError, match=r"no scenario named '丙方案'.*'乙方案', '甲方案'"):
        store.load("丙方案")
    with pytest.raises(InputError, match="no scenario named"):
        store.versions("丙方案")


# --- compare ------------------------------------------------------------------------------


def test_compare_key_figures_and_parameter_differences(store: Store) -> None:
    store.save(_scenario("now"))
    plan = _scenario(
        "plan",
        parameters={"standard": "gb50180", "overrides": {"radius_m": 500.0}, "p": 2},
        summary={
            "population_total": 8200.0,
            "population_covered": 7380.0,
            "coverage_rate": 0.9,
            "sites_total": 5,
            "compliance_rate": 0.6,
            "by_street": {"东湖街道": {"coverage_rate": 1.0}},
        },
    )
    store.save(plan)
    table = store.compare("now", "plan")
    assert table.attrs == {"a": "now v1", "b": "plan v1"}
    figures = table[table["section"] == "summary"].set_index("item")
    assert figures.index.tolist() == [
        "population_total",
        "population_covered",
        "coverage_rate",
        "sites_total",
        "sites_compliant",
        "compliance_rate",
    ]
    assert figures.loc["population_covered", "difference"] == 7380.0 - 4160.0
    assert figures.loc["sites_total", "difference"] == 2.0
    assert type(figures.loc["sites_total", "b"]) is int  # stored values are shown as they are
    assert figures.loc["population_total", "difference"] == 0.0
    assert not figures.loc["population_total", "changed"]
    assert figures.loc["compliance_rate", "difference"] == pytest.approx(0.6 - 1 / 3)
    # present only in "now": b is missing, no difference
    assert figures.loc["sites_compliant", "b"] is None
    assert np.isnan(figures.loc["sites_compliant", "difference"])
    params = table[table["section"] == "parameters"].set_index("item")
    # radius_m is equal in both, so not listed; model only in a, p only in b
    assert sorted(params.index) == ["model", "p", "standard"]
    assert params.loc["standard", "a"] == "default" and params.loc["standard", "b"] == "gb50180"
    assert params.loc["model", "b"] is None and params["changed"].all()


def test_compare_detail_and_two_versions_of_one_name(store: Store) -> None:
    store.save(_scenario())
    store.save(
        _scenario(
            summary={**_scenario().summary, "by_street": {"东湖街道": {"coverage_rate": 1.0}}}
        )
    )
    table = store.compare("2025 基线", "2025 基线", version_a=1, detail=True)
    assert table.attrs == {"a": "2025 基线 v1", "b": "2025 基线 v2"}
    rows = table.set_index("item")
    assert rows.loc["by_street.东湖街道.coverage_rate", "difference"] == pytest.approx(0.2)
    assert "distance_mode" not in rows.index  # text entries are not figures
    assert table[table["section"] == "parameters"].empty
    assert not store.compare("2025 基线", "2025 基线")["changed"].any()


# --- bad scenarios ------------------------------------------------------------------------


def test_save_reports_every_problem_and_saves_nothing(store: Store) -> None:
    bad = pd.DataFrame({"obj": [object(), object()]})
    numbered = pd.DataFrame({0: [1.0]})
    scenario = Scenario(
        "bad",
        parameters={"when": {1, 2}},
        inputs={"sites": bad, "": _sites()},
        results={"numbered": numbered},
    )
    with pytest.raises(InputError) as info:
        store.save(scenario)
    text = str(info.value)
    assert len(info.value.problems) == 4, text
    assert "parameters: when: set is not JSON data" in text
    assert "frame 'inputs.sites': cannot be stored" in text
    assert "input frame name is empty" in text
    assert "column names [0] are not text" in text
    assert "bad" not in store and store.list().empty


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 101, "101 characters"),
        ("a\x00b", r"U\+0000"),
        ("a\nb", r"U\+000A"),
        ("tab\there", r"U\+0009"),
        ("a\u2028b", r"U\+2028"),
        (" padded", "spaces"),
        (42, "must be text"),
    ],
)
def test_bad_names_are_refused(store: Store, name: object, what: str) -> None:
    with pytest.raises(InputError, match=what):
        store.save(Scenario(name))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=what):
        store.load(name)  # type: ignore[arg-type]
    assert store.list().empty


def _reference_valid(name: str) -> bool:
    return (
        0 < len(name) <= 100
        and name.strip() == name
        and all(unicodedata.category(c) not in {"Cc", "Cs", "Zl", "Zp"} for c in name)
    )


@given(st.text(max_size=120))
@settings(max_examples=300, deadline=None)
def test_name_validation_matches_reference(name: str) -> None:
    if _reference_valid(name):
        assert validate_name(name) == name
    else:
        with pytest.raises(InputError, match="scenario name"):
            validate_name(name)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory):
    with Store.open(tmp_path_factory.mktemp("hyp") / "s.sqlite") as s:
        yield s


@given(
    st.text(
        alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=100,
    )
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_valid_name_round_trips(shared_store: Store, name: str) -> None:
    name = name.strip() or "x"
    version = shared_store.save(Scenario(name, parameters={"n": name}))
    loaded = shared_store.load(name)
    assert loaded.name == name and loaded.version == version and loaded.parameters == {"n": name}
    assert name in shared_store.names()


# --- files that are not stores ------------------------------------------------------------


def _make_store_file(path: Path) -> None:
    with Store.open(path) as s:
        for i in range(3):
            noise = pd.DataFrame({"x": np.random.default_rng(i).random(20_000)})
            s.save(_scenario(results={"noise": noise}))


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "not a SQLite database"),
        ("geopackage", "holds other tables"),
        ("other_sqlite", "holds other tables"),
        ("truncated", "the store file is damaged"),
        ("scribbled", "the store file is damaged"),
        ("foreign_meta", "does not name a siting store"),
        ("newer", "newer siting"),
    ],
)
def test_non_store_files_are_refused_and_left_unchanged(
    tmp_path: Path, kind: str, message: str
) -> None:
    path = tmp_path / ("file.gpkg" if kind == "geopackage" else "file.sqlite")
    if kind == "text":
        path.write_text("name,population\n东湖,5200\n", encoding="utf-8")
    elif kind == "geopackage":
        _communities().to_file(path, driver="GPKG", layer="communities")
    elif kind == "other_sqlite":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE budget (year INTEGER, yuan REAL)")
        conn.close()
    elif kind in ("truncated", "scribbled"):
        _make_store_file(path)
        data = bytearray(path.read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2]
        else:
            data[len(data) // 3 : len(data) // 3 + 8192] = os.urandom(8192)
        path.write_bytes(bytes(data))
    else:
        _make_store_file(path)
        with sqlite3.connect(path) as conn:
            if kind == "foreign_meta":
                conn.execute(
                    "UPDATE siting_store_meta SET meta_value = 'x' WHERE meta_key = 'format'"
                )
            else:
                conn.execute(
                    "UPDATE siting_store_meta SET meta_value = '99' WHERE meta_key = 'schema_version'"
                )
        conn.close()
    before = _digest(path)
    with pytest.raises(InputError, match=message) as info:
        Store.open(path)
    assert str(path) in str(info.value)
    assert _digest(path) == before


def test_damaged_frame_names_the_scenario_and_frame(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store.open(path) as s:
        s.save(_scenario())
        s.save(_scenario())
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE siting_frames SET data = ? WHERE version = 2 AND frame_key = 'streets'",
            (b"PAR1 not really parquet",),
        )
    conn.close()
    with Store.open(path) as s:
        with pytest.raises(
            InputError, match=r"scenario '2025 基线' version 2: result frame 'streets': is damaged"
        ):
            s.load("2025 基线")
        assert len(s.load("2025 基线", 1).results["streets"]) == 2


def test_folder_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        Store.open(tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with Store.open(empty) as s:  # nothing to lose: an empty file becomes a store
        assert s.save(_scenario()) == 1


def test_default_location_and_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITING_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_location() == str(tmp_path / "xdg" / "siting" / "scenarios.sqlite")
    with Store.open() as s:
        assert s.kind == "sqlite" and s.location == default_store_location()
    assert (tmp_path / "xdg" / "siting" / "scenarios.sqlite").exists()
    monkeypatch.setenv("SITING_STORE", str(tmp_path / "env.sqlite"))
    assert default_store_location() == str(tmp_path / "env.sqlite")
    with Store.open(f"sqlite:///{tmp_path / 'url.sqlite'}") as s:
        assert s.location == str(tmp_path / "url.sqlite")


def test_postgresql_without_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r"pip install \"psycopg\[binary\]\"") as info:
        Store.open("postgresql://planner:secret@127.0.0.1:1/siting")
    assert "secret" not in str(info.value) and "planner:***@" in str(info.value)


# --- concurrency and crashes --------------------------------------------------------------


def test_concurrent_saves_get_distinct_versions(store: Store, location: str) -> None:
    # two connections (as two processes would have) plus threads sharing each of them
    other = Store.open(location)
    errors: list[BaseException] = []

    def work(s: Store) -> None:
        try:
            for _ in range(4):
                s.save(Scenario("shared", summary={"sites_total": 1}))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(s,)) for s in (store, store, other, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    other.close()
    assert not errors
    assert store.versions("shared")["version"].tolist() == list(range(1, 17))


def _load_helper():
    spec = importlib.util.spec_from_file_location("store_crash_helper", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kill_during_save_keeps_previous_version(tmp_path: Path) -> None:
    path, marker = tmp_path / "crash.sqlite", tmp_path / "in-transaction"
    n_values = 2_500_000  # about 20 MB of incompressible floats
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(path), str(marker), str(n_values)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"helper ended early: {proc.communicate()[1].decode()[-2000:]}")
            assert time.monotonic() < deadline, "helper never reached the commit"
            time.sleep(0.05)
        # the uncommitted version 2 is on disk (spilled to the WAL) when the process dies
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 10_000_000
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    with Store.open(path) as s:
        assert s.versions("crash")["version"].tolist() == [1]
        loaded = s.load("crash")
        expected = _load_helper().version_one()
        assert loaded.version == 1 and loaded.description == "版本一"
        assert loaded.parameters == expected.parameters and loaded.summary == expected.summary
        assert_geodataframe_equal(loaded.inputs["sites"], expected.inputs["sites"])
        assert loaded.results == {}
        assert s.save(expected) == 2  # the aborted version number was not used
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM siting_frames").fetchone()[0] == 2
    conn.close()


# --- convenience --------------------------------------------------------------------------


def test_from_evaluation_keeps_summary_and_result_frames(store: Store) -> None:
    evaluation = SimpleNamespace(
        summary={"coverage_rate": 0.5, "sites_total": 2},
        sites=_sites(),
        streets=_streets(),
        gaps=None,
        demand=_sites(),
    )
    scenario = Scenario.from_evaluation(
        "eval", evaluation, inputs={"sites": _sites()}, parameters={"radius_m": 500}
    )
    assert list(scenario.results) == ["sites", "streets"]  # gaps missing, demand not kept
    store.save(scenario)
    loaded = store.load("eval")
    assert loaded.summary == {"coverage_rate": 0.5, "sites_total": 2}
    assert list(loaded.results) == ["sites", "streets"]
