"""Text as evaluators receive it: always a valid Python string, whatever was captured."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)


def clean_text(value: Any) -> str:
    """``value`` as text safe for any library: None → "", bytes decoded with replacement,
    lone surrogates (which UTF-8 cannot encode, and tokenizers reject) replaced by "?".

    Example:
        >>> clean_text("ok \\ud800"), clean_text(b"caf\\xe9"), clean_text(None)
        ('ok ?', 'caf\\ufffd', '')
    """
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def normalize(text: str) -> str:
    """Casefolded, accents and punctuation kept apart, whitespace collapsed: for matching.

    Example:
        >>> normalize("  The  Answer:\\tParis! ")
        'the answer paris'
    """
    text = unicodedata.normalize("NFKC", clean_text(text)).casefold()
    return " ".join(_WORD.findall(text))


def tokens(text: str) -> list[str]:
    """Words of :func:`normalize`'d text, English articles dropped (as SQuAD's F1 does).

    Example:
        >>> tokens("The capital is Paris.")
        ['capital', 'is', 'paris']
    """
    return [word for word in normalize(text).split() if word not in ("a", "an", "the")]
