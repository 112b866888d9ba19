"""Old names that keep working for one release, each with a ``DeprecationWarning``.

Two kinds of move, one rule each: a module that moved (:func:`moved_module`, the old module
file becomes the new module in ``sys.modules``) and names that moved (:func:`moved_names`, a
module ``__getattr__`` that imports the new object on first use). Both warn with the new name,
so the fix is in the message. docs/design.md §2 lists what moved and when it goes.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def warn_moved(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_moved("llmobs_nb.alerts.evaluate", "llmobs_nb.export.backtest_alert_rules")
        >>> str(caught[0].message)
        'llmobs_nb.alerts.evaluate is deprecated: use llmobs_nb.export.backtest_alert_rules'
    """
    warnings.warn(f"{old} is deprecated: use {new}", DeprecationWarning, stacklevel=stacklevel)


def moved_module(old: str, new: str) -> None:
    """Make the module being imported as ``old`` the module ``new``, with a warning.

    Called as the only statement of the old module file; the import system then hands out the
    new module, so ``old`` and ``new`` are one object (patching either patches both).

    Example:
        >>> import sys, types, warnings
        >>> sys.modules["old_json_for_doctest"] = types.ModuleType("old_json_for_doctest")
        >>> with warnings.catch_warnings(record=True):
        ...     warnings.simplefilter("always")
        ...     moved_module("old_json_for_doctest", "json")
        >>> sys.modules.pop("old_json_for_doctest") is sys.modules["json"]
        True
    """
    warn_moved(old, new, stacklevel=4)
    sys.modules[old] = importlib.import_module(new)


def moved_names(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``names``: old name → ``"new.module:new_name"``.

    Each use of an old name warns and returns the object under its new name.

    Example:
        >>> import warnings
        >>> __getattr__ = moved_names("mod", {"old_dumps": "json:dumps"})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     __getattr__("old_dumps")([1])
        '[1]'
        >>> str(caught[0].message)
        'mod.old_dumps is deprecated: use json.dumps'
    """

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, new_name = target.split(":")
        warn_moved(f"{module}.{name}", f"{new_module}.{new_name}")
        return getattr(importlib.import_module(new_module), new_name)

    return __getattr__
