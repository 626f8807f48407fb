"""Readers, loaders and every validation rule as a user meets it (fixtures made in tmp_path)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, box

from siting import coords, schema
from siting import io as sio
from siting._errors import InputError, SitingWarning

COMMUNITY_COLUMNS = [
    "id",
    "name",
    "kind",
    "street",
    "population",
    "households",
    "party_members",
    "geometry",
]
SITE_COLUMNS = [
    "id", "name", "level", "floor_area_m2", "ground_floor_area_m2", "community_id", "status",
    "upgrade_year", "geometry",
]  # fmt: skip


def write_shp(gdf: gpd.GeoDataFrame, folder: Path, *, encoding: str, cpg: str | None) -> Path:
    """A shapefile written with ``encoding``; ``cpg`` is the .cpg content (None: no .cpg)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "communities.shp"
    gdf.to_file(path, engine="pyogrio", encoding=encoding)
    (folder / "communities.cpg").unlink(missing_ok=True)
    if cpg is not None:
        (folder / "communities.cpg").write_text(cpg)
    return path


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"data/{f.name}")
    return out


def assert_communities(gdf: gpd.GeoDataFrame) -> None:
    assert list(gdf.columns) == COMMUNITY_COLUMNS
    assert gdf.crs.to_epsg() == 32651  # UTM 51N for Shanghai
    assert list(gdf["id"]) == ["C1", "C2", "C3"]
    assert list(gdf["name"]) == ["东社区", "西村", "南居委"]
    assert list(gdf["kind"]) == ["residential", "village", "urban_village"]
    assert list(gdf["street"]) == ["甲街道", "甲街道", "乙镇"]
    assert gdf["population"].dtype == np.float64 and list(gdf["population"]) == [3000, 1200, 800]
    assert gdf["party_members"].isna().all()
    # a 0.01 x 0.01 degree square at 31.2N is about 952 m x 1109 m
    assert np.allclose(gdf.area, 952 * 1109, rtol=0.01)


# --- every reader -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_gpkg_and_geojson(tmp_path, communities_lonlat, suffix):
    path = tmp_path / f"communities{suffix}"
    communities_lonlat.to_file(path)
    assert_communities(sio.load_communities(path))


@pytest.mark.parametrize(
    ("encoding", "cpg", "warned"),
    [("UTF-8", "UTF-8", None), ("GBK", "GBK", None), ("GBK", "936", None), ("GBK", None, "GBK"),
     ("GB18030", None, "GBK"), ("GBK", "UTF-8", "GBK")],
)  # fmt: skip
def test_zipped_shapefile_encodings(tmp_path, communities_lonlat, encoding, cpg, warned):
    write_shp(communities_lonlat, tmp_path / "shp", encoding=encoding, cpg=cpg)
    path = zip_folder(tmp_path / "shp", tmp_path / "communities.zip")
    if warned:
        with pytest.warns(SitingWarning, match=f"not valid .*read it as {warned}"):
            gdf = sio.load_communities(path)
    else:
        gdf = sio.load_communities(path)
    assert_communities(gdf)


