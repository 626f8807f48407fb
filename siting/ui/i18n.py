"""Labels of the app in Chinese (first) and English.

``t(key)`` returns the label in the language chosen in the sidebar (``st.session_state["lang"]``,
``"zh"`` by default); unknown keys return the key itself so a missing label shows, never fails.
"""

from __future__ import annotations

from typing import Final

import streamlit as st

__all__ = ["COLUMN_LABELS_EN", "LANGS", "TEXT", "lang", "t"]

#: language code -> name shown in the switch
LANGS: Final = {"zh": "中文", "en": "English"}

#: key -> (zh, en)
TEXT: Final[dict[str, tuple[str, str]]] = {
    # app and navigation
    "app_title": ("党群服务站点规划", "Party-and-masses service sites"),
    "page_data": ("数据", "Data"),
    "page_overview": ("总览", "Overview"),
    "page_coverage": ("覆盖与缺口", "Coverage & gaps"),
    "page_compliance": ("达标评估", "Compliance"),
    "page_proposals": ("选址建议", "Proposals"),
    "page_estate": ("新建小区", "New estate"),
    "language": ("语言 Language", "Language 语言"),
    "basemap": ("底图", "Basemap"),
    "basemap_none": ("无底图(离线)", "No tiles (offline)"),
    "basemap_osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap_tianditu": ("天地图", "Tianditu"),
    "basemap_amap": ("高德地图", "AMap"),
    "tianditu_key": ("天地图密钥", "Tianditu key"),
    "tianditu_key_help": (
        "在天地图官网申请的浏览器端密钥;只保存在本次会话中",
        "A browser key from the Tianditu website; kept in this session only",
    ),
    "tianditu_no_key": ("未填写天地图密钥,改用无底图", "No Tianditu key: showing no tiles"),
    "using_demo": ("正在使用内置示例区(虚构数据)", "Using the bundled demo district (synthetic)"),
    "using_upload": ("正在使用上传的数据", "Using your uploaded data"),
    "uploads_not_used": (
        "上传的数据有问题,未能使用(见「数据」页)",
        "Your uploads have problems and are not in use (see the Data page)",
    ),
    "file_rejected": ("有问题,未使用", "has problems, not in use"),
    # data page
    "data_intro": (
        "先用内置示例区熟悉工具;上传本区的社区、站点和路网文件后,所有页面改用您的数据。",
        "Start with the bundled demo district; upload your communities, sites and roads and "
        "every page uses your data.",
    ),
    "upload_communities": ("社区(村居)边界", "Communities (polygons)"),
    "upload_sites": ("党群服务站点", "Sites (points)"),
    "upload_roads": ("步行路网(可选)", "Walking roads (optional)"),
    "upload_help": (
        "GeoPackage、GeoJSON、压缩的Shapefile(.zip)、CSV/XLSX(含经纬度)",
        "GeoPackage, GeoJSON, zipped Shapefile (.zip), CSV/XLSX with lon/lat",
    ),
    "upload_help_parts": (
        "GeoPackage、GeoJSON、压缩的Shapefile(.zip)、CSV/XLSX(含经纬度);"
        "Shapefile 也可同时选中 .shp、.dbf、.shx(及 .prj、.cpg)几个文件上传",
        "GeoPackage, GeoJSON, zipped Shapefile (.zip), CSV/XLSX with lon/lat; or select a "
        "Shapefile's .shp, .dbf, .shx (and .prj, .cpg) together",
    ),
    "roads_help": (
        "OSM XML(.osm/.osm.gz)或PBF;不上传则按直线距离计算",
        "OSM XML (.osm/.osm.gz) or PBF; without it distances are straight-line",
    ),
    "coords": ("经纬度坐标系", "Coordinate system of lon/lat"),
    "coords_help": (
        "高德、腾讯为GCJ-02,百度为BD-09,会自动换算为WGS-84",
        "AMap/Tencent use GCJ-02, Baidu BD-09; both are converted to WGS-84",
    ),
    "crs": ("无坐标系文件的CRS(可选)", "CRS for files without one (optional)"),
    "use_demo": ("恢复示例数据", "Back to the demo"),
    "need_both": (
        "请同时上传社区和站点文件;在此之前仍使用示例数据。",
        "Upload both communities and sites; until then the demo is used.",
    ),
    "problems_title": (
        "数据问题,请修改文件后重新上传",
        "Problems in the data: fix and upload again",
    ),
    "col_file": ("文件", "File"),
    "col_where": ("行/编号", "Row / id"),
    "col_field": ("字段", "Field"),
    "col_what": ("问题", "Problem"),
    "col_fix": ("修改方法", "Fix"),
    "warnings_title": ("请核对数据", "Check your data"),
    "warnings_lead": (
        "以下内容已自动修正、按假定处理或可能有误,结果可能因此不准确",
        "the following was repaired, assumed or looks wrong; the figures may be off because of it",
    ),
    "loaded": (
        "已载入 {communities} 个社区、{sites} 个站点;距离:{mode}",
        "Loaded {communities} communities, {sites} sites; distances: {mode}",
    ),
    "mode_network": ("步行路网", "walking network"),
    "mode_euclidean": ("直线距离", "straight line"),
    "standard": ("标准配置", "Standards profile"),
    "thresholds": ("阈值(可修改)", "Thresholds (editable)"),
    "reset_thresholds": ("恢复默认阈值", "Reset thresholds"),
    "demand": ("需求点", "Demand points"),
    "demand_grid": ("社区内100米网格", "100 m grid in each community"),
    "demand_centroid": ("每个社区一个点", "one point per community"),
    "upload_rejected": ("上传被拒绝", "Upload rejected"),
    # figures
    "coverage_rate": ("覆盖率", "Coverage rate"),
    "coverage_rate_help": (
        "步行服务半径内有站点(站及以上)的人口占比",
        "Share of residents within the walking radius of a station or higher",
    ),
    "compliance_rate": ("达标率", "Compliance rate"),
    "population_per_site": ("每站点服务人口", "Population per site"),
    "sites_total": ("站点数", "Sites"),
    "population_total": ("总人口", "Population"),
    "sites_by_level": ("各层级站点", "Sites by level"),
    "level": ("层级", "Level"),
    "count": ("数量", "Count"),
    "compliant_of": ("{n}/{total} 个站点达标", "{n} of {total} sites compliant"),
    "compliant": ("达标", "Compliant"),
    "planned_col": ("规划(未计入)", "Planned (not counted)"),
    "by_level_note": (
        "数量与达标为现有站点;达标率计入:{levels}",
        "Counts and compliant: existing sites; the compliance rate counts: {levels}",
    ),
    "district_map": ("全区地图", "District map"),
    # coverage page
    "radius": ("步行半径(米)", "Walking radius (m)"),
    "show_areas": ("显示步行服务范围", "Show walking service areas"),
    "show_areas_help": (
        "按路网计算每个站点的步行范围;大区首次计算可能需要几十秒",
        "Walking areas along the road network; the first time can take tens of seconds on a "
        "large district",
    ),
    "levels": ("显示的站点层级", "Site levels shown"),
    "lacking_title": (
        "{radius} 米内没有党群服务站的社区({n} 个)",
        "Communities without a station within {radius} m ({n})",
    ),
    "lacking_none": (
        "所有社区在 {radius} 米内都有党群服务站",
        "Every community has a station within {radius} m",
    ),
    "lacking_metric": (
        "{radius} 米内无站的社区",
        "Communities without a station within {radius} m",
    ),
    "uncovered_pop": ("未覆盖人口", "Uncovered population"),
    "gap_table": ("缺口排名(未覆盖人口)", "Ranked gaps (uncovered population)"),
    "clicked": ("点击的对象", "Clicked"),
    "click_hint": (
        "点击地图上的社区或站点查看详情",
        "Click a community or site on the map for details",
    ),
    "community": ("社区", "Community"),
    "site": ("站点", "Site"),
    # compliance page
    "site_table": ("站点达标情况", "Sites and reasons"),
    "only_failing": ("只看不达标", "Failing only"),
    "street_table": ("街镇汇总", "By street"),
    "trajectory": ("三年达标进度", "Three-year compliance"),
    "year": ("年份", "Year"),
    "target": ("目标", "Target"),
    "actual": ("达标率", "Compliance"),
    "year_n": ("第{n}年", "Year {n}"),
    "now": ("现状", "Now"),
    "plan_title": ("提升计划", "Upgrade plan"),
    "plan_missing": ("提升计划模块尚未安装", "The upgrade plan is not available yet"),
    # proposals page
    "model": ("模型", "Model"),
    "model_mclp": ("最大覆盖(新增站点数固定)", "Maximal coverage (fixed number of new stations)"),
    "model_lscp": ("全覆盖所需最少站点", "Fewest stations covering everyone"),
    "model_pmedian": ("总步行距离最短", "Least total walking distance"),
    "budget_p": ("预算内可建 {p} 个", "The budget allows {p}"),
    "verdict_none": ("未给出拟建站点,仅给出建议位置", "No proposed site: only a suggestion"),
    "suggested": ("建议位置", "Suggested location"),
    "plan_run": ("计算提升计划", "Compute the upgrade plan"),
    "n_new": ("新增站点数", "New stations"),
    "budget": ("预算(万元,可选)", "Budget (10,000 yuan, optional)"),
    "cost_per_station": ("每站建设费用(万元)", "Cost per station (10,000 yuan)"),
    "candidates_source": ("候选点", "Candidates"),
    "cand_pick": ("候选点来源", "Candidate source"),
    "cand_pick_help": (
        "自动 = 命令行 siting propose 的默认候选点(--candidates auto)",
        "Auto = the default candidates of siting propose on the command line (--candidates auto)",
    ),
    "cand_auto": ("自动:沿街路口、广场公园", "Auto: street corners, squares and parks"),
    "cand_auto_demo": (
        "自动:沿街路口、广场公园及闲置建筑",
        "Auto: street corners, squares, parks and vacant buildings",
    ),
    "cand_buildings": ("示例区闲置公共建筑", "The demo's vacant public buildings"),
    "cand_file": ("上传候选点文件", "Upload a candidate file"),
    "cand_upload": ("未上传文件", "No file uploaded"),
    "cand_auto_label": ("自动", "auto"),
    "solve": ("计算选址", "Find locations"),
    "solving": ("正在计算……", "Solving..."),
    "choose_coords": (
        "在「数据」页把坐标系改为 {coords}",
        "choose {coords} as the coordinate system on the Data page",
    ),
    "coords_setting": ("「数据」页的坐标系", "the coordinate system on the Data page"),
    "setting_on_data_page": ("「数据」页的「{setting}」", "“{setting}” on the Data page"),
    "failed": ("无法计算:数据有问题,见下表", "Could not compute: problems with the data below"),
    "solved": ("计算完成", "Solved"),
    "use_capacity": ("按建筑面积限定服务人口", "Limit residents served by floor area"),
    "use_capacity_help": (
        "每个站点服务的居民不超过其面积按配建标准可服务的人数(面积不详按标准站计);"
        "每个需求点整体归属一个站点。",
        "Each site serves at most the residents its floor area supports at the households "
        "standard (unknown area: a standard station); each demand point goes whole to one site.",
    ),
    "within_radius": (
        "{r} 米内有站点的居民占比:{b} → {a}",
        "Residents within {r} m of a station: {b} → {a}",
    ),
    "unreachable_note": (
        "{n} 名居民距所有候选点都超过 {r} 米,仍未覆盖(可增加候选点或放宽半径)",
        "{n} residents are beyond {r} m of every candidate and stay uncovered "
        "(more candidates or a larger radius would reach them)",
    ),
    "fewer_note": (
        "只建议 {k} 个站点(设定 {p} 个):再多的站点也不会在 {r} 米内覆盖更多居民",
        "{k} of the {p} stations asked are proposed: more would reach no further resident "
        "within {r} m",
    ),
    "assumed_standard": (
        "新站按标准站(建筑面积不低于标准)评价",
        "New stations are evaluated as built to the station standard",
    ),
    "mean_walk": (
        "居民到所分配站点的平均步行距离:{m} 米",
        "Average walk to the assigned site: {m} m",
    ),
    "within_capacity": (
        "按面积容量可服务的覆盖率:{b} → {a}(上方覆盖率未计容量)",
        "Coverage within the stations' capacity: {b} → {a} (the figures above ignore capacity)",
    ),
    "status_optimal": ("已证明为最优方案", "Proven optimal"),
    "status_unknown_gap": (
        "时限内的最好方案,与最优方案的差距未知(可延长计算时限)",
        "Best answer within the time limit; its distance to the optimum is unknown",
    ),
    "status_feasible": (
        "时限内的最好方案,与最优方案相差不超过 {gap}",
        "Best answer within the time limit, at most {gap} from the optimum",
    ),
    "before": ("现状", "Before"),
    "after": ("新增后", "After"),
    "proposed": ("建议新建站点", "Proposed stations"),
    "locate_missing": ("选址模块尚未安装", "The location models are not available yet"),
    # estate page
    "estate_intro": (
        "在地图上画出新建小区范围(左侧多边形工具),或上传边界文件;输入户数和开发商拟建站点位置。",
        "Draw the new estate on the map (polygon tool on the left) or upload its outline; enter "
        "households and the developer's proposed site.",
    ),
    "estate_upload": ("小区边界文件", "Estate outline file"),
    "estate_use_demo": ("使用示例小区", "Use the demo estate"),
    "households": ("户数", "Households"),
    "population": ("人口(可选)", "Population (optional)"),
    "site_lon": ("拟建站点经度", "Proposed site longitude"),
    "site_lat": ("拟建站点纬度", "Proposed site latitude"),
    "site_area": ("拟建站点建筑面积(m²)", "Proposed site floor area (m²)"),
    "site_ground": ("其中一层面积(m²)", "Of which ground floor (m²)"),
    "check": ("评估", "Check"),
    "verdict": ("结论", "Verdict"),
    "verdict_ok": ("符合要求", "Meets the requirements"),
    "verdict_fail": ("不符合要求", "Does not meet the requirements"),
    "no_estate": ("请先画出或上传小区范围", "Draw or upload the estate first"),
    "estate_missing": ("新建小区评估模块尚未安装", "The new-estate check is not available yet"),
    "drawn": ("已画出的范围", "Drawn outline"),
    # exports
    # scenarios
    "page_scenarios": ("方案", "Scenarios"),
    "scen_intro": (
        "把当前的数据、参数和结果保存为命名方案,以后载入、比较或删除。存储位置:{where}",
        "Save the current data, parameters and results as a named scenario; load, compare or "
        "delete it later. Store: {where}",
    ),
    "scen_save": ("保存当前方案", "Save the current scenario"),
    "scen_name": ("方案名称", "Scenario name"),
    "scen_desc": ("说明", "Description"),
    "scen_save_btn": ("保存", "Save"),
    "scen_saved": ("已保存方案「{name}」(第 {version} 版)", "Saved {name!r} (version {version})"),
    "scen_list": ("已保存的方案", "Saved scenarios"),
    "scen_none": ("还没有保存的方案", "No scenario saved yet"),
    "scen_pick": ("选择方案", "Scenario"),
    "scen_load_btn": ("载入到本会话", "Load into this session"),
    "scen_loaded": (
        "已载入方案「{name}」(第 {version} 版):数据和参数已恢复",
        "Loaded {name!r} (version {version}): data and parameters restored",
    ),
    "scen_no_roads": (
        "该方案没有保存路网,载入后按直线距离计算;如需步行距离请在数据页重新上传路网。",
        "The scenario keeps no road network: distances are straight lines until you upload "
        "the roads again on the Data page.",
    ),
    "scen_delete_btn": ("删除", "Delete"),
    "scen_deleted": ("已删除方案「{name}」", "Deleted {name!r}"),
    "scen_compare": ("比较两个方案", "Compare two scenarios"),
    "scen_a": ("方案 A", "Scenario A"),
    "scen_b": ("方案 B", "Scenario B"),
    "scen_compare_btn": ("比较", "Compare"),
    "scen_store_error": ("方案库无法使用", "The scenario store cannot be used"),
    # thresholds table
    "th_min_floor_area_m2": ("最小建筑面积(m²)", "Min floor area (m²)"),
    "th_min_ground_floor_share": ("一层面积最低占比", "Min ground-floor share"),
    "th_service_radius_m": ("服务半径(米,步行)", "Service radius (m, walking)"),
    "th_max_population": ("最大服务人口", "Max population served"),
    "th_min_m2_per_100_households": ("每百户最小面积(m²)", "Min m² per 100 households"),
    "th_funding_base_yuan": ("每站年度经费(元)", "Yearly funding per site (yuan)"),
    "th_funding_per_party_member_yuan": (
        "每名党员年度经费(元)",
        "Yearly funding per member (yuan)",
    ),
    "th_no_limit_help": (
        "填数字,或填「不限」表示不设上限",
        "A number, or “no limit” for none",
    ),
    "th_unreadable": (
        "以下阈值不是数字,未采用:{cells}",
        "These thresholds are not numbers and are not used: {cells}",
    ),
    "exports": ("导出", "Export"),
    "export_xlsx": ("下载 Excel 报表", "Download Excel workbook"),
    "export_gpkg": ("下载 GeoPackage", "Download GeoPackage"),
    "export_html": ("下载 HTML 地图", "Download HTML map"),
    "module_missing": ("所需模块尚未安装:{name}", "A module is not available yet: {name}"),
}


