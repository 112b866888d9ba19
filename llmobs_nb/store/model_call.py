"""What a model call is, as one rule: a span of kind ``llm`` or ``embedding``, or an
``evaluator`` span that names a model (an LLM judge's own call). See :mod:`llmobs_nb.store.schema`.

Its own module, importing nothing heavy at load, so the OTLP export's child process can ask it
without loading polars (its renderings import what they render with).

Example:
    >>> is_model_call("evaluator", "gpt-4o"), is_model_call("evaluator", None)
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa


@dataclass(frozen=True)
class ModelCallRule:
    """Whether a span is a model call, from its ``kind`` and ``model`` — one rule, rendered
    for each place that asks: Python values, a polars expression, an Arrow mask, SQL.

    Spans of ``always`` kinds are model calls; spans of ``with_model`` kinds are when their
    model is not NULL. The module's instance is :data:`is_model_call`.

    Example:
        >>> is_model_call("llm", None), is_model_call("chain", "gpt-4o")
        (True, False)
        >>> is_model_call.sql()
        "kind IN ('llm', 'embedding') OR (kind = 'evaluator' AND model IS NOT NULL)"
        >>> import polars as pl
        >>> frame = pl.DataFrame({"kind": ["llm", "evaluator", "evaluator"],
        ...                       "model": [None, "gpt-4o", None]})
        >>> frame.filter(is_model_call.polars()).height
        2
    """

    always: tuple[str, ...] = ("llm", "embedding")
    with_model: str = "evaluator"

    def __call__(self, kind: Any, model: Any) -> bool:
        """The rule on one span's values."""
        if kind in self.always:
            return True
        return kind == self.with_model and model is not None

    def polars(self, kind: str = "kind", model: str = "model") -> pl.Expr:
        """A boolean polars expression over columns ``kind`` and ``model``."""
        import polars as pl

        return pl.col(kind).is_in(self.always) | (
            (pl.col(kind) == self.with_model) & pl.col(model).is_not_null()
        )

    def arrow(self, table: pa.Table, kind: str = "kind", model: str = "model") -> Any:
        """A boolean Arrow mask over ``table``'s rows (for ``table.filter``), computed with
        Arrow kernels only: usable where polars is not (a forked child)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        kinds = table[kind]
        return pc.or_kleene(
            pc.is_in(kinds, pa.array(self.always, type=kinds.type)),
            pc.and_kleene(pc.equal(kinds, self.with_model), pc.is_valid(table[model])),
        )

    def sql(self, kind: str = "kind", model: str = "model") -> str:
        """A SQL condition over columns ``kind`` and ``model`` (DuckDB, ClickHouse)."""
        kinds = ", ".join(f"'{k}'" for k in self.always)
        return f"{kind} IN ({kinds}) OR ({kind} = '{self.with_model}' AND {model} IS NOT NULL)"


is_model_call = ModelCallRule()
"""The rule: ``is_model_call(kind, model)``, ``.polars()``, ``.arrow(table)``, ``.sql()``."""


is_model_call = ModelCallRule()
"""The rule: ``is_model_call(kind, model)``, ``.polars()``, ``.arrow(table)``, ``.sql()``."""
