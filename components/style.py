"""Colours, scales, number formats and the slim figure template shared by every figure.

Every scale here is colour-blind safe (ColorBrewer YlGnBu and PuOr, viridis), and
comparisons with London use blue/orange, never red/green.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go

SEQUENTIAL_SCALE = "YlGnBu"
# Plotly's PuOr runs orange (low) -> purple (high): "good" is kept at the purple end, whatever the polarity.
DIVERGING_BAD_TO_GOOD = "PuOr"
DIVERGING_NEUTRAL = "BrBG"  # for indicators with no better direction (polarity 'none')

SUPPRESSED_COLOUR = "#9e9e9e"
UNDERLAY_COLOUR = "#d4d4d4"  # under areas: shows through where a value is suppressed or missing
POINT_UNDERLAY_COLOUR = "#eef1f3"  # under practice points: just London's shape
ICB_OUTLINE_COLOUR = "#1f2d3d"
LONDON_LINE_COLOUR = "#212b32"
TARGET_LINE_COLOUR = "#007f3b"
LIMIT_95_COLOUR = "#768692"
LIMIT_998_COLOUR = "#425563"
POINT_COLOUR = "#005eb8"
FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"  # local fonts only

# Significance against London (and Making Data Count variation): blue = better, orange = worse.
COMPARISON_COLOURS = {
    "better": "#005eb8",
    "similar": "#bfbfbf",
    "worse": "#ed8b00",
    "not compared": "#ffffff",
}
COMPARISON_LABELS = {
    "better": "Better than London",
    "similar": "Similar to London",
    "worse": "Worse than London",
    "not compared": "Not compared",
}

SUPPRESSED_NOTE = "suppressed (fewer than 8 patients)"
# A chart title's inset from the chart's left edge: the figure's side margin. At 0 a phone's title
# (chart and card the same white) sat on the very edge, out of line with the plot and legend.
TITLE_INSET_PX = 8

# A template with only what the figures use: Plotly's default template adds ~8 kB to every figure's JSON.
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": FONT_FAMILY, "size": 13, "color": "#212b32"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": ["#005eb8", "#ed8b00", "#330072", "#00a499", "#ae2573", "#768692"],
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        "xaxis": {"gridcolor": "#e8edee", "zerolinecolor": "#d8dde0", "linecolor": "#aeb7bd", "automargin": True},
        "yaxis": {"gridcolor": "#e8edee", "zerolinecolor": "#d8dde0", "linecolor": "#aeb7bd", "automargin": True},
    }
)


@dataclass(frozen=True)
class ValueFormat:
    """How an indicator's value is shown: a d3 format and suffix for Plotly, and the same for Python text.

    The engine's units: 'percent' values are 0-100 (95.0 = 95 %) and 'ratio' values
    are plain ratios. 'proportion' (0..1, shown as a percentage), 'per 1,000'-style
    rates, 'pp' (percentage points) and 'count' are also understood.
    """

    unit: str
    d3: str
    suffix: str

    def text(self, value: float | None) -> str:
        """``value`` formatted for text; 'suppressed' when it is missing."""
        number = json_safe(value)
        if number is None:
            return "suppressed"
        if self.d3.endswith("%"):
            return f"{number:.1%}"
        spec = self.d3.replace(".", ",." if "," in self.d3 else ".").replace(",,", ",")
        return f"{number:{spec}}{self.suffix}"

    @property
    def axis_format(self) -> str:
        """A d3 tick format for an axis or colour bar (used with :attr:`axis_suffix`)."""
        if self.d3.endswith("%"):
            return ".0%"
        return self.d3.replace(".1f", ".0f").replace("+", "")

    @property
    def axis_suffix(self) -> str:
        """Tick suffix matching :attr:`axis_format`: '%' for percent, ' pp' for points, else none (the title has it)."""
        return {"percent": "%", "pp": " pp"}.get(self.unit, "")


def value_format(unit: str) -> ValueFormat:
    """The display format for an indicator unit (see :class:`ValueFormat`)."""
    if unit == "percent":
        return ValueFormat(unit, ".1f", "%")
    if unit in {"%", "proportion"}:
        return ValueFormat(unit, ".1%", "")
    if unit.startswith("per "):
        return ValueFormat(unit, ",.1f", f" {unit}")
    if unit == "ratio":
        return ValueFormat(unit, ".2f", "")
    if unit == "pp":
        return ValueFormat(unit, "+.1f", " pp")
    if unit == "count":
        return ValueFormat(unit, ",.0f", "")
    return ValueFormat(unit, ",.2f", f" {unit}" if unit else "")


def diverging_scale(polarity: str) -> str:
    """The diverging scale with the good end purple (reversed when low values are good); neutral for 'none'."""
    if polarity not in {"high", "low"}:
        return DIVERGING_NEUTRAL  # no good end to colour: a prevalence above London is not "worse"
    return DIVERGING_BAD_TO_GOOD if polarity == "high" else DIVERGING_BAD_TO_GOOD + "_r"


def base_layout(*, height: int, title: str | None = None) -> dict:
    """The layout properties of :func:`apply_base_layout` as a plain dict, to merge into a figure's layout."""
    return {
        "template": TEMPLATE,
        "height": height,
        "margin": {"l": 8, "r": 8, "t": 40 if title else 8, "b": 8},
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}, "pad": {"l": TITLE_INSET_PX}}
        if title
        else None,
        "hovermode": "closest",
    }


def apply_base_layout(figure: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    """Slim template, tight margins and an accessible title (also used as the figure's name)."""
    figure.update_layout(base_layout(height=height, title=title))
    return figure


def json_safe(value) -> float | None:
    """A plain float, or None for missing/NaN/infinite values (JSON has no NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def formatted(value, *, unit: str) -> str:
    """An indicator value for text ('suppressed' when hidden); ratios with two decimals."""
    return value_format(unit).text(value)


def interval_text(low, high, *, unit: str) -> str:
    """A 95 % interval for text ('low to high'); 'suppressed' when either end is hidden."""
    if json_safe(low) is None or json_safe(high) is None:
        return "suppressed"
    return f"{formatted(low, unit=unit)} to {formatted(high, unit=unit)}"


def target_label(target, *, unit: str) -> str:
    """A target as every page names it: "Target 80.0%", the number in the indicator's own format.

    The same words and precision on the overview, the KPI cards and the charts: the cancer cards said
    "standard 80%" where the overview said "Target 80.0%". What kind of target it is (a constitutional
    standard, a national ambition) is the registry's ``target_text``, on the indicator's rule card.
    """
    return f"Target {formatted(target, unit=unit)}"


def target_status(value, target, *, unit: str, polarity: str) -> str:
    """ "Target 80.0%: met" or "... not met" (at or below the target for a low-is-good ``polarity``);
    the target alone when ``value`` is hidden or missing."""
    number, goal = json_safe(value), json_safe(target)
    if number is None or goal is None:
        return target_label(target, unit=unit)
    met = number <= goal if polarity == "low" else number >= goal
    return f"{target_label(goal, unit=unit)}: {'met' if met else 'not met'}"


def whole_number(value) -> str:
    """A count for text, with thousands separators; 'suppressed' when hidden."""
    number = json_safe(value)
    return "suppressed" if number is None else f"{number:,.0f}"


def comparison_text(comparison: str | None) -> str:
    """The words for a comparison with London, for tables ('Not compared' when there is none)."""
    return COMPARISON_LABELS.get(comparison or "", COMPARISON_LABELS["not compared"])
