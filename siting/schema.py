"""The input schema: canonical column names, accepted aliases, levels and community kinds.

Every loader renames columns to the canonical names below; the rest of siting uses only those.
"""

from __future__ import annotations

from typing import Final

# --- levels of sites, from the top of the network down --------------------------------------
DISTRICT_CENTER: Final = "district_center"
STREET_CENTER: Final = "street_center"
STATION: Final = "station"
POINT: Final = "point"
LEVELS: Final = (DISTRICT_CENTER, STREET_CENTER, STATION, POINT)
#: Levels that count as "a station or higher" for coverage.
STATION_OR_HIGHER: Final = (DISTRICT_CENTER, STREET_CENTER, STATION)

LEVEL_LABELS_ZH: Final = {
    DISTRICT_CENTER: "区级党群服务中心",
    STREET_CENTER: "街镇党群服务中心",
    STATION: "党群服务站",
    POINT: "党群服务点",
}

#: Values accepted in the level column (case-insensitive for latin ones) -> canonical level.
LEVEL_ALIASES: Final[dict[str, str]] = {
    # canonical and English variants
    "district_center": DISTRICT_CENTER,
    "district": DISTRICT_CENTER,
    "district centre": DISTRICT_CENTER,
    "district center": DISTRICT_CENTER,
    "street_center": STREET_CENTER,
    "street": STREET_CENTER,
    "town_center": STREET_CENTER,
    "street center": STREET_CENTER,
    "street centre": STREET_CENTER,
    "station": STATION,
    "point": POINT,
    # Chinese
    "区级中心": DISTRICT_CENTER,
    "区中心": DISTRICT_CENTER,
    "区级": DISTRICT_CENTER,
    "区级党群服务中心": DISTRICT_CENTER,
    "区党群服务中心": DISTRICT_CENTER,
    "区党建服务中心": DISTRICT_CENTER,
    "街镇中心": STREET_CENTER,
    "街镇": STREET_CENTER,
    "街道中心": STREET_CENTER,
    "镇中心": STREET_CENTER,
    "街镇党群服务中心": STREET_CENTER,
    "街道党群服务中心": STREET_CENTER,
    "镇党群服务中心": STREET_CENTER,
    "街镇党建服务中心": STREET_CENTER,
    "社区党群服务中心": STATION,
    "站": STATION,
    "服务站": STATION,
    "党群服务站": STATION,
    "党建服务站": STATION,
    "社区党群服务站": STATION,
    "村党群服务站": STATION,
    "居村党群服务站": STATION,
    "点": POINT,
    "服务点": POINT,
    "党群服务点": POINT,
    "党建服务点": POINT,
}

# --- community kinds -------------------------------------------------------------------------
RESIDENTIAL: Final = "residential"
VILLAGE: Final = "village"
URBAN_VILLAGE: Final = "urban_village"
HOLLOW_VILLAGE: Final = "hollow_village"
ENTERPRISE: Final = "enterprise"
KINDS: Final = (RESIDENTIAL, VILLAGE, URBAN_VILLAGE, HOLLOW_VILLAGE, ENTERPRISE)

KIND_LABELS_ZH: Final = {
    RESIDENTIAL: "居民区",
    VILLAGE: "村",
    URBAN_VILLAGE: "城中村",
    HOLLOW_VILLAGE: "空心村",
    ENTERPRISE: "园区企业",
}

KIND_ALIASES: Final[dict[str, str]] = {
    "residential": RESIDENTIAL,
    "community": RESIDENTIAL,
    "village": VILLAGE,
    "urban_village": URBAN_VILLAGE,
    "urban village": URBAN_VILLAGE,
    "hollow_village": HOLLOW_VILLAGE,
    "hollow village": HOLLOW_VILLAGE,
    "enterprise": ENTERPRISE,
    "park": ENTERPRISE,
    "居民区": RESIDENTIAL,
    "社区": RESIDENTIAL,
    "居委": RESIDENTIAL,
    "居委会": RESIDENTIAL,
    "居民委员会": RESIDENTIAL,
    "小区": RESIDENTIAL,
    "村": VILLAGE,
    "行政村": VILLAGE,
    "村居": VILLAGE,
    "农村": VILLAGE,
    "城中村": URBAN_VILLAGE,
    "空心村": HOLLOW_VILLAGE,
    "企业": ENTERPRISE,
    "园区": ENTERPRISE,
    "园区企业": ENTERPRISE,
    "两新组织": ENTERPRISE,
}