def test_zip_temp_folder_is_removed(tmp_path, communities_lonlat, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    write_shp(communities_lonlat, tmp_path / "shp", encoding="UTF-8", cpg="UTF-8")
    sio.load_communities(zip_folder(tmp_path / "shp", tmp_path / "c.zip"))
    assert list((tmp_path / "tmp").iterdir()) == []


def test_csv_gbk_and_utf8_sig(tmp_path, sites_table, communities_lonlat):
    communities = sio.load_communities(communities_lonlat, name="c.gpkg")
    for encoding in ("gbk", "utf-8-sig", "utf-8"):
        path = tmp_path / f"sites-{encoding}.csv"
        sites_table.to_csv(path, index=False, encoding=encoding)
        with pytest.warns(SitingWarning, match=r"1 site\(s\) lie outside every community: S3"):
            sites = sio.load_sites(path, communities=communities)
        assert list(sites.columns) == SITE_COLUMNS
        assert list(sites["level"]) == ["station", "point", "street_center"]
        assert list(sites["floor_area_m2"]) == [1200, 300, 2000]  # "1,200" and "300㎡"
        assert list(sites["community_id"]) == ["C1", "C2", ""]
        assert list(sites["status"]) == ["existing"] * 3
        assert sites["upgrade_year"].isna().all()
        assert sites.crs == communities.crs


def test_xlsx_with_chinese_headers_and_title_free_sheet(tmp_path, sites_table):
    path = tmp_path / "sites.xlsx"
    table = sites_table.assign(状态=["现状", "规划", ""], 提升年份=[2026, None, 2027])
    with pd.ExcelWriter(path) as writer:
        table.to_excel(writer, sheet_name="站点", index=False)
        table.head(1).to_excel(writer, sheet_name="other", index=False)
    sites = sio.load_sites(path)
    assert list(sites["status"]) == ["existing", "planned", "existing"]
    assert sites["upgrade_year"].tolist()[::2] == [2026, 2027] and np.isnan(
        sites["upgrade_year"][1]
    )
    assert len(sio.load_sites(path, layer="other")) == 1
    with pytest.raises(InputError, match=r"no sheet 'x' \(sheets: 站点, other\)"):
        sio.load_sites(path, layer="x")


def test_in_memory_frames_and_uploads(tmp_path, communities_lonlat, sites_table):
    assert_communities(sio.load_communities(communities_lonlat))
    sites = sio.load_sites(sites_table, name="upload.csv")
    assert list(sites["id"]) == ["S1", "S2", "S3"]
    buf = io.BytesIO(sites_table.to_csv(index=False).encode("gbk"))
    buf.name = "站点.csv"
    assert list(sio.load_sites(buf)["id"]) == ["S1", "S2", "S3"]
    raw = io.BytesIO(b"not a geopackage")
    raw.name = "evil.gpkg"
    with pytest.raises(InputError, match=r"^evil\.gpkg: cannot be read as GeoPackage"):
        sio.load_communities(raw)


def test_read_table_keeps_raw_values(tmp_path, sites_table):
    path = tmp_path / "s.csv"
    sites_table.to_csv(path, index=False)
    table = sio.read_table(path)
    assert isinstance(table, gpd.GeoDataFrame) and table.crs is None
    assert table["建筑面积"].tolist() == ["1,200", "300㎡", "2000"]
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n")
    assert not isinstance(sio.read_table(plain), gpd.GeoDataFrame)


def test_gcj02_and_bd09_inputs_are_converted(communities_lonlat, sites_table):
    wgs = sio.load_sites(sites_table)
    lon, lat = coords.wgs84_to_gcj02(sites_table["经度"].to_numpy(), sites_table["纬度"].to_numpy())
    gcj = sio.load_sites(sites_table.assign(经度=lon, 纬度=lat), coords="gcj02")
    assert np.all(wgs.distance(gcj) < 0.01)  # metres, in UTM
    assert np.all(wgs.distance(sio.load_sites(sites_table, coords="gcj02")) > 100)
    lon, lat = coords.wgs84_to_bd09(sites_table["经度"].to_numpy(), sites_table["纬度"].to_numpy())
    assert np.all(
        wgs.distance(sio.load_sites(sites_table.assign(经度=lon, 纬度=lat), coords="bd09")) < 0.01
    )
    polys = communities_lonlat.copy()
    polys.geometry = coords.convert_geometries(polys.geometry, "wgs84")
    back = sio.load_communities(polys.to_crs(3857), coords="gcj02")  # projected GCJ data
    assert back.crs.to_epsg() == 32651 and len(back) == 3


def test_cgcs2000_projected_input_keeps_its_crs(tmp_path, communities_lonlat):
    path = tmp_path / "gk.gpkg"
    communities_lonlat.to_crs("EPSG:4549").to_file(path)
    gdf = sio.load_communities(path, coords="cgcs2000")
    assert gdf.crs.to_epsg() == 4549
    sites = sio.load_sites(pd.DataFrame({"id": ["S"], "level": ["站"], "floor_area_m2": [600], "lon": [121.405],
                                         "lat": [31.205]}), communities=gdf)  # fmt: skip
    assert sites.crs.to_epsg() == 4549 and sites["community_id"][0] == "C1"


def test_no_crs_lonlat_is_assumed_with_warning(communities_lonlat):
    with pytest.warns(
        SitingWarning, match="no CRS given; the coordinates look like lon/lat, so EPSG:4326"
    ):
        gdf = sio.load_communities(communities_lonlat.set_crs(None, allow_override=True))
    assert gdf.crs.to_epsg() == 32651


def test_no_crs_metres_needs_crs_and_crs_option_works(communities_lonlat):
    metres = communities_lonlat.to_crs("EPSG:4527").set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r"no CRS, and the coordinates .* are not lon/lat degrees - give the CRS "
                       r"with --crs \(x starts with zone 39, so probably EPSG:4527"):  # fmt: skip
        sio.load_communities(metres)
    assert sio.load_communities(metres, crs="EPSG:4527").crs.to_epsg() == 4527
    with pytest.raises(InputError, match=r"^--crs: crs: unknown CRS 'EPSG:999999'"):
        sio.load_communities(metres, crs="EPSG:999999")


