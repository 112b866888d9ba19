"""The dashboard's charts in one widget that updates them in place (anywidget, offline).

Before, every filter change replaced eight ``Output`` widgets' HTML: eight messages, and eight
Vega-Lite compilations in the browser, panels swapping one after another. A
:class:`ChartBoard` sends the changed panels in **one** message; in the browser
(``chart_board.js``) a panel whose spec is unchanged only gets its new rows through its live
Vega view, and every changed panel is drawn in the same pass. A spec is kept free of its
data (datasets named ``d0``, ``d1``… and sent apart) so a filter change usually changes data
only. The board says when a generation is drawn (``drawn``, and ``data-drawn`` on the page),
shows an "updating" state while Python computes, and sends back a drag across a time chart
(``zoom``) so the dashboard can zoom to it.

The Vega libraries are the vendored ones (:mod:`~llmobs_nb.view.offline`): nothing is fetched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import altair as alt
import anywidget
import polars as pl
import traitlets

from llmobs_nb.view import offline
from llmobs_nb.view.chart_display import unchecked_parts

#: The name of the interval selection (``encodings=["x"]``) that :func:`for_board` adds.
ZOOM = "zoom"

# "Updating" is a badge only: dimming the panels (an opacity change, faded in) made Chromium
# repaint every chart while the kernel computed, and on 2 cores that held up the redraw by
# 50-70 ms (benchmarks/dashboard_browser.py, 1M calls).
CSS = """
.llmobs-board-grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
.llmobs-board-panel{position:relative;min-height:60px;min-width:0}
.llmobs-board-panel .vega-embed{display:block;width:100%}
.llmobs-board-next{position:absolute;top:0;left:0;right:0;visibility:hidden}
.llmobs-board.llmobs-updating::before{content:"updating…";position:absolute;right:8px;
  font:12px Inter,'Segoe UI',Helvetica,Arial,sans-serif;color:#555;background:#fff8d6;
  padding:1px 6px;border-radius:3px;z-index:2}
.llmobs-board{position:relative}
.llmobs-board-note{color:#777;font:12px Inter,'Segoe UI',Helvetica,Arial,sans-serif}
"""


@lru_cache(maxsize=1)
def module_js() -> str:
    """The widget's ES module: the offline Vega loader, then ``chart_board.js``."""
    source = (Path(__file__).with_name("chart_board.js")).read_text(encoding="utf-8")
    return f"{offline.loader_js()}\n{source}"


def split_spec(
    spec: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any]]:
    """A Vega-Lite ``spec`` without what changes with the data, and that: the rows of each
    top-level dataset (renamed ``d0``, ``d1``… in order) and the values of the titles and
    legend value lists, lifted into params (``llmobs_0``…) the page sets on the live view.
    Inline rows (``alt.Data(values=…)``) become datasets too. The same chart over other rows,
    with other titles, gives the same spec.

    Example:
        >>> spec = {"data": {"name": "data-1f"}, "datasets": {"data-1f": [1]}, "title": "n=1"}
        >>> bare, data, values = split_spec(spec)
        >>> bare["data"], bare["title"], data, values
        ({'name': 'd0'}, {'text': {'expr': 'llmobs_0'}}, {'d0': [1]}, {'llmobs_0': 'n=1'})
    """
    datasets = dict(spec.get("datasets") or {})
    bare = {k: v for k, v in spec.items() if k != "datasets"}
    for view in (bare, *bare.get("layer", ())):  # inline rows: a dataset like any other
        inline = view.get("data")
        if isinstance(inline, dict) and isinstance(inline.get("values"), list):
            name = f"inline-{len(datasets)}"
            datasets[name] = inline["values"]
            view["data"] = {**{k: v for k, v in inline.items() if k != "values"}, "name": name}
    names = {old: f"d{i}" for i, old in enumerate(datasets)}
    text = json.dumps(bare, sort_keys=True, default=str)
    for old, new in names.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    bare = json.loads(text)
    values: dict[str, Any] = {}

    def lift(value: Any) -> dict[str, str]:
        name = f"llmobs_{len(values)}"
        values[name] = value
        return {"expr": name}

    title = bare.get("title")
    if isinstance(title, str | list):
        bare["title"] = {"text": lift(title)}
    elif isinstance(title, dict):
        bare["title"] = {
            **title,
            **{k: lift(title[k]) for k in ("text", "subtitle") if isinstance(title.get(k), str)},
        }
    for view in (bare, *bare.get("layer", ())):
        legend = view.get("encoding", {}).get("color", {}).get("legend")
        if isinstance(legend, dict) and isinstance(legend.get("values"), list):
            legend["values"] = lift(legend["values"])
    if values:
        bare["params"] = [*bare.get("params", ()), *({"name": n} for n in values)]
    return bare, {names[old]: rows for old, rows in datasets.items()}, values


