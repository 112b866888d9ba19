"""The dashboard as a static picture, for pages where no widget manager runs.

A notebook exported to HTML (``jupyter nbconvert``, ``make demo``'s ``reports/tour.html``),
GitHub's notebook view or a JupyterLab without the widget extension cannot show the live
:class:`~llmobs_nb.view.dashboard.Dashboard`: its widget view needs a widget manager (the
html-manager of an exported page comes from a CDN). The dashboard's display therefore carries,
beside the widget view, this ``text/html`` snapshot: the headline cards, the per-model table
and every panel's chart as the board drew it.

The charts' Vega-Lite specs travel gzip-compressed and base64-encoded (about a tenth of their
JSON), so the snapshot adds little to a saved notebook; the script that draws them needs the
vendored Vega libraries somewhere on the page (:func:`llmobs_nb.view.offline.loader_html`,
which every offline chart output carries and which an exported tour gets once in its head).
The snapshot itself fetches nothing.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from llmobs_nb.view import chart_board, offline
from llmobs_nb.view.escaping import html_text, script_json
from llmobs_nb.view.html import STYLE

#: The class of a snapshot's outer element (what a test or a stylesheet looks for).
SNAPSHOT_CLASS = "llmobs-snapshot"

# Two columns as in the widget; one on a narrow page.
_CSS = (
    f"<style>{chart_board.CSS}"
    "@media (max-width:760px){.llmobs-snapshot .llmobs-board-grid{grid-template-columns:1fr}}"
    ".llmobs-snapshot .caption{margin:4px 0}</style>"
)


def pack_specs(specs: Mapping[str, dict[str, Any]]) -> str:
    """``specs`` (Vega-Lite specs by panel name) as gzip-compressed JSON in base64: text that
    is inert in HTML and in a ``<script>`` (letters, digits, ``+/=``), decoded in the page.

    Example:
        >>> packed = pack_specs({"dots": {"mark": "point"}})
        >>> json.loads(gzip.decompress(base64.b64decode(packed)))
        {'dots': {'mark': 'point'}}
    """
    text = json.dumps(dict(specs), separators=(",", ":"), default=str)
    # mtime=0: the same charts give the same bytes, so re-executed notebooks do not churn.
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def _draw_js(root_id: str, packed: str) -> str:
    # The root is found from the script first (JupyterLab may run it before the output is in
    # the document); Vega comes from the page's offline loader, waited for as offline.py does.
    return (
        "(function(){var s=document.currentScript;var root=s&&s.parentNode;"
        f"var id={script_json(root_id)};"
        "if(!root||root.id!==id){root=document.getElementById(id);}"
        f'var packed="{packed}";var opt={script_json(offline.EMBED_OPTIONS)};'
        "function each(f){root.querySelectorAll('[data-panel] .llmobs-snapshot-chart')"
        ".forEach(function(el){f(el,el.parentNode.getAttribute('data-panel'));});}"
        "function unpack(){var bin=atob(packed),bytes=new Uint8Array(bin.length);"
        "for(var i=0;i<bin.length;i++){bytes[i]=bin.charCodeAt(i);}"
        "var stream=new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));"
        "return new Response(stream).text().then(JSON.parse);}"
        "function draw(embed){return unpack().then(function(specs){"
        "each(function(el,name){if(specs[name]){embed(el,specs[name],opt)"
        ".catch(function(e){el.textContent='chart error: '+e;});}});});}"
        + offline.when_vega_js(
            "draw",
            "function(e){each(function(el){el.textContent='chart error: '+e;});}",
            "each(function(el){el.textContent="
            "'Vega is not loaded on this page: the charts need an offline chart output above.';"
            "});",
        )
        + "})();"
    )


def snapshot_html(
    cards: str,
    specs: Mapping[str, dict[str, Any]],
    *,
    order: Sequence[str] = (),
    table: str = "",
    caption: str = "",
) -> str:
    """A static dashboard: ``caption`` (plain text, escaped here), the headline ``cards`` and
    the per-model ``table`` (HTML already escaped: :func:`~llmobs_nb.view.html.cards_html`,
    :func:`~llmobs_nb.view.panels.model_table_html`), then one chart per panel in ``order``
    (``specs``' own order when empty) in the board's two-column grid. A panel without a spec
    says it was not drawn yet. See the module for what the page needs to draw the charts.

    Example:
        >>> html = snapshot_html('<div class="cards"></div>', {"dots": {"mark": "point"}},
        ...                      caption="<b>not bold</b>")
        >>> 'data-panel="dots"' in html, "&lt;b&gt;not bold" in html, "<b>" in html
        (True, True, False)
    """
    root_id = f"llmobs-snapshot-{uuid.uuid4().hex}"
    slots = []
    for name in order or tuple(specs):
        inner = (
            '<div class="llmobs-snapshot-chart"></div>'
            if name in specs
            else '<p class="llmobs-board-note">not drawn yet when this snapshot was taken</p>'
        )
        slots.append(
            f'<div class="llmobs-board-panel" data-panel="{html_text(name)}">{inner}</div>'
        )
    drawn = {name: spec for name, spec in specs.items() if name in (order or specs)}
    return (
        f'<div class="{SNAPSHOT_CLASS}" id="{html_text(root_id)}">{STYLE}{_CSS}'
        f'<div class="llmobs"><div class="caption muted">{html_text(caption)}</div>'
        f"{cards}{table}</div>"
        f'<div class="llmobs-board"><div class="llmobs-board-grid">{"".join(slots)}</div></div>'
        f"<script>{_draw_js(root_id, pack_specs(drawn))}</script></div>"
    )


__all__ = ["SNAPSHOT_CLASS", "pack_specs", "snapshot_html"]
