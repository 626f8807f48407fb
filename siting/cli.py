"""The ``siting`` command line.

Every subcommand turns a user's bad input (:class:`~siting.InputError`) into ``error: ...``
lines on stderr and exit code 2; repairs and assumptions are printed as ``warning: ...``.
A bug exits 1 with a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from siting import __version__, settings
from siting._errors import InputError, SitingWarning

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
        help="coordinate system of "
        "lon/lat inputs; gcj02 (AMap/Tencent) and bd09 (Baidu) are converted to "
        "WGS-84 (default: wgs84)",
    )
    g.add_argument("--crs", metavar="CRS", help="CRS for files that carry none, e.g. EPSG:4549")


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
    p.add_argument(
        "--basemap",
        default="none",
        choices=("none", "osm"),
        help="map background (default: none, works offline)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("map", help="write the district maps into maps/")
    _add_inputs(p)
    _add_eval_options(p)
    p.add_argument("--out", default="maps", metavar="DIR", help="folder (default: maps)")
    p.add_argument("--basemap", default="none", choices=("none", "osm"))
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

    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


# Subcommands registered by later modules (propose, plan, estate) append to this list.
_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


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
    from siting.pipeline import evaluate_inputs, write_outputs

    inputs, network = _load(args)
    ev = evaluate_inputs(
        inputs, network, standard=args.standard, demand=args.demand, spacing=args.spacing
    )
    paths = write_outputs(ev, args.out, network=network, basemap=args.basemap)
    s = ev.summary
    print(
        f"communities {len(inputs.communities)}, sites {s['sites_total']}, "
        f"population {s['population_total']:,.0f}"
    )
    print(
        f"coverage {s['coverage_rate']:.1%} ({s['distance_mode']}), "
        f"compliance {s['compliance_rate']:.1%} ({s['sites_compliant']}/{s['sites_total']})"
    )
    print(f"wrote {', '.join(p.name for p in paths.values())} to {Path(args.out)}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from siting.maps import district_map, save_map
    from siting.pipeline import evaluate_inputs, service_areas_for_map

    inputs, network = _load(args)
    ev = evaluate_inputs(
        inputs, network, standard=args.standard, demand=args.demand, spacing=args.spacing
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    areas = service_areas_for_map(ev, network)
    path = out / "district.html"
    save_map(district_map(ev, service_areas=areas, basemap=args.basemap), path)
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

    store = Store.open(args.store) if args.store else Store.open()
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
        print(store.compare(args.names[0], args.names[1]).to_string(index=False))
    else:
        store.delete(args.names[0], version=args.scenario_version)
        print(f"deleted {args.names[0]}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 a bug)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SitingWarning)
        try:
            code = int(args.func(args))
        except InputError as err:
            _print_warnings(caught)
            for problem in err.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 2
    _print_warnings(caught)
    return code


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        if issubclass(w.category, SitingWarning):
            text = str(w.message)
            if text not in seen:
                seen.add(text)
                print(f"warning: {text}", file=sys.stderr)
        else:
            logger.debug("library warning: %s", w.message)