def for_board(spec: dict[str, Any], *, zoom: bool = False) -> dict[str, Any]:
    """A chart's Vega-Lite ``spec`` as the board draws it: as wide as its panel, legend
    included (Vega's container width: a drag selects exactly what is under the pointer, with
    no CSS scaling), and with ``zoom`` an x-interval selection named :data:`ZOOM` on the
    first view whose x axis is time (none when no view has one, as a "no data" message).

    Example:
        >>> spec = {"mark": "line", "encoding": {"x": {"field": "t", "type": "temporal"}}}
        >>> board = for_board(spec, zoom=True)
        >>> board["width"], board["params"][0]["name"], board["params"][0]["select"]["encodings"]
        ('container', 'zoom', ['x'])
    """
    out = {**spec, "width": "container", "autosize": {"type": "fit-x", "contains": "padding"}}
    if zoom:
        views = [out, *(out.get("layer") or ())]
        timed = [v for v in views if v.get("encoding", {}).get("x", {}).get("type") == "temporal"]
        if timed:
            brush = {"name": ZOOM, "select": {"type": "interval", "encodings": ["x"]}}
            target = timed[0]
            if target is not out:  # a layer: the selection lives on that layer's view
                out["layer"] = [
                    {**v, "params": [*v.get("params", ()), brush]} if v is target else v
                    for v in out["layer"]
                ]
            else:
                out["params"] = [*out.get("params", ()), brush]
    return out


_LOCAL_ISO = "%Y-%m-%dT%H:%M:%S"
# The sub-chart lists of Altair's compound charts (where a frame may hide).
_PARTS = ("layer", "hconcat", "vconcat", "concat")


@contextlib.contextmanager
def frames_named(chart: Any) -> Iterator[dict[str, pl.DataFrame]]:
    """Within the block, every polars frame that ``chart`` (or a sub-chart) draws is replaced
    by a named dataset (``frame0``, ``frame1``…; one name per frame object), and the frames
    are given by name; the chart is put back as it was after. So ``to_dict`` builds the spec
    without turning rows into Python objects, hashing and copying them (at 1M calls, 45 ms
    of a redraw's 50 ms of ``to_dict``), and the board packs the rows in polars
    (:func:`frame_json`).

    Example:
        >>> import altair as alt
        >>> chart = alt.Chart(pl.DataFrame({"x": [1]})).mark_point()
        >>> with frames_named(chart) as frames:
        ...     chart.to_dict()["data"], list(frames)
        ({'name': 'frame0'}, ['frame0'])
        >>> type(chart.data).__name__
        'DataFrame'
    """
    frames: dict[str, pl.DataFrame] = {}
    names: dict[int, str] = {}
    swapped: list[tuple[Any, Any]] = []

    def visit(view: Any) -> None:
        data = getattr(view, "data", None)
        if isinstance(data, pl.DataFrame):
            name = names.setdefault(id(data), f"frame{len(names)}")
            frames[name] = data
            swapped.append((view, data))
            view.data = alt.NamedData(name)
        for part in _PARTS:
            for sub in getattr(view, part, None) or ():
                visit(sub)
        spec = getattr(view, "spec", None)  # facet and repeat
        if spec is not None and not isinstance(spec, str | dict):
            visit(spec)

    try:
        visit(chart)
        yield frames
    finally:
        for view, data in reversed(swapped):
            view.data = data


