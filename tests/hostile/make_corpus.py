"""A corpus of bad and hostile input files, written into a folder at test time.

Nothing binary is committed: :func:`make_corpus` builds every file (zip slips and bombs, broken
GeoPackages, a GeoJSON polygon with a million vertices, GBK tables, broken OSM and TOML files)
next to a small valid district (three square communities near Shanghai, three sites, a walkable
street grid) so that each case breaks exactly one input of ``siting evaluate``.

Each :class:`Case` says which option carries the bad file, the exit code expected and a regular
expression the ``error: <file>: ...`` (or ``warning: ...``) line must match.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import zipfile
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

#: Three 0.01-degree squares near Shanghai (lon, lat of the lower-left corners).
_SQUARES = (("C1", 121.40, 31.20), ("C2", 121.41, 31.20), ("C3", 121.40, 31.19))


@dataclass(frozen=True)
class Case:
    """One bad input and what ``siting evaluate`` must say about it.

    ``role`` is the option carrying the bad file (``communities``, ``sites``, ``roads`` or
    ``standard``); the other inputs are the valid base files. ``expect`` is a regular
    expression searched in the stderr line that names the file; ``code`` is the exit code
    (2 for a rejected input, 0 for a repaired or assumed one, then the line is a warning).
    ``extra`` holds markers such as ``"noread"`` (skipped when running as root).
    """

    name: str
    role: str
    path: Path
    expect: str
    code: int = 2
    extra: tuple[str, ...] = field(default=())

    @property
    def shown(self) -> str:
        """How the file is named on stderr (roads by their file name, others by the path)."""
        return self.path.name if self.role == "roads" else str(self.path)


@dataclass(frozen=True)
class Base:
    """The valid district every case starts from."""

    communities: Path
    sites: Path
    roads: Path


def square(lon: float, lat: float, d: float = 0.01) -> list[list[float]]:
    """A closed lon/lat ring."""
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def feature(props: dict[str, object], geometry: dict[str, object] | None) -> dict[str, object]:
    """A GeoJSON feature."""
    return {"type": "Feature", "properties": props, "geometry": geometry}


def polygon(ring: list[list[float]]) -> dict[str, object]:
    """A GeoJSON polygon."""
    return {"type": "Polygon", "coordinates": [ring]}


def communities_features() -> list[dict[str, object]]:
    """The three valid communities as GeoJSON features."""
    return [
        feature(
            {"id": cid, "name": f"社区{cid}", "population": 1000 * (k + 1)}, polygon(square(x, y))
        )
        for k, (cid, x, y) in enumerate(_SQUARES)
    ]


def write_geojson(path: Path, features: list[dict[str, object]]) -> Path:
    """Write a FeatureCollection."""
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def write_zip(path: Path, members: dict[str, bytes], *, level: int = 6) -> Path:
    """Write a deflated zip with the given member names (unsafe ones included, on purpose)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


SITES_CSV = "编号,名称,层级,建筑面积,一层面积,经度,纬度\nS1,甲站,站,1200,600,121.405,31.205\nS2,乙点,点,300,100,121.415,31.205\nS3,丙中心,街镇中心,2000,1500,121.405,31.195\n"


