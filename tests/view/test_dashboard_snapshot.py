"""The dashboard's static snapshot: what an exported page shows where no widget manager runs."""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.view import Dashboard, panels
from llmobs_nb.view.dashboard_snapshot import SNAPSHOT_CLASS, snapshot_html
from tests.view.conftest import START

HOSTILE = "</script><img src=x onerror=window.__pwned=1>"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _packed_specs(html: str) -> dict[str, Any]:
    packed = re.search(r'var packed="([A-Za-z0-9+/=]*)"', html)
    assert packed is not None
    return json.loads(gzip.decompress(base64.b64decode(packed.group(1))))


@pytest.fixture(scope="module")
def hostile_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A dashboard over the sample plus calls of a model whose name is markup."""
    path = tmp_path_factory.mktemp("snapshot") / "hostile.duckdb"
    obs = llmobs_nb.init(
        db=path, project="snapshot", prices={HOSTILE: {"input_mtok": 1.0, "output_mtok": 2.0}}
    )
    demo.generate(1_000, days=1, seed=5, start=START, store=obs)

    @obs.observe(model=HOSTILE, use_case="quotes")
    def ask(question: str) -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 12, "completion_tokens": 3}, "text": "fine"}

    for question in "abcd":
        ask(question)
    obs.close()
    dash = Dashboard(path).wait()
    yield dash
    dash.close()


def test_the_snapshot_escapes_a_hostile_model_name_and_carries_it_as_data(
    hostile_dashboard: Dashboard,
) -> None:
    dash = hostile_dashboard
    html = dash.snapshot_html()
    parsed = _parsed(html)
    assert "img" not in parsed.tags  # the name never became markup
    assert len(parsed.scripts) == 1  # ours alone: the name did not end or open a script
    assert "&lt;/script&gt;&lt;img src=x" in html  # shown as text in the model table
    specs = _packed_specs(html)
    assert set(specs) == set(dash.board.specs)  # every panel the board drew
    models = {row.get("model") for rows in specs["cost"]["datasets"].values() for row in rows}
    assert HOSTILE in models  # the chart data keeps the name exactly

    filtered = dash.apply_filters(models=(HOSTILE,)).wait().snapshot_html()
    caption = re.search(r'<div class="caption muted">(.*?)</div>', filtered)
    assert caption is not None
    assert "models: &lt;/script&gt;&lt;img" in caption.group(1)
    assert "4 calls selected" in caption.group(1)
    assert "img" not in _parsed(filtered).tags
    dash.apply_filters()


def test_the_display_bundle_has_the_live_widget_and_the_snapshot(
    hostile_dashboard: Dashboard,
) -> None:
    dash = hostile_dashboard.wait()
    bundle = dash._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == dash.widget.model_id
    html = bundle["text/html"]
    assert SNAPSHOT_CLASS in html
    calls = f"{dash.headline['calls']:,}"
    assert f'<div class="v">{calls}</div><div class="k">calls' in html
    # The background panels were waited for: the alerts are counted and quality is drawn.
    assert '<div class="v">…</div>' not in html
    assert "quality" in _packed_specs(html)
    assert calls in bundle["text/plain"] and len(bundle["text/plain"]) < 80
    assert "://" not in html  # no URL at all: nothing to fetch (base64 has no colon)


def test_a_display_does_not_wait_for_the_background_panels_and_says_so(
    hostile_dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    slow = panels.drift_and_anomalies

    def held(*args, **kwargs):  # a background pass that takes as long as the test says
        released.wait(timeout=60)
        return slow(*args, **kwargs)

    monkeypatch.setattr(panels, "drift_and_anomalies", held)
    dash = hostile_dashboard
    try:
        dash.apply_filters(models=(HOSTILE,))
        began = time.perf_counter()
        html = dash._repr_mimebundle_()["text/html"]
        assert time.perf_counter() - began < 5  # it did not wait for the held pass
        assert "still computing (display dash.wait() for them)" in html
    finally:
        released.set()
    dash.apply_filters()
    assert "still computing" not in dash.wait()._repr_mimebundle_()["text/html"]


def test_a_panel_not_drawn_yet_says_so_and_text_is_escaped() -> None:
    html = snapshot_html(
        '<div class="cards"></div>',
        {"dots": {"mark": "point"}},
        order=("dots", 'late"><b>'),
        caption="<b>caption</b>",
    )
    assert 'data-panel="late&quot;&gt;&lt;b&gt;"' in html
    assert "not drawn yet" in html
    assert "&lt;b&gt;caption&lt;/b&gt;" in html
    assert "b" not in _parsed(html).tags
    assert _packed_specs(html) == {"dots": {"mark": "point"}}


def test_a_snapshot_is_small_next_to_its_charts_json(hostile_dashboard: Dashboard) -> None:
    dash = hostile_dashboard
    specs = {name: dash.board.panel_spec(name) for name in dash.board.specs}
    raw = len(json.dumps(specs, default=str))
    assert len(dash.snapshot_html()) < raw / 2
