"""Offline map assets: folium's CDN links replaced by the vendored Leaflet files as data URIs.

folium points its maps at Leaflet on public CDNs and streamlit-folium loads those links in the
browser; on an office machine without internet the map then stays blank. :func:`localize`
rewrites the links of a map so Leaflet (and Leaflet.draw) come from ``siting/ui/static/``,
inlined as ``data:`` URIs (no server configuration needed; the same map saved to HTML works
offline too), and drops the libraries the maps do not use (jQuery, Bootstrap, icon fonts).
"""

from __future__ import annotations

import base64
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["STATIC_DIR", "localize", "offline_links"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Libraries folium links that no siting map needs (popups and tooltips are plain Leaflet).
_UNUSED = ("jquery", "bootstrap", "glyphicons", "fontawesome", "awesome.rotate")


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _css_with_images(path: Path) -> str:
    """CSS text with its ``url(images/...)`` references inlined."""
    css = path.read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        ref = match.group(1).strip("'\"")
        img = path.parent / ref
        if not img.is_file():
            return match.group(0)
        mime = "image/svg+xml" if img.suffix == ".svg" else "image/png"
        return f"url({_data_uri(img.read_bytes(), mime)})"

    return re.sub(r"url\(([^)]*images/[^)]*)\)", inline, css)


@cache
def offline_links() -> dict[str, str]:
    """Vendored asset name -> data URI (``leaflet.js``, ``leaflet.css``, ``leaflet.draw.js``,
    ``leaflet.draw.css``)."""
    lf, dr = STATIC_DIR / "leaflet", STATIC_DIR / "leaflet-draw"
    return {
        "leaflet.js": _data_uri((lf / "leaflet.js").read_bytes(), "text/javascript"),
        "leaflet.css": _data_uri(_css_with_images(lf / "leaflet.css").encode(), "text/css"),
        "leaflet.draw.js": _data_uri((dr / "leaflet.draw.js").read_bytes(), "text/javascript"),
        "leaflet.draw.css": _data_uri(
            _css_with_images(dr / "leaflet.draw.css").encode(), "text/css"
        ),
    }


def _local(url: str, uses_icons: bool) -> str | None:
    """The replacement of one link: a data URI, None to drop it, or the URL unchanged."""
    low = url.lower()
    name = low.rsplit("/", 1)[-1].split("?", 1)[0]
    links = offline_links()
    if name in ("leaflet.js", "leaflet.css", "leaflet.draw.js", "leaflet.draw.css"):
        return links[name]
    if "awesome-markers" in low:
        return url if uses_icons else None
    if any(u in low for u in _UNUSED):
        return None
    return url


def _walk(element: Any) -> Any:
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def localize(m: Any) -> Any:
    """Point a folium map's JS/CSS links at the vendored Leaflet files (in place; returns ``m``).

    Links to libraries siting does not vendor are kept (with a log line): they need internet.
    """
    import folium

    elements = list(_walk(m))
    uses_icons = any(isinstance(e, folium.Icon) for e in elements)
    for e in elements:
        for attr in ("default_js", "default_css"):
            links = getattr(e, attr, None)
            if not links:
                continue
            new = []
            for name, url in links:
                local = _local(url, uses_icons)
                if local is None:
                    continue
                if local == url and not url.startswith("data:"):
                    logger.info("map asset %s stays online: %s", name, url)
                new.append((name, local))
            setattr(e, attr, new)
    return m
