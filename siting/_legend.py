"""The legend of :mod:`siting.maps`: a Leaflet control holding Chinese-first HTML, and the plain
background of the tile-less map.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from branca.element import MacroElement, Template

from siting._maplayers import (
    _FONT,
    _SYMBOLS,
    COMPLIANT_COLOR,
    COVERAGE_COLORS,
    GAP_COLORS,
    LEVEL_LABELS_EN,
    NONCOMPLIANT_COLOR,
    PROPOSED_COLOR,
    SERVICE_AREA_COLORS,
    _gradient,
)
from siting.schema import LEVEL_LABELS_ZH


class _Legend(MacroElement):  # type: ignore[misc]
    """A Leaflet control holding the legend HTML (works in saved HTML and in streamlit-folium,
    which keeps only the map's scripts), and the plain background of the tile-less map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            {% if this.background %}
            map.getContainer().style.background = {{ this.background|tojson }};
            {% endif %}
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "siting-legend");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, background: str | None = None) -> None:
        super().__init__()
        self._name = "SitingLegend"
        self.html = html_text
        self.background = background


def _legend_html(
    *,
    title: str | None,
    coverage: bool = True,
    gap_max: float | None = None,
    cutoffs: Iterable[float] = (),
    levels: Iterable[str] = (),
    compliance: bool = True,
    proposals: bool = False,
    extra: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> str:
    bar = "height:10px;width:160px;border:1px solid #999;"
    rows = []
    if title:
        rows.append(
            f'<div style="font-weight:bold;font-size:13px;margin-bottom:4px;">'
            f"{html.escape(title)}</div>"
        )
    if coverage:
        rows.append(
            "<div><b>社区覆盖率</b> Coverage (station or higher within radius)</div>"
            f'<div style="{bar}background:{_gradient(COVERAGE_COLORS)}"></div>'
            '<div style="width:160px;display:flex;justify-content:space-between;">'
            "<span>0%</span><span>50%</span><span>100%</span></div>"
        )
    if gap_max is not None:
        rows.append(
            "<div><b>缺口</b> Gap hexagons (未覆盖人口 uncovered population)</div>"
            f'<div style="{bar}background:{_gradient(GAP_COLORS)}"></div>'
            '<div style="width:160px;display:flex;justify-content:space-between;">'
            f"<span>0</span><span>{gap_max:,.0f}</span></div>"
        )
    cutoffs = list(cutoffs)
    if cutoffs:
        items = "".join(
            f'<span style="display:inline-block;width:18px;height:10px;margin:0 3px 0 6px;'
            f'border:1.5px dashed {SERVICE_AREA_COLORS.get(float(c), "#636363")};"></span>'
            f"{c:,.0f} m"
            for c in cutoffs
        )
        rows.append(f"<div><b>服务范围</b> Walking service areas</div><div>{items}</div>")
    levels = list(levels)
    if levels:
        rows.append("<div><b>站点层级</b> Site levels</div>")
        for lv in levels:
            css, _size = _SYMBOLS.get(lv, _SYMBOLS["point"])
            rows.append(
                f'<div style="display:flex;align-items:center;"><span style="width:24px;'
                f'display:inline-flex;justify-content:center;"><span style="display:inline-block;'
                f'{css}background:{COMPLIANT_COLOR};box-sizing:border-box;"></span></span>'
                f"{LEVEL_LABELS_ZH.get(lv, lv)} {LEVEL_LABELS_EN.get(lv, lv)}</div>"
            )
    if compliance and levels:
        dot = "display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px;"
        rows.append(
            f'<div><span style="{dot}background:{COMPLIANT_COLOR}"></span>达标 compliant'
            f'<span style="{dot}background:{NONCOMPLIANT_COLOR}"></span>未达标 not compliant</div>'
        )
    if proposals:
        rows.append(
            f'<div><span style="color:{PROPOSED_COLOR};font-size:16px;">★</span> '
            "拟新建站点 Proposed new station</div>"
        )
    rows.extend(extra)
    for note in notes:
        rows.append(f'<div style="color:#555;margin-top:3px;">{html.escape(note)}</div>')
    style = (
        f"background:rgba(255,255,255,0.93);padding:8px 10px;border-radius:4px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,0.35);font:11px/1.45 {_FONT};max-width:280px;"
    )
    return f'<div style="{style}">{"".join(rows)}</div>'
