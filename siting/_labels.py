"""Chinese headers of result columns (light: the app labels its tables without importing
openpyxl; :mod:`siting.report` re-exports them)."""

from __future__ import annotations

from siting.schema import COLUMN_LABELS_ZH

__all__ = ["RESULT_LABELS_ZH", "column_label_zh"]

#: Chinese headers of result columns (on top of :data:`siting.schema.COLUMN_LABELS_ZH`).
RESULT_LABELS_ZH: dict[str, str] = {
    # sites
    "ground_floor_share": "一层面积占比",
    "compliant": "是否达标",
    "reasons": "不达标原因",
    "reasons_en": "不达标原因(英文) reasons",
    "required_floor_area_m2": "应有建筑面积(m²)",
    "min_floor_area_m2": "最低建筑面积(m²)",
    "min_ground_floor_share": "最低一层占比",
    "lon": "经度",
    "lat": "纬度",
    "shortfall_m2": "面积缺口(m²)",
    "population_served": "服务人口",
    "households_served": "服务户数",
    "party_members_served": "服务党员数",
    "population_in_radius": "服务半径内人口",
    "radius_m": "服务半径(m)",
    "max_population": "服务人口上限",
    "overloaded": "是否超负荷",
    "m2_per_100_households": "每百户面积(m²)",
    "required_funding_yuan": "应保障经费(元/年)",
    # communities
    "nearest_site_id": "最近站点编号",
    "nearest_site_distance_m": "最近站点距离(m)",
    "nearest_station_id": "最近站编号(站及以上)",
    "nearest_station_distance_m": "最近站距离(m)",
    "covered_share": "覆盖率(站及以上)",
    "covered_share_any": "覆盖率(任一站点)",
    "has_compliant_station": "有达标站",
    "coverage_status": "覆盖状态",
    "placement_rule": "布局规则",
    "missing": "缺什么",
    # streets
    "population_covered": "覆盖人口",
    "coverage_rate": "覆盖率",
    "coverage_rate_any": "覆盖率(任一站点)",
    "sites_total": "站点数",
    "sites_compliant": "达标站点数",
    "compliance_rate": "达标率",
    "stations": "站数(站及以上)",
    "points": "服务点数",
    "population_demand": "需求点人口",
    "sites_all_levels": "站点总数(含服务点)",
    "compliance_levels": "计入达标率的层级",
    "target_rates": "各年目标达标率",
    "stations_compliant": "达标站数",
    "population_per_site_mean": "平均每站点服务人口",
    "population_per_site_max": "最大每站点服务人口",
    "sites_overloaded": "超负荷站点数",
    "floor_area_per_100_households": "每百户面积(m²)",
    # gaps
    "hex_id": "六边形编号",
    "population_uncovered": "未覆盖人口",
    "communities": "涉及社区编号",
    "community_names": "涉及社区",
    "rank": "排名",
    # trajectory
    "year": "年度",
    "target_rate": "目标达标率",
    "met": "是否达到目标",
    # summary
    "population_total": "总人口",
    "distance_mode": "距离计算方式",
    "standard": "标准",
    "demand_method": "需求点方法",
    "targets": "三年目标达标率",
    "metric": "指标",
    "population_covered_any": "覆盖人口(任一站点)",
    "sites_planned": "规划站点数",
    "communities_total": "社区数",
    "communities_covered": "已覆盖社区数",
    "communities_partly": "部分覆盖社区数",
    "communities_gap": "缺口社区数",
    "gap_hexagons": "缺口六边形数",
    "population_uncovered_in_gaps": "缺口未覆盖人口",
    "start_year": "起始年份",
    "demand_points": "需求点数",
    "calendar_year": "年份",
    "label": "说明",
    "label_zh": "中文名称",
    "population_served_mean": "平均服务人口",
    "population_served_max": "最大服务人口",
    "floor_area_m2_total": "建筑面积合计(m²)",
    "value": "数值",
    "key": "字段",
    # proposals / plans
    "candidate_id": "候选点编号",
    "population_added": "新增覆盖人口",
    "source": "来源",
    "cost_yuan": "费用(元)",
    "new_sites": "分设新站数",
}


def column_label_zh(col: str) -> str:
    """The Chinese header of a canonical column (result columns first), else the name."""
    return RESULT_LABELS_ZH.get(col) or COLUMN_LABELS_ZH.get(col) or col
