"""The new-estate check (新建小区配建核查).

For a planned residential estate (a polygon and its number of households) the planning bureau
asks: how much community space must the developer build (配建), is the estate already within
walking reach of an existing station, and does the developer's proposed site pass (floor area,
ground-floor share, fronting a street, inside the estate or within its walking catchment)?
When no site is proposed, a location is suggested: the street node on or inside the estate
boundary with the least total walking distance to the estate's residents.

Rules (with the standard's figures):

- required floor area = max(households / 100 x ``min_m2_per_100_households`` of a station,
  the station's ``min_floor_area_m2``): the estate forms its own community, so it needs a
  station of at least the station minimum;
- ground floor share >= the station's ``min_ground_floor_share``;
- fronting a street: within :data:`STREET_FRONT_M` of a walkable street (沿路沿街, seed 002);
- placement: inside the estate, or reaching at least ``covered_min_share`` of the estate's
  residents within the station's service radius.

Checks on the input (given the district's communities): an estate farther than
:data:`MAX_OUTSIDE_DISTRICT_M` from every community is not in the district (an error: wrong
coordinates or the wrong district's files); one outside the communities but closer is accepted
with a warning. Estate points, proposed sites and nearby existing sites far from every street
are reported by the file and feature they come from.

The suggestion is not moved away from existing stations: when an existing station (or higher)
lies within :data:`NEARBY_SITE_M` walking of it, the check says so, with the station's id and
floor area (below the standard, meeting it, or unknown - then the user is asked to check it),
and advises building the estate's space together with it (多社区一中心) or choosing another
location. A station shared with the estate needs the estate's required area on top of its own:
``max(current + required, the station level's minimum)`` - the developer's 配建 obligation does
not shrink by sharing, and the existing community keeps the space it has.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting import schema, settings
from siting._errors import InputError, warn
from siting._rollups import _jsonable
from siting.demand import demand_points
from siting.standards import Standard, load_standard

__all__ = [
    "MAX_OUTSIDE_DISTRICT_M",
    "NEARBY_SITE_M",
    "PERSONS_PER_HOUSEHOLD",
    "PLAUSIBLE_HOUSEHOLDS",
    "STREET_FRONT_M",
    "EstateCheck",
    "HouseholdSize",
    "check_estate",
    "check_households",
    "household_size",
    "lonlat_text",
]

#: Residents per household used to turn households into population (China 2020 census: 2.62).
PERSONS_PER_HOUSEHOLD = 2.62
#: A district ratio outside this range (persons per household) is taken to be a data error (a
#: households column holding something else): the fallback is used, with a warning.
PLAUSIBLE_HOUSEHOLD_SIZE = (1.0, 6.0)
#: Households above which one estate is implausible enough to warn: about 26,000 residents
#: (2.62 a household), more than a 10-minute living circle of GB 50180-2018 (15,000-25,000
#: residents); one estate rarely has more. A larger figure is checked with a warning, not refused.
PLAUSIBLE_HOUSEHOLDS = 10_000
#: A site "fronts a street" when a walkable street passes within this many metres.
STREET_FRONT_M = 30.0
#: An estate farther than this (straight line, metres) from every community of the district is
#: taken to be outside it: 1 km, the walking radius of a street center in the default profile,
#: beyond which no site of the district can serve it.
MAX_OUTSIDE_DISTRICT_M = 1000.0
#: An existing station (or higher) within this walking distance of the suggested location
#: serves the same residents: the check names it and advises sharing or enlarging it.
NEARBY_SITE_M = 200.0


@dataclass(frozen=True)
class HouseholdSize:
    """Residents per household used to turn households into residents and back.

    ``source`` is ``"district"`` (the communities' own population / households) or
    ``"default"`` (:data:`PERSONS_PER_HOUSEHOLD`); ``communities`` is the number of communities
    the district's ratio comes from.
    """

    persons: float
    source: str
    communities: int = 0

    def describe(self) -> str:
        """``"2.50 persons per household (the district's: population / households of 25
        communities)"``, for printed output."""
        if self.source == "district":
            n = self.communities
            return (
                f"{self.persons:.2f} persons per household (the district's own: population / "
                f"households of {n} communit{'y' if n == 1 else 'ies'})"
            )
        return (
            f"{self.persons:.2f} persons per household (national average, 2020 census: the "
            "communities give no usable population and households)"
        )

    def describe_zh(self) -> str:
        """The same in Chinese."""
        if self.source == "district":
            return f"每户 {self.persons:.2f} 人（本区 {self.communities} 个社区人口/户数）"
        return f"每户 {self.persons:.2f} 人（全国平均，2020 年人口普查）"


