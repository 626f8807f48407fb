"""Hints that name what is wrong with a whole file and the option that fixes it: a wrong or
forgotten --coords / --sites-coords, a wrong --crs, a title row above a table's header, a total
row (合计), lon/lat swapped or projected numbers labelled as degrees in every row.

All fixtures are hand-made here. The grid of communities: 3 x 3 cells of 0.004 degree from
lon 121.40, lat 31.20 (about 380 m x 445 m each), one site in the middle of each cell. Near
Shanghai GCJ-02 moves a point by about +0.0047 lon, -0.0019 lat, BD-09 by about +0.0112 lon,
+0.0042 lat: either puts every site in another cell or outside the grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from siting import coords, pipeline
from siting import io as sio
from siting._errors import InputError, SitingWarning

STEP = 0.004
LON0, LAT0 = 121.40, 31.20


def grid_communities() -> gpd.GeoDataFrame:
    cells = [(r, c) for r in range(3) for c in range(3)]
    return gpd.GeoDataFrame(
        {"id": [f"C{r}{c}" for r, c in cells], "population": 1000},
        geometry=[
            box(LON0 + c * STEP, LAT0 + r * STEP, LON0 + (c + 1) * STEP, LAT0 + (r + 1) * STEP)
            for r, c in cells
        ],
        crs="EPSG:4326",
    )


def grid_sites(system: str = "wgs84") -> pd.DataFrame:
    """One site in the middle of each cell, its coordinates as ``system`` would give them."""
    cells = [(r, c) for r in range(3) for c in range(3)]
    lon = np.array([LON0 + (c + 0.5) * STEP for r, c in cells])
    lat = np.array([LAT0 + (r + 0.5) * STEP for r, c in cells])
    if system == "gcj02":
        lon, lat = coords.wgs84_to_gcj02(lon, lat)
    elif system == "bd09":
        lon, lat = coords.wgs84_to_bd09(lon, lat)
    return pd.DataFrame(
        {
            "id": [f"S{r}{c}" for r, c in cells],
            "level": "station",
            "floor_area_m2": 600,
            "community_id": [f"C{r}{c}" for r, c in cells],
            "lon": lon,
            "lat": lat,
        }
    )


def messages(caught: Iterable[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, SitingWarning)]


def load_sites_warnings(
    table: pd.DataFrame, **kwargs: object
) -> tuple[gpd.GeoDataFrame, list[str]]:
    comm = sio.load_communities(grid_communities())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sites = sio.load_sites(table, communities=comm, name="s.csv", **kwargs)  # type: ignore[arg-type]
    return sites, messages(caught)


def mismatch(said: list[str]) -> str:
    found = [m for m in said if "lie in another community than their community_id" in m]
    assert len(found) == 1, said
    return found[0]


# --- 1, 2: --coords in every direction ------------------------------------------------------------


def test_the_grid_fixture_puts_every_shifted_site_elsewhere() -> None:
    # the premise of the tests below, checked by hand: read as given, shifted sites are wrong
    comm = grid_communities()
    for system in ("gcj02", "bd09"):
        t = grid_sites(system)
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(t.lon, t.lat), crs=4326)
        joined = gpd.sjoin(pts, comm, how="left")
        assert (joined["id"].fillna("").to_numpy() != t["community_id"].to_numpy()).all()


def test_right_coords_say_nothing() -> None:
    for system in ("wgs84", "gcj02", "bd09"):
        sites, said = load_sites_warnings(grid_sites(system), coords=system)
        assert said == [], (system, said)
        assert list(sites["community_id"]) == list(grid_sites()["community_id"])


def test_wrong_gcj02_on_wgs84_sites_says_drop_it() -> None:
    # the data are WGS-84, --sites-coords gcj02 shifts them by ~500 m into the next cells
    _, said = load_sites_warnings(grid_sites("wgs84"), coords="gcj02")
    m = mismatch(said)
    assert m.startswith("s.csv: community_id: 9 of 9 sites lie in another community")
    assert "read as given, without a shift, only 0 would" in m
    assert "drop --coords gcj02 / --sites-coords gcj02" in m and "--sites-coords wgs84" in m


def test_wrong_bd09_on_wgs84_sites_says_drop_it() -> None:
    _, said = load_sites_warnings(grid_sites("wgs84"), coords="bd09")
    m = mismatch(said)
    assert "are not Baidu (BD-09)" in m and "drop --coords bd09 / --sites-coords bd09" in m


def test_forgotten_bd09_is_named() -> None:
    _, said = load_sites_warnings(grid_sites("bd09"))
    m = mismatch(said)
    assert "read as BD-09 only 0 would" in m
    assert "look like Baidu (BD-09): run again with --coords bd09" in m
    assert "--sites-coords bd09" in m and "gcj02" not in m


def test_bd09_given_as_gcj02_names_bd09() -> None:
    _, said = load_sites_warnings(grid_sites("bd09"), coords="gcj02")
    m = mismatch(said)
    assert "look like Baidu (BD-09) (not AMap/Tencent (GCJ-02)): run again with --coords bd09" in m


def test_forgotten_gcj02_is_still_named() -> None:
    _, said = load_sites_warnings(grid_sites("gcj02"))
    m = mismatch(said)
    assert "look like AMap/Tencent (GCJ-02): run again with --coords gcj02" in m


def test_projected_sites_get_no_coords_hint() -> None:
    # survey data in CGCS2000 Gauss-Kruger is never in AMap/Baidu offsets: no --coords advice
    t = grid_sites("gcj02")
    pts = gpd.GeoDataFrame(
        t.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(t.lon, t.lat), crs=4326
    ).to_crs("EPSG:4549")
    _, said = load_sites_warnings(pts)
    m = mismatch(said)
    assert m.endswith("(check their coordinates, --coords and --crs)")


# --- 3, 4: --crs ----------------------------------------------------------------------------------


def test_wrong_crs_over_a_right_geographic_file_says_drop_it() -> None:
    with pytest.raises(InputError) as err:
        sio.load_communities(grid_communities(), crs="EPSG:4549", name="c.gpkg")
    (p,) = err.value.problems
    text = str(p)
    assert text.startswith("c.gpkg: crs: --crs EPSG:4549")
    assert "but the file's own CRS EPSG:4326 (WGS 84) does" in text
    assert "drop --crs" in text and "--crs EPSG:4326" in text
    assert "fix the .prj" not in text


def test_wrong_geographic_crs_over_a_right_projected_file_says_drop_it() -> None:
    gk = grid_communities().to_crs("EPSG:4549")
    with pytest.raises(InputError) as err:
        sio.load_communities(gk, crs="EPSG:4326", name="c.gpkg")
    (p,) = err.value.problems
    assert "drop --crs" in str(p) and "own CRS EPSG:4549" in str(p)


def test_crs_option_on_degrees_without_crs_names_the_option() -> None:
    plain = grid_communities().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r"--crs says EPSG:4549 .* look like lon/lat degrees"):
        sio.load_communities(plain, crs="EPSG:4549")


def roads_file(folder: Path) -> Path:
    """A 5 x 5 footway grid over the communities' area."""
    n, step = 5, 0.003
    nodes = [(1 + i * n + j, LON0 + j * step, LAT0 + i * step) for i in range(n) for j in range(n)]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [f'<node id="{k}" version="1" lat="{lat}" lon="{lon}"/>' for k, lon, lat in nodes]
    for i in range(n):
        for wid, refs in ((100 + i, [1 + i * n + j for j in range(n)]),
                          (200 + i, [1 + j * n + i for j in range(n)])):  # fmt: skip
            lines.append(f'<way id="{wid}" version="1">')
            lines += [f'<nd ref="{r}"/>' for r in refs]
            lines.append('<tag k="highway" v="footway"/></way>')
    lines.append("</osm>")
    path = folder / "roads.osm"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_wrong_crs_is_named_before_the_road_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    # a shapefile in EPSG:4549 that lost its .prj, read with the neighbouring zone's --crs
    noprj = grid_communities().to_crs("EPSG:4549").set_crs(None, allow_override=True)
    comm = sio.load_communities(noprj, crs="EPSG:4547", name="c.shp")
    with pytest.raises(InputError) as err:
        pipeline.load_network(str(roads_file(tmp_path)), comm)
    (p,) = err.value.problems
    text = str(p)
    assert text.startswith("c.shp: crs: only 0 of 9 features lie within the extent of")
    assert "when read in EPSG:4547" in text and "(from --crs)" in text
    assert "may be in another CRS - check --crs first: read in EPSG:4549, 9 of 9 would" in text
    # the road file is named as the second thing to check only
    assert text.index("--crs") < text.index("use a road file")
    # with the right CRS the same roads are fine
    right = sio.load_communities(noprj, crs="EPSG:4549", name="c.shp")
    assert pipeline.load_network(str(roads_file(tmp_path)), right) is not None


