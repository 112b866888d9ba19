"""Stored XSS: no stored text can become markup or script in any HTML the views write.

A real store is filled through the public API with hostile text in every field a view shows —
model names, span names, use cases, user ids, run names, providers, error types and messages,
attributes, captured content, score names, comments, sources and labels. Then the report, the
observer's and each trace's ``_repr_html_``, and the dashboard's and trace explorer's widget
HTML are (a) parsed: none of the payloads' tags or event handlers exists as markup, every
``<script>`` is one of ours, and the chart data still carries the text exactly; and (b) opened
in a real headless Chromium, offline, where ``window.__pwned`` stays undefined and no dialog
opens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.view import Dashboard, Trace, write_report
from llmobs_nb.view import table as view_table
from llmobs_nb.view.offline import page_html, spec_html

PAYLOADS = [
    "</script><img src=x onerror=window.__pwned=1;alert(1)>",
    "<svg onload=window.__pwned=2;alert(2)>",
    "\"'><b class=pwn>bold</b>",
    "<script>window.__pwned=3;alert(3)</script>",
    "x\u2028y\u2029<!--",
    "</title><iframe srcdoc='<script>parent.__pwned=4</script>'></iframe>",
    "${alert(5)}`;window.__pwned=5;//",
]
FORBIDDEN_TAGS = {"img", "svg", "iframe"}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _error_class(name: str) -> type[Exception]:
    return type(name, (Exception,), {})  # error_type is the class name


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llmobs_nb.Observer]:
    path = tmp_path_factory.mktemp("xss") / "xss.duckdb"
    prices = {p: {"input_mtok": 1.0, "output_mtok": 2.0} for p in PAYLOADS}
    obs = llmobs_nb.init(db=path, project="xss", capture_content=True, prices=prices)
    for i, payload in enumerate(PAYLOADS):
        with obs.run(payload), obs.span(payload, kind="chain", **{"app.note": payload}) as root:

            @obs.observe(
                model=payload,
                provider=payload,
                use_case=payload,
                user_id=payload,
                **{"app.tag": payload},
            )
            def ask(prompt: str, payload: str = payload, i: int = i) -> dict[str, Any]:
                return {
                    "model": payload,
                    "usage": {"prompt_tokens": 100 + i, "completion_tokens": 10},
                    "choices": [{"message": {"content": payload}, "finish_reason": payload}],
                }

            for _ in range(3):
                ask(payload)

            error = _error_class(payload)

            @obs.observe(model=payload, use_case=payload)
            def fail(payload: str = payload, error: type[Exception] = error) -> None:
                raise error(payload)

            with pytest.raises(error):
                fail()
        obs.score(
            root.span_id,
            name="quality",
            value=0.5,
            comment=payload,
            source=payload,
            label=payload,
        )
        call = obs.calls().filter(pl.col("model") == payload)["span_id"][0]
        obs.score(call, name=payload, value=0.25, comment=payload, bounds=None)
    obs.flush()
    yield obs
    obs.close()


def _documents(obs: llmobs_nb.Observer, tmp: Path) -> dict[str, str]:
    """Every HTML the views produce for this store, by name."""
    docs: dict[str, str] = {}
    report = write_report(obs, tmp / "report.html", title=PAYLOADS[5])
    docs["report"] = report.read_text(encoding="utf-8")
    docs["observer repr"] = obs._repr_html_()
    docs["table"] = view_table(obs.calls())._repr_html_()  # the notebooks' display helper
    trace_ids = obs.sql("SELECT DISTINCT trace_id FROM spans ORDER BY 1")["trace_id"].to_list()
    for trace_id in trace_ids:
        trace = Trace.load(obs, trace_id)
        docs[f"trace {trace_id}"] = trace._repr_html_()
    dashboard = Dashboard(obs).wait()
    try:
        docs["dashboard headline"] = dashboard.headline_html.value
        docs["dashboard status"] = dashboard.status.value
        docs["dashboard time"] = dashboard.time_label.value
        docs["dashboard snapshot"] = dashboard.snapshot_html()  # what an exported page shows
        for name in dashboard.board.specs:  # each panel as the page's board embeds it
            docs[f"dashboard {name}"] = spec_html(dashboard.board.panel_spec(name), loader=False)
        explorer = dashboard.explorer
        for trace_id in trace_ids[:3]:
            explorer.select(trace_id)
            docs[f"explorer {trace_id}"] = _output_html(explorer.waterfall)
            for _, span_id in explorer.spans.options:
                explorer._on_span(span_id)
                docs[f"explorer {trace_id} {span_id}"] = _output_html(explorer.detail)
    finally:
        dashboard.close()
    return docs


def _output_html(output: Any) -> str:
    return "".join(item["data"].get("text/html", "") for item in output.outputs)


class _Markup(HTMLParser):
    """Tags, attributes and script bodies as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture(scope="module")