def household_size(communities: pd.DataFrame | None) -> HouseholdSize:
    """The district's residents per household: total population / total households over the
    communities that give both (each > 0); :data:`PERSONS_PER_HOUSEHOLD` when none does.

    One function for every conversion between households and residents (the capacity of a
    station's floor area in :func:`siting.propose.propose`, the residents of a new estate in
    :func:`check_estate`).

    Warns
    -----
    SitingWarning
        A ratio outside :data:`PLAUSIBLE_HOUSEHOLD_SIZE` (the fallback is used instead).

    Examples
    --------
    >>> import pandas as pd
    >>> household_size(pd.DataFrame({"population": [500, 700, 90],
    ...     "households": [200, 280, None]})).persons
    2.5
    >>> household_size(None).source
    'default'
    """
    if communities is None or not {"population", "households"} <= set(communities.columns):
        return HouseholdSize(PERSONS_PER_HOUSEHOLD, "default")
    pop = pd.to_numeric(communities["population"], errors="coerce").to_numpy(dtype=float)
    hh = pd.to_numeric(communities["households"], errors="coerce").to_numpy(dtype=float)
    both = np.isfinite(pop) & np.isfinite(hh) & (pop > 0) & (hh > 0)
    if not both.any():
        return HouseholdSize(PERSONS_PER_HOUSEHOLD, "default")
    ratio = float(pop[both].sum() / hh[both].sum())
    lo, hi = PLAUSIBLE_HOUSEHOLD_SIZE
    if not lo <= ratio <= hi:
        warn(
            f"the communities' population / households is {ratio:.2f} persons per household, "
            f"outside {lo:g}-{hi:g}: check the households (户数) column; "
            f"{PERSONS_PER_HOUSEHOLD} (national average) is used instead"
        )
        return HouseholdSize(PERSONS_PER_HOUSEHOLD, "default")
    return HouseholdSize(ratio, "district", int(both.sum()))


def lonlat_text(lon: float, lat: float) -> str:
    """``"121.265719E 30.886242N"``: longitude first, as everywhere in siting."""
    ew = "E" if lon >= 0 else "W"
    ns = "N" if lat >= 0 else "S"
    return f"{abs(lon):.6f}{ew} {abs(lat):.6f}{ns}"


@contextmanager
def _no_snap_warnings() -> Iterator[None]:
    """Silence the network's snapping warning in this thread (it names internal indices); the
    check reports points far from the streets itself, by file and feature."""
    from siting.network import quiet_snapping

    with quiet_snapping():
        yield


def _where(frame: gpd.GeoDataFrame) -> str:
    """``"feature 1 (id=E1)"`` (``"feature 1"`` without an id) for a one-feature frame."""
    if "id" in frame.columns and len(frame):
        v = frame["id"].iat[0]
        if isinstance(v, str) and v.strip() and v != "estate":
            return f"feature 1 (id={v.strip()})"
    return "feature 1"


def check_households(households: Any, *, source: str = "--households", where: str = "") -> float:
    """The planned households as a float, checked: a positive whole number, with a
    :class:`~siting.SitingWarning` above :data:`PLAUSIBLE_HOUSEHOLDS`.

    Parameters
    ----------
    households
        The figure given.
    source
        Where it comes from, for messages: an option (``"--households"``) or the estate file's
        name (its ``households`` field, feature ``where``).

    Raises
    ------
    InputError
        Not a number, not finite, not positive or not whole.
    """
    option = source.startswith("--")
    ok = isinstance(households, numbers.Real) and not isinstance(households, bool | np.bool_)
    if not (ok and math.isfinite(households) and households > 0):
        what = "households must be a positive whole number"
    elif not float(households).is_integer():
        what = "households must be a whole number"
    else:
        what = ""
    if what:
        fix = (
            "give the planned number of households of the estate, e.g. --households 2400"
            if option
            else "correct the estate file's households field, or give --households N"
        )
        if option:
            raise InputError.one("", "", source, f"{households!r}: {what}", fix)
        what = what.removeprefix("households ")  # the field says it
        raise InputError.one(source, where, "households", f"{households!r}: {what}", fix)
    value = float(households)
    if value > PLAUSIBLE_HOUSEHOLDS:
        head = f"{source} {value:,.0f}" if option else f"{source}: households {value:,.0f}"
        warn(
            f"{head}: more than {PLAUSIBLE_HOUSEHOLDS:,} households for one estate is unusual "
            "(a 10-minute living circle of GB 50180-2018 has 15,000-25,000 residents, about "
            "5,700-9,500 households); check that the figure is the estate's households (户数), "
            "not its residents, dwellings of several estates or a floor area. The check goes on "
            f"with {value:,.0f} households."
        )
    return value