def test_far_roads_with_the_files_own_crs_still_blame_the_roads(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    moved = grid_communities().translate(xoff=-5.0)  # 500 km west, its own CRS
    comm = sio.load_communities(gpd.GeoDataFrame({"id": [f"C{i}" for i in range(9)],
                                                  "population": 1}, geometry=moved))  # fmt: skip
    with pytest.raises(InputError, match="use a road file that covers") as err:
        pipeline.load_network(str(roads_file(tmp_path)), comm)
    assert "--crs" not in str(err.value)


def test_sites_outside_communities_read_with_crs_name_crs() -> None:
    noprj = grid_communities().to_crs("EPSG:4549").set_crs(None, allow_override=True)
    comm = sio.load_communities(noprj, crs="EPSG:4547", name="c.shp")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sio.load_sites(grid_sites(), communities=comm, name="s.csv")
    outside = [m for m in messages(caught) if "lie outside every community" in m]
    assert len(outside) == 1
    assert "the communities' CRS EPSG:4547" in outside[0] and "check --crs first" in outside[0]


# --- 5: title rows and total rows ---------------------------------------------------------------

HEADER = "编号,层级,建筑面积,经度,纬度"
ROWS = ["S1,站,600,121.402,31.202", "S2,点,abc,121.406,31.202", "S3,站,800,121.402,31.206"]


def test_csv_header_below_a_title_row_is_found(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join(["黄浦区党群服务站点一览表（2026年）,,,,", HEADER, *ROWS]) + "\n",
                    encoding="utf-8")  # fmt: skip
    with pytest.warns(SitingWarning) as caught, pytest.raises(InputError) as err:
        sio.load_sites(path, name="s.csv")
    said = messages(caught)
    assert any(
        m.startswith(
            "s.csv: row 2: the header is in row 2, below the title '黄浦区党群服务站点一览表（2026年）'"
        )
        and "delete the title row" in m
        for m in said
    ), said
    # the rows are numbered as in the spreadsheet: S2 is in row 4
    (p,) = err.value.problems
    assert str(p).startswith("s.csv: row 4 (id=S2): floor_area_m2: 'abc' is not a number")


def test_csv_title_without_separators_and_a_blank_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join(["站点一览表", "", HEADER, ROWS[0], ROWS[2]]) + "\n", encoding="gbk")
    with pytest.warns(SitingWarning, match=r"row 3: the header is in row 3.*rows 1-2 are skipped"):
        sites = sio.load_sites(path)
    assert list(sites["id"]) == ["S1", "S3"]


