"""How llmobs_nb's charts display: offline and in the llmobs theme, with no global Altair switch.

Importing ``llmobs_nb.view`` changes nothing in Altair. Each chart the package makes is an
instance of a subclass of Altair's own class (same name, same API) that

- displays itself with the inlined Vega libraries (:mod:`~llmobs_nb.view.offline`) while
  Altair's renderer is ``default``; a renderer the user chose (``png``, ``mimetype``…) is used;
- carries the llmobs theme (:func:`~llmobs_nb.view.theme.theme_config`) into ``to_dict`` while
  Altair's theme is ``default``; a theme the user chose wins, and the chart's own
  ``configure_*`` settings win over both;
- stays such a chart when composed with ``+``, ``|``, ``&``, ``facet`` and ``repeat``.

Users who want every Altair chart of the session drawn that way call
:func:`enable_altair_defaults`.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import altair as alt
from altair.utils import schemapi

from llmobs_nb.view import offline, theme

P = ParamSpec("P")
C = TypeVar("C")


class _DrawnOffline:
    """What the chart classes below add to Altair's: the theme in ``to_dict``, offline display."""

    def to_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        chart: Any = self
        top_level = (kwargs.get("context") or {}).get("top_level", True)
        if top_level and alt.theme.active == "default":
            chart = self.copy(deep=False)  # type: ignore[attr-defined]
            chart.config = theme.under_theme(self.config)  # type: ignore[attr-defined]
        return super(_DrawnOffline, chart).to_dict(*args, **kwargs)  # type: ignore[misc]

    def _repr_mimebundle_(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        if alt.renderers.active != "default":
            return super()._repr_mimebundle_(*args, **kwargs)  # type: ignore[misc]
        try:
            spec = self.to_dict(context={"pre_transform": False})
        except Exception:  # as Altair does: show the error, do not break the display
            alt.utils.display_traceback(in_ipython=True)
            return {}
        return {"text/html": offline.spec_html(spec)}

    def __add__(self, other: Any) -> Any:
        return offline_chart(super().__add__(other))  # type: ignore[misc]

    def __and__(self, other: Any) -> Any:
        return offline_chart(super().__and__(other))  # type: ignore[misc]

    def __or__(self, other: Any) -> Any:
        return offline_chart(super().__or__(other))  # type: ignore[misc]

    def facet(self, *args: Any, **kwargs: Any) -> Any:
        return offline_chart(super().facet(*args, **kwargs))  # type: ignore[misc]

    def repeat(self, *args: Any, **kwargs: Any) -> Any:
        return offline_chart(super().repeat(*args, **kwargs))  # type: ignore[misc]


class Chart(_DrawnOffline, alt.Chart):
    """An ``alt.Chart`` that displays offline in the llmobs theme (see the module)."""


class LayerChart(_DrawnOffline, alt.LayerChart):
    """An ``alt.LayerChart`` that displays offline in the llmobs theme (see the module)."""


class HConcatChart(_DrawnOffline, alt.HConcatChart):
    """An ``alt.HConcatChart`` that displays offline in the llmobs theme (see the module)."""


class VConcatChart(_DrawnOffline, alt.VConcatChart):
    """An ``alt.VConcatChart`` that displays offline in the llmobs theme (see the module)."""


class ConcatChart(_DrawnOffline, alt.ConcatChart):
    """An ``alt.ConcatChart`` that displays offline in the llmobs theme (see the module)."""


class FacetChart(_DrawnOffline, alt.FacetChart):
    """An ``alt.FacetChart`` that displays offline in the llmobs theme (see the module)."""


class RepeatChart(_DrawnOffline, alt.RepeatChart):
    """An ``alt.RepeatChart`` that displays offline in the llmobs theme (see the module)."""


_DRAWN_OFFLINE: dict[type, type] = {
    alt.Chart: Chart,
    alt.LayerChart: LayerChart,
    alt.HConcatChart: HConcatChart,
    alt.VConcatChart: VConcatChart,
    alt.ConcatChart: ConcatChart,
    alt.FacetChart: FacetChart,
    alt.RepeatChart: RepeatChart,
}


def offline_chart(chart: C) -> C:
    """Make ``chart`` (an Altair top-level chart) display offline in the llmobs theme.

    The chart itself changes class (to the subclass of the same name above) and is returned;
    a chart of any other class is returned as it is.

    Example:
        >>> chart = offline_chart(alt.Chart(alt.Data(values=[{"x": 1}])).mark_point())
        >>> repr(chart), chart.to_dict()["config"]["font"] == theme.FONT
        ('alt.Chart(...)', True)
        >>> "cdn.jsdelivr" in chart._repr_mimebundle_()["text/html"]
        False
    """
    own = _DRAWN_OFFLINE.get(type(chart))
    if own is not None:
        object.__setattr__(chart, "__class__", own)  # SchemaBase.__setattr__ sets a field
    return chart


def draws_offline(make: Callable[P, C]) -> Callable[P, C]:
    """Decorate a function that makes a chart: the chart it returns goes through
    :func:`offline_chart`.

    Example:
        >>> @draws_offline
        ... def dots() -> alt.Chart:
        ...     return alt.Chart(alt.Data(values=[{"x": 1}])).mark_point()
        >>> isinstance(dots(), Chart)
        True
    """

    @functools.wraps(make)
    def making(*args: P.args, **kwargs: P.kwargs) -> C:
        with unchecked_parts():
            return offline_chart(make(*args, **kwargs))

    return making


_checks_lock = threading.Lock()
_checks_off = 0  # charts being made now (threads), with Altair's debug mode saved below
_debug_mode_before = True


@contextlib.contextmanager
def unchecked_parts() -> Iterator[None]:
    """Within the block, Altair does not check each part of a chart as it is made.

    Altair's debug mode (on by default) checks every part against the Vega-Lite schema when
    it is made: 40-45 ms of a dashboard redraw's ~70 ms of chart building. Our charts' parts
    are made by tested code, and a whole spec is still checked when a chart is displayed
    (``to_dict(validate=True)``). Off while any such block runs (a count: the dashboard makes
    charts on two threads), then back to what it was.

    Example:
        >>> with unchecked_parts():
        ...     chart = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point()
        >>> schemapi.DEBUG_MODE
        True
    """
    global _checks_off, _debug_mode_before
    with _checks_lock:
        if _checks_off == 0:
            _debug_mode_before = schemapi.DEBUG_MODE
            schemapi.DEBUG_MODE = False
        _checks_off += 1
    try:
        yield
    finally:
        with _checks_lock:
            _checks_off -= 1
            if _checks_off == 0:
                schemapi.DEBUG_MODE = _debug_mode_before


def enable_altair_defaults(*, force: bool = False) -> None:
    """Draw every Altair chart of this session offline in the llmobs theme, not only ours.

    Registers and activates the ``llmobs`` theme and the ``llmobs_offline`` renderer; without
    ``force`` a theme or renderer the user already chose stays. Undo with
    ``alt.theme.enable("default")`` and ``alt.renderers.enable("default")``.

    Example:
        >>> enable_altair_defaults()
        >>> alt.renderers.active, alt.theme.active
        ('llmobs_offline', 'llmobs')
        >>> _ = alt.renderers.enable("default"), alt.theme.enable("default")
    """
    theme.enable(force=force)
    offline.enable(force=force)
