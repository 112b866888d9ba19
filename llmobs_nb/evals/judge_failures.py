"""The judge replies that gave no verdict, as a small table a person can read.

A reply the verdict parser cannot read is stored as a failed evaluation (value NULL, the
error in the score's ``comment``); the judge's own ``evaluator`` span keeps the raw reply
(when content is captured) and the reason (``llmobs.eval.error``). :func:`failed_verdicts`
puts the two side by side, one line each, to see *what* the judge said instead of a verdict.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from llmobs_nb.evals.judge import LLMJudge

# The parser's errors end with ": " and an excerpt of the reply, already shown in ``reply``.
_EXCERPT = r"(?s): ['\"].*\z"

_SQL = """
select attributes->>'llmobs.eval.span_id' as span_id,
       output_text as reply,
       attributes->>'llmobs.eval.error' as why
from spans
where kind = 'evaluator'
  and attributes->>'llmobs.eval.name' = $name
  and ($version is null or attributes->>'llmobs.eval.version' = $version)
  and attributes->>'llmobs.eval.error' is not null
order by start_time, span_id
"""


def failed_verdicts(obs: Any, judge: LLMJudge | str = "judge", *, width: int = 80) -> pl.DataFrame:
    """The replies of ``judge`` that gave no verdict: ``span_id`` (the judged call), ``reply``
    (the raw reply on one line, cut to ``width`` characters; null when content was not
    captured) and ``why`` it was not read.

    ``judge`` is an :class:`LLMJudge` (its name and version) or a judge name (every
    version). Read from the judge's ``evaluator`` spans in ``obs``'s store, oldest first, so
    the table is the same however often evaluation re-ran.

    Example:
        >>> failed = failed_verdicts(obs, judge)                       # doctest: +SKIP
        >>> failed.columns                                             # doctest: +SKIP
        ['span_id', 'reply', 'why']
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 2:
        raise ValueError(f"width must be an int >= 2, got {width!r}")
    if isinstance(judge, LLMJudge):
        name, version = judge.name, judge.version
    elif isinstance(judge, str) and judge:
        name, version = judge, None
    else:
        raise TypeError(f"judge must be an LLMJudge or a judge's name, got {judge!r}")
    flush = getattr(obs, "flush", None)
    if callable(flush):
        flush()  # the judge's spans are written in the background
    rows = obs.sql(_SQL, {"name": name, "version": version})
    flat = pl.col("reply").str.replace_all(r"\s+", " ").str.strip_chars()
    cut = flat.str.slice(0, width - 1).str.strip_chars_end() + pl.lit("…")
    return rows.select(
        "span_id",
        pl.when(flat.str.len_chars() > width).then(cut).otherwise(flat).alias("reply"),
        pl.col("why").str.replace(_EXCERPT, ""),
    )
