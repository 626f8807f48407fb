"""Skip branca's Jinja compile of text that is not a template (same output, several times faster).

Rendering a folium map wraps every rendered piece (each layer's script with its GeoJSON data,
each header line) in a new ``branca.element.Element(text)``, and ``Element.__init__`` compiles
that text as a Jinja template: for the demo's overview map that is about 600 kB of JavaScript
lexed and compiled on every render (0.15-0.5 s of the first page, measured with py-spy), to
render it back unchanged. :func:`install` makes ``Element`` keep such text as it is when it has
no Jinja syntax at all, giving exactly the string Jinja would (Jinja's default environment drops
one trailing newline; text with ``\\r``, whose newlines Jinja rewrites, or with any ``{{``,
``{%``, ``{#`` is still compiled). Templates written as templates are not affected.
"""

from __future__ import annotations

import threading
import types
from typing import Any

__all__ = ["PlainText", "install", "template"]

_MARKERS = ("{{", "{%", "{#", "\r")
_lock = threading.Lock()


class PlainText:
    """A text that renders to itself, as ``jinja2.Template(text).render()`` would."""

    __slots__ = ("_text",)

    #: what branca reads from a macro template (a plain text defines no macros)
    module = types.SimpleNamespace()

    def __init__(self, source: str) -> None:
        self._text = source[:-1] if source.endswith("\n") else source

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self._text


def template(source: str) -> Any:
    """``jinja2.Template(source)``, or a :class:`PlainText` when ``source`` has no Jinja syntax."""
    from jinja2 import Template

    if isinstance(source, str) and not any(m in source for m in _MARKERS):
        return PlainText(source)
    return Template(source)


def install() -> bool:
    """Make ``branca.element.Element`` use :func:`template` (once per process); returns True
    when installed (False if this branca builds its elements differently)."""
    import branca.element as be

    with _lock:
        if getattr(be, "Template", None) is template:
            return True
        if getattr(be, "Template", None) is None:  # pragma: no cover - another branca layout
            return False
        be.Template = template  # type: ignore[assignment,misc]
    return True
