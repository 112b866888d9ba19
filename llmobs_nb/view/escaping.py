"""Escaping for everything the views write into HTML: text, attribute values, inline JSON.

Stored values — model names, span names, use cases, user ids, run names, error messages,
attributes, score comments — come from user code and from model output, so none of them may
be able to open a tag or end a ``<script>``. Every view builds its HTML through these two
helpers: :func:`html_text` for element content and attribute values, :func:`script_json` for data
inside ``<script>``.
"""

from __future__ import annotations

import html
import json
from typing import Any

# JSON text cannot hold these outside strings, so replacing them everywhere only touches
# string contents: ``</script>`` cannot end the element, ``<!--`` cannot open a comment, and
# U+2028/U+2029 (legal in JSON, line terminators in older JavaScript) cannot break the script.
_SCRIPT_UNSAFE = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def script_json(value: Any, **dumps_options: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element (and in JS code).

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\uXXXX`` escapes: the same value
    for ``JSON.parse`` and for JavaScript, but never markup. Options go to ``json.dumps``.

    Example:
        >>> script_json({"model": "</script><img src=x onerror=alert(1)>"})
        '{"model": "\\\\u003c/script\\\\u003e\\\\u003cimg src=x onerror=alert(1)\\\\u003e"}'
    """
    return json.dumps(value, **dumps_options).translate(_SCRIPT_UNSAFE)


def html_text(value: Any) -> str:
    """Any value as HTML text, safe in element content and in quoted attribute values.

    Example:
        >>> html_text('"\\'><b>x</b>')
        '&quot;&#x27;&gt;&lt;b&gt;x&lt;/b&gt;'
    """
    return html.escape(value if isinstance(value, str) else str(value), quote=True)