def test_explicit_crs_overriding_the_file_warns(communities_lonlat):
    with pytest.warns(
        SitingWarning,
        match="the file says its CRS is EPSG:4326 .WGS 84.; using EPSG:4490 .China Geodetic",
    ):
        sio.load_communities(communities_lonlat, crs="EPSG:4490")


def test_metric_crs_with_degree_numbers_is_an_error(communities_lonlat):
    wrong = communities_lonlat.set_crs("EPSG:4549", allow_override=True)
    with pytest.raises(
        InputError, match=r"the CRS is .* \(metres\) but the coordinates look like lon/lat"
    ):
        sio.load_communities(wrong)


def test_estate_and_candidates(communities_lonlat):
    estate = communities_lonlat.head(1)
    out = sio.load_estate(estate)
    assert list(out.columns) == ["id", "name", "population", "households", "geometry"]
    assert out["id"][0] == "C1" and out["population"][0] == 3000
    bare = gpd.GeoDataFrame(geometry=[box(121.4, 31.2, 121.41, 31.21)], crs=4326)
    assert sio.load_estate(bare)["id"][0] == "estate"
    with pytest.raises(InputError, match="geometry: holds 3 features, expected one estate polygon"):
        sio.load_estate(communities_lonlat)
    cands = pd.DataFrame({"编号": ["K1", "K2"], "来源": ["vacant", ""], "面积": [800, None], "lon": [121.405, 121.41],
                          "lat": [31.205, 31.2]})  # fmt: skip
    out = sio.load_candidates(cands)
    assert list(out.columns) == [
        "id",
        "name",
        "source",
        "floor_area_m2",
        "ground_floor_area_m2",
        "geometry",
    ]
    assert list(out["source"]) == ["vacant", "file"] and np.isnan(out["floor_area_m2"][1])


def test_single_part_multipoints_are_points():
    gdf = gpd.GeoDataFrame({"id": ["S1"], "level": ["点"], "floor_area_m2": [50]},
                           geometry=[MultiPoint([(121.4, 31.2)])], crs=4326)  # fmt: skip
    assert sio.load_sites(gdf).geom_type.tolist() == ["Point"]


# --- every validation rule ---------------------------------------------------------------------


def test_missing_file_folder_and_unsupported_types(tmp_path):
    with pytest.raises(InputError, match=r"nope.gpkg: file not found - check the path"):
        sio.load_communities(tmp_path / "nope.gpkg")
    with pytest.raises(InputError, match="is a folder, not a file"):
        sio.load_communities(tmp_path)
    (tmp_path / "a.xls").write_bytes(b"x")
    with pytest.raises(InputError, match=r"file type '.xls' is not supported - save it as .xlsx"):
        sio.load_communities(tmp_path / "a.xls")
    (tmp_path / "a.dbf").write_bytes(b"x")
    with pytest.raises(InputError, match=r"give the .shp file"):
        sio.load_communities(tmp_path / "a.dbf")