def frame_json(frame: pl.DataFrame) -> bytes:
    """``frame``'s rows as a JSON array of objects, written by polars, with times written as
    Altair writes them (``sanitize_narwhals_dataframe``), so the page reads the same text: a
    time as a local ISO time, with its offset when it has a zone (``…T03:00:00.000000+0000``),
    a date as local midnight; NaN and infinities are null (JSON has neither).

    Example:
        >>> from datetime import date
        >>> frame_json(pl.DataFrame({"day": [date(2026, 1, 2)], "n": [float("nan")]}))
        b'[{"day":"2026-01-02T00:00:00","n":null}]'
    """
    times = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            times.append(pl.col(name).cast(pl.Datetime).dt.strftime(_LOCAL_ISO))
        elif isinstance(dtype, pl.Datetime):
            zone = "%z" if dtype.time_zone is not None else ""
            times.append(pl.col(name).dt.strftime(f"{_LOCAL_ISO}%.f{zone}"))
    if times:
        frame = frame.with_columns(times)
    return frame.write_json().encode()


def _json_value(value: Any) -> Any:
    # As the kernel's own JSON writes a time (Altair has already written most as text).
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_bytes(rows: Any) -> bytes:
    return json.dumps(rows, separators=(",", ":"), allow_nan=False, default=_json_value).encode()


def _pack(rows: Mapping[str, bytes]) -> bytes:
    # One JSON object of datasets by name from each dataset's JSON bytes (no re-encoding).
    parts = (json.dumps(name).encode() + b":" + blob for name, blob in rows.items())
    return b"{" + b",".join(parts) + b"}"


