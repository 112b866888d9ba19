"""The calling convention of every analytics function, and the bridge from the old one.

* The data comes first and is the only positional argument — except what a function is
  *about*: ``compare_runs(calls, a, b)`` (the two runs it compares) and
  ``percentiles(calls, measure)`` (the column it measures). Everything else is keyword-only.
* ``scores=`` is always a keyword: the scores frame (defaults to the store's scores when the
  calls come from a store, an observer or an exported Parquet directory).
* ``by=`` groups: a column name or a sequence of names (a str is one column, not its
  letters); ``()`` means one row over all calls. ``top_costs`` is the one exception: its
  ``by`` is the single key it ranks (``"trace_id"``, ``"user_id"``...).
* ``where=`` narrows the calls first: an ``analytics.Filter`` or a dict of column → value.

Defaults of ``by`` follow the question: latency/TTFT percentiles and error rates describe all
calls (``()``); tokens, cost and quality drift are per model (``("model",)``), since a total
across models mixes prices and behaviours.

:func:`keyword_only` keeps calls written for the old, all-positional signatures working for
one release, with a ``DeprecationWarning`` naming the keywords to use.

Example:
    >>> @keyword_only("by", "every")
    ... def usage(calls, *, by=("model",), every=None):
    ...     return by, every
    >>> usage("calls", by="run")
    ('run', None)
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def keyword_only(*old: str) -> Callable[[F], F]:
    """Accept the parameters ``old`` (in their former positional order) positionally too,
    with a ``DeprecationWarning``; the new signature has them keyword-only.

    Example:
        >>> @keyword_only("n")
        ... def top(calls, *, n=10):
        ...     return n
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     top("calls", 3), caught[0].category.__name__
        (3, 'DeprecationWarning')
    """

    def wrap(fn: F) -> F:
        parameters = inspect.signature(fn).parameters.values()
        positional = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            extra = args[positional:]
            if extra:
                if len(extra) > len(old):
                    raise TypeError(
                        f"{fn.__name__}() takes {positional} positional arguments, "
                        f"{len(args)} were given"
                    )
                names = old[: len(extra)]
                twice = [name for name in names if name in kwargs]
                if twice:
                    raise TypeError(f"{fn.__name__}() got multiple values for {twice[0]!r}")
                keywords = ", ".join(f"{name}=" for name in names)
                warnings.warn(
                    f"{fn.__name__}(): pass {keywords} by keyword; passing "
                    f"{'it' if len(names) == 1 else 'them'} by position is deprecated and "
                    "stops working in the next release",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs.update(zip(names, extra, strict=True))
            return fn(*args[:positional], **kwargs)

        return call  # type: ignore[return-value]

    return wrap


def as_columns(by: str | Sequence[str]) -> list[str]:
    """``by`` as a list of column names: a str is one column.

    Example:
        >>> as_columns("model"), as_columns(["model", "run"]), as_columns(())
        (['model'], ['model', 'run'], [])
    """
    return [by] if isinstance(by, str) else list(by)
