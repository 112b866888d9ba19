"""One Altair theme for every llmobs_nb chart, and the fixed colours charts share."""

from __future__ import annotations

from typing import Any

import altair as alt

THEME = "llmobs"
FONT = "Inter, 'Segoe UI', Helvetica, Arial, sans-serif"
# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
CATEGORY = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
# Span kinds always get the same colour, whichever kinds a trace happens to hold.
KIND_COLORS = {
    "chain": "#7f7f7f",
    "agent": "#8c564b",
    "retrieval": "#0072B2",
    "rerank": "#56B4E9",
    "embedding": "#009E73",
    "llm": "#E69F00",
    "tool": "#CC79A7",
    "evaluator": "#9467bd",
    "other": "#bcbd22",
}
ERROR_COLOR = "#D55E00"
ALERT_COLOR = "#D55E00"
BASELINE_COLOR = "#555555"
WIDTH = 560
HEIGHT = 220


def theme_config() -> alt.theme.ThemeConfig:
    """The theme's configuration: light background, readable sizes, colour-blind-safe palette."""
    return {
        "config": {
            "background": "white",
            "view": {"continuousWidth": WIDTH, "continuousHeight": HEIGHT, "stroke": None},
            "font": FONT,
            "title": {"fontSize": 14, "fontWeight": 600, "anchor": "start", "offset": 8},
            "axis": {
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": 500,
                "gridColor": "#e8e8e8",
                "domainColor": "#999999",
                "tickColor": "#999999",
            },
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "right"},
            "range": {"category": CATEGORY},
            "line": {"strokeWidth": 1.8},
        }
    }


def under_theme(config: Any) -> dict[str, Any]:
    """A chart's own ``config`` laid over the theme's: what the chart set wins.

    Example:
        >>> under_theme(alt.Config(font="serif"))["font"], under_theme(alt.Undefined)["font"][:5]
        ('serif', 'Inter')
    """
    if config is alt.Undefined:
        own: dict[str, Any] = {}
    elif isinstance(config, dict):
        own = config
    else:
        own = config.to_dict(validate=False)
    return alt.utils.update_nested(theme_config()["config"], own)


def enable(*, force: bool = False) -> None:
    """Register the ``llmobs`` theme; make it active unless the user picked another theme.

    Example:
        >>> enable(force=True); alt.theme.active
        'llmobs'
    """
    if THEME not in alt.theme.names():
        alt.theme.register(THEME, enable=False)(theme_config)
    if force or alt.theme.active == "default":
        alt.theme.enable(THEME)
