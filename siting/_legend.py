"""The legend of :mod:`siting.maps`: a compact, collapsible Leaflet control holding Chinese-first
HTML (bottom left), the layer control folded on small maps, and the plain background of the
tile-less map.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

import folium
from branca.element import MacroElement, Template
from folium.template import Template as FoliumTemplate

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

#: Maps at least this tall (px) show the layer list open; smaller ones (the app's maps, about
#: 520-560 px) show the layer icon, opened on hover or tap.
LAYERS_OPEN_MIN_HEIGHT_PX = 700
#: Maps smaller than this (px) start with the legend folded to its title.
LEGEND_OPEN_MIN_HEIGHT_PX = 400

_CSS = """
.siting-legend{background:rgba(255,255,255,0.92);padding:4px 7px;border-radius:4px;
box-shadow:0 1px 4px rgba(0,0,0,0.35);font:10.5px/1.35 %(font)s;max-width:390px;color:#222;}
.siting-legend summary{cursor:pointer;font-weight:bold;font-size:11px;outline:none;}
.siting-legend .sl-cols{display:flex;gap:10px;margin-top:3px;}
.siting-legend .sl-col{display:flex;flex-direction:column;gap:1px;min-width:0;
white-space:nowrap;}
.siting-legend .sl-bar{height:8px;width:110px;border:1px solid #999;}
.siting-legend .sl-ticks{width:112px;display:flex;justify-content:space-between;color:#444;}
.siting-legend .sl-note{color:#555;margin-top:2px;}
.siting-legend .sl-h{font-weight:bold;margin-top:2px;}
"""


class _Legend(MacroElement):  # type: ignore[misc]
    """A collapsible Leaflet control (bottom left) holding the legend HTML (works in saved HTML
    and in streamlit-folium, which keeps only the map's scripts), and the plain background of
    the tile-less map. The legend starts folded on maps lower than ``open_min_height`` px."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            {% if this.background %}
            map.getContainer().style.background = {{ this.background|tojson }};
            {% endif %}
            if (!document.getElementById("siting-legend-css")) {
                var css = document.createElement("style");
                css.id = "siting-legend-css";
                css.textContent = {{ this.css|tojson }};
                document.head.appendChild(css);
            }
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create("details", "siting-legend");
                div.innerHTML = {{ this.html|tojson }};
                div.open = map.getSize().y >= {{ this.open_min_height }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        html_text: str,
        *,
        background: str | None = None,
        position: str = "bottomleft",
        open_min_height: int = LEGEND_OPEN_MIN_HEIGHT_PX,
    ) -> None:
        super().__init__()
        self._name = "SitingLegend"
        self.html = html_text
        self.background = background
        self.position = position
        self.open_min_height = int(open_min_height)
        self.css = _CSS % {"font": _FONT}


class _LayerControl(folium.LayerControl):  # type: ignore[misc]
    """folium's layer control, open on maps at least ``open_min_height`` px tall (a saved HTML
    map in a browser window) and folded to its icon on smaller ones (the app's maps)."""

    _template = FoliumTemplate(
        """
        {% macro script(this,kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
                overlays :  {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
            };
            let {{ this.get_name() }} = L.control.layers(
                {{ this.get_name() }}_layers.base_layers,
                {{ this.get_name() }}_layers.overlays,
                Object.assign({{ this.options|tojavascript }}, {
                    collapsed: {{ this._parent.get_name() }}.getSize().y < {{ this.open_min_height }}
                })
            ).addTo({{this._parent.get_name()}});
        {% endmacro %}
        """
    )

    def __init__(
        self, *, position: str = "topright", open_min_height: int = LAYERS_OPEN_MIN_HEIGHT_PX
    ) -> None:
        super().__init__(position=position, collapsed=True)
        self.open_min_height = int(open_min_height)


def _legend_html(
    *,
    title: str | None,
    coverage: bool = True,
    gap_max: float | None = None,
    gap_min: float | None = None,
    cutoffs: Iterable[float] = (),
    levels: Iterable[str] = (),
    compliance: bool = True,
    proposals: bool = False,
    extra: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> str:
    """The legend's inner HTML: a ``<summary>`` title line, then two columns (area colours left,
    site symbols right) and the notes, in one line each, below."""
    left: list[str] = []
    right: list[str] = []
    if coverage:
        left.append(
            '<div class="sl-h">社区覆盖率 Coverage</div>'
            f'<div class="sl-bar" style="background:{_gradient(COVERAGE_COLORS)}"></div>'
            '<div class="sl-ticks"><span>0%</span><span>50%</span><span>100%</span></div>'
        )
    if gap_max is not None:
        lo = gap_max if gap_min is None else min(gap_min, gap_max)
        mid = math.sqrt(max(lo, 1.0) * max(gap_max, 1.0))
        left.append(
            '<div class="sl-h">缺口 Gap hexagons</div>'
            f"<div>未覆盖人口 uncovered (≥ {lo:,.0f})</div>"
            f'<div class="sl-bar" style="background:{_gradient(GAP_COLORS)}"></div>'
            f'<div class="sl-ticks"><span>{lo:,.0f}</span><span>{mid:,.0f}</span>'
            f"<span>{gap_max:,.0f}</span></div>"
        )
    cutoffs = list(cutoffs)
    if cutoffs:
        items = "".join(
            f'<span style="display:inline-block;width:14px;height:8px;margin:0 2px 0 4px;'
            f'border:1.5px dashed {SERVICE_AREA_COLORS.get(float(c), "#636363")};"></span>'
            f"{c:,.0f} m"
            for c in cutoffs
        )
        left.append(f'<div class="sl-h">服务范围 Walking areas</div><div>{items}</div>')
    levels = list(levels)
    if levels:
        right.append('<div class="sl-h">站点层级 Site levels</div>')
        for lv in levels:
            css, _size = _SYMBOLS.get(lv, _SYMBOLS["point"])
            right.append(
                f'<div style="display:flex;align-items:center;white-space:nowrap;">'
                f'<span style="width:20px;display:inline-flex;justify-content:center;">'
                f'<span style="display:inline-block;{css}background:{COMPLIANT_COLOR};'
                f'box-sizing:border-box;"></span></span>'
                f"{LEVEL_LABELS_ZH.get(lv, lv)} {LEVEL_LABELS_EN.get(lv, lv)}</div>"
            )
    if compliance and levels:
        dot = "display:inline-block;width:8px;height:8px;border-radius:50%;margin:0 3px;"
        right.append(
            f'<div style="white-space:nowrap;"><span style="{dot}background:{COMPLIANT_COLOR}">'
            f'</span>达标 compliant<span style="{dot}background:{NONCOMPLIANT_COLOR}"></span>'
            "未达标 not compliant</div>"
        )
    if proposals:
        right.append(
            f'<div><span style="color:{PROPOSED_COLOR};font-size:13px;">★</span> '
            "拟新建站点 Proposed new station</div>"
        )
    right.extend(extra)
    head = html.escape(title) if title else "图例 Legend"
    cols = "".join(f'<div class="sl-col">{"".join(col)}</div>' for col in (left, right) if col)
    notes = [n for n in notes if n]
    foot = f'<div class="sl-note">{html.escape(" · ".join(notes))}</div>' if notes else ""
    return f'<summary>{head}</summary><div class="sl-cols">{cols}</div>{foot}'