def test_unreadable_and_empty_files(tmp_path, communities_lonlat):
    good = tmp_path / "c.gpkg"
    communities_lonlat.to_file(good)
    (tmp_path / "cut.gpkg").write_bytes(good.read_bytes()[:3000])
    with pytest.raises(InputError, match=r"cut\.gpkg: cannot be read as GeoPackage"):
        sio.load_communities(tmp_path / "cut.gpkg")
    (tmp_path / "bad.geojson").write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputError, match=r"bad\.geojson: cannot be read as GeoJSON"):
        sio.load_communities(tmp_path / "bad.geojson")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputError, match=r"e\.csv: is empty"):
        sio.load_sites(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("id,level,floor_area_m2,lon,lat\n")
    with pytest.raises(InputError, match=r"h.csv: has no features \(no data rows\)"):
        sio.load_sites(tmp_path / "h.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(InputError, match=r"x\.xlsx: cannot be read as XLSX"):
        sio.load_sites(tmp_path / "x.xlsx")
    (tmp_path / "latin.csv").write_bytes(b"id,lon,lat\n\x81\xff,1,2\n")
    with pytest.raises(InputError, match="neither UTF-8 nor GBK"):
        sio.load_sites(tmp_path / "latin.csv")


def test_shapefile_without_dbf(tmp_path, communities_lonlat):
    path = write_shp(communities_lonlat, tmp_path, encoding="UTF-8", cpg=None)
    (tmp_path / "communities.dbf").unlink()
    with pytest.raises(
        InputError, match=r"the attribute table communities.dbf is missing - keep the .shp"
    ):
        sio.load_communities(path)


def test_several_layers_need_a_choice(tmp_path, communities_lonlat):
    path = tmp_path / "two.gpkg"
    communities_lonlat.to_file(path, layer="communities")
    communities_lonlat.to_file(path, layer="old")
    with pytest.raises(
        InputError, match="holds several layers: communities, old - choose one layer"
    ):
        sio.load_communities(path)
    assert len(sio.load_communities(path, layer="old")) == 3
    with pytest.raises(InputError, match=r"no layer 'x' \(layers: communities, old\)"):
        sio.load_communities(path, layer="x")


def test_missing_required_column_lists_found_and_accepted(communities_lonlat):
    bad = communities_lonlat.rename(columns={"人口": "人口数量"})
    with pytest.raises(InputError, match=r"population: required column 'population' is missing \(columns found: "
                       r"'编号', '名称', '类型', '街镇', '人口数量', '户数'\) - add it or rename a column to one of: "
                       r"population, pop, residents, 人口"):  # fmt: skip
        sio.load_communities(bad)


def test_ambiguous_headers(sites_table):
    with pytest.raises(
        InputError, match="several columns mean 'floor_area_m2': '建筑面积', '面积'"
    ):
        sio.load_sites(sites_table.assign(面积=1))


def test_no_geometry_and_no_lonlat(sites_table):
    with pytest.raises(
        InputError, match=r"no geometry and no lon/lat columns .* add longitude \(lon, lng"
    ):
        sio.load_sites(sites_table.drop(columns=["经度"]), name="s.csv")


def test_geometry_rules_null_empty_wrong_type(communities_lonlat):
    gdf = communities_lonlat.copy()
    gdf.geometry = [Point(121.4, 31.2), None, Polygon()]
    with pytest.raises(InputError) as err:
        sio.load_communities(gdf, name="c.gpkg")
    text = str(err.value)
    assert (
        "c.gpkg: row 1 (id=C1): geometry: geometry is a Point, expected Polygon or MultiPolygon"
        in text
    )
    assert (
        "c.gpkg: row 2 (id=C2): geometry: has no geometry - draw the feature or delete the row"
        in text
    )
    assert "c.gpkg: row 3 (id=C3): geometry: geometry is empty" in text
    assert len(err.value.problems) == 3


def test_sites_must_be_points(communities_lonlat):
    gdf = communities_lonlat.assign(level="站", floor_area_m2=600)
    with pytest.raises(
        InputError, match=r"geometry is a Polygon, expected Point - sites must be points"
    ):
        sio.load_sites(gdf)


def test_csv_rows_are_numbered_like_a_spreadsheet(tmp_path):
    # header is row 1; the blank line 3 is skipped but still counted
    path = tmp_path / "s.csv"
    path.write_text(
        "id,level,floor_area_m2,lon,lat\nS1,站,600,121.4,31.2\n\nS2,站,abc,121.4,31.2\n"
    )
    with pytest.raises(
        InputError, match=r"s\.csv: row 4 \(id=S2\): floor_area_m2: 'abc' is not a number"
    ):
        sio.load_sites(path)


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "'abc' is not a number"), ("-5", "-5 is negative"), ("nan", "'nan' is not a finite number"),
     ("inf", "'inf' is not a finite number"), ("", "value is missing"), ("1,2", "'1,2' is not a number"),
     ("1e99", "1e\\+99 is above 1e\\+06")],
)  # fmt: skip
def test_number_rules(tmp_path, value, message):
    path = tmp_path / "s.csv"
    path.write_text(f'id,level,floor_area_m2,lon,lat\nS1,站,"{value}",121.4,31.2\n')
    with pytest.raises(InputError, match=f"row 2 \\(id=S1\\): floor_area_m2: {message}"):
        sio.load_sites(path)