def osm_xml(
    nodes: list[tuple[int, float, float]], ways: list[tuple[int, list[int], dict[str, str]]]
) -> str:
    """A minimal OSM XML document."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    out += [f'  <node id="{i}" version="1" lat="{lat}" lon="{lon}"/>' for i, lon, lat in nodes]
    for wid, refs, tags in ways:
        out.append(f'  <way id="{wid}" version="1">')
        out += [f'    <nd ref="{r}"/>' for r in refs]
        out += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        out.append("  </way>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


def grid_osm(
    lon0: float, lat0: float, *, n: int = 5, step: float = 0.005, highway: str = "footway"
) -> str:
    """An n x n street grid from (lon0, lat0), every street tagged ``highway``."""
    nodes = [(1 + i * n + j, lon0 + j * step, lat0 + i * step) for i in range(n) for j in range(n)]
    ways = []
    for i in range(n):
        ways.append((100 + i, [1 + i * n + j for j in range(n)], {"highway": highway}))
        ways.append((200 + i, [1 + j * n + i for j in range(n)], {"highway": highway}))
    return osm_xml(nodes, ways)


def make_base(root: Path) -> Base:
    """Write the valid district into ``root/base``."""
    d = root / "base"
    d.mkdir(parents=True, exist_ok=True)
    comm = write_geojson(d / "communities.geojson", communities_features())
    sites = d / "sites.csv"
    sites.write_text(SITES_CSV, encoding="utf-8")
    roads = d / "roads.osm"
    roads.write_text(grid_osm(121.395, 31.185), encoding="utf-8")
    return Base(comm, sites, roads)


def _shapefile_parts(root: Path, *, encoding: str = "UTF-8") -> dict[str, bytes]:
    """The parts of a valid communities shapefile, by extension."""
    import geopandas as gpd
    from shapely.geometry import shape

    feats = communities_features()
    gdf = gpd.GeoDataFrame(
        [f["properties"] for f in feats],
        geometry=[shape(f["geometry"]) for f in feats],  # type: ignore[arg-type]
        crs="EPSG:4326",
    )
    d = root / "_shp"
    d.mkdir(exist_ok=True)
    gdf.to_file(d / "c.shp", engine="pyogrio", encoding=encoding)
    return {p.suffix: p.read_bytes() for p in d.iterdir()}


def _gpkg(path: Path) -> Path:
    import geopandas as gpd
    from shapely.geometry import shape

    feats = communities_features()
    gdf = gpd.GeoDataFrame(
        [f["properties"] for f in feats],
        geometry=[shape(f["geometry"]) for f in feats],  # type: ignore[arg-type]
        crs="EPSG:4326",
    )
    gdf.to_file(path, engine="pyogrio", driver="GPKG")
    return path


def _xlsx_bomb(path: Path, size: int) -> Path:
    """A real workbook of sites whose sheet XML is padded to ``size`` bytes (a zip bomb)."""
    import pandas as pd

    plain = path.with_name("_plain.xlsx")
    pd.read_csv(StringIO(SITES_CSV)).to_excel(plain, index=False)
    with zipfile.ZipFile(plain) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = members[sheet].replace(b"<sheetData>", b"<sheetData>" + b" " * size, 1)
    plain.unlink()
    return write_zip(path, members, level=9)


def million_vertex_polygon(path: Path, n: int = 1_000_000) -> Path:
    """One community (id ``BIG``) whose boundary is a circle of ``n`` vertices, 1 km across."""
    import numpy as np

    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    ring = np.round(np.column_stack([121.405 + 0.005 * np.cos(t), 31.205 + 0.005 * np.sin(t)]), 7)
    ring = np.vstack([ring, ring[:1]])
    big = feature({"id": "BIG", "population": 5000}, polygon(ring.tolist()))
    return write_geojson(path, [big])


def make_corpus(root: Path) -> tuple[Base, list[Case]]:
    """Write the base district and every bad file under ``root``; return the cases."""
    base = make_base(root)
    d = root / "bad"
    d.mkdir(exist_ok=True)
    cases: list[Case] = []

    def add(name: str, role: str, path: Path, expect: str, **kw: object) -> None:
        cases.append(Case(name, role, path, expect, **kw))  # type: ignore[arg-type]

    shp = _shapefile_parts(root)

    # --- zips ---------------------------------------------------------------------------------
    add(
        "zip slip",
        "communities",
        write_zip(d / "slip.zip", {"c.shp": shp[".shp"], "../../evil.dbf": b"x"}),
        r"member '\.\./\.\./evil\.dbf': climbs out of the folder with '\.\.', which is refused",
    )
    add(
        "zip absolute member",
        "communities",
        write_zip(d / "abs.zip", {"/tmp/evil.shp": b"x"}),
        r"member '/tmp/evil\.shp': is an absolute path",
    )
    add(
        "zip bomb (high ratio)",
        "communities",
        write_zip(d / "bomb.zip", {"c.dbf": bytes(16 * 1024 * 1024)}, level=9),
        r"member 'c\.dbf': compresses [\d,]+ to 1, more than 100 to 1 \(looks like a zip bomb\)",
    )
    add(
        "zip with too many members",
        "communities",
        write_zip(d / "many.zip", {f"f{i}.prj": b"" for i in range(1500)}),
        r"holds 1500 members, more than the limit of 1000",
    )
    add(
        "zip with two shapefiles",
        "communities",
        write_zip(d / "two.zip", {f"{s}{e}": b for s in ("a", "b") for e, b in shp.items()}),
        r"holds several data files: a\.shp, b\.shp",
    )
    add(
        "zip with no shapefile",
        "communities",
        write_zip(d / "noshp.zip", {"readme.txt": b"hi"}),
        r"holds no shapefile \(\.shp\) or other readable file",
    )
    add(
        "zip with .shp but no .dbf",
        "communities",
        write_zip(
            d / "nodbf.zip", {"c.shp": shp[".shp"], "c.shx": shp[".shx"], "c.prj": shp[".prj"]}
        ),
        r"the attribute table c\.dbf is missing",
    )
    add(
        "zip that is not a zip",
        "communities",
        _text(d / "fake.zip", "PK but not really"),
        r"is not a readable zip file",
    )
    add(
        "shapefile .cpg names an unknown encoding",
        "communities",
        write_zip(
            d / "cpg.zip",
            {**{f"c{e}": b for e, b in shp.items() if e != ".cpg"}, "c.cpg": b"KLINGON-9"},
        ),
        r"warning: .*cpg\.zip: c\.cpg names an unknown encoding 'klingon-9'; guessing instead",
        code=0,
    )

    # --- GeoPackage -----------------------------------------------------------------------------
    full = _gpkg(root / "_full.gpkg").read_bytes()
    (d / "truncated.gpkg").write_bytes(full[: len(full) // 3])
    add(
        "truncated GeoPackage", "communities", d / "truncated.gpkg", r"cannot be read as GeoPackage"
    )
    add(
        "GeoPackage that is a renamed text file",
        "communities",
        _text(d / "notes.gpkg", "community list, see attached\n"),
        r"cannot be read as GeoPackage",
    )
    empty_db = d / "emptydb.gpkg"
    sqlite3.connect(empty_db).close()  # a valid, empty SQLite file (0 tables)
    add(
        "GeoPackage that is an empty SQLite database",
        "communities",
        empty_db,
        r"cannot be read as GeoPackage|has no layers",
    )

    # --- GeoJSON ---------------------------------------------------------------------------------
    add(
        "GeoJSON that is not JSON",
        "communities",
        _text(d / "broken.geojson", '{"type": "FeatureColl'),
        r"cannot be read as GeoJSON",
    )
    add(
        "JSON that is not GeoJSON",
        "communities",
        _text(d / "config.json", json.dumps({"name": "x", "values": [1, 2, 3]})),
        r"cannot be read as GeoJSON|has no features|no geometry",
    )
    add(
        "empty FeatureCollection",
        "communities",
        write_geojson(d / "empty_fc.geojson", []),
        r"has no features \(no data rows\)",
    )
    lines = [
        feature(
            {"id": f"L{i}", "population": 10},
            {"type": "LineString", "coordinates": [[121.40, 31.20], [121.41, 31.21 + i / 1000]]},
        )
        for i in range(3)
    ]
    add(
        "wrong geometry type (lines)",
        "communities",
        write_geojson(d / "lines.geojson", lines),
        r"feature 1 \(id=L0\): geometry: geometry is a LineString, expected Polygon or MultiPolygon",
    )
    nulls = communities_features()
    nulls[1] = feature({"id": "C2", "population": 5}, None)
    add(
        "null geometry",
        "communities",
        write_geojson(d / "nullgeom.geojson", nulls),
        r"feature 2 \(id=C2\): geometry: has no geometry",
    )
    far = communities_features()
    far[0] = feature({"id": "C1", "population": 5}, polygon(square(221.40, 131.20)))
    add(
        "coordinates out of range",
        "communities",
        write_geojson(d / "range.geojson", far),
        r"feature 1 \(id=C1\): geometry: lon 221\.4\d*, lat 131\.2\d* are out of range",
    )
    dup = communities_features()
    for f in dup:
        f["properties"] = {**f["properties"], "id": "幸福里社区"}  # type: ignore[dict-item]
    add(
        "duplicate ids with Chinese text",
        "communities",
        write_geojson(d / "dup.geojson", dup),
        r"features 1, 2, 3: id: id '幸福里社区' is used 3 times",
    )
    deep = "[" * 100_000 + "]" * 100_000
    add(
        "GeoJSON nested 100,000 deep",
        "communities",
        _text(d / "deep.geojson", '{"type":"FeatureCollection","features":' + deep + "}"),
        r"cannot be read as GeoJSON \(.*Too many nested",
    )
    bad_pop = communities_features()
    for f, v in zip(bad_pop, ("abc", "1e400", -5), strict=True):
        f["properties"] = {**f["properties"], "population": v}  # type: ignore[dict-item]
    add(
        "GeoJSON with text/overflow/negative population",
        "communities",
        write_geojson(d / "badpop.geojson", bad_pop),
        r"feature 1 \(id=C1\): population: 'abc' is not a number",
    )

    # --- CSV / XLSX --------------------------------------------------------------------------------
    gbk = "编号,名称,层级,建筑面积\nS1,甲站,站,1200\nS2,乙点,点,300\n"
    (d / "gbk_nolonlat.csv").write_bytes(gbk.encode("gbk"))
    add(
        "CSV in GBK without lon/lat columns",
        "sites",
        d / "gbk_nolonlat.csv",
        r"geometry: no geometry and no lon/lat columns \(columns found: '编号', '名称', '层级', '建筑面积'\)",
    )
    swapped = "id,level,floor_area_m2,lon,lat\nS1,station,1200,31.205,121.405\nS2,point,300,31.205,121.415\n"
    add(
        "CSV with lon/lat swapped",
        "sites",
        _text(d / "swapped.csv", swapped),
        r"row 2 \(id=S1\): geometry: lon 31\.205, lat 121\.405 look swapped",
    )
    nan_pop = "id,population,lon,lat\nA,NaN,121.405,31.205\nB,inf,121.415,31.205\nC,1e400,121.405,31.195\nD,-5,121.406,31.206\nE,abc,121.407,31.207\n"
    add(
        "CSV with NaN/inf/1e400/-5/abc populations",
        "communities",
        _text(d / "nanpop.csv", nan_pop),
        r"row 3 \(id=B\): population: 'inf' is not a finite number",
    )
    huge = "id,level,floor_area_m2,ground_floor_area_m2,lon,lat\nS1,station,1e308,1e308,121.405,31.205\n"
    add(
        "huge floor area (1e308)",
        "sites",
        _text(d / "huge.csv", huge),
        r"row 2 \(id=S1\): floor_area_m2: 1e\+308 is above 1e\+06",
    )
    add(
        "Excel file that is actually a CSV",
        "sites",
        _text(d / "sites.xlsx", SITES_CSV),
        r"cannot be read as XLSX",
    )
    add(
        "XLSX that is a zip bomb",
        "sites",
        _xlsx_bomb(d / "bomb.xlsx", 16 * 1024 * 1024),
        r"member 'xl/worksheets/sheet1\.xml': compresses [\d,]+ to 1, more than 100 to 1 \(looks like a zip bomb\)",
    )
    (d / "bom.csv").write_bytes(b"\xef\xbb\xbf" + SITES_CSV.encode("utf-8"))
    add("UTF-8 BOM in the header", "sites", d / "bom.csv", r"warning: .*straight-line", code=0)
    (d / "bom2.csv").write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + SITES_CSV.encode("utf-8"))
    add(
        "two UTF-8 BOMs in the header", "sites", d / "bom2.csv", r"warning: .*straight-line", code=0
    )
    (d / "garbage.csv").write_bytes(bytes(range(256)) * 64)
    add(
        "CSV of binary garbage",
        "sites",
        d / "garbage.csv",
        r"is neither UTF-8 nor GBK text|cannot be read as CSV|required column",
    )
    add(
        "unsupported extension (.kml)",
        "communities",
        _text(d / "c.kml", "<kml/>"),
        r"file type '\.kml' is not supported",
    )
    add(
        "old Excel (.xls)",
        "sites",
        _text(d / "s.xls", "x"),
        r"file type '\.xls' is not supported - save it as \.xlsx",
    )

    # --- roads -------------------------------------------------------------------------------------
    add(
        "roads file that is not OSM",
        "roads",
        _text(d / "roads_text.osm", "these are my roads\n"),
        r"cannot read it as OpenStreetMap data",
    )
    add(
        "empty OSM file",
        "roads",
        _text(d / "empty.osm", osm_xml([], [])),
        r"the file holds no OSM ways",
    )
    add(
        "OSM with no walkable ways",
        "roads",
        _text(d / "motorway.osm", grid_osm(121.395, 31.185, highway="motorway")),
        r"highway: none of its 10 ways is a walkable highway=\* way",
    )
    add(
        "OSM of a different place (Beijing)",
        "roads",
        _text(d / "beijing.osm", grid_osm(116.39, 39.90)),
        r"only 0 of 3 features of communities lie within the road network's extent",
    )
    gz = d / "roads.osm.gz"
    gz.write_bytes(gzip.compress(b"<osm version='0.6'><node id='1' lat='1' lon='1'/>")[:-10])
    add(
        "truncated gzipped OSM",
        "roads",
        gz,
        r"cannot read it as OpenStreetMap data|holds no OSM ways",
    )
    add(
        "GraphML that is not GraphML",
        "roads",
        _text(d / "roads.graphml", "<graphml"),
        r"roads\.graphml: ",
    )

    # --- standards -----------------------------------------------------------------------------------
    add(
        "broken standards TOML",
        "standard",
        _text(d / "bad.toml", 'name = "x"\n[levels.station\n'),
        r"not valid TOML",
    )
    from siting import settings

    default = (Path(settings.__file__).parent / "standards" / "default.toml").read_text(
        encoding="utf-8"
    )
    negative = default.replace(
        "min_floor_area_m2 = { value = 1000.0", "min_floor_area_m2 = { value = -1000.0", 1
    )
    assert negative != default
    add(
        "standards TOML with a negative area",
        "standard",
        _text(d / "negative.toml", negative),
        r"min_floor_area_m2.*-1000|negative|>= 0",
    )

    # --- paths -----------------------------------------------------------------------------------------
    (d / "folder.geojson").mkdir(exist_ok=True)
    add(
        "a directory passed as a file",
        "communities",
        d / "folder.geojson",
        r"is a folder, not a file",
    )
    add("a path that does not exist", "sites", d / "nowhere.csv", r"file not found")
    add(
        "a file with no read permission",
        "communities",
        _noread(d / "secret.geojson"),
        r"cannot be opened \(Permission denied\)",
        extra=("noread",),
    )
    for suffix in (".gpkg", ".geojson", ".json", ".shp", ".zip", ".xlsx"):
        add(f"0-byte {suffix}", "communities", _text(d / f"zero{suffix}", ""), r": \S")
    add("0-byte .csv", "sites", _text(d / "zero.csv", ""), r"is empty")
    add("0-byte .osm", "roads", _text(d / "zero.osm", ""), r"the road file is empty")
    add("0-byte .toml", "standard", _text(d / "zero.toml", ""), r": \S")
    return base, cases


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _noread(path: Path) -> Path:
    write_geojson(path, communities_features())
    path.chmod(0)
    return path
