"""Charts that render with no internet: Vega, Vega-Lite and Vega-Embed inlined into the HTML.

Altair's default renderers load Vega from a CDN (``html``) or rely on a front-end extension
(``mimetype``, ``jupyter``), so a chart goes blank offline, in an exported HTML file opened
on a plane, or in a JupyterLab without the matching Vega extension. Here every chart output is
a ``text/html`` snippet that carries the vendored libraries (``view/vendor``, gzip + base64,
~360 kB) and a loader: the first output a page runs decodes them once into ``window``; every
later output reuses them. That works the same in JupyterLab (trusted outputs run scripts), in
``jupyter nbconvert --to html`` files, on Binder, and inside an ``ipywidgets.Output``.
"""

from __future__ import annotations

import base64
import gzip
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import altair as alt

from llmobs_nb.view.escaping import html_text, script_json

VENDOR = Path(__file__).parent / "vendor"
LIBRARIES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
RENDERER = "llmobs_offline"
# The "editor" action would open the online Vega editor; offline it only leads to an error page.
EMBED_OPTIONS: dict[str, Any] = {
    "mode": "vega-lite",
    "actions": {"export": True, "source": True, "compiled": False, "editor": False},
}


@lru_cache(maxsize=1)
def bundle_js() -> str:
    """The three vendored libraries as one script that defines ``vega``, ``vegaLite``,
    ``vegaEmbed`` on ``window``.

    Each UMD file runs with ``define``/``exports``/``module`` shadowed: where a page has
    RequireJS (classic Notebook, some nbconvert templates) a UMD file would otherwise register
    an anonymous AMD module instead of a global, and Vega-Embed would not find Vega.

    Example:
        >>> "vegaEmbed" in bundle_js()
        True
    """
    parts = []
    for name in LIBRARIES:
        source = (VENDOR / name).read_text(encoding="utf-8")
        parts.append(f"(function(define, exports, module){{\n{source}\n}}).call(globalThis);")
    return "\n".join(parts)


@lru_cache(maxsize=1)
def _payload() -> str:
    # mtime=0: the same libraries give the same bytes, so re-executed notebooks do not churn.
    packed = gzip.compress(bundle_js().encode("utf-8"), mtime=0)
    return base64.b64encode(packed).decode("ascii")


def loader_js() -> str:
    """JavaScript that loads the inlined libraries once per page into ``window.__llmobsVega``
    (a promise of ``vegaEmbed``); a no-op when an earlier output already did.

    Example:
        >>> "DecompressionStream" in loader_js()
        True
    """
    return (
        "(function(){var w=window;if(w.__llmobsVega){return;}"
        f'var b64="{_payload()}";'
        "w.__llmobsVega=(async function(){"
        "var bin=atob(b64),bytes=new Uint8Array(bin.length);"
        "for(var i=0;i<bin.length;i++){bytes[i]=bin.charCodeAt(i);}"
        "var stream=new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));"
        "var code=await new Response(stream).text();"
        "var s=document.createElement('script');s.text=code;document.head.appendChild(s);"
        "return w.vegaEmbed;})();})();"
    )


def loader_html() -> str:
    """A ``<script>`` element holding :func:`loader_js`."""
    return f"<script>{loader_js()}</script>"


def _embed_js(div_id: str, spec: dict[str, Any], options: dict[str, Any]) -> str:
    # The element is found from the script itself first: JupyterLab may run the script while
    # the output is not yet attached to the document, so getElementById would miss it.
    # Outputs without the loader (dashboard panels) wait for one rendered elsewhere on the page.
    return (
        "(function(){var s=document.currentScript;"
        "var el=s&&s.previousElementSibling;"
        f"var id={script_json(div_id)};"
        "if(!el||el.id!==id){el=document.getElementById(id);}"
        f"var spec={script_json(spec)};var opt={script_json(options)};"
        + when_vega_js(
            "function(embed){return embed(el,spec,opt);}",
            "function(e){el.textContent='chart error: '+e;}",
            "el.textContent='Vega was not loaded on this page: re-run the cell.';",
        )
        + "})();"
    )


def when_vega_js(ready: str, failed: str, missing: str) -> str:
    """JavaScript that waits (up to 20 s) for the page's vendored Vega
    (``window.__llmobsVega``, see :func:`loader_js`), then calls ``ready(embed)``, and
    ``failed(error)`` if that fails; ``missing`` (statements) runs when Vega never came.
    ``ready`` and ``failed`` are JavaScript function expressions.

    Example:
        >>> when_vega_js("draw", "fail", "say();").startswith("var tries=0;function go(){")
        True
    """
    return (
        "var tries=0;function go(){if(window.__llmobsVega){"
        f"window.__llmobsVega.then({ready}).catch({failed});}}"
        "else if(tries++<400){setTimeout(go,50);}"
        f"else{{{missing}}}}}go();"
    )


def spec_html(spec: dict[str, Any], *, loader: bool = True) -> str:
    """HTML for a Vega-Lite ``spec``: a div and a script; with ``loader`` the libraries too.

    Example:
        >>> html = spec_html(alt.Chart().mark_point().to_dict())
        >>> "cdn.jsdelivr" in html
        False
    """
    div_id = f"llmobs-vis-{uuid.uuid4().hex}"
    head = loader_html() if loader else ""
    return (
        f'{head}<div id="{html_text(div_id)}" class="llmobs-chart"></div>'
        f"<script>{_embed_js(div_id, spec, EMBED_OPTIONS)}</script>"
    )


def chart_html(chart: alt.TopLevelMixin, *, loader: bool = True, validate: bool = True) -> str:
    """HTML that draws ``chart`` with no network access (see :func:`spec_html`).

    Example:
        >>> chart_html(alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q"))[:8]
        '<script>'
    """
    return spec_html(chart.to_dict(validate=validate), loader=loader)


def page_html(title: str, body: str) -> str:
    """A standalone HTML page: the libraries once in ``<head>``, then ``body``.

    Charts in ``body`` should come from :func:`chart_html` with ``loader=False``.

    Example:
        >>> page_html("report", "<p>hi</p>").startswith("<!DOCTYPE html>")
        True
    """
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_text(title)}</title>{loader_html()}</head>"
        f"<body>{body}</body></html>\n"
    )


def _render(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    return {"text/html": spec_html(spec)}


def enable(*, force: bool = False) -> None:
    """Make Altair draw every chart with the inlined libraries (renderer ``llmobs_offline``).

    Without ``force`` this only replaces Altair's ``default`` renderer: a renderer the user
    chose (``alt.renderers.enable("png")``) stays.

    Example:
        >>> enable(force=True); alt.renderers.active
        'llmobs_offline'
    """
    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, _render)
    if force or alt.renderers.active == "default":
        alt.renderers.enable(RENDERER)