def test_xlsx_header_below_a_title_row_and_total_row(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["黄浦区党群服务站点一览表（2026年）"])
    ws.append(HEADER.split(","))
    for row in (ROWS[0], ROWS[2]):
        cells = row.split(",")
        ws.append([cells[0], cells[1], float(cells[2]), float(cells[3]), float(cells[4])])
    ws.append(["合 计", None, 1400, None, None])
    path = tmp_path / "s.xlsx"
    wb.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sites = sio.load_sites(path, name="s.xlsx")
    said = messages(caught)
    assert list(sites["id"]) == ["S1", "S3"]
    assert list(sites["floor_area_m2"]) == [600, 800]
    assert any(m.startswith("s.xlsx: row 2: the header is in row 2") for m in said), said
    assert any(
        m.startswith("s.xlsx: row 5: '合计' marks a total row, not a feature; it is left out")
        for m in said
    ), said


def test_csv_total_row_is_left_out_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join([HEADER, ROWS[0], ROWS[2], "合计,,1400,,"]) + "\n", encoding="gbk")
    with pytest.warns(SitingWarning, match=r"s\.csv: row 4: '合计' marks a total row"):
        sites = sio.load_sites(path, name="s.csv")
    assert list(sites["id"]) == ["S1", "S3"]


def test_read_table_keeps_title_and_total_rows(tmp_path: Path) -> None:
    # read_table returns the file as it is: no header search, nothing left out
    path = tmp_path / "s.csv"
    path.write_text("\n".join(["一览表,,,,", HEADER, ROWS[0], "合计,,600,,"]) + "\n")
    frame = sio.read_table(path)
    assert frame.columns[0] == "一览表" and len(frame) == 3


