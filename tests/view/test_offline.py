"""Charts carry Vega with them: no CDN, and the inlined bundle really draws a chart."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import altair as alt
import polars as pl
import pytest

import llmobs_nb.view  # noqa: F401  (registers the renderer and theme)
from llmobs_nb.view import offline, theme

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


def test_importing_the_view_makes_the_offline_renderer_and_theme_active():
    assert alt.renderers.active == offline.RENDERER
    assert alt.theme.active == theme.THEME
    bundle = CHART._repr_mimebundle_()
    assert list(bundle) == ["text/html"]


def test_a_renderer_the_user_chose_is_kept():
    alt.renderers.enable("png")
    try:
        offline.enable()
        assert alt.renderers.active == "png"
    finally:
        offline.enable(force=True)


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
