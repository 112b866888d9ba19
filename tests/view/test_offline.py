"""Charts carry Vega with them: no CDN, and the inlined bundle really draws a chart.

Importing the package changes no Altair setting: our charts display offline in the llmobs
theme by themselves, and ``enable_altair_defaults`` is the explicit switch for every chart.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import altair as alt
import polars as pl
import pytest

from llmobs_nb import demo
from llmobs_nb.view import enable_altair_defaults, error_chart, latency_chart, offline, theme

CHART = (
    alt.Chart(pl.DataFrame({"x": [1, 2, 3], "y": [3, 1, 2]})).mark_line().encode(x="x:Q", y="y:Q")
)
REMOTE_SCRIPT = re.compile(r"<script[^>]+src=[\"']?https?://", re.IGNORECASE)


def test_a_chart_output_loads_no_script_from_the_network():
    html = offline.chart_html(CHART)
    assert not REMOTE_SCRIPT.search(html)
    assert "cdn.jsdelivr" not in html
    assert offline._payload() in html


def test_the_bundle_holds_the_vendored_vega_vega_lite_and_vega_embed():
    bundle = offline.bundle_js()
    for name in offline.LIBRARIES:
        assert (offline.VENDOR / name).read_text(encoding="utf-8")[:200] in bundle
    for licence in ("LICENSE-vega.txt", "LICENSE-vega-lite.txt", "LICENSE-vega-embed.txt"):
        assert (offline.VENDOR / licence).exists()


def test_the_vendored_vega_lite_matches_altairs_schema():
    head = (offline.VENDOR / "vega-lite.min.js").read_text(encoding="utf-8")
    version = re.search(r'version\$1\s*=\s*"([\d.]+)"|"(\d+\.\d+\.\d+)"', head)
    assert version is not None
    found = version.group(1) or version.group(2)
    assert found.split(".")[:2] == alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]


@pytest.fixture
def altair_defaults() -> Iterator[None]:
    """Altair as a fresh session has it (default theme and renderer), before and after."""
    alt.renderers.enable("default")
    alt.theme.enable("default")
    yield
    alt.renderers.enable("default")
    alt.theme.enable("default")


def is_offline_html(bundle: dict) -> bool:
    html = bundle["text/html"]
    return offline._payload() in html and not REMOTE_SCRIPT.search(html)


def test_importing_the_package_changes_no_altair_setting():
    code = (
        "import altair as alt, llmobs_nb, llmobs_nb.view, llmobs_nb.magic, llmobs_nb.export; "
        "print(alt.renderers.active, alt.theme.active)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["default", "default"]


def test_our_charts_display_offline_in_our_theme_with_altairs_defaults(
    altair_defaults, sample: demo.SampleData
):
    chart = latency_chart(sample.calls)
    bundle = chart._repr_mimebundle_()
    assert list(bundle) == ["text/html"] and is_offline_html(bundle)
    assert repr(chart) in ("alt.Chart(...)", "alt.LayerChart(...)")  # what notebooks show
    config = chart.to_dict()["config"]
    assert config["font"] == theme.FONT and config["view"]["continuousWidth"] == theme.WIDTH
    # A plain Altair chart is left to Altair: its own CDN renderer, no llmobs theme.
    assert "font" not in CHART.to_dict().get("config", {})
    assert "cdn.jsdelivr" in CHART._repr_mimebundle_()["text/html"]


def test_composed_charts_stay_offline_and_themed(altair_defaults, sample: demo.SampleData):
    first, second = latency_chart(sample.calls), error_chart(sample.calls)
    for composed in (first | second, first & second, first + first.properties(title="again")):
        assert is_offline_html(composed._repr_mimebundle_())
        assert composed.to_dict()["config"]["font"] == theme.FONT


def test_a_charts_own_configuration_wins_over_the_theme(altair_defaults, sample):
    config = error_chart(sample.calls).configure_axis(labelFontSize=20).to_dict()["config"]
    assert config["axis"]["labelFontSize"] == 20
    assert config["axis"]["gridColor"] == theme.theme_config()["config"]["axis"]["gridColor"]


def test_a_theme_and_renderer_the_user_chose_are_used(altair_defaults, sample):
    alt.theme.enable("dark")
    alt.renderers.enable("json")
    chart = error_chart(sample.calls)
    assert chart.to_dict().get("config", {}).get("font") != theme.FONT
    bundle = chart._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle  # Altair's (data, metadata)
    assert "application/json" in data and "text/html" not in data


def test_enable_altair_defaults_draws_every_chart_offline_in_the_theme(altair_defaults):
    enable_altair_defaults()
    assert (alt.renderers.active, alt.theme.active) == (offline.RENDERER, theme.THEME)
    assert is_offline_html(CHART._repr_mimebundle_())
    assert CHART.to_dict()["config"]["font"] == theme.FONT


def test_a_renderer_the_user_chose_is_kept(altair_defaults):
    alt.renderers.enable("png")
    offline.enable()
    assert alt.renderers.active == "png"
    enable_altair_defaults()
    assert alt.renderers.active == "png"
    enable_altair_defaults(force=True)
    assert alt.renderers.active == offline.RENDERER


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the bundle")
def test_the_inlined_payload_compiles_and_draws_a_chart_in_javascript(tmp_path: Path):
    # The same decoding the loader does in a browser (base64 → gunzip), then Vega-Lite →
    # Vega → SVG with Vega's headless renderer: proves the payload is complete and working.
    spec = CHART.to_dict()
    script = tmp_path / "draw.js"
    script.write_text(
        f"""
        const zlib = require("zlib");
        const code = zlib.gunzipSync(Buffer.from("{offline._payload()}", "base64")).toString();
        globalThis.window = globalThis;
        (0, eval)(code);
        const vgSpec = vegaLite.compile({json.dumps(spec)}).spec;
        new vega.View(vega.parse(vgSpec), {{renderer: "none"}}).toSVG().then(svg => {{
            console.log(typeof vegaEmbed, svg.length, svg.includes("<path"));
        }});
        """,
        encoding="utf-8",
    )
    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    kind, length, has_path = done.stdout.split()
    assert kind == "function" and int(length) > 500 and has_path == "true"
