"""Chart images for documents: PNG bytes drawn with matplotlib (Agg), no browser, no network.

Japanese labels need a CJK font; :func:`cjk_font` finds one (Debian's
``fonts-noto-cjk``) and :class:`MissingCjkFont` says how to install it rather
than letting the document print empty boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from io import BytesIO

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure

from kizuna.errors import ConfigError

#: Families tried in order for Japanese text (the first one installed wins).
CJK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
)
INSTALL_HINT = (
    "no CJK font found for Japanese documents: install one, e.g. "
    "'sudo apt-get install fonts-noto-cjk' (Debian/Ubuntu) or 'brew install --cask "
    "font-noto-sans-cjk' (macOS), then run again"
)


class MissingCjkFont(ConfigError):
    """Japanese text was asked for and no CJK font is installed."""


@cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    return None


def font_family(lang: str) -> str:
    """The font family for ``lang``; raises :class:`MissingCjkFont` for Japanese without one."""
    if lang != "ja":
        return "DejaVu Sans"
    family = cjk_font()
    if family is None:
        raise MissingCjkFont(INSTALL_HINT)
    return family


def _figure(lang: str, width: float = 6.0, height: float = 2.6) -> Figure:
    # A fixed layout: the tight layout measures every tick label again (twice the time).
    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=0.11, right=0.97, top=0.88, bottom=0.2)
    return fig


def _png(fig: Figure) -> bytes:
    out = BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def line_chart(
    title: str,
    points: Sequence[tuple[date, float]],
    lang: str,
    color: str,
    *,
    baseline: tuple[date, float] | None = None,
    target: tuple[date, float] | None = None,
    target_label: str = "",
) -> bytes:
    """Values over time, with the straight line from baseline to target when given."""
    family = font_family(lang)
    fig = _figure(lang)
    ax = fig.add_subplot()
    if baseline and target:
        ax.plot(
            date2num([baseline[0], target[0]]),
            [baseline[1], target[1]],
            linestyle="--",
            color="#999999",
            linewidth=1,
            label=target_label,
        )
    if points:
        ax.plot(
            date2num([p[0] for p in points]),
            [p[1] for p in points],
            marker="o",
            markersize=3,
            color=color,
        )
    ax.set_title(title, fontfamily=family, fontsize=10)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if target_label and baseline and target:
        legend = ax.legend(fontsize=7, loc="best")
        for text in legend.get_texts():
            text.set_fontfamily(family)
    ax.xaxis_date()
    ax.xaxis.set_major_locator(AutoDateLocator(maxticks=6))
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
    return _png(fig)


def matrix_chart(
    title: str,
    items: Sequence[tuple[str, int, int]],
    lang: str,
    color: str,
    x_label: str,
    y_label: str,
) -> bytes:
    """Initiatives on an impact (y) × difficulty (x) grid, each labelled by name."""
    family = font_family(lang)
    fig = _figure(lang, 5.0, 3.6)
    ax = fig.add_subplot()
    for name, impact, difficulty in items:
        ax.scatter([difficulty], [impact], s=60, color=color)
        ax.annotate(
            name,
            (difficulty, impact),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
            fontfamily=family,
        )
    ax.set_xlim(0.5, 5.5)
    ax.set_ylim(0.5, 5.5)
    ax.set_xlabel(x_label, fontfamily=family, fontsize=8)
    ax.set_ylabel(y_label, fontfamily=family, fontsize=8)
    ax.set_title(title, fontfamily=family, fontsize=10)
    ax.grid(alpha=0.3)
    return _png(fig)