# --- status ----------------------------------------------------------------------------------
EXISTING: Final = "existing"
PLANNED: Final = "planned"
STATUSES: Final = (EXISTING, PLANNED)
STATUS_ALIASES: Final[dict[str, str]] = {
    "existing": EXISTING,
    "built": EXISTING,
    "现状": EXISTING,
    "已建": EXISTING,
    "现有": EXISTING,
    "planned": PLANNED,
    "plan": PLANNED,
    "规划": PLANNED,
    "拟建": PLANNED,
    "在建": PLANNED,
}

# --- columns ---------------------------------------------------------------------------------
#: canonical column -> accepted header aliases (matched case-insensitively, spaces trimmed).
COMMUNITY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "id": ("id", "community_id", "code", "编号", "社区编号", "村居编号", "代码", "社区代码"),
    "name": ("name", "community", "名称", "社区名称", "村居名称", "社区", "村居"),
    "kind": ("kind", "type", "类型", "社区类型"),
    "street": ("street", "town", "街镇", "街道", "镇", "所属街镇"),
    "population": ("population", "pop", "residents", "人口", "常住人口", "人口数", "居民数"),
    "households": ("households", "hh", "户数", "住户数"),
    "party_members": ("party_members", "members", "党员数", "党员", "党员人数"),
}
COMMUNITY_REQUIRED: Final = ("id", "population")

SITE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "id": ("id", "site_id", "code", "编号", "站点编号", "代码"),
    "name": ("name", "site", "名称", "站点名称"),
    "level": ("level", "tier", "层级", "级别", "类型", "站点类型"),
    "floor_area_m2": (
        "floor_area_m2",
        "floor_area",
        "area_m2",
        "area",
        "建筑面积",
        "面积",
        "使用面积",
        "建筑面积(m2)",
        "建筑面积（平方米）",
        "建筑面积(平方米)",
    ),
    "ground_floor_area_m2": (
        "ground_floor_area_m2",
        "ground_floor_area",
        "ground_area",
        "一层面积",
        "首层面积",
        "底层面积",
    ),
    "community_id": ("community_id", "community", "所属社区", "社区编号", "所属村居"),
    "status": ("status", "状态", "建设状态"),
    "upgrade_year": ("upgrade_year", "改造年份", "提升年份", "计划年份"),
}
SITE_REQUIRED: Final = ("id", "level", "floor_area_m2")

CANDIDATE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "id": ("id", "candidate_id", "code", "编号"),
    "name": ("name", "名称"),
    "source": ("source", "kind", "type", "类型", "来源"),
    "floor_area_m2": ("floor_area_m2", "floor_area", "area", "建筑面积", "面积"),
    "ground_floor_area_m2": ("ground_floor_area_m2", "一层面积", "首层面积"),
}
CANDIDATE_REQUIRED: Final = ("id",)

#: lon/lat columns of CSV and XLSX tables.
LON_ALIASES: Final = ("lon", "lng", "long", "longitude", "x", "经度", "东经")
LAT_ALIASES: Final = ("lat", "latitude", "y", "纬度", "北纬")

#: Chinese headers used in reports (canonical -> zh).
COLUMN_LABELS_ZH: Final = {
    "id": "编号",
    "community_id": "社区编号",
    "site_id": "站点编号",
    "name": "名称",
    "kind": "类型",
    "street": "街镇",
    "population": "人口",
    "households": "户数",
    "party_members": "党员数",
    "level": "层级",
    "floor_area_m2": "建筑面积(m²)",
    "ground_floor_area_m2": "一层面积(m²)",
    "status": "状态",
    "upgrade_year": "提升年份",
}
