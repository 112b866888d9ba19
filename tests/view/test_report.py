"""The standalone report: headline figures and charts, Vega inlined, nothing from the web."""

from __future__ import annotations

import re
from pathlib import Path

import llmobs_nb
from llmobs_nb.view import observer_html, offline, write_report


def test_the_report_is_one_offline_html_file(store_file: Path, tmp_path: Path):
    written = write_report(store_file, tmp_path / "out" / "report.html")
    html = written.read_text(encoding="utf-8")
    assert written.exists() and html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=[\"']?https?://", html, re.IGNORECASE)
    assert html.count(offline._payload()) == 1  # the libraries once, not per chart
    assert html.count('class="llmobs-chart"') == 8
    assert "5,000" in html and "P95 latency" in html and "Quality drift" in html


def test_the_observer_html_says_what_is_captured_and_where(live_obs: llmobs_nb.Observer):
    html = observer_html(live_obs)
    assert "view-tests" in html and str(live_obs.db_path) in html
    assert "capturing" in html and "content capture" in html
    calls = live_obs.sql("select count(*) as n from llm_calls")["n"][0]
    assert f"{calls:,}" in html


def test_the_observer_html_of_a_closed_observer_does_not_raise(tmp_path: Path):
    obs = llmobs_nb.init(db=tmp_path / "closed.duckdb", project="gone")
    obs.close()
    assert "closed" in observer_html(obs)