#: English headers of the proposals' and the plan's columns (the other columns show their
#: canonical names in English mode).
COLUMN_LABELS_EN: Final[dict[str, str]] = {
    "capacity_residents": "Capacity (residents, by floor area)",
    "population_added": "Residents added",
    "population_served": "Residents served",
    "action": "Action (code)",
    "action_zh": "Action",
    "upgrades": "Upgrades",
    "cost_yuan": "Cost (yuan)",
    "scheduled_cost_yuan": "Of which already scheduled (yuan)",
    "cumulative_cost_yuan": "Cumulative cost (yuan)",
    "budget_yuan": "Budget (yuan)",
    "budget_left_yuan": "Budget left (yuan)",
    "sites_short": "Compliant sites still lacking",
    "added_m2": "Area added or used (m²)",
    "new_sites": "New sites split off",
    "reasons_now": "Reasons not compliant now",
    "calendar_year": "Calendar year",
    "target_rate": "Target rate",
    "lon": "Longitude",
    "lat": "Latitude",
}


def lang() -> str:
    """The language chosen in the sidebar (``"zh"`` or ``"en"``)."""
    value = st.session_state.get("lang", "zh")
    return value if value in LANGS else "zh"


def t(key: str, **fmt: object) -> str:
    """The label ``key`` in the current language, formatted with ``fmt``."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    text = pair[0] if lang() == "zh" else pair[1]
    return text.format(**fmt) if fmt else text
