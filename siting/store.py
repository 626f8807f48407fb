"""Scenario store: save, list, load, compare and delete named planning scenarios.

A :class:`Scenario` bundles the inputs (communities, sites, candidates, estate frames), the
parameters (standards profile, overrides, radius, model, ...) and the results (a JSON summary
and result tables) of one piece of planning work. :class:`Store` keeps every saved version of
every scenario in an embedded SQLite file by default, or in a PostgreSQL database for a shared
server (``Store.open("postgresql://user@host/db")``); both go through the same code.

Guarantees:

- each save is one transaction: a crash, a kill or a full disk mid-save leaves the previous
  versions intact and the store openable (SQLite: WAL journal with ``synchronous=FULL``);
- nothing is pickled: frames are stored as (Geo)Parquet bytes, geometry as WKB with its CRS,
  parameters and summaries as JSON;
- a file or database that is not a siting store is refused with an :class:`InputError` and
  never written to;
- the store holds only what is explicitly saved; nothing is stored behind the user's back.
"""

from __future__ import annotations

import builtins
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from siting._errors import InputError, Problem
from siting._store_backend import Backend, PostgresBackend, SQLiteBackend
from siting._store_codec import (
    MAX_DESCRIPTION_LENGTH,
    decode_frame,
    dumps_json,
    encode_frame,
    loads_json,
    name_problem,
    validate_name,
)
from siting._store_compare import compare_documents, is_number

__all__ = [
    "INPUT_KEYS",
    "KEY_FIGURES",
    "RESULT_KEYS",
    "Scenario",
    "Store",
    "default_store_location",
    "validate_name",
]

log = logging.getLogger(__name__)

#: Conventional keys of :attr:`Scenario.inputs` (any subset; other names are allowed too).
INPUT_KEYS = ("communities", "sites", "candidates", "estate")
#: Frames of an evaluation result that :meth:`Scenario.from_evaluation` keeps.
RESULT_KEYS = ("sites", "communities", "streets", "gaps", "trajectory")
#: Summary figures shown by :meth:`Store.list` and compared first by :meth:`Store.compare`.
KEY_FIGURES = (
    "population_total",
    "population_covered",
    "coverage_rate",
    "coverage_rate_any",
    "sites_total",
    "sites_compliant",
    "compliance_rate",
)

_ROLE_INPUT = "input"
_ROLE_RESULT = "result"
_SHOW_NAMES = 20


def default_store_location() -> str:
    """Where the store is when none is given.

    ``SITING_STORE`` (a file path or a ``postgresql://`` URL) if set, else
    ``$XDG_DATA_HOME/siting/scenarios.sqlite`` (``~/.local/share/siting/scenarios.sqlite``).
    """
    env = os.environ.get("SITING_STORE")
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "siting" / "scenarios.sqlite")