class ChartBoard(anywidget.AnyWidget):
    """Charts by panel name in a two-column grid, updated in place; see the module.

    Example:
        >>> import altair as alt
        >>> board = ChartBoard()
        >>> chart = alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q")
        >>> board.show({"dots": chart}), board.show({"dots": chart})   # the second: unchanged
        (['dots'], [])
    """

    _esm = traitlets.Unicode().tag(sync=True)
    _css = traitlets.Unicode(CSS).tag(sync=True)
    panels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    specs = traitlets.Dict().tag(sync=True)
    #: What the page gets of :attr:`data`: per panel, its datasets as UTF-8 JSON bytes, sent
    #: as binary buffers (no JSON walk of every row in the kernel, the server or the page;
    #: the page parses a panel's rows only when its version moved).
    packed = traitlets.Dict(value_trait=traitlets.Bytes()).tag(sync=True)
    #: Per panel, the values of the params :func:`split_spec` lifted out of its spec.
    values = traitlets.Dict().tag(sync=True)
    versions = traitlets.Dict().tag(sync=True)
    generation = traitlets.Int(0).tag(sync=True)
    updating = traitlets.Bool(False).tag(sync=True)
    #: The last generation the browser drew (sent by the page).
    drawn = traitlets.Int(0).tag(sync=True)
    #: True once a page shows the board (sent by the page when it renders a view): a page
    #: will draw what is sent, so work that would take its CPU can wait for that.
    on_page = traitlets.Bool(False).tag(sync=True)
    #: The last drag across a time chart: ``start_ms``, ``end_ms`` (epoch ms) and ``n``.
    zoom = traitlets.Dict().tag(sync=True)

    def __init__(
        self, panels: tuple[str, ...] = (), *, zoom: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        super().__init__(_esm=module_js(), panels=list(panels), **kwargs)
        #: The panels a drag across zooms (:func:`for_board`'s ``zoom``).
        self.zoom_panels = frozenset(zoom)
        self._fingerprints: dict[str, str] = {}
        # The dashboard shows the fast panels from the kernel's thread and the slow ones from
        # its worker: one show at a time, or one could send the other's panels at an old version.
        self._showing = threading.Lock()

    def show(self, charts: Mapping[str, Any], *, settle: bool = True) -> list[str]:
        """Send the ``charts`` (Altair charts by panel name) whose spec or data changed, all
        in one message, and (with ``settle``) end the "updating" state; returns the names
        sent. A panel drawn apart from a redraw (the dashboard's quality panel) passes
        ``settle=False``, so it never lifts the "updating" state of a redraw under way.

        A generation is counted (:attr:`generation`) only when something changed."""
        with self._showing:
            return self._show(charts, settle)

    def _show(self, charts: Mapping[str, Any], settle: bool) -> list[str]:
        specs, values = dict(self.specs), dict(self.values)
        versions, packed = dict(self.versions), dict(self.packed)
        changed = []
        for name, chart in charts.items():
            with frames_named(chart) as frames, unchecked_parts():
                drawn = for_board(chart.to_dict(validate=False), zoom=name in self.zoom_panels)
            # Altair's datasets (named by a hash of their rows), then the frames as bytes.
            datasets = {**(drawn.get("datasets") or {}), **frames}
            blobs = {key: frame_json(frames[key]) for key in frames}
            shape = {k: v for k, v in drawn.items() if k != "datasets"}
            digest = hashlib.sha1(json.dumps([shape, list(datasets)], default=str).encode())
            for blob in blobs.values():
                digest.update(hashlib.sha1(blob).digest())
            fingerprint = digest.hexdigest()
            if self._fingerprints.get(name) == fingerprint:
                continue
            self._fingerprints[name] = fingerprint
            spec, renamed, lifted = split_spec({**drawn, "datasets": datasets})
            # split_spec names the datasets d0, d1… in order (inline rows last).
            order = [*datasets, *([None] * (len(renamed) - len(datasets)))]
            specs[name], values[name] = spec, lifted
            packed[name] = _pack(
                {
                    new: blobs[old] if old in blobs else _json_bytes(rows)
                    for old, (new, rows) in zip(order, renamed.items(), strict=True)
                }
            )
            versions[name] = versions.get(name, 0) + 1
            changed.append(name)
        with self.hold_sync():
            if changed:
                self.specs, self.values = specs, values
                self.packed = packed
                self.versions = versions
                self.panels = [*self.panels, *(n for n in charts if n not in self.panels)]
                self.generation += 1
            if settle:
                self.updating = False
        return changed

    @property
    def data(self) -> dict[str, dict[str, list[Any]]]:
        """Per panel, the rows of each of its datasets (``d0``, ``d1``…) as last sent
        (read back from :attr:`packed`: for tests, snapshots and saving, not for redraws)."""
        return {name: json.loads(blob) for name, blob in self.packed.items()}

    def panel_spec(self, name: str) -> dict[str, Any]:
        """The whole Vega-Lite spec the page draws for panel ``name`` (its spec with the
        lifted values and the rows put back), e.g. to save or embed it elsewhere.

        Example:
            >>> import altair as alt
            >>> board = ChartBoard()
            >>> _ = board.show({"dots": alt.Chart(alt.Data(values=[{"x": 1}])).mark_point()})
            >>> board.panel_spec("dots")["datasets"]
            {'d0': [{'x': 1}]}
        """
        spec, values = self.specs[name], self.values.get(name, {})
        params = [
            {**p, "value": values[p["name"]]} if p.get("name") in values else p
            for p in spec.get("params", ())
        ]
        packed = self.packed.get(name)
        whole = {**spec, "datasets": json.loads(packed) if packed else {}}
        if params:
            whole["params"] = params
        return whole

    def zoom_range(self) -> tuple[datetime, datetime] | None:
        """The last dragged time range as UTC datetimes (None before any drag)."""
        if not self.zoom:
            return None
        start, end = (self.zoom[k] / 1000 for k in ("start_ms", "end_ms"))
        return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


__all__ = ["ZOOM", "ChartBoard", "for_board", "frame_json", "frames_named", "split_spec"]
