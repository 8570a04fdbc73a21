"""Chart figures for plotly.js, built once and translated when a page is rendered.

View models build a :class:`Chart` whose trace names and axis titles are
English messages (catalog ids) and whose x axis says what its values are
(``"day"``, ``"month"`` or ``"category"``). The figures may sit in a cache
shared by every visitor; :func:`localise` turns one into the plotly figure of
the request's language (translated labels, date ticks in the language's
format) when the page is rendered.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from kizuna.web.i18n import current_language, gettext

XKind = Literal["day", "month", "category", "number"]

#: Date tick formats (d3-time-format) per language; plotly's own month names are English.
_TICKS: dict[str, dict[str, str]] = {
    "en": {"day": "%b %-d<br>%Y", "month": "%b %Y"},
    "ja": {"day": "%-m/%-d<br>%Y", "month": "%Y/%-m"},
}


@dataclass
class Chart:
    """A plotly figure with translatable labels.

    ``traces`` are plotly traces; a trace's ``name`` is a message id when
    ``translate_names`` is set (movement kinds, bands), else data (a metric's name).
    """

    traces: list[dict[str, Any]]
    x: XKind = "category"
    x_title: str | None = None
    y_title: str | None = None
    translate_names: bool = True
    layout: dict[str, Any] = field(default_factory=dict)


def localise(chart: Chart) -> dict[str, Any]:
    """The plotly figure ``{data, layout}`` of ``chart`` in the current language."""
    data = copy.deepcopy(chart.traces)
    if chart.translate_names:
        for trace in data:
            label = trace.get("name")
            if label:
                trace["name"] = gettext(label)
    layout = copy.deepcopy(chart.layout)
    xaxis = layout.setdefault("xaxis", {})
    yaxis = layout.setdefault("yaxis", {})
    # Room for tick labels and titles however long they are (no label cut off).
    xaxis.setdefault("automargin", True)
    yaxis.setdefault("automargin", True)
    if chart.x == "category":
        xaxis["type"] = "category"
    elif chart.x == "number":
        xaxis["type"] = "linear"
    else:
        xaxis["type"] = "date"
        ticks = _TICKS.get(current_language(), _TICKS["en"])
        xaxis["tickformat"] = ticks[chart.x]
        if chart.x == "month":
            points = len(data[0].get("x", ())) if data else 0
            xaxis["dtick"] = "M1" if points <= 7 else "M2" if points <= 14 else "M3"
    if chart.x_title:
        xaxis["title"] = {"text": gettext(chart.x_title)}
    if chart.y_title:
        yaxis["title"] = {"text": gettext(chart.y_title)}
    return {"data": data, "layout": layout}
