"""Standards profiles: floor areas, service radii, population limits, funding and targets as data.

A profile is a TOML file in which every value carries its source::

    [levels.station]
    min_floor_area_m2 = { value = 1000.0, source = "seed 002 (连云港): ... 1000平方米" }

Profiles shipped with siting: ``default`` (Lianyungang floor areas and targets, Jinshan funding,
GB 50180 living-circle radii) and ``gb50180`` (the GB 50180-2018 appendix figures). Any other
TOML file with the same keys can be given by path. See ``siting/standards/default.toml`` for the
layout and the reasoning behind each default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from siting import schema
from siting._errors import InputError, Problem

__all__ = [
    "LEVEL_FIELDS",
    "LevelStandard",
    "Standard",
    "available_standards",
    "load_standard",
]

#: Per-level settings, their meaning (for tables and the app) and whether they are shares (0-1).
LEVEL_FIELDS: dict[str, str] = {
    "min_floor_area_m2": "minimum floor area (m²)",
    "min_ground_floor_share": "minimum ground-floor share of the floor area (0-1)",
    "service_radius_m": "service radius, walking (m)",
    "max_population": "maximum population served per site",
    "min_m2_per_100_households": "minimum floor area per 100 households served (m², 0 = not applied)",
    "funding_base_yuan": "minimum yearly funding per site (yuan)",
    "funding_per_party_member_yuan": "yearly funding per Party member served (yuan)",
}
_SHARE_FIELDS = ("min_ground_floor_share",)
_POSITIVE_FIELDS = ("service_radius_m", "max_population")
#: Programme-wide settings: table -> key -> meaning.
_GLOBAL_FIELDS: dict[str, dict[str, str]] = {
    "programme": {"targets": "compliance targets by programme year (0-1, not decreasing)"},
    "coverage": {
        "covered_min_share": "share of residents within reach for 'covered' (0-1)",
        "partly_min_share": "share of residents within reach for 'partly' covered (0-1)",
    },
}


@dataclass(frozen=True)
class LevelStandard:
    """The standard for one level of site (district center, street center, station, point)."""

    min_floor_area_m2: float
    min_ground_floor_share: float
    service_radius_m: float
    max_population: float
    min_m2_per_100_households: float
    funding_base_yuan: float
    funding_per_party_member_yuan: float


@dataclass(frozen=True)
class Standard:
    """A standards profile.

    Attributes
    ----------
    name
        Profile name (``"default"``, ``"gb50180"`` or the file's ``name``).
    title
        Human title (Chinese first).
    levels
        Level (``schema.LEVELS``) -> :class:`LevelStandard`.
    targets
        Compliance targets for programme years 1, 2, 3, ... (shares 0-1, not decreasing).
    covered_min_share, partly_min_share
        Thresholds of a community's covered share for ``covered`` and ``partly``.
    sources
        Dotted key (``"levels.station.min_floor_area_m2"``, ``"programme.targets"``, ...) ->
        the source note of that value.
    path
        Where the profile was read from.
    """

    name: str
    title: str
    levels: Mapping[str, LevelStandard]
    targets: tuple[float, ...]
    covered_min_share: float
    partly_min_share: float
    sources: Mapping[str, str] = field(default_factory=dict)
    path: str = ""

    def level(self, level: str) -> LevelStandard:
        """The standard of one level (``KeyError`` for an unknown level)."""
        return self.levels[level]

    def per_level(self, name: str) -> dict[str, float]:
        """One per-level setting as ``{level: value}`` (e.g. ``per_level("service_radius_m")``)."""
        return {lv: float(getattr(ls, name)) for lv, ls in self.levels.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        # read-only mappings do not pickle; rebuild them (Streamlit's cache_data pickles)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["levels"] = dict(self.levels)
        fields["sources"] = dict(self.sources)
        return (_rebuild_standard, (fields,))

    def programme_levels(self) -> tuple[str, ...]:
        """Levels under the compliance programme: those with a floor-area minimum.

        The three-year targets (60/80/100%) are about sites that have a standard to meet
        (centers and stations); points, which have no area standard, would otherwise always
        count as compliant and hide the stations' shortfall.
        """
        return tuple(lv for lv, ls in self.levels.items() if ls.min_floor_area_m2 > 0)

    def with_overrides(self, **overrides: Any) -> Standard:
        """A copy with some values replaced (the app's editable thresholds).

        Per-level values are named ``<level>_<field>`` (``station_min_floor_area_m2=800``),
        programme values by their key (``targets=(0.5, 0.8, 1.0)``,
        ``covered_min_share=0.8``). The source of a replaced value becomes
        ``"user override (was <old>: <old source>)"``.

        Raises
        ------
        InputError
            For an unknown name or a bad value (negative area, share outside 0-1, ...).
        """
        raw = _as_raw(self)
        sources = dict(self.sources)
        problems: list[Problem] = []
        label = f"overrides of standard {self.name!r}"
        known = [f"{lv}_{f}" for lv in schema.LEVELS for f in LEVEL_FIELDS] + [
            k for tbl in _GLOBAL_FIELDS.values() for k in tbl
        ]
        for key, value in overrides.items():
            dotted = _override_key(key)
            if dotted is None:
                problems.append(
                    Problem(
                        label,
                        "",
                        key,
                        f"unknown setting {key!r}",
                        f"use one of: {', '.join(known)}",
                    )
                )
                continue
            if isinstance(value, list | tuple):
                value = list(value)
            old = _get(raw, dotted)
            _set(raw, dotted, value)
            sources[dotted] = f"user override (was {old!r}: {self.sources.get(dotted, '')})"
        if problems:
            raise InputError(problems)
        return _build(raw, sources, label, path=self.path)

    def table(self) -> pd.DataFrame:
        """Every value with its source, one row each (for reports and the app)."""
        rows: list[dict[str, Any]] = []
        for lv, ls in self.levels.items():
            for f in LEVEL_FIELDS:
                key = f"levels.{lv}.{f}"
                rows.append(
                    {
                        "key": key,
                        "level": lv,
                        "setting": f,
                        "meaning": LEVEL_FIELDS[f],
                        "value": str(getattr(ls, f)),
                        "source": self.sources.get(key, ""),
                    }
                )
        for tbl, keys in _GLOBAL_FIELDS.items():
            for k, meaning in keys.items():
                key = f"{tbl}.{k}"
                value = self.targets if k == "targets" else getattr(self, k)
                rows.append(
                    {
                        "key": key,
                        "level": "",
                        "setting": k,
                        "meaning": meaning,
                        "value": str(list(value) if k == "targets" else value),
                        "source": self.sources.get(key, ""),
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the values (infinite limits as ``None``)."""

        def clean(v: float) -> float | None:
            return None if not math.isfinite(v) else float(v)

        return {
            "name": self.name,
            "title": self.title,
            "targets": [float(t) for t in self.targets],
            "covered_min_share": float(self.covered_min_share),
            "partly_min_share": float(self.partly_min_share),
            "levels": {
                lv: {f.name: clean(getattr(ls, f.name)) for f in fields(ls)}
                for lv, ls in self.levels.items()
            },
        }


# --------------------------------------------------------------------------------------------
def _rebuild_standard(fields: dict[str, Any]) -> Standard:
    fields = dict(fields)
    fields["levels"] = MappingProxyType(fields["levels"])
    fields["sources"] = MappingProxyType(fields["sources"])
    return Standard(**fields)


def available_standards() -> list[str]:
    """Names of the profiles shipped with siting."""
    folder = resources.files("siting") / "standards"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_standard(name_or_path: str | Path | Standard) -> Standard:
    """Load a standards profile by name (``"default"``, ``"gb50180"``) or from a TOML file.

    Parameters
    ----------
    name_or_path
        A shipped profile's name, a path to a TOML file, or a :class:`Standard` (returned as is).

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        When the file is missing or unreadable, or any value is missing, mistyped, out of range
        or without a source; every problem of the file is listed.

    Examples
    --------
    >>> std = load_standard("default")
    >>> std.level("station").min_floor_area_m2
    1000.0
    >>> std.targets
    (0.6, 0.8, 1.0)
    """
    if isinstance(name_or_path, Standard):
        return name_or_path
    text: str
    label: str
    shipped = available_standards()
    s = str(name_or_path)
    if isinstance(name_or_path, str) and s in shipped:
        res = resources.files("siting") / "standards" / f"{s}.toml"
        text = res.read_text(encoding="utf-8")
        label = f"standard profile {s!r}"
        path = str(res)
    else:
        p = Path(s).expanduser()
        label = str(p)
        path = str(p)
        if not p.is_file():
            raise InputError.one(
                label,
                "",
                "",
                f"no standards profile named {s!r} and no such file",
                f"use one of {', '.join(shipped)} or the path of a TOML file",
            )
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.one(
                label, "", "", f"cannot read the file ({exc})", "save it as UTF-8 text"
            ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError.one(
            label,
            "",
            "",
            f"not valid TOML ({exc})",
            "fix the syntax; see siting/standards/default.toml for the layout",
        ) from exc
    if "base" in data:
        data = _with_base(data, label, shipped)
    raw, sources, problems = _unwrap(data, label)
    if problems:
        raise InputError(problems)
    return _build(raw, sources, label, path=path)


#: Part of the fix for a profile missing values: a base profile supplies them.
_BASE_HINT = 'or start the file with base = "default" to keep the shipped values you do not change'


def _with_base(data: dict[str, Any], label: str, shipped: list[str]) -> dict[str, Any]:
    """A profile that names ``base = "default"`` (or another shipped profile) and gives only
    the values it changes: the base's tables with the file's entries laid over them."""
    base = data["base"]
    if not isinstance(base, str) or base not in shipped:
        raise InputError.one(
            label,
            "",
            "base",
            f"{base!r} is not a shipped profile",
            f"use one of {', '.join(shipped)}, or leave base out and give every value",
        )
    text = (resources.files("siting") / "standards" / f"{base}.toml").read_text(encoding="utf-8")

    def merge(under: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(under)
        for key, value in over.items():
            table = isinstance(value, dict) and "value" not in value
            if table and isinstance(out.get(key), dict) and "value" not in out[key]:
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out

    over = {k: v for k, v in data.items() if k != "base"}
    over.setdefault("name", Path(label).stem)
    merged = merge(tomllib.loads(text), over)
    if "title" not in over:
        merged["title"] = f"{merged.get('title', base)} ({Path(label).name})"
    return merged


# --------------------------------------------------------------------------------------------
def _unwrap(
    data: dict[str, Any], label: str
) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    """Split ``{value, source}`` tables into plain values and sources, collecting problems."""
    problems: list[Problem] = []
    raw: dict[str, Any] = {
        "name": data.get("name", ""),
        "title": data.get("title", ""),
        "levels": {},
    }
    sources: dict[str, str] = {}
    fix_layout = 'write it as key = { value = ..., source = "..." }'

    def take(table: Any, key: str, dotted: str) -> Any:
        if not isinstance(table, dict) or key not in table:
            problems.append(
                Problem(
                    label,
                    "",
                    dotted,
                    "missing",
                    f"add {dotted} ({fix_layout}), {_BASE_HINT}",
                )
            )
            return None
        entry = table[key]
        if not isinstance(entry, dict) or "value" not in entry:
            problems.append(
                Problem(
                    label, "", dotted, f"{entry!r} is not a {{value, source}} table", fix_layout
                )
            )
            return None
        src = entry.get("source")
        if not isinstance(src, str) or not src.strip():
            problems.append(
                Problem(
                    label,
                    "",
                    dotted,
                    "has no source note",
                    'add source = "..." saying where the figure comes from',
                )
            )
        else:
            sources[dotted] = src.strip()
        extra = set(entry) - {"value", "source"}
        if extra:
            problems.append(
                Problem(
                    label,
                    "",
                    dotted,
                    f"unknown keys {sorted(extra)}",
                    "keep only value and source",
                )
            )
        return entry["value"]

    for tbl, keys in _GLOBAL_FIELDS.items():
        table = data.get(tbl)
        raw[tbl] = {}
        if table is None:
            problems.append(
                Problem(
                    label,
                    "",
                    tbl,
                    f"the [{tbl}] table is missing",
                    f"add [{tbl}], {_BASE_HINT}",
                )
            )
            continue
        for k in keys:
            raw[tbl][k] = take(table, k, f"{tbl}.{k}")
        for k in set(table) - set(keys):
            problems.append(
                Problem(label, "", f"{tbl}.{k}", "unknown setting", f"use one of {', '.join(keys)}")
            )
    levels = data.get("levels")
    if not isinstance(levels, dict):
        problems.append(
            Problem(label, "", "levels", "the [levels.*] tables are missing", _fix_levels())
        )
        levels = {}
    for lv in levels:
        if lv not in schema.LEVELS:
            problems.append(
                Problem(label, "", f"levels.{lv}", f"unknown level {lv!r}", _fix_levels())
            )
    for lv in schema.LEVELS:
        table = levels.get(lv)
        if table is None:
            problems.append(
                Problem(
                    label,
                    "",
                    f"levels.{lv}",
                    "missing",
                    f"add a [levels.{lv}] table, {_BASE_HINT}",
                )
            )
            continue
        raw["levels"][lv] = {f: take(table, f, f"levels.{lv}.{f}") for f in LEVEL_FIELDS}
        if isinstance(table, dict):
            for k in set(table) - set(LEVEL_FIELDS):
                problems.append(
                    Problem(
                        label,
                        "",
                        f"levels.{lv}.{k}",
                        "unknown setting",
                        f"use one of {', '.join(LEVEL_FIELDS)}",
                    )
                )
    return raw, sources, problems


def _fix_levels() -> str:
    return f"use the levels {', '.join(schema.LEVELS)}, one [levels.<level>] table each"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _build(raw: dict[str, Any], sources: dict[str, str], label: str, *, path: str) -> Standard:
    """Check ranges and types of plain values and build the :class:`Standard`."""
    problems: list[Problem] = []

    def number(v: Any, dotted: str, *, share: bool = False, positive: bool = False) -> float:
        if v is None:  # already reported as missing
            return math.nan
        if not _is_number(v) or math.isnan(float(v)):
            problems.append(
                Problem(label, "", dotted, f"{v!r} is not a number", "write a plain number")
            )
            return math.nan
        x = float(v)
        if share and not 0.0 <= x <= 1.0:
            problems.append(
                Problem(
                    label,
                    "",
                    dotted,
                    f"{v!r} is outside 0-1",
                    "write a share between 0 and 1 (0.5 for 50%)",
                )
            )
        elif positive and not x > 0:
            problems.append(
                Problem(label, "", dotted, f"{v!r} is not positive", "write a value above 0")
            )
        elif x < 0:
            problems.append(
                Problem(label, "", dotted, f"{v!r} is negative", "write a value of 0 or more")
            )
        elif math.isinf(x) and dotted.rsplit(".", 1)[-1] != "max_population":
            problems.append(
                Problem(label, "", dotted, f"{v!r} is infinite", "write a finite number")
            )
        return x

    levels: dict[str, LevelStandard] = {}
    for lv, vals in raw.get("levels", {}).items():
        kw = {
            f: number(
                vals.get(f),
                f"levels.{lv}.{f}",
                share=f in _SHARE_FIELDS,
                positive=f in _POSITIVE_FIELDS,
            )
            for f in LEVEL_FIELDS
        }
        levels[lv] = LevelStandard(**kw)
    cov = raw.get("coverage", {})
    covered = number(cov.get("covered_min_share"), "coverage.covered_min_share", share=True)
    partly = number(cov.get("partly_min_share"), "coverage.partly_min_share", share=True)
    if partly > covered:
        problems.append(
            Problem(
                label,
                "",
                "coverage.partly_min_share",
                f"{partly!r} is above covered_min_share {covered!r}",
                "make partly_min_share at most covered_min_share",
            )
        )
    targets_raw = raw.get("programme", {}).get("targets")
    targets: tuple[float, ...] = ()
    if targets_raw is not None:
        if not isinstance(targets_raw, list) or not targets_raw:
            problems.append(
                Problem(
                    label,
                    "",
                    "programme.targets",
                    f"{targets_raw!r} is not a list of shares",
                    "write e.g. [0.6, 0.8, 1.0]",
                )
            )
        elif not all(_is_number(t) for t in targets_raw):
            problems.append(
                Problem(
                    label,
                    "",
                    "programme.targets",
                    f"{targets_raw!r} holds non-numbers",
                    "write shares, e.g. [0.6, 0.8, 1.0]",
                )
            )
        else:
            targets = tuple(float(t) for t in targets_raw)
            if any(not 0.0 <= t <= 1.0 for t in targets):
                problems.append(
                    Problem(
                        label,
                        "",
                        "programme.targets",
                        f"{targets_raw!r} has a value outside 0-1",
                        "write shares between 0 and 1 (0.6 for 60%)",
                    )
                )
            elif any(b < a for a, b in pairwise(targets)):
                problems.append(
                    Problem(
                        label,
                        "",
                        "programme.targets",
                        f"{targets_raw!r} decreases",
                        "give each year's target at least the previous year's",
                    )
                )
    name = raw.get("name")
    title = raw.get("title")
    if not isinstance(name, str) or not isinstance(title, str):
        problems.append(
            Problem(label, "", "name/title", "must be text", 'write name = "..." and title = "..."')
        )
    if problems:
        raise InputError(problems)
    return Standard(
        name=str(name) or Path(path).stem,
        title=str(title),
        levels=MappingProxyType(levels),
        targets=targets,
        covered_min_share=covered,
        partly_min_share=partly,
        sources=MappingProxyType(dict(sources)),
        path=path,
    )


def _as_raw(std: Standard) -> dict[str, Any]:
    return {
        "name": std.name,
        "title": std.title,
        "programme": {"targets": list(std.targets)},
        "coverage": {
            "covered_min_share": std.covered_min_share,
            "partly_min_share": std.partly_min_share,
        },
        "levels": {lv: {f: getattr(ls, f) for f in LEVEL_FIELDS} for lv, ls in std.levels.items()},
    }


def _override_key(key: str) -> str | None:
    for tbl, keys in _GLOBAL_FIELDS.items():
        if key in keys:
            return f"{tbl}.{key}"
    # longest level names first so "street_center_..." is not read as a "street" level
    for lv in sorted(schema.LEVELS, key=len, reverse=True):
        if key.startswith(lv + "_") and key[len(lv) + 1 :] in LEVEL_FIELDS:
            return f"levels.{lv}.{key[len(lv) + 1 :]}"
    return None


def _get(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        node = node[part]
    return node


def _set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *head, last = dotted.split(".")
    node = raw
    for part in head:
        node = node[part]
    node[last] = value