def test_ground_floor_larger_than_total(sites_table):
    with pytest.raises(InputError, match=r"row 2 \(id=S2\): ground_floor_area_m2: 400 is larger than "
                       r"floor_area_m2 300 - check both numbers"):  # fmt: skip
        sio.load_sites(sites_table.assign(一层面积=[600, 400, 100]), name="s.xlsx")


def test_unknown_level_kind_status_list_allowed_values(sites_table, communities_lonlat):
    with pytest.raises(InputError, match=r"level: unknown level '中心' - use one of: district_center \(区级党群服务中心, "
                       r"区级中心.*point \(党群服务点, 点"):  # fmt: skip
        sio.load_sites(sites_table.assign(层级=["中心", "站", "点"]))
    with pytest.raises(
        InputError, match=r"status: unknown status 'maybe' - use one of: existing \(现状"
    ):
        sio.load_sites(sites_table.assign(状态=["maybe", "", "规划"]))
    with pytest.raises(
        InputError, match=r"kind: unknown kind '街区' - use one of: residential \(居民区"
    ):
        sio.load_communities(communities_lonlat.assign(类型=["街区", "", "村"]))
    with pytest.raises(InputError, match=r"level: value is missing - fill in level"):
        sio.load_sites(sites_table.assign(层级=["", "站", "点"]))


def test_every_chinese_level_alias_is_accepted(sites_table):
    aliases = list(schema.LEVEL_ALIASES)
    table = pd.concat([sites_table.head(1)] * len(aliases), ignore_index=True)
    table = table.assign(编号=[f"S{i}" for i in range(len(aliases))], 层级=aliases)
    assert list(sio.load_sites(table)["level"]) == list(schema.LEVEL_ALIASES.values())


def test_duplicate_and_missing_ids(sites_table):
    table = sites_table.assign(编号=["S1", "", "S1"])
    with pytest.raises(InputError) as err:
        sio.load_sites(table, name="s.csv")
    text = str(err.value)
    assert "s.csv: rows 1, 3: id: id 'S1' is used 2 times - give every row its own id" in text
    assert "s.csv: row 2: id: id is missing" in text


def test_excel_whole_number_ids_lose_dot_zero():
    table = pd.DataFrame({"id": [17.0, 18.0], "level": ["站", "点"], "floor_area_m2": [1, 2], "lon": [121.4, 121.5],
                          "lat": [31.2, 31.3]})  # fmt: skip
    assert list(sio.load_sites(table)["id"]) == ["17", "18"]


def test_coordinates_out_of_range_and_swapped(sites_table):
    table = sites_table.assign(经度=[121.4, 31.2, 500.0], 纬度=[31.2, 121.4, 31.2])
    with pytest.raises(InputError) as err:
        sio.load_sites(table, name="s.csv")
    text = str(err.value)
    assert "row 2 (id=S2): geometry: lon 31.2, lat 121.4 look swapped" in text
    assert "swap the longitude and latitude columns" in text
    assert "row 3 (id=S3): geometry: lon 500, lat 31.2 are out of range for degrees" in text
    assert "S1" not in text


def test_chinese_swapped_pair_within_degree_range():
    # lon 40 / lat 80 are valid degrees, but in the China pattern they are swapped
    table = pd.DataFrame(
        {"id": ["S1"], "level": ["站"], "floor_area_m2": [600], "lon": [40.0], "lat": [80.0]}
    )
    with pytest.raises(InputError, match="lon 40, lat 80 look swapped"):
        sio.load_sites(table)


def test_bad_options():
    with pytest.raises(
        InputError, match="unknown coordinate system 'amap' - use one of: wgs84, cgcs2000, gcj02"
    ):
        sio.load_sites(pd.DataFrame(), coords="amap")


