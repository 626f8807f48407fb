"""The ``siting`` command line.

Every subcommand turns a user's bad input (:class:`~siting.InputError`) into ``error: ...``
lines on stderr and exit code 2; repairs and assumptions are printed as ``warning: ...``.
A bug exits 1 with a traceback.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from siting import __version__, settings
from siting._errors import InputError, SitingWarning, warn

logger = logging.getLogger("siting")

COORDS = ("wgs84", "cgcs2000", "gcj02", "bd09")


def _add_inputs(p: argparse.ArgumentParser, *, roads: bool = True) -> None:
    g = p.add_argument_group("inputs (none given: the bundled demo district)")
    g.add_argument(
        "--communities", metavar="PATH", help="community polygons (GPKG, GeoJSON, SHP, zipped SHP)"
    )
    g.add_argument(
        "--sites",
        metavar="PATH",
        help="site points (GPKG, GeoJSON, SHP, zip, CSV or XLSX with lon/lat)",
    )
    if roads:
        g.add_argument(
            "--roads",
            metavar="PATH|none",
            help="walking network: OSM XML "
            "(.osm/.osm.gz/.osm.bz2), OSM PBF or GraphML; 'none' for straight-line "
            "distances (default: the demo's roads for the demo, straight-line for "
            "your own data)",
        )
    g.add_argument(
        "--coords",
        choices=COORDS,
        default="wgs84",
        help="coordinate system of lon/lat (and web-mercator) inputs; gcj02 (AMap/Tencent) "
        "and bd09 (Baidu) are converted to WGS-84; projected survey data (CGCS2000 "
        "Gauss-Kruger, UTM) is never shifted (default: wgs84)",
    )
    g.add_argument(
        "--communities-coords",
        choices=COORDS,
        default=None,
        help="--coords for the communities file only (e.g. wgs84 for bureau GIS data)",
    )
    g.add_argument(
        "--sites-coords",
        choices=COORDS,
        default=None,
        help="--coords for the sites file only (e.g. gcj02 for sites picked on AMap)",
    )
    g.add_argument(
        "--crs",
        metavar="CRS",
        help="CRS of files that carry none and are in metres, e.g. EPSG:4549 (lon/lat "
        "columns are always degrees); a file's own CRS is overridden with a warning",
    )


def _add_eval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--standard",
        default=settings.DEFAULT_STANDARD,
        metavar="NAME|PATH",
        help="standards profile: default, gb50180, or a TOML file (default: default)",
    )
    p.add_argument(
        "--demand",
        choices=("grid", "centroid"),
        default="grid",
        help="demand points: a 100 m grid inside each community (default) or one "
        "point per community",
    )
    p.add_argument(
        "--spacing",
        type=float,
        default=settings.DEMAND_GRID_SPACING_M,
        metavar="M",
        help="grid spacing in metres (default: 100)",
    )


def _add_basemap(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--basemap",
        default="none",
        choices=("none", "osm", "tianditu", "amap"),
        help="map background: none (works offline, default), osm, tianditu (needs "
        "--tianditu-key), amap (GCJ-02 tiles; overlays are shifted to match)",
    )
    p.add_argument("--tianditu-key", default=None, metavar="KEY", help="your Tianditu key")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``siting`` command."""
    parser = argparse.ArgumentParser(
        prog="siting",
        description="Planning tool for community Party-and-masses service sites (党群服务站点).",
    )
    parser.add_argument("--version", action="version", version=f"siting {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("evaluate", help="coverage, compliance, gaps and the three-year view")
    _add_inputs(p)
    _add_eval_options(p)
    p.add_argument("--out", default="out", metavar="DIR", help="output folder (default: out)")
    _add_basemap(p)
    p.add_argument(
        "--save",
        default=None,
        metavar="NAME",
        help="also save inputs, parameters and results as a named scenario",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="PATH|URL",
        help="scenario store for --save (default: $SITING_STORE or the user's)",
    )
    p.add_argument(
        "--description",
        default=None,
        help="description of the saved scenario (default: re-saving keeps the previous one)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("map", help="write the district maps into maps/")
    _add_inputs(p)
    _add_eval_options(p)
    p.add_argument("--out", default="maps", metavar="DIR", help="folder (default: maps)")
    _add_basemap(p)
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("demo", help="write the synthetic demo district")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the bundled one)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("scenario", help="saved scenarios: list, show, compare, delete")
    p.add_argument("action", choices=("list", "show", "compare", "delete"))
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument(
        "--store",
        default=None,
        metavar="PATH|URL",
        help="scenario store: a SQLite file or postgresql://... (default: the user's)",
    )
    p.add_argument(
        "--version",
        dest="scenario_version",
        type=int,
        default=None,
        help="a specific version (show, delete)",
    )
    p.set_defaults(func=cmd_scenario)

    p = sub.add_parser("propose", help="where new stations should go (location models)")
    _add_inputs(p)
    _add_eval_options(p)
    p.add_argument(
        "--model",
        choices=("mclp", "lscp", "pmedian"),
        default="mclp",
        help="mclp: most residents within --radius with --p new stations (default); "
        "lscp: fewest stations covering everyone reachable; pmedian: least walking",
    )
    p.add_argument(
        "--p",
        type=int,
        default=None,
        help="number of new stations (default: 3; not used by --model lscp, which finds the "
        "fewest)",
    )
    p.add_argument(
        "--radius",
        type=float,
        default=None,
        metavar="M",
        help="walking radius in metres (default: the station's service radius, 500 m in the "
        "default profile; above 3,000 m a warning: beyond a plausible walk)",
    )
    p.add_argument(
        "--candidates",
        default="auto",
        metavar="PATH|auto",
        help="candidate sites file, or auto: street intersections and OSM squares/"
        "parks from the roads file (plus the demo's vacant buildings)",
    )
    p.add_argument(
        "--capacity",
        action="store_true",
        help="limit each site to the residents its floor area can serve",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=settings.SOLVER_TIME_LIMIT_S,
        metavar="S",
        help="solver time limit in seconds (default: 60)",
    )
    p.add_argument(
        "--out",
        default="out/propose",
        metavar="DIR",
        help="output folder (default: out/propose)",
    )
    p.set_defaults(func=cmd_propose)

    p = sub.add_parser("plan", help="three-year upgrade plan against the compliance targets")
    _add_inputs(p)
    _add_eval_options(p)
    p.add_argument("--years", type=int, default=3, help="programme years (default: 3)")
    p.add_argument(
        "--targets",
        default=None,
        metavar="T1,T2,...",
        help="compliance target per year (default: the standard's, 0.6,0.8,1.0)",
    )
    p.add_argument(
        "--budget",
        default=None,
        metavar="YUAN[,YUAN...]",
        help="total budget in yuan, or one figure per year (default: no limit)",
    )
    p.add_argument(
        "--start-year",
        type=int,
        default=None,
        help=(
            "calendar year of programme year 1 (default: next year; plans are budgeted the "
            "year before they run)"
        ),
    )
    p.add_argument(
        "--candidates",
        default=None,
        metavar="PATH",
        help="vacant buildings sites may move to (default: the demo's, or none)",
    )
    p.add_argument(
        "--cost-enlarge",
        type=float,
        default=6000.0,
        metavar="YUAN_PER_M2",
        help="extending a site in place (default: 6000)",
    )
    p.add_argument(
        "--cost-fitout",
        type=float,
        default=2500.0,
        metavar="YUAN_PER_M2",
        help="fitting out a vacant building a site moves into (default: 2500)",
    )
    p.add_argument(
        "--cost-new",
        type=float,
        default=8000.0,
        metavar="YUAN_PER_M2",
        help="building a new site, land not included (default: 8000)",
    )
    p.add_argument(
        "--max-enlarge",
        type=float,
        default=1.0,
        metavar="RATIO",
        help="largest addition in place as a share of the present area (default: 1.0, "
        "i.e. a site may at most double; beyond it the site is rebuilt or moved)",
    )
    p.add_argument("--out", default="out/plan", metavar="DIR")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("estate", help="new-estate check: required space, coverage, proposed site")
    _add_inputs(p)
    p.add_argument(
        "--standard",
        default=settings.DEFAULT_STANDARD,
        metavar="NAME|PATH",
        help="standards profile for the required floor area and the station rules: default, "
        "gb50180, or a TOML file (default: default)",
    )
    p.add_argument(
        "--estate",
        default=None,
        metavar="PATH",
        help="the estate polygon (default with the demo: its planned estate)",
    )
    p.add_argument(
        "--households",
        type=float,
        default=None,
        help="planned households (default: the estate file's households field)",
    )
    p.add_argument(
        "--proposed-site",
        default=None,
        metavar="PATH",
        help="the developer's proposed site (a point with floor_area_m2)",
    )
    p.add_argument(
        "--out",
        default="out/estate",
        metavar="DIR",
        help="output folder for estate.json and map.html (default: out/estate)",
    )
    p.set_defaults(func=cmd_estate)
    return parser


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from siting.pipeline import load_inputs, load_network

    t0 = time.perf_counter()
    inputs = load_inputs(
        args.communities,
        args.sites,
        roads=getattr(args, "roads", None),
        coords=args.coords,
        crs=args.crs,
        communities_coords=args.communities_coords,
        sites_coords=args.sites_coords,
    )
    network = load_network(inputs.roads, inputs.communities)
    logger.info(
        "loaded %d communities, %d sites, %s distances in %.1f s",
        len(inputs.communities),
        len(inputs.sites),
        network.kind,
        time.perf_counter() - t0,
    )
    if network.kind == "euclidean":
        msg = "no road network given: distances are straight-line (--roads PATH for walking)"
        warnings.warn(msg, SitingWarning, stacklevel=1)
    return inputs, network


def cmd_evaluate(args: argparse.Namespace) -> int:
    from siting._sideproc import SideProcess

    # started first: its imports overlap loading and evaluating; it writes the workbook
    with SideProcess() as side:
        from siting.pipeline import evaluate_inputs, write_outputs

        inputs, network = _load(args)
        ev = evaluate_inputs(
            inputs, network, standard=args.standard, demand=args.demand, spacing=args.spacing
        )
        paths = write_outputs(
            ev,
            args.out,
            network=network,
            basemap=args.basemap,
            tianditu_key=args.tianditu_key,
            side=side,
        )
    s = ev.summary
    print(
        f"communities {len(inputs.communities)}, {_sites_text(s)}, "
        f"population {s['population_total']:,.0f}"
    )
    print(
        f"coverage {s['coverage_rate']:.1%} ({s['distance_mode']}), "
        f"compliance {s['compliance_rate']:.1%} ({s['sites_compliant']}/{s['sites_total']} "
        "centres and stations)"
    )
    print(f"wrote {', '.join(p.name for p in paths.values())} to {Path(args.out)}")
    if args.save:
        from siting.store import Scenario, Store

        params = {
            "standard": args.standard,
            "demand": args.demand,
            "spacing": args.spacing,
            "coords": args.coords,
            "files": inputs.files,
        }
        sc = Scenario.from_evaluation(
            args.save,
            ev,
            description=args.description,
            parameters=params,
            inputs={"communities": inputs.communities, "sites": inputs.sites},
        )
        with Store.open(args.store) as store:
            version = store.save(sc)
            print(f"saved scenario {args.save!r} version {version} in {store.location}")
    return 0


def _sites_text(s: dict[str, Any]) -> str:
    """``"sites 26 centres and stations (+4 points)"``: what the site count counts (the sites
    with an area standard, those the compliance rate judges), and what else was read."""
    n = int(s["sites_total"])
    points = int(s.get("sites_all_levels", n)) - n
    planned = int(s.get("sites_planned", 0))
    extra = []
    if points:
        extra.append(f"+{points} point{'s' if points != 1 else ''}")
    if planned:
        extra.append(f"+{planned} planned")
    return f"sites {n} centres and stations" + (f" ({', '.join(extra)})" if extra else "")


def cmd_map(args: argparse.Namespace) -> int:
    from siting.maps import district_map, save_map
    from siting.pipeline import evaluate_inputs, service_areas_for_map

    inputs, network = _load(args)
    ev = evaluate_inputs(
        inputs, network, standard=args.standard, demand=args.demand, spacing=args.spacing
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    areas = service_areas_for_map(ev, network, settings.SERVICE_AREA_CUTOFFS_M)
    path = out / "district.html"
    m = district_map(ev, service_areas=areas, basemap=args.basemap, tianditu_key=args.tianditu_key)
    save_map(m, path)
    print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from siting.demo import make_demo

    kw = {} if args.seed is None else {"seed": args.seed}
    paths = make_demo(args.out, **kw)
    print(
        f"wrote the synthetic demo district to {args.out}: "
        + ", ".join(Path(p).name for p in paths.values())
    )
    return 0


def cmd_scenario(args: argparse.Namespace) -> int:
    from siting.store import Store

    store = Store.open(args.store)
    need = {"list": 0, "show": 1, "compare": 2, "delete": 1}[args.action]
    if len(args.names) != need:
        raise InputError.one(
            "",
            "",
            "NAME",
            f"`siting scenario {args.action}` takes {need} name(s), got {len(args.names)}",
            "run `siting scenario list` to see the saved names",
        )
    if args.action == "list":
        table = store.list()
        print(table.to_string(index=False) if len(table) else "no saved scenarios")
    elif args.action == "show":
        sc = store.load(args.names[0], version=args.scenario_version)
        print(
            json.dumps(
                {
                    "name": sc.name,
                    "version": sc.version,
                    "description": sc.description,
                    "parameters": sc.parameters,
                    "summary": sc.summary,
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    elif args.action == "compare":
        table = store.compare(args.names[0], args.names[1])
        table = table.rename(
            columns={"a": table.attrs.get("a", "a"), "b": table.attrs.get("b", "b")}
        )
        print(table.to_string(index=False))
    else:
        n = store.delete(args.names[0], version=args.scenario_version)
        print(f"deleted {n} version(s) of {args.names[0]}")
    return 0


def _floats(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        example = {
            "--targets": "--targets 0.6,0.8,1.0 (shares)",
            "--budget": "--budget 50000000 (one total in yuan; 5千万 = 50000000) "
            "or --budget 2e7,2e7,1e7 (one per year)",
        }.get(option, f"{option} 1,2,3")
        raise InputError.one(
            "",
            "",
            option,
            f"{text!r} is not a list of numbers",
            f"give plain numbers separated by commas, e.g. {example}",
        ) from None


def cmd_propose(args: argparse.Namespace) -> int:
    from siting import io
    from siting.candidates import default_candidates, water_areas
    from siting.maps import proposals_map, save_map
    from siting.pipeline import evaluate_inputs
    from siting.propose import propose, write_proposals

    if args.model == "lscp" and args.p is not None:
        warn(
            f"--p {args.p} is not used by --model lscp: it finds the fewest new stations that "
            "bring every reachable resident within --radius; use --model mclp to place a given "
            "number of stations"
        )
    inputs, network = _load(args)
    ev = evaluate_inputs(
        inputs, network, standard=args.standard, demand=args.demand, spacing=args.spacing
    )
    water = None
    if args.candidates == "auto":
        cands, note = default_candidates(inputs, network)
        if note:
            _progress(note)
    else:
        cands = io.load_candidates(
            args.candidates, coords=args.coords, crs=args.crs, communities=inputs.communities
        )
        water = water_areas(inputs.roads, inputs.communities.crs, demo=inputs.is_demo)
    res = propose(
        ev,
        network,
        cands,
        communities=inputs.communities,
        sites=inputs.sites,
        model=args.model,
        p=3 if args.p is None else args.p,
        radius=args.radius,
        capacity=args.capacity,
        standard=args.standard,
        time_limit=args.time_limit,
        water=water,
        candidates_label="auto" if args.candidates == "auto" else Path(args.candidates).name,
        progress=_progress,  # the count after the screening, not before it
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res.stations.to_crs(4326).to_file(out / "proposals.geojson", driver="GeoJSON")
    write_proposals(res.stations, out, args.coords)
    (out / "summary.json").write_text(
        json.dumps(res.summary, ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8"
    )
    s = res.summary
    status = _status_text(s["status"], s["gap"], args.time_limit)
    title = (
        f"选址建议 {args.model.upper()} · {status[0]} · 半径 {s['radius_m']:,.0f} m / "
        f"Proposed stations: {args.model.upper()}, {status[1]}, radius {s['radius_m']:,.0f} m"
        + (", capacity by floor area" if s["capacity"] else "")
    )
    save_map(proposals_map(ev, res.stations, after=res.after, title=title), out / "map.html")
    print(
        f"{_sites_text(res.before.summary)}: the model keeps the {s['existing_sites_kept']} "
        "existing centres and stations and adds new ones"
    )
    for line in _propose_lines(s, res.stations, status[1]):
        print(line)
    print(
        f"wrote proposals.geojson, proposals.csv, proposals.xlsx, summary.json, map.html to {out}"
    )
    return 0


#: A proven relative gap below this is the solver's numerical noise (HiGHS's default
#: feasibility tolerance is 1e-6; its MIP gap is set to 0): the answer is optimal within
#: tolerance, and a longer time limit would not improve it.
GAP_TOLERANCE = 1e-6


def _gap_text(gap: float) -> str:
    """A relative gap as a percentage with enough digits never to read "0.00%"."""
    if gap >= 1e-4:
        return f"{gap:.2%}"
    return f"{gap * 100:.1g}%"


def _status_text(status: str, gap: float | None, time_limit: float) -> tuple[str, str]:
    """The answer's status, Chinese and English, for the printout and the map's title."""
    if status == "optimal":
        return ("已证明最优", "proven optimal")
    if gap is None:  # no bound known
        return (
            "时限内最好方案,与最优的差距未知",
            f"best within --time-limit {time_limit:g} s, distance to the optimum unknown "
            "(a longer --time-limit may prove it)",
        )
    if gap < GAP_TOLERANCE:
        return (
            f"在求解器容差内最优(差距 {gap:.1g})",
            f"optimal within the solver's tolerance (proven gap {gap:.1g}, below "
            f"{GAP_TOLERANCE:g}; stopped at --time-limit {time_limit:g} s)",
        )
    return (
        f"时限内最好方案,与最优相差不超过 {_gap_text(gap)}",
        f"best within --time-limit {time_limit:g} s, at most {_gap_text(gap)} from the "
        "optimum (a longer --time-limit narrows it)",
    )


def _propose_lines(s: dict[str, Any], stations: Any, status: str, show: int = 20) -> list[str]:
    """What ``siting propose`` prints: the answer's status, coverage at both radii, notes."""
    r = s["radius_m"]
    out = [
        f"{s['model']}: {status}; solved in {s['solve_time_s']:.1f} s",
        "coverage (each site's own service radius"
        + (", ignoring capacity" if s["capacity"] else "")
        + f"): {s['coverage_rate_before']:.1%} -> {s['coverage_rate_after']:.1%} "
        f"({s['distance_mode']})",
        f"within {r:,.0f} m of a station: {s['coverage_rate_within_radius_before']:.1%} -> "
        f"{s['coverage_rate_within_radius_after']:.1%}",
    ]
    if s.get("coverage_rate_after_within_capacity") is not None:
        out.append(
            f"coverage within the new stations' capacity: {s['coverage_rate_before']:.1%} -> "
            f"{s['coverage_rate_after_within_capacity']:.1%}"
        )
    if s.get("mean_walk_m") is not None:
        out.append(f"average walk to the assigned site: {s['mean_walk_m']:,.0f} m")
    reached = s.get("population_reached_by_model")
    if reached is not None:
        out.append(
            f"within {r:,.0f} m (--radius) the new stations reach {reached:,.0f} residents "
            "outside every existing site's reach"
            + (" (within their floor area's capacity)" if s["capacity"] else "")
        )
    if s.get("population_unreachable"):
        out.append(
            f"note: {s['population_unreachable']:,.0f} residents are beyond {r:,.0f} m of every "
            "candidate and stay outside (more candidates or a larger --radius would reach them)"
        )
    asked = s.get("new_stations_asked")
    if asked is not None and s["new_stations"] < asked:
        out.append(
            f"note: {s['new_stations']} of the {asked} stations asked are proposed: more would "
            f"reach no further resident within {r:,.0f} m"
        )
    if not s["capacity"]:
        out.append("note: new stations are evaluated as built to the station standard")
    elif s.get("persons_per_household_source"):
        out.append(
            "capacity: the station standard's m2 per 100 households, households as residents at "
            + s["persons_per_household_source"]
        )
    gain = "within capacity" if s["capacity"] else "newly within each site's radius"
    out.append(f"{len(stations)} new stations, residents gained ({gain}):")
    for row in stations.head(show).itertuples():
        out.append(
            f"  {row.rank}. {row.id} {row.name} [{row.action}] +{row.population_added:,.0f} "
            "residents"
        )
    if len(stations) > show:
        out.append(f"  ... and {len(stations) - show} more (all in proposals.geojson)")
    return out


def cmd_plan(args: argparse.Namespace) -> int:
    from siting import io
    from siting._compliance import default_start_year
    from siting.candidates import water_areas
    from siting.pipeline import demo_paths, evaluate_inputs
    from siting.plan import PlanCosts, check_budget, plan_chart, plan_upgrades, write_plan_xlsx

    targets = _floats(args.targets, "--targets")
    if targets is not None and len(targets) != args.years:
        raise InputError.one(
            "",
            "",
            "--targets",
            f"{len(targets)} targets for {args.years} years",
            "give one target per year, e.g. --targets 0.6,0.8,1.0",
        )
    if targets is None and args.years != 3:
        raise InputError.one(
            "",
            "",
            "--targets",
            f"--years {args.years} needs its own targets",
            "give one target per year with --targets",
        )
    n_years = len(targets) if targets is not None else args.years
    # checked before the evaluation (seconds) rather than after it
    budget = check_budget(_floats(args.budget, "--budget"), n_years)
    this_year = default_start_year() - 1
    if args.start_year is not None and args.start_year < this_year:
        warn(
            f"--start-year {args.start_year} is in the past: the plan schedules upgrades from "
            f"{args.start_year}, before this year ({this_year}); give --start-year {this_year} "
            "or later for a plan still to be carried out"
        )
    inputs, network = _load(args)
    ev = evaluate_inputs(
        inputs, network, standard=args.standard, demand=args.demand, spacing=args.spacing
    )
    cand_path = args.candidates or (demo_paths()["candidates"] if inputs.is_demo else None)
    cands = (
        None
        if cand_path is None
        else io.load_candidates(
            cand_path, coords=args.coords, crs=args.crs, communities=inputs.communities
        )
    )
    # a user's buildings are screened as by `siting propose`: in water or more than 200 m
    # outside the district, they are left out and named in a warning
    water = None
    if args.candidates is not None:
        water = water_areas(inputs.roads, inputs.communities.crs, demo=inputs.is_demo)
    plan = plan_upgrades(
        ev,
        communities=inputs.communities,
        candidates=cands,
        network=network,
        standard=args.standard,
        targets=targets,
        budget=budget,
        costs=PlanCosts(args.cost_enlarge, args.cost_fitout, args.cost_new, args.max_enlarge),
        start_year=args.start_year,
        water=water,
        candidates_label=Path(cand_path).name if cand_path is not None else "candidates",
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plan.actions.to_csv(out / "plan.csv", index=False, encoding="utf-8-sig")
    plan.years.to_csv(out / "plan_years.csv", index=False, encoding="utf-8-sig")
    (out / "plan_notes.txt").write_text("\n\n".join(plan.notes) + "\n", encoding="utf-8")
    write_plan_xlsx(plan, out / "plan.xlsx")
    plan_chart(plan, out / "plan.png", baseline=ev.summary.get("compliance_rate"))
    (out / "summary.json").write_text(
        json.dumps(plan.summary(), ensure_ascii=False, indent=2, default=float, allow_nan=False),
        encoding="utf-8",
    )
    for r in plan.years.itertuples():
        flag = "met" if r.met else f"NOT met ({r.sites_short} sites short)"
        line = (
            f"year {r.year} ({r.calendar_year}): {r.compliance_rate:.0%} vs target "
            f"{r.target_rate:.0%} {flag}; cost {r.cost_yuan:,.0f} yuan"
        )
        if r.scheduled_cost_yuan > 0:
            line += f" (already scheduled {r.scheduled_cost_yuan:,.0f})"
        if r.budget_left_yuan is not None and r.budget_left_yuan == r.budget_left_yuan:
            of = "the total" if r.budget_yuan is None else f"{r.budget_yuan:,.0f}"
            line += f"; budget left of {of}: {r.budget_left_yuan:,.0f}"
        print(line)
    for note in plan.notes:
        print(note)
    if args.start_year is None:
        print(
            f"year 1 is {int(plan.years['calendar_year'].iat[0])} (next year, by default); "
            "give --start-year to change it"
        )
    n_sched = int((plan.actions["action"] == "scheduled").sum())
    print(
        f"{len(plan.actions)} upgrades ({n_sched} already scheduled), total "
        f"{plan.total_cost_yuan:,.0f} yuan; wrote plan.csv, plan_years.csv, plan_notes.txt, "
        f"plan.xlsx, plan.png, summary.json to {out}"
    )
    return 0


def cmd_estate(args: argparse.Namespace) -> int:
    from siting import io
    from siting.estate import check_estate, check_households
    from siting.maps import estate_map, save_map
    from siting.pipeline import demo_paths

    def own_crs(path: Any) -> bool:
        """Whether a GeoPackage or Shapefile carries its own CRS (--crs is only for files that
        carry none; GeoJSON always reports WGS-84, so it counts as carrying none)."""
        import pyogrio

        if path is None or Path(path).suffix.lower() not in (".gpkg", ".shp"):
            return False
        try:
            return pyogrio.read_info(path).get("crs") is not None
        except Exception:  # unreadable: the loader reports it
            return False

    # (main prints warnings as they come, before the results they concern)
    if args.households is not None:  # before the data is read: a typo costs no wait
        check_households(args.households)
    demo = args.communities is None and args.sites is None
    # the district's files keep their own CRS; --crs is meant for the estate's files
    if args.crs is not None and (demo or (own_crs(args.communities) and own_crs(args.sites))):
        inputs, network = _load(argparse.Namespace(**{**vars(args), "crs": None}))
    else:
        inputs, network = _load(args)
    estate_path = args.estate
    proposed_path = args.proposed_site
    if estate_path is None:
        if not inputs.is_demo:
            raise InputError.one(
                "",
                "",
                "--estate",
                "no estate given",
                "give the estate polygon with --estate PATH",
            )
        estate_path = demo_paths()["estate"]
        proposed_path = proposed_path or demo_paths()["estate_site"]
    estate = io.load_estate(
        estate_path, coords=args.coords, crs=args.crs, communities=inputs.communities
    )
    households = args.households
    if households is None:
        hh = estate["households"].iat[0] if "households" in estate else float("nan")
        if not hh == hh:  # NaN
            raise InputError.one(
                str(estate_path),
                "",
                "households",
                "the estate file has no households",
                "give --households N",
            )
        households = float(hh)
    proposed = None
    if proposed_path is not None:
        proposed = io.load_candidates(
            proposed_path, coords=args.coords, crs=args.crs, communities=inputs.communities
        )
    res = check_estate(
        estate,
        households,
        sites=inputs.sites,
        network=network,
        standard=args.standard,
        proposed_site=proposed,
        communities=inputs.communities,
        files={
            "estate": str(estate_path),
            "proposed_site": str(proposed_path),
            "sites": inputs.files.get("sites", "sites"),
            "households": "--households" if args.households is not None else str(estate_path),
        },
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "estate.json").write_text(
        json.dumps(res.as_dict(), ensure_ascii=False, indent=2, default=str, allow_nan=False),
        encoding="utf-8",
    )
    verdict = ("通过 PASS" if res.passed else "不通过 FAIL") if res.passed is not None else None
    save_map(
        estate_map(
            estate,
            sites=inputs.sites,
            proposed_site=proposed,
            suggested_site=res.suggested,
            radius_m=res.radius_m,
            verdict=[verdict or "", *res.reasons],
        ),
        out / "map.html",
    )
    print(
        f"households {res.households:,.0f} (~{res.population:,.0f} residents): required floor "
        f"area {res.required_floor_area_m2:,.0f} m2"
    )
    print(f"  residents estimated at {res.persons_per_household_source}")
    print(
        f"existing stations cover {res.covered_share_existing:.0%} of the estate within "
        f"{res.radius_m:,.0f} m ({res.distance_mode})"
    )
    if verdict:
        print(f"proposed site: {verdict}")
        for zh, en in zip(res.reasons, res.reasons_en, strict=True):
            print(f"  - {zh} / {en}")
    sug = res.suggested.to_crs(4326).geometry.iat[0]
    for line in _location_lines("suggested location", sug.x, sug.y, args.coords):
        print(line)
    for zh, en in zip(res.advice, res.advice_en, strict=True):
        print(f"  - {zh} / {en}")
    print(f"wrote estate.json, map.html to {out}")
    return 0


#: The map apps each coordinate system is the one of, for the printed locations.
_COORDS_LABEL = {
    "wgs84": "WGS-84",
    "cgcs2000": "CGCS2000",
    "gcj02": "GCJ-02, for AMap / Tencent",
    "bd09": "BD-09, for Baidu Maps",
}


def _location_lines(what: str, lon: float, lat: float, coords: str) -> list[str]:
    """A WGS-84 location as printed: labelled WGS-84, and first in the user's own system
    (``--coords``) when that is GCJ-02 or BD-09 (pasted into AMap, WGS-84 is ~500 m off).
    CGCS2000 lon/lat agree with WGS-84 to well under a metre, so one line serves both."""
    from siting.estate import lonlat_text

    wgs = lonlat_text(lon, lat)
    if coords in ("gcj02", "bd09"):
        from siting.coords import wgs84_to_bd09, wgs84_to_gcj02

        conv = wgs84_to_gcj02 if coords == "gcj02" else wgs84_to_bd09
        x, y = conv(lon, lat)
        return [
            f"{what} (lon, lat; {_COORDS_LABEL[coords]}, as your input --coords {coords}): "
            f"{lonlat_text(float(x), float(y))}",
            f"{what} (lon, lat; WGS-84, for GPS and OSM): {wgs}",
        ]
    label = "WGS-84 = CGCS2000 to < 1 m" if coords == "cgcs2000" else "WGS-84"
    return [f"{what} (lon, lat; {label}): {wgs}"]


def _option_error(option: str, value: Any, what: str, fix: str) -> InputError:
    return InputError.one("", "", option, f"{value!r}: {what}", fix)


def check_options(args: argparse.Namespace) -> None:
    """Check the options before any data is read, so a typo costs no waiting.

    Raises
    ------
    InputError
        Listing every bad option.
    """
    problems = []

    def get(name: str) -> Any:
        return getattr(args, name, None)

    positive = {
        "spacing": ("--spacing", "give a grid spacing in metres, e.g. --spacing 100"),
        "time_limit": ("--time-limit", "give the solver's time limit in seconds, e.g. 60"),
        "radius": ("--radius", "give a walking radius in metres, e.g. --radius 500"),
        "households": ("--households", "give the planned households, e.g. --households 2400"),
    }
    for name, (option, fix) in positive.items():
        v = get(name)
        if v is not None and not (v > 0 and v < float("inf")):
            problems += _option_error(option, v, "must be a positive number", fix).problems
    if (
        args.command == "propose"
        and get("model") != "lscp"
        and get("p") is not None
        and get("p") < 1
    ):
        problems += _option_error(
            "--p", get("p"), "number of new stations must be >= 1", "give e.g. --p 3"
        ).problems
    if get("years") is not None and not 1 <= get("years") <= 10:
        problems += _option_error(
            "--years",
            get("years"),
            "must be 1-10",
            "give the programme length in years, e.g. --years 3",
        ).problems
    if get("start_year") is not None and not 1900 <= get("start_year") <= 2200:
        problems += _option_error(
            "--start-year",
            get("start_year"),
            "is not a calendar year",
            "give a four-digit year, e.g. --start-year 2027",
        ).problems
    if get("save") is not None and not str(get("save")).strip():
        problems += _option_error(
            "--save", get("save"), "a scenario needs a name", "give a name, e.g. --save 2026现状"
        ).problems
    for name, option, example in (
        ("cost_enlarge", "--cost-enlarge", "6000 (yuan per m²)"),
        ("cost_fitout", "--cost-fitout", "2500 (yuan per m²)"),
        ("cost_new", "--cost-new", "8000 (yuan per m²)"),
        ("max_enlarge", "--max-enlarge", "1.0 (a site may double)"),
    ):
        v = get(name)
        if v is not None and not (0 <= v < float("inf")):
            problems += _option_error(
                option, v, "must be a number >= 0", f"give e.g. {option} {example}"
            ).problems
    if args.command == "plan":
        try:
            targets = _floats(get("targets"), "--targets")
            _floats(get("budget"), "--budget")
        except InputError as err:
            problems += err.problems
            targets = None
        if targets is not None and (
            any(not 0 <= t <= 1 for t in targets)
            or any(b < a for a, b in itertools.pairwise(targets))
        ):
            problems += _option_error(
                "--targets",
                get("targets"),
                "targets must be shares in 0-1 that do not decrease",
                "give e.g. --targets 0.6,0.8,1.0",
            ).problems
    out = get("out")
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            problems += _option_error(
                "--out", out, "is a file, not a folder", "give a folder for the outputs"
            ).problems
        else:
            try:
                path.mkdir(parents=True, exist_ok=True)
                probe = path / ".siting-write-test"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                problems += _option_error(
                    "--out",
                    out,
                    f"cannot write there ({exc.strerror})",
                    "give a folder you can write to",
                ).problems
    if problems:
        raise InputError(problems)


#: Exit code when stdout is closed early (``siting scenario list | head -1``): 128 + SIGPIPE,
#: what a shell reports for any tool the closed pipe stopped (``set -o pipefail`` sees it).
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 a bug, 141 stdout
    closed before everything was printed).

    A reader that closes stdout early (``| head``) stops the output quietly: the standard
    recipe of the Python docs (signal module, "Note on SIGPIPE"): the rest of stdout goes to
    devnull, so neither a traceback nor "Exception ignored ... BrokenPipeError" at exit.
    """
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here when the output was buffered
    except BrokenPipeError:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from siting.network import snap_warnings_once

    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        """Print a SitingWarning when it happens (before the results it concerns), once."""
        if issubclass(category, SitingWarning):
            text = str(message)
            if text not in seen:
                seen.add(text)
                print(f"warning: {text}", file=sys.stderr, flush=True)
        else:
            logger.debug("library warning: %s", message)

    # one command: each point far from the streets is named once, in the first layer it is in
    with warnings.catch_warnings(), snap_warnings_once():
        warnings.simplefilter("always", SitingWarning)
        warnings.showwarning = show
        try:
            check_options(args)
            code = int(args.func(args))
        except InputError as err:
            for problem in err.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 2
    return code