def documents(
    hostile_store: llmobs_nb.Observer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    return _documents(hostile_store, tmp_path_factory.mktemp("xss-docs"))


def test_no_payload_becomes_markup_in_any_view(documents: dict[str, str]):
    assert len(documents) > 10
    for name, document in documents.items():
        parser = _Markup()
        parser.feed(document)
        parser.close()
        for tag, attrs in parser.tags:
            assert tag not in FORBIDDEN_TAGS, (name, tag, attrs)
            assert not any(key.startswith("on") for key in attrs), (name, tag, attrs)
            assert "pwn" not in (attrs.get("class") or ""), (name, tag, attrs)
        for script in parser.scripts:
            # Ours only: the Vega loader and the chart embeds, all immediately-run functions.
            assert script.startswith("(function(){"), (name, script[:200])
            assert "\u2028" not in script and "\u2029" not in script, name


def test_the_text_survives_escaping(documents: dict[str, str]):
    """Escaped, not dropped: chart data decodes back to the exact stored text."""
    found: set[str] = set()
    for document in documents.values():
        for spec in re.findall(r"var spec=(.*?);var opt=", document):
            found.update(_strings(json.loads(spec)))
    for payload in PAYLOADS:
        assert any(payload in text for text in found), payload
    report = documents["report"]
    assert "&lt;/title&gt;&lt;iframe" in report  # the title, escaped in <title> and <h1>


@pytest.mark.slow  # about 8 s: Chromium draws some 40 charts
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: apt-get install chromium")
def test_a_real_browser_runs_no_payload(documents: dict[str, str], tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api")
    pages = {"report": tmp_path / "report.html"}
    pages["report"].write_text(documents["report"], encoding="utf-8")
    reprs = "".join(
        f"<section>{html}</section>"
        for name, html in documents.items()
        if name == "observer repr" or name.startswith(("trace ", "dashboard ", "explorer "))
    )
    pages["reprs"] = tmp_path / "reprs.html"
    pages["reprs"].write_text(page_html("reprs", reprs), encoding="utf-8")
    dialogs: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for name, path in pages.items():
                page = browser.new_page()
                page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
                page.on("request", lambda request: requests.append(request.url))
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                page.wait_for_timeout(300)  # let any injected onerror/onload fire
                assert page.evaluate("typeof window.__pwned") == "undefined", name
                page.wait_for_function(
                    "() => document.querySelectorAll('.vega-embed svg.marks').length >= 3",
                    timeout=60_000,
                )
                state = page.evaluate(
                    "() => ({pwned: typeof window.__pwned,"
                    " injected: document.querySelectorAll("
                    "'img, iframe, .pwn, svg[onload], [onerror]').length,"
                    " errors: [...document.querySelectorAll('.llmobs-chart')]"
                    ".filter(e => e.textContent.includes('chart error')).length})"
                )
                assert state == {"pwned": "undefined", "injected": 0, "errors": 0}, (name, state)
                page.close()
        finally:
            browser.close()
    assert dialogs == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