def test_all_problems_of_a_file_in_one_error(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "编号,层级,建筑面积,一层面积,经度,纬度\n"
        "S1,站,abc,10,121.4,31.2\n"
        "S1,中心,-5,,121.4,31.2\n"
        "S3,,600,700,31.2,121.4\n"
        "S4,点,100,,x,31.2\n",
        encoding="gbk",
    )
    with pytest.raises(InputError) as err:
        sio.load_sites(path)
    wheres = {p.where for p in err.value.problems}
    assert {
        "rows 2, 3",
        "row 2 (id=S1)",
        "row 3 (id=S1)",
        "row 4 (id=S3)",
        "row 5 (id=S4)",
    } <= wheres
    assert len(err.value.problems) == 8
    assert all(str(p).startswith(f"{path}: ") for p in err.value.problems)


# --- repairs ---------------------------------------------------------------------------------


def test_self_intersecting_polygon_is_repaired_with_a_warning(communities_lonlat):
    bowtie = Polygon([(121.40, 31.20), (121.41, 31.21), (121.41, 31.20), (121.40, 31.21)])
    gdf = communities_lonlat.copy()
    gdf.geometry = [bowtie, *gdf.geometry[1:]]
    with pytest.warns(SitingWarning, match=r"repaired 1 invalid .*make_valid.*: row 1 \(id=C1\)"):
        out = sio.load_communities(gdf)
    assert out.is_valid.all() and out.geom_type[0] == "MultiPolygon"
    # the two triangles of the bow-tie: half the square
    assert np.isclose(out.area[0], out.area[2] / 2, rtol=0.01)


def test_overlapping_communities_reported_with_area(communities_lonlat):
    gdf = communities_lonlat.copy()
    gdf.geometry = [
        box(121.40, 31.20, 121.41, 31.21),
        box(121.405, 31.20, 121.415, 31.21),
        gdf.geometry[2],
    ]
    with pytest.warns(
        SitingWarning, match=r"1 pair\(s\) of communities overlap .*: C1 & C2: 5\d\d,\d\d\d m2"
    ):
        out = sio.load_communities(gdf)
    assert len(out) == 3


def test_site_with_unknown_community_id_warns(sites_table, communities_lonlat):
    communities = sio.load_communities(communities_lonlat)
    table = sites_table.assign(所属社区=["C9", "", ""]).head(2)
    with pytest.warns(
        SitingWarning, match=r"name a community_id not in the communities file: S1 -> C9"
    ):
        sites = sio.load_sites(table, communities=communities)
    assert list(sites["community_id"]) == ["C9", "C2"]


# --- hostile zips ----------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "reason"),
    [("../evil.shp", "climbs out of the folder with '..'"), ("a/../../evil.shp", "climbs out"),
     ("/etc/evil.shp", "is an absolute path"), ("C:\\evil.shp", "is an absolute path"),
     ("..\\evil.dbf", "climbs out")],
)  # fmt: skip
def test_zip_slip_is_refused(tmp_path, name, reason):
    path = make_zip(tmp_path / "slip.zip", {"ok.shp": b"x", name: b"x"})
    with pytest.raises(
        InputError, match=rf"slip\.zip: member '.*evil.*': {reason}.* - zip the files themselves"
    ):
        sio.load_communities(path, name="slip.zip")
    assert not (tmp_path.parent / "evil.shp").exists()


def test_zip_bomb_is_refused(tmp_path):
    path = make_zip(
        tmp_path / "bomb.zip", {"a.dbf": bytes(4 * 1024 * 1024)}
    )  # 4 MB of zeros, ~4 KB packed
    with pytest.raises(
        InputError,
        match=r"member 'a\.dbf': compresses [\d,]+ to 1, more than 100 to 1 \(looks like a zip bomb\)",
    ):
        sio.load_communities(path)


def test_zip_too_many_members_and_too_large(tmp_path):
    from siting import _zip

    path = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(1001)})
    with pytest.raises(InputError, match="holds 1001 members, more than the limit of 1000"):
        sio.load_communities(path)
    small = make_zip(tmp_path / "big.zip", {"a.shp": b"x" * 5000})
    with pytest.raises(
        InputError, match="would unpack to 5,000 bytes, more than the limit of 1,000"
    ):
        _zip.check_zip(small, max_bytes=1000)
    assert [i.filename for i in _zip.check_zip(small)] == ["a.shp"]