def test_a_title_free_table_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("\n".join([HEADER, ROWS[0], ROWS[2]]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        sites = sio.load_sites(path)
    assert list(sites["id"]) == ["S1", "S3"]


# --- 6: one line for a problem of the whole file -------------------------------------------------


def test_swapped_lonlat_in_every_row_is_one_line() -> None:
    t = grid_sites().rename(columns={"lon": "lat", "lat": "lon"})
    with pytest.raises(InputError) as err:
        sio.load_sites(t, name="s.csv")
    (p,) = err.value.problems
    text = str(p)
    assert text.startswith("s.csv: geometry: lon and lat look swapped in all 9 rows")
    assert text.endswith("- swap the longitude and latitude columns (x is the longitude)")
    # three rows as examples, not more
    assert "row 1 (id=S00): lon 31.202, lat 121.402" in text and "row 3 (id=S02)" in text
    assert "row 4 " not in text


def test_swapped_in_most_rows_says_how_many() -> None:
    t = grid_sites()
    swapped = t.copy()
    swapped.loc[1:, ["lon", "lat"]] = t.loc[1:, ["lat", "lon"]].to_numpy()
    with pytest.raises(InputError) as err:
        sio.load_sites(swapped)
    (p,) = err.value.problems
    assert "lon and lat look swapped in 8 of 9 rows" in p.what


def test_projected_numbers_labelled_as_degrees_are_one_line(tmp_path: Path) -> None:
    wrong = grid_communities().to_crs("EPSG:4549").set_crs("EPSG:4326", allow_override=True)
    wrong.to_file(tmp_path / "c.gpkg", engine="pyogrio")
    with pytest.raises(InputError) as err:
        sio.load_communities(tmp_path / "c.gpkg", name="c.gpkg")
    (p,) = err.value.problems
    text = str(p)
    assert text.startswith(
        "c.gpkg: geometry: the coordinates of all 9 features are out of range for degrees"
    )
    assert (
        "the file says its CRS is EPSG:4326 (WGS 84), but the numbers look like projected" in text
    )
    assert "give their CRS with --crs" in text
    assert text.count("feature ") == 3


def test_a_few_bad_rows_are_still_named_one_by_one() -> None:
    t = grid_sites()
    t.loc[[0, 1], ["lon", "lat"]] = t.loc[[0, 1], ["lat", "lon"]].to_numpy()
    with pytest.raises(InputError) as err:
        sio.load_sites(t)
    assert [p.where for p in err.value.problems] == ["row 1 (id=S00)", "row 2 (id=S01)"]


def test_metres_in_lonlat_columns_say_rename_them() -> None:
    # --crs does not apply to columns named 经度/纬度 (degrees by their name): say so
    gk = gpd.GeoSeries(gpd.points_from_xy(grid_sites().lon, grid_sites().lat), crs=4326)
    gk = gk.to_crs("EPSG:4549")
    t = grid_sites().assign(lon=gk.x, lat=gk.y).rename(columns={"lon": "经度", "lat": "纬度"})
    with pytest.raises(InputError) as err:
        sio.load_sites(t, name="s.csv", crs="EPSG:4549")
    (p,) = err.value.problems
    assert p.what.startswith("the coordinates of all 9 rows are out of range for degrees")
    assert p.fix.startswith("the columns '经度' and '纬度' hold projected metres, not degrees: "
                            "rename them to x and y and give their CRS with --crs")  # fmt: skip
    renamed = t.rename(columns={"经度": "x", "纬度": "y"})
    back = sio.load_sites(renamed, crs="EPSG:4549").to_crs(4326)
    assert np.allclose(back.geometry.x, grid_sites().lon) and np.allclose(
        back.geometry.y, grid_sites().lat
    )


def test_communities_in_gcj02_with_wgs84_sites_name_communities_coords() -> None:
    # boundaries digitised on AMap (GCJ-02), sites from GPS (WGS-84)
    def shifted(g: Polygon) -> Polygon:  # each cell's corners as AMap gives them
        (x0, x1), (y0, y1) = coords.wgs84_to_gcj02(g.bounds[0::2], g.bounds[1::2])
        return box(x0, y0, x1, y1)

    comm_gcj = grid_communities()
    comm_gcj = comm_gcj.set_geometry(comm_gcj.geometry.map(shifted))
    comm = sio.load_communities(comm_gcj)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sio.load_sites(grid_sites(), communities=comm, name="s.csv")
    m = mismatch(messages(caught))
    assert "with the communities read as GCJ-02 only 0 would" in m
    assert m.endswith("run again with --communities-coords gcj02")
    # and with --communities-coords gcj02 every site is in its own community, nothing said
    right = sio.load_communities(comm_gcj, coords="gcj02")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        sites = sio.load_sites(grid_sites(), communities=right)
    assert list(sites["community_id"]) == list(grid_sites()["community_id"])


def test_coordinates_off_the_earth_in_every_row_are_one_line() -> None:
    far = gpd.GeoDataFrame(
        {"id": [f"S{i}" for i in range(6)], "level": "站", "floor_area_m2": 1},
        geometry=gpd.points_from_xy([1e12 + i for i in range(6)], [1e12] * 6),
        crs="EPSG:4549",
    )
    with pytest.raises(InputError) as err:
        sio.load_sites(far, name="s.gpkg")
    (p,) = err.value.problems
    assert p.where == "" and p.what.startswith(
        "the coordinates of all 6 rows cannot be placed on the earth with CRS EPSG:4549"
    )
    assert p.what.count("(id=S") == 3
    # one such row among good ones is named by itself
    one = far.copy()
    one.geometry = gpd.points_from_xy(
        [1e12] + [640000.0 + i for i in range(5)], [1e12] + [3456000.0] * 5
    )
    with pytest.raises(InputError) as err:
        sio.load_sites(one, name="s.gpkg")
    assert [p.where for p in err.value.problems] == ["row 1 (id=S0)"]