@dataclass
class Scenario:
    """One named planning scenario: inputs, parameters and results.

    Parameters
    ----------
    name
        1 to 100 characters, no control characters, no leading/trailing spaces.
    description
        Free text shown in listings; ``None`` keeps the description of the name's latest
        version when saved (re-saving without a new description must not drop it), and is
        empty for a new name.
    inputs
        Input frames by key, usually some of :data:`INPUT_KEYS`.
    parameters
        JSON-able settings: standards profile name and overrides, radius, model, ...
    summary
        JSON-able result figures (e.g. ``Evaluation.summary``); :data:`KEY_FIGURES` are listed.
    results
        Result frames by key (e.g. ``sites``, ``communities``, ``streets``).
    version, created, updated
        Filled in by :meth:`Store.load`; ignored by :meth:`Store.save`. ``created`` is when the
        name was first saved, ``updated`` when this version was saved (UTC).
    """

    name: str
    description: str | None = ""
    inputs: dict[str, pd.DataFrame] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    version: int | None = None
    created: datetime | None = None
    updated: datetime | None = None

    def contents(self) -> pd.DataFrame:
        """The scenario's frames: ``role`` (input/result), ``key``, ``rows``, ``columns``, ``crs``.

        ``crs`` is the CRS as given (``""`` for plain tables or frames without a CRS); meant for
        ``siting scenario show``.
        """
        records = []
        for role, frames in ((_ROLE_INPUT, self.inputs), (_ROLE_RESULT, self.results)):
            for key, frame in frames.items():
                crs = getattr(frame, "crs", None) if isinstance(frame, gpd.GeoDataFrame) else None
                records.append(
                    {
                        "role": role,
                        "key": key,
                        "rows": len(frame),
                        "columns": len(frame.columns),
                        "crs": "" if crs is None else (crs.srs or crs.name),
                    }
                )
        table = pd.DataFrame(records, columns=["role", "key", "rows", "columns", "crs"])
        return table.astype({"rows": "int64", "columns": "int64"})

    @classmethod
    def from_evaluation(
        cls,
        name: str,
        evaluation: Any,
        *,
        inputs: Mapping[str, pd.DataFrame] | None = None,
        parameters: Mapping[str, Any] | None = None,
        description: str | None = "",
        frames: tuple[str, ...] = RESULT_KEYS,
    ) -> Scenario:
        """A scenario holding an evaluation's summary and result frames.

        Parameters
        ----------
        name, description, inputs, parameters
            As in :class:`Scenario`.
        evaluation
            An ``evaluate.Evaluation`` (anything with a ``summary`` dict and frame attributes).
        frames
            Which frame attributes to keep (those missing or ``None`` are skipped).
        """
        results = {
            key: getattr(evaluation, key)
            for key in frames
            if isinstance(getattr(evaluation, key, None), pd.DataFrame)
        }
        return cls(
            name=name,
            description=description,
            inputs=dict(inputs or {}),
            parameters=dict(parameters or {}),
            summary=dict(getattr(evaluation, "summary", {}) or {}),
            results=results,
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _figure(summary: Mapping[str, Any], key: str) -> float:
    value: Any = summary.get(key)
    return float(value) if is_number(value) else math.nan


class Store:
    """A scenario store; create it with :meth:`Store.open`.

    Every method may raise :class:`InputError` for a bad name or a damaged/unreachable store.
    One ``Store`` may be shared by threads (calls are serialised); several processes may use
    the same store at once (writes wait for each other).
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._lock = threading.RLock()
        # test hook: called inside the save transaction just before COMMIT
        self._before_commit: Callable[[], None] | None = None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, location: str | os.PathLike[str] | None = None) -> Store:
        """Open (or create) a store.

        Parameters
        ----------
        location
            A SQLite file path (created with its folder if missing), a
            ``postgresql://user[:password]@host[:port]/db`` URL, or ``None`` for
            :func:`default_store_location`.

        Raises
        ------
        InputError
            When the file or database is not a siting store, is damaged, was written by a newer
            siting, or cannot be reached; nothing is written to it then.

        Examples
        --------
        >>> from siting.store import Scenario, Store
        >>> with Store.open(tmp_path / "s.sqlite") as store:  # doctest: +SKIP
        ...     store.save(Scenario("2025 baseline", parameters={"standard": "default"}))
        1
        """
        if location is None:
            location = default_store_location()
        text = os.fspath(location)
        if text.startswith(("postgresql://", "postgres://")):
            backend: Backend = PostgresBackend(text)
        else:
            if text.startswith("sqlite:///"):
                text = text[len("sqlite:///") :]
            backend = SQLiteBackend(text)
        return cls(backend)

    @property
    def location(self) -> str:
        """The store's path or URL (password hidden)."""
        return self._backend.label

    @property
    def kind(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.kind

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    def __contains__(self, name: object) -> bool:
        if name_problem(name) is not None:
            return False
        return bool(self._version_numbers(str(name)))

    # --- writing ------------------------------------------------------------------------

    def save(self, scenario: Scenario) -> int:
        """Save ``scenario`` as the next version of its name and return that version number.

        Earlier versions are kept. The scenario object is not modified.

        Raises
        ------
        InputError
            Listing every problem: bad scenario or frame names, a parameter or summary that is
            not JSON data, a frame that cannot be stored.
        """
        if not isinstance(scenario, Scenario):
            raise TypeError(f"expected a Scenario, got {type(scenario).__name__}")
        name = validate_name(scenario.name, file=self.location)
        label = f"scenario {name!r}"
        problems: builtins.list[Problem] = []
        description = scenario.description
        if description is None:
            pass  # the latest version's, read in the transaction below
        elif not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
            problems.append(
                Problem(
                    label,
                    "",
                    "description",
                    f"must be text of at most {MAX_DESCRIPTION_LENGTH} characters",
                    "shorten it",
                )
            )
        elif "\x00" in description:
            problems.append(
                Problem(label, "", "description", "contains a NUL character", "remove it")
            )
        docs: dict[str, str] = {}
        for fieldname in ("parameters", "summary"):
            try:
                docs[fieldname] = dumps_json(
                    getattr(scenario, fieldname), file=label, field=fieldname
                )
            except InputError as err:
                problems.extend(err.problems)
        rows: builtins.list[tuple[str, str, int, str, str | None, int, bytes]] = []
        for role, frames in ((_ROLE_INPUT, scenario.inputs), (_ROLE_RESULT, scenario.results)):
            if not isinstance(frames, Mapping):
                problems.append(Problem(label, "", role + "s", "must be a dict of frames", ""))
                continue
            for order, (key, frame) in enumerate(frames.items()):
                why = name_problem(key, what=f"{role} frame name")
                if why is not None:
                    problems.append(Problem(label, "", role + "s", why, "rename the frame"))
                    continue
                try:
                    fmt, crs, data = encode_frame(frame, file=label, key=f"{role}s.{key}")
                except InputError as err:
                    problems.extend(err.problems)
                    continue
                rows.append((role, key, order, fmt, crs, len(frame), data))
        if problems:
            raise InputError(problems)

        with self._lock, self._backend.transaction(f"save scenario {name!r}"):
            now = _now()
            if description is None:
                row = self._backend.execute(
                    "SELECT description FROM siting_scenarios WHERE name = ?"
                    " ORDER BY version DESC LIMIT 1",
                    (name,),
                ).fetchone()
                description = str(row[0]) if row is not None and row[0] is not None else ""
            version, _created = self._backend.execute(
                "INSERT INTO siting_names (name, created, last_version) VALUES (?, ?, 1)"
                " ON CONFLICT (name) DO UPDATE"
                " SET last_version = siting_names.last_version + 1"
                " RETURNING last_version, created",
                (name, now),
            ).fetchone()
            self._backend.execute(
                "INSERT INTO siting_scenarios"
                " (name, version, description, updated, parameters, summary)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, description, now, docs["parameters"], docs["summary"]),
            )
            for role, key, order, fmt, crs, n_rows, data in rows:
                self._backend.execute(
                    "INSERT INTO siting_frames (name, version, frame_role, frame_key,"
                    " frame_order, frame_format, crs, n_rows, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, version, role, key, order, fmt, crs, n_rows, data),
                )
            if self._before_commit is not None:
                self._before_commit()
        size = sum(len(r[-1]) for r in rows)
        log.info(
            "saved scenario %r version %d (%d frames, %d bytes)", name, version, len(rows), size
        )
        return int(version)

    def delete(self, name: str, version: int | None = None) -> int:
        """Delete one version of a scenario, or all of them; return how many were deleted.

        When the last version goes, the name goes too (a later save starts again at 1);
        otherwise version numbers are never reused.

        Raises
        ------
        InputError
            When the name or version does not exist (listing those that do).
        """
        name = validate_name(name, file=self.location)
        with self._lock:
            existing = self._require(name, version)
            doomed = existing if version is None else [version]
            with self._backend.transaction(f"delete scenario {name!r}"):
                marks = ", ".join("?" for _ in doomed)
                for table in ("siting_frames", "siting_scenarios"):
                    self._backend.execute(
                        f"DELETE FROM {table} WHERE name = ? AND version IN ({marks})",
                        (name, *doomed),
                    )
                if len(doomed) == len(existing):
                    self._backend.execute("DELETE FROM siting_names WHERE name = ?", (name,))
        log.info("deleted scenario %r versions %s", name, doomed)
        return len(doomed)

    # --- reading ------------------------------------------------------------------------

    def names(self) -> builtins.list[str]:
        """Names of the stored scenarios, sorted."""
        with self._lock, self._backend.guard("read the store"):
            rows = self._backend.execute("SELECT name FROM siting_names").fetchall()
        return sorted(r[0] for r in rows)

    def list(self) -> pd.DataFrame:
        """One row per scenario (latest version), sorted by name.

        Returns
        -------
        pandas.DataFrame
            ``name, version (latest), versions (count), created, updated (UTC timestamps),
            description`` and the :data:`KEY_FIGURES` of the latest summary (NaN if absent).
        """
        with self._lock, self._backend.guard("list the scenarios"):
            rows = self._backend.execute(
                "SELECT s.name, s.version, c.n, n.created, s.updated, s.description, s.summary"
                " FROM siting_scenarios s"
                " JOIN siting_names n ON n.name = s.name"
                " JOIN (SELECT name, MAX(version) AS v, COUNT(*) AS n"
                "       FROM siting_scenarios GROUP BY name) c"
                "   ON c.name = s.name AND c.v = s.version"
            ).fetchall()
        records = []
        for name, version, count, created, updated, description, summary in rows:
            doc = loads_json(summary)
            records.append(
                {
                    "name": name,
                    "version": int(version),
                    "versions": int(count),
                    "created": created,
                    "updated": updated,
                    "description": description,
                    **{k: _figure(doc, k) for k in KEY_FIGURES},
                }
            )
        columns = ["name", "version", "versions", "created", "updated", "description"]
        return self._table(records, columns, sort="name")

    def versions(self, name: str) -> pd.DataFrame:
        """The stored versions of one scenario, oldest first.

        Returns
        -------
        pandas.DataFrame
            ``version, updated, description`` and the :data:`KEY_FIGURES` of each summary.

        Raises
        ------
        InputError
            When there is no scenario of that name (listing those that exist).
        """
        name = validate_name(name, file=self.location)
        with self._lock:
            self._require(name, None)
            with self._backend.guard(f"read scenario {name!r}"):
                rows = self._backend.execute(
                    "SELECT version, updated, description, summary FROM siting_scenarios"
                    " WHERE name = ?",
                    (name,),
                ).fetchall()
        records = [
            {
                "version": int(v),
                "updated": u,
                "description": d,
                **{k: _figure(loads_json(s), k) for k in KEY_FIGURES},
            }
            for v, u, d, s in rows
        ]
        return self._table(records, ["version", "updated", "description"], sort="version")

    def load(self, name: str, version: int | None = None) -> Scenario:
        """Load a scenario: the latest version, or the one given.

        Raises
        ------
        InputError
            When the name or version does not exist (listing those that do).
        """
        name = validate_name(name, file=self.location)
        with self._lock:
            existing = self._require(name, version)
            if version is None:
                version = existing[-1]
            with self._backend.guard(f"read scenario {name!r}"):
                row = self._backend.execute(
                    "SELECT s.description, n.created, s.updated, s.parameters, s.summary"
                    " FROM siting_scenarios s JOIN siting_names n ON n.name = s.name"
                    " WHERE s.name = ? AND s.version = ?",
                    (name, version),
                ).fetchone()
                frames = self._backend.execute(
                    "SELECT frame_role, frame_key, frame_format, crs, data FROM siting_frames"
                    " WHERE name = ? AND version = ? ORDER BY frame_role, frame_order",
                    (name, version),
                ).fetchall()
        description, created, updated, parameters, summary = row
        part = "parameters"
        try:
            scenario = Scenario(
                name=name,
                description=description,
                parameters=loads_json(parameters),
                summary=loads_json(summary),
                version=int(version),
                created=datetime.fromisoformat(created),
                updated=datetime.fromisoformat(updated),
            )
            for role, key, fmt, crs, data in frames:
                part = f"{role} frame {key!r}"
                target = scenario.inputs if role == _ROLE_INPUT else scenario.results
                target[key] = decode_frame(fmt, data, crs=crs)
        except (ValueError, TypeError, OSError) as err:
            # parquet, JSON and CRS errors all derive from these
            raise InputError.one(
                self.location,
                f"scenario {name!r} version {version}",
                part,
                f"is damaged and cannot be read ({type(err).__name__}: {err})",
                "load another version, or restore the store from a backup",
            ) from None
        return scenario

    def compare(
        self,
        name_a: str,
        name_b: str,
        *,
        version_a: int | None = None,
        version_b: int | None = None,
        detail: bool = False,
    ) -> pd.DataFrame:
        """Key figures and parameters of two scenarios side by side.

        Parameters
        ----------
        name_a, name_b
            The scenarios (may be the same name with two versions).
        version_a, version_b
            Versions to compare (latest when ``None``).
        detail
            Also compare every other number in the summaries (``by_street.X.coverage_rate``, ...).

        Returns
        -------
        pandas.DataFrame
            ``section`` (``"summary"`` | ``"parameters"``), ``item`` (dotted key), ``a``,
            ``b``, ``difference`` (``b - a`` for numbers, else NaN), ``changed`` (bool).
            Summary rows: every key figure present in either scenario (plus, with ``detail``,
            every other numeric entry); parameter rows: only those that differ. ``attrs["a"]``
            and ``attrs["b"]`` hold ``"name v<version>"`` labels.
        """
        a = self.load(name_a, version_a)
        b = self.load(name_b, version_b)
        table = compare_documents(
            a.summary, b.summary, a.parameters, b.parameters, key_figures=KEY_FIGURES, detail=detail
        )
        table.attrs["a"] = f"{a.name} v{a.version}"
        table.attrs["b"] = f"{b.name} v{b.version}"
        return table

    # --- helpers ------------------------------------------------------------------------

    def _version_numbers(self, name: str) -> builtins.list[int]:
        with self._lock, self._backend.guard("read the store"):
            rows = self._backend.execute(
                "SELECT version FROM siting_scenarios WHERE name = ?", (name,)
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def _require(self, name: str, version: int | None) -> builtins.list[int]:
        """The versions of ``name``; raise if it (or ``version``) does not exist."""
        existing = self._version_numbers(name)
        if not existing:
            names = self.names()
            if names:
                shown = ", ".join(repr(n) for n in names[:_SHOW_NAMES])
                if len(names) > _SHOW_NAMES:
                    shown += f" and {len(names) - _SHOW_NAMES} more"
                fix = f"use one of the stored scenarios: {shown}"
            else:
                fix = "the store is empty; save a scenario first"
            raise InputError.one(self.location, "", "name", f"no scenario named {name!r}", fix)
        if version is not None and version not in existing:
            raise InputError.one(
                self.location,
                f"scenario {name!r}",
                "version",
                f"no version {version!r}",
                f"use one of the stored versions: {', '.join(map(str, existing))}",
            )
        return existing

    @staticmethod
    def _table(
        records: builtins.list[dict[str, Any]], columns: builtins.list[str], *, sort: str
    ) -> pd.DataFrame:
        table = pd.DataFrame(records, columns=[*columns, *KEY_FIGURES])
        for col in ("created", "updated"):
            if col in table:
                table[col] = pd.to_datetime(table[col], utc=True, format="ISO8601")
        for col in KEY_FIGURES:
            table[col] = table[col].astype("float64")
        return table.sort_values(sort, kind="stable").reset_index(drop=True)