def test_zip_extracts_only_expected_files_and_always_cleans_up(tmp_path):
    from siting import _zip

    path = make_zip(tmp_path / "mixed.zip", {"d/a.shp": b"1", "d/run.py": b"import os", "__MACOSX/d/._a.shp": b"",
                                             "d/b.exe": b"MZ"})  # fmt: skip
    with _zip.safe_extract(path) as files:
        assert [f.name for f in files] == ["a.shp"]
        folder = files[0].parent.parent
        assert folder.exists()
    assert not folder.exists()
    with pytest.raises(RuntimeError), _zip.safe_extract(path) as files:
        folder = files[0].parent.parent
        raise RuntimeError
    assert not folder.exists()


def test_zip_not_a_zip_and_wrong_contents(tmp_path, communities_lonlat):
    (tmp_path / "fake.zip").write_bytes(b"hello")
    with pytest.raises(InputError, match=r"fake\.zip: is not a readable zip file"):
        sio.load_communities(tmp_path / "fake.zip")
    empty = make_zip(tmp_path / "empty.zip", {"readme.txt": b"hi"})
    with pytest.raises(InputError, match="holds no shapefile"):
        sio.load_communities(empty)
    write_shp(communities_lonlat, tmp_path / "shp", encoding="UTF-8", cpg="UTF-8")
    (tmp_path / "shp" / "copy.shp").write_bytes((tmp_path / "shp" / "communities.shp").read_bytes())
    with pytest.raises(
        InputError, match=r"holds several data files: communities\.shp, copy\.shp - zip exactly one"
    ):
        sio.load_communities(zip_folder(tmp_path / "shp", tmp_path / "two.zip"))


def test_upload_size_limit(monkeypatch):
    from siting import settings

    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", 10)
    buf = io.BytesIO(b"id,lon,lat\n" + b"x" * 100)
    buf.name = "big.csv"
    with pytest.raises(InputError, match=r"big\.csv: is larger than the limit of 10 bytes"):
        sio.load_sites(buf)


def test_gcj02_is_not_applied_to_projected_survey_data(communities_lonlat):
    gk = communities_lonlat.to_crs("EPSG:4549")
    plain = sio.load_communities(gk)
    with pytest.warns(SitingWarning, match=r"projected survey coordinates.*--coords gcj02 is not"):
        shifted = sio.load_communities(gk, coords="gcj02")
    # bureau GIS data in CGCS2000 Gauss-Kruger stays where it is
    assert np.allclose(
        shapely.get_coordinates(plain.geometry.values),
        shapely.get_coordinates(shifted.geometry.values),
    )


def test_lonlat_columns_are_degrees_whatever_crs_says(sites_table):
    # --crs is for files in metres without a CRS (a shapefile without .prj); a table's
    # 经度/纬度 columns are degrees by their name
    a = sio.load_sites(sites_table, crs="EPSG:4549")
    b = sio.load_sites(sites_table)
    assert np.allclose(a.to_crs(4326).geometry.x, b.to_crs(4326).geometry.x)


def test_forgotten_gcj02_is_pointed_out(communities_lonlat):
    ids = ["C1", "C1", "C1", "C2", "C2", "C3"]
    lon = np.array([121.4065, 121.4070, 121.4060, 121.4160, 121.4165, 121.4065])
    lat = np.array([31.2050, 31.2030, 31.2070, 31.2050, 31.2030, 31.1950])
    glon, glat = coords.wgs84_to_gcj02(lon, lat)  # as AMap would give them
    table = pd.DataFrame({"编号": [f"S{i}" for i in range(6)], "层级": "站", "建筑面积": 1000,
                          "所属社区": ids, "经度": glon, "纬度": glat})  # fmt: skip
    comm = sio.load_communities(communities_lonlat)
    with pytest.warns(SitingWarning) as caught:
        sio.load_sites(table, communities=comm)
    said = [str(w.message) for w in caught]
    assert any("look like AMap/Tencent (GCJ-02)" in m and "--coords gcj02" in m for m in said)
    # with --coords gcj02 they land in their own communities and nothing is said about it
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SitingWarning)
        right = sio.load_sites(table, communities=comm, coords="gcj02")
    assert list(right["community_id"]) == ids