@dataclass(frozen=True)
class EstateCheck:
    """The verdict on one estate.

    ``passed`` is None when no site was proposed (there is only a suggestion); ``reasons`` and
    ``reasons_en`` list every failed rule; ``notes`` explain the figures. ``nearby_sites`` are
    the existing stations (or higher) within :data:`NEARBY_SITE_M` walking of the suggestion
    (``id, level, floor_area_m2, min_floor_area_m2, below_standard, shared_floor_area_m2,
    walk_m``; ``floor_area_m2``, ``below_standard`` and ``shared_floor_area_m2`` are None when the
    station's floor area is unknown; ``shared_floor_area_m2`` is the area it needs when shared
    with the estate), and ``advice`` / ``advice_en`` say what to do about each (also in
    ``notes``).
    """

    households: float
    population: float
    required_floor_area_m2: float
    required_by_households_m2: float
    station_minimum_m2: float
    min_ground_floor_share: float
    radius_m: float
    covered_share_existing: float
    covering_sites: list[str]
    proposed: dict[str, Any] | None
    passed: bool | None
    reasons: list[str]
    reasons_en: list[str]
    checks: pd.DataFrame
    suggested: gpd.GeoDataFrame
    distance_mode: str
    notes: list[str] = field(default_factory=list)
    nearby_sites: list[dict[str, Any]] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    advice_en: list[str] = field(default_factory=list)
    persons_per_household: float = PERSONS_PER_HOUSEHOLD
    persons_per_household_source: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no geometry except the suggestion's lon/lat); missing numbers
        are None (``null``), never NaN."""
        sug = self.suggested.to_crs(4326)
        out = {
            "households": self.households,
            "population": self.population,
            "persons_per_household": self.persons_per_household,
            "persons_per_household_source": self.persons_per_household_source,
            "required_floor_area_m2": self.required_floor_area_m2,
            "required_by_households_m2": self.required_by_households_m2,
            "station_minimum_m2": self.station_minimum_m2,
            "min_ground_floor_share": self.min_ground_floor_share,
            "radius_m": self.radius_m,
            "covered_share_existing": self.covered_share_existing,
            "covering_sites": self.covering_sites,
            "proposed": self.proposed,
            "passed": self.passed,
            "reasons": self.reasons,
            "reasons_en": self.reasons_en,
            "checks": self.checks.to_dict(orient="records"),
            "suggested": [{"lon": float(p.x), "lat": float(p.y)} for p in sug.geometry.values],
            "distance_mode": self.distance_mode,
            "notes": self.notes,
            "nearby_sites": self.nearby_sites,
            "advice": self.advice,
            "advice_en": self.advice_en,
        }
        return dict(_jsonable(out))  # strict JSON: NaN and infinities as None


def _street_distance(network: Any, pts: np.ndarray) -> np.ndarray:
    """Straight-line distance from each point to the nearest walkable street segment."""
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([network.x[network.u], network.y[network.u]]),
                np.column_stack([network.x[network.v], network.y[network.v]]),
            ],
            axis=1,
        )
    )
    tree = shapely.STRtree(lines)
    geoms = shapely.points(pts)
    _, dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype=float)


def check_estate(
    estate: gpd.GeoDataFrame,
    households: float,
    *,
    sites: gpd.GeoDataFrame,
    network: Any,
    standard: Standard | str = "default",
    proposed_site: gpd.GeoDataFrame | None = None,
    spacing: float = 50.0,
    communities: gpd.GeoDataFrame | None = None,
    files: Mapping[str, str] | None = None,
) -> EstateCheck:
    """Check a new estate's 配建 requirement and the developer's proposed site.

    Parameters
    ----------
    estate
        One polygon (canonical, metric CRS, e.g. from :func:`siting.io.load_estate`).
    households
        Planned households of the estate (a positive whole number).
    sites
        Existing sites (canonical frame, same CRS).
    network
        Distance provider in the same CRS.
    standard
        Standards profile.
    proposed_site
        The developer's site: one point with ``floor_area_m2`` and optionally
        ``ground_floor_area_m2``.
    spacing
        Spacing of the estate's demand grid in metres.
    communities
        The district's communities (same CRS); when given, an estate farther than
        :data:`MAX_OUTSIDE_DISTRICT_M` from all of them is an error; their population /
        households turns the estate's households into residents (:func:`household_size`;
        without them :data:`PERSONS_PER_HOUSEHOLD`).
    files
        Names shown in messages: ``"estate"``, ``"proposed_site"``, ``"sites"`` (file names)
        and ``"households"`` (where the households come from: ``"--households"``, the default,
        or the estate file's name).

    Raises
    ------
    InputError
        Households not a positive whole number, an estate outside the district, a proposed site
        that is not one feature or has no floor area.

    Warns
    -----
    SitingWarning
        Households above :data:`PLAUSIBLE_HOUSEHOLDS` (see :func:`check_households`).
    """
    names = {
        "estate": "estate",
        "proposed_site": "proposed site",
        "sites": "sites",
        "households": "--households",
    }
    names.update(files or {})
    std = load_standard(standard) if not isinstance(standard, Standard) else standard
    households = check_households(households, source=names["households"], where=_where(estate))
    st = std.levels[schema.STATION]
    radius = st.service_radius_m
    size = household_size(communities)
    population = households * size.persons
    by_households = households / 100.0 * st.min_m2_per_100_households
    required = max(by_households, st.min_floor_area_m2)
    notes = [
        f"配建面积按 {st.min_m2_per_100_households:g} m²/百户 计 {by_households:,.0f} m²，"
        f"社区站最低 {st.min_floor_area_m2:,.0f} m²，取大值 {required:,.0f} m²",
        f"人口按{size.describe_zh()}估算 {population:,.0f} 人",
    ]

    poly = estate.geometry.values[0]
    estate_where = _where(estate)
    if communities is not None and len(communities):
        _check_in_district(poly, communities, names["estate"], estate_where)
    if proposed_site is not None and len(proposed_site) > 1:
        raise InputError.one(
            names["proposed_site"],
            "",
            "geometry",
            f"holds {len(proposed_site)} features, expected one proposed site (one point)",
            "keep only the developer's proposed site in the file",
        )
    est = gpd.GeoDataFrame(
        {
            "id": ["estate"],
            "population": [population],
            "households": [households],
            "party_members": [0.0],
        },
        geometry=[poly],
        crs=estate.crs,
    )
    demand = demand_points(est, method="grid", spacing=spacing)
    weights = demand["population"].to_numpy()
    dxy = shapely.get_coordinates(demand.geometry.values)

    # existing station-or-higher sites reaching the estate within their own radius
    existing = sites[
        sites["level"].isin(schema.STATION_OR_HIGHER) & (sites["status"] == schema.EXISTING)
    ]
    # only sites within their radius in a straight line can reach the estate walking
    radii_all = existing["level"].map(lambda lv: std.levels[lv].service_radius_m).to_numpy()
    near = shapely.distance(existing.geometry.values, poly) <= np.maximum(radii_all, NEARBY_SITE_M)
    existing = existing[near]
    has_net = getattr(network, "kind", "") == "network"
    if has_net:
        _warn_far_from_streets(network, dxy, existing, names, estate_where)
    covered = np.zeros(len(dxy), dtype=bool)
    covering: list[str] = []
    if len(existing):
        sxy = shapely.get_coordinates(existing.geometry.values)
        radii = radii_all[near]
        with _no_snap_warnings():
            dist = network.distances(dxy, sxy, float(radii.max())).tocoo()
        ok = dist.data <= radii[dist.col]
        covered[np.unique(dist.row[ok])] = True
        covering = sorted(set(existing["id"].to_numpy()[dist.col[ok]].tolist()))
    share_existing = float(weights[covered].sum() / weights.sum()) if weights.sum() else 0.0
    walk = "步行" if getattr(network, "kind", "") == "network" else "直线"
    notes.append(
        f"现有站点{walk} {radius:,.0f} m 内覆盖小区居民 {share_existing:.0%}"
        + (f"（{', '.join(covering)}）" if covering else "")
    )

    rows: list[dict[str, Any]] = []
    reasons: list[str] = []
    reasons_en: list[str] = []
    proposed: dict[str, Any] | None = None
    passed: bool | None = None
    if proposed_site is not None and len(proposed_site):
        p = proposed_site.iloc[0]
        area = float(p.get("floor_area_m2", np.nan))
        ground = float(p.get("ground_floor_area_m2", np.nan))
        if not math.isfinite(area):
            raise InputError.one(
                names["proposed_site"],
                _where(proposed_site),
                "floor_area_m2",
                "the proposed site has no floor area",
                "add a floor_area_m2 (建筑面积) column with the floor area in m² of the "
                "developer's proposed site",
            )
        pxy = shapely.get_coordinates(proposed_site.geometry.values[:1])

        def rule(name: str, ok: bool | None, value: str, need: str, zh: str, en: str) -> None:
            rows.append({"check": name, "passed": ok, "value": value, "required": need})
            if ok is False:
                reasons.append(zh)
                reasons_en.append(en)

        rule(
            "floor_area",
            area >= required,
            f"{area:,.0f} m²",
            f">= {required:,.0f} m²",
            f"建筑面积 {area:,.0f} m² < 应配建 {required:,.0f} m²",
            f"floor area {area:,.0f} m2 < required {required:,.0f} m2",
        )
        share = ground / area if math.isfinite(ground) and area > 0 else np.nan
        need_share = st.min_ground_floor_share
        rule(
            "ground_floor_share",
            None if not math.isfinite(share) else bool(share >= need_share),
            "unknown" if not math.isfinite(share) else f"{share:.0%}",
            f">= {need_share:.0%}",
            f"一层面积占比 {share:.0%} < {need_share:.0%}",
            f"ground floor {share:.0%} < {need_share:.0%}",
        )
        if not math.isfinite(share):
            reasons.append("未提供一层面积，无法核对一层占比")
            reasons_en.append("ground-floor area not given: the ground-floor share is unchecked")
        if has_net:
            front = float(_street_distance(network, pxy)[0])
            rule(
                "fronts_street",
                front <= STREET_FRONT_M,
                f"{front:,.0f} m",
                f"<= {STREET_FRONT_M:.0f} m",
                f"距最近道路 {front:,.0f} m，未沿路沿街（应 <= {STREET_FRONT_M:.0f} m）",
                f"{front:,.0f} m from the nearest street (should front a street, <= "
                f"{STREET_FRONT_M:.0f} m)",
            )
        else:
            rows.append(
                {
                    "check": "fronts_street",
                    "passed": None,
                    "value": "no road network",
                    "required": f"<= {STREET_FRONT_M:.0f} m",
                }
            )
        inside = bool(shapely.covers(poly, shapely.points(pxy[0])))
        with _no_snap_warnings():
            d = network.distances(dxy, pxy, radius)
        reach = np.zeros(len(dxy), dtype=bool)
        reach[d.tocoo().row] = True
        reach_share = float(weights[reach].sum() / weights.sum())
        placed = inside or reach_share >= std.covered_min_share
        rule(
            "placement",
            placed,
            "inside the estate" if inside else f"reaches {reach_share:.0%} of residents",
            f"inside, or >= {std.covered_min_share:.0%} within {radius:,.0f} m",
            f"站点不在小区内，且{walk} {radius:,.0f} m 内仅覆盖小区居民 {reach_share:.0%}",
            f"outside the estate and reaches only {reach_share:.0%} of its residents within "
            f"{radius:,.0f} m",
        )
        passed = all(r["passed"] is not False for r in rows)
        proposed = {
            "floor_area_m2": area,
            "ground_floor_area_m2": ground,
            "inside_estate": inside,
            "reach_share": reach_share,
        }

    with _no_snap_warnings():
        suggested = _suggest(poly, network, dxy, weights, estate.crs)
    nearby, advice, advice_en = _nearby(suggested, existing, network, std, required)
    notes += advice
    return EstateCheck(
        households=float(households),
        population=float(population),
        required_floor_area_m2=float(required),
        required_by_households_m2=float(by_households),
        station_minimum_m2=float(st.min_floor_area_m2),
        min_ground_floor_share=float(st.min_ground_floor_share),
        radius_m=float(radius),
        covered_share_existing=share_existing,
        covering_sites=covering,
        proposed=proposed,
        passed=passed,
        reasons=reasons,
        reasons_en=reasons_en,
        checks=pd.DataFrame(rows, columns=["check", "passed", "value", "required"]),
        suggested=suggested,
        distance_mode=getattr(network, "kind", "euclidean"),
        notes=notes,
        nearby_sites=nearby,
        advice=advice,
        advice_en=advice_en,
        persons_per_household=size.persons,
        persons_per_household_source=size.describe(),
    )


def _check_in_district(poly: Any, communities: gpd.GeoDataFrame, file: str, where: str) -> None:
    """Raise when the estate lies farther than :data:`MAX_OUTSIDE_DISTRICT_M` from every
    community; warn when it lies outside all of them but closer."""
    values = np.asarray(communities.geometry.values)
    tree = shapely.STRtree(values)
    idx, dist = tree.query_nearest(poly, return_distance=True, all_matches=False)
    if not len(dist):
        return
    d = float(dist[0])
    if d <= 0:
        return
    named = f" {_community_label(communities, int(idx[0]))}"
    if d > MAX_OUTSIDE_DISTRICT_M:
        raise InputError.one(
            file,
            where,
            "geometry",
            f"the estate lies outside the district, {d / 1000:,.1f} km from its nearest "
            f"community{named}; an estate must touch the district's communities or lie within "
            f"{MAX_OUTSIDE_DISTRICT_M:,.0f} m of them",
            "check the estate's coordinates (--coords, --crs), or give the communities and "
            "sites of the district it is in (--communities, --sites)",
        )
    warn(
        f"{file}: {where}: the estate lies {d:,.0f} m outside the district's communities "
        f"(nearest:{named}); sites of neighbouring districts are not counted - check its "
        "coordinates if it should be inside"
    )


def _community_label(communities: gpd.GeoDataFrame, i: int) -> str:
    """The ``i``-th community (by position) as the user knows it: its id, else its name, else
    ``"row N"`` (1-based) when both are missing or blank."""
    for col in ("id", "name"):
        if col in communities.columns:
            v = communities[col].iat[i]
            if not _missing(v) and str(v).strip():
                return str(v).strip()
    return f"row {i + 1}"


def _missing(value: Any) -> bool:
    """Whether a scalar cell is empty (None, NaN, NaT, pd.NA)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # not a scalar
        return False


def _number(value: Any) -> float:
    """``value`` as a float, NaN when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _warn_far_from_streets(
    network: Any,
    dxy: np.ndarray,
    existing: gpd.GeoDataFrame,
    names: Mapping[str, str],
    estate_where: str,
) -> None:
    """Warn, by file and feature, about estate points and nearby existing sites far from
    every street (their walking distances begin with a long straight line)."""
    limit = settings.SNAP_WARN_DISTANCE_M
    roads = network.source or "the road network"
    _, d = network.snap(dxy, warn_distance=np.inf)
    far = d > limit
    if far.any():
        head = f"{names['estate']}: {estate_where}: "
        warn(
            f"{head}{int(far.sum())} of {len(d)} points of the estate lie more than {limit:.0f} m "
            f"from the nearest street of {roads} (up to {d.max():,.0f} m), so walking distances "
            "from them are rough - use a road file that has the estate's streets, or check the "
            "estate's coordinates"
        )
    if len(existing):
        _, ds = network.snap(existing.geometry, warn_distance=np.inf)
        bad = np.flatnonzero(ds > limit)
        if len(bad):
            ids = existing["id"].to_numpy()
            shown = ", ".join(f"id={ids[i]} ({ds[i]:,.0f} m)" for i in bad[:5])
            warn(
                f"{names['sites']}: {len(bad)} existing site(s) near the estate lie more than "
                f"{limit:.0f} m from the nearest street of {roads}: {shown} - check their "
                "coordinates, or use a road file that reaches them"
            )


def _nearby(
    suggested: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame,
    network: Any,
    std: Standard,
    required: float,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Existing stations (or higher) within :data:`NEARBY_SITE_M` walking of the suggestion,
    nearest first, with advice in Chinese and English."""
    if not len(existing):
        return [], [], []
    sug = shapely.get_coordinates(suggested.geometry.values[:1])
    sxy = shapely.get_coordinates(existing.geometry.values)
    with _no_snap_warnings():
        d = network.distances(sug, sxy, NEARBY_SITE_M).tocoo()
    order = np.argsort(d.data, kind="stable")
    found: list[dict[str, Any]] = []
    zh: list[str] = []
    en: list[str] = []
    for k in order:
        row = existing.iloc[int(d.col[k])]
        level = str(row["level"])
        area = _number(row.get("floor_area_m2", math.nan))
        known = math.isfinite(area)
        minimum = float(std.levels[level].min_floor_area_m2)
        below = bool(area < minimum) if known else None
        # shared (多社区一中心): the estate's space comes on top of what the station has, and
        # the shared station must still reach its own level's minimum
        shared = max(area + required, minimum) if known else None
        dm = float(d.data[k])
        sid = str(row["id"])
        found.append(
            {
                "id": sid,
                "level": level,
                "floor_area_m2": area if known else None,
                "min_floor_area_m2": minimum,
                "below_standard": below,
                "shared_floor_area_m2": shared,
                "walk_m": dm,
            }
        )
        head_zh = f"建议位置距现有站点 {sid} 仅 {dm:,.0f} m"
        head_en = f"the suggested location is {dm:,.0f} m from the existing station {sid}"
        if shared is None:
            zh.append(
                f"{head_zh}（面积不详）：请核实该站建筑面积；如将配建用房与 {sid} 合设"
                f"（多社区一中心），应在其现有面积上增加不少于 {required:,.0f} m²，或另选位置"
            )
            en.append(
                f"{head_en} (floor area unknown): check its floor area (floor_area_m2 in the "
                f"sites file); to build the estate's space together with {sid} (one center for "
                f"both communities), add at least {required:,.0f} m2 to it, or choose another "
                "location"
            )
        elif below:
            zh.append(
                f"{head_zh}，该站 {area:,.0f} m² 低于标准 {minimum:,.0f} m²：宜将配建用房与 {sid} "
                f"合设，在其现有面积上增加不少于 {required:,.0f} m²（扩建至不少于 "
                f"{shared:,.0f} m²，多社区一中心），或另选位置"
            )
            en.append(
                f"{head_en} ({area:,.0f} m2, below the {minimum:,.0f} m2 standard): consider "
                f"building the estate's space together with {sid}, adding at least "
                f"{required:,.0f} m2 to it (to at least {shared:,.0f} m2, one center for both "
                "communities), or choose another location"
            )
        else:
            zh.append(
                f"{head_zh}（{area:,.0f} m²，已达标）：先核实能否由其兼顾本小区（多社区一中心；"
                f"合设须在其现有面积上增加不少于 {required:,.0f} m²，至不少于 {shared:,.0f} m²），"
                "再决定是否另建"
            )
            en.append(
                f"{head_en} ({area:,.0f} m2, meets the standard): check whether it can serve the "
                f"estate too (one center for both communities; sharing it means adding at least "
                f"{required:,.0f} m2 to it, to at least {shared:,.0f} m2) before building another "
                "next to it"
            )
    return found, zh, en


def _suggest(
    poly: Any, network: Any, dxy: np.ndarray, weights: np.ndarray, crs: Any
) -> gpd.GeoDataFrame:
    """The street node in or at the edge of the estate with the least total walking distance
    to the estate's residents (a 1-median); the estate's inner point without a network."""
    if getattr(network, "kind", "") == "network":
        zone = shapely.buffer(poly, STREET_FRONT_M)
        nodes = np.flatnonzero(shapely.contains_xy(zone, network.x, network.y))
        if len(nodes):
            cxy = np.column_stack([network.x[nodes], network.y[nodes]])
            far = 4.0 * float(np.sqrt(shapely.area(poly))) + 2000.0
            d = network.distances(dxy, cxy, far).tocsc()
            cost = np.asarray(d.T @ weights).ravel()
            # a node that does not reach every resident within `far` is penalised
            counts = np.diff(d.indptr)
            cost = np.where(counts == len(dxy), cost, np.inf)
            if np.isfinite(cost).any():
                best = int(np.argmin(cost))
                return gpd.GeoDataFrame(
                    {"name": ["建议位置 suggested site"], "total_walk_m": [float(cost[best])]},
                    geometry=[shapely.points(cxy[best])],
                    crs=crs,
                )
    pt = shapely.point_on_surface(poly)
    return gpd.GeoDataFrame(
        {"name": ["建议位置 suggested site"], "total_walk_m": [np.nan]}, geometry=[pt], crs=crs
    )
