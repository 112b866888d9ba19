"""Reading a named field of whatever a client returned: dicts, mappings, pydantic models, objects.

Responses from the ``openai`` and ``anthropic`` SDKs are pydantic models, where asking for a
field that is not there goes through pydantic's ``__getattr__`` and raises and catches an
``AttributeError``: about 3 µs per miss, and reading one response probes a dozen names that
are absent. Pydantic keeps declared fields in the instance ``__dict__`` and undeclared ones in
``__pydantic_extra__``, so both are looked up there directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_on_class: dict[tuple[type, str], bool] = {}

# How a class's instances are read, decided once per class.
_DICT, _PYDANTIC, _MAPPING, _PLAIN, _DATA, _OTHER = range(6)
_kinds: dict[type, int] = {dict: _DICT}


def _kind(cls: type) -> int:
    """How instances of ``cls`` are read: a dict, a pydantic model, another mapping, a plain
    object whose data attributes all live in its instance ``__dict__`` (no ``__getattr__``,
    no custom ``__getattribute__``) — a data object when its class defines no public name
    either (its ``__dict__`` then answers every public name) — or anything else
    (``getattr``)."""
    kind = _kinds.get(cls)
    if kind is None:
        if hasattr(cls, "__pydantic_fields__"):
            kind = _PYDANTIC
        elif issubclass(cls, Mapping):
            kind = _MAPPING
        elif (
            getattr(cls, "__dictoffset__", 0) != 0
            and cls.__getattribute__ is object.__getattribute__
            and not hasattr(cls, "__getattr__")
        ):
            public = any(not name.startswith("_") for name in dir(cls))
            kind = _PLAIN if public else _DATA
        else:
            kind = _OTHER
        if len(_kinds) < 4096:
            _kinds[cls] = kind
    return kind


def _class_has(cls: type, key: str) -> bool:
    """Whether ``cls`` defines ``key`` (a property or method), remembered per class and name."""
    found = _on_class.get((cls, key))
    if found is None:
        found = hasattr(cls, key)
        if len(_on_class) < 65_536:
            _on_class[(cls, key)] = found
    return found


def get_field(obj: Any, key: str) -> Any:
    """``obj[key]`` for mappings, else the attribute ``key``; None when there is none.

    A plain object's missing attribute is looked up in its ``__dict__`` (no ``AttributeError``
    raised and caught, about 1 µs each), unless its class defines the name.

    Example:
        >>> get_field({"usage": 3}, "usage"), get_field(None, "usage"), get_field("x", "usage")
        (3, None, None)
    """
    if obj is None:
        return None
    cls = type(obj)
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kind(cls)
    if kind == _DICT:
        return obj.get(key)
    if kind == _DATA and key[:1] != "_":
        return obj.__dict__.get(key)
    if kind in (_PLAIN, _DATA):
        if _class_has(cls, key):  # a property, method or class attribute: the class decides
            return getattr(obj, key, None)
        return obj.__dict__.get(key)
    if kind == _PYDANTIC:
        found = obj.__dict__.get(key)
        if found is not None:
            return found
        extra = obj.__pydantic_extra__
        if extra:
            found = extra.get(key)
            if found is not None:
                return found
        if _class_has(cls, key):  # a property or method, not a field
            return getattr(obj, key, None)
        return None
    if kind == _MAPPING:
        return obj.get(key)
    return getattr(obj, key, None)


def has_field(obj: Any, key: str) -> bool:
    """Whether ``obj`` has the key or attribute ``key`` (even if its value is None).

    Example:
        >>> has_field({"prompt_tokens": None}, "prompt_tokens"), has_field(3, "prompt_tokens")
        (True, False)
    """
    if obj is None:
        return False
    cls = type(obj)
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kind(cls)
    if kind in (_DICT, _MAPPING):
        return key in obj
    if kind in (_PLAIN, _DATA):
        return key in obj.__dict__ or _class_has(cls, key)
    if kind == _PYDANTIC:
        extra = obj.__pydantic_extra__
        return key in obj.__dict__ or bool(extra and key in extra) or _class_has(cls, key)
    return hasattr(obj, key)


def private_field(obj: Any, key: str) -> Any:
    """A private attribute such as the SDKs' ``_request_id``; None when it is not set.

    Example:
        >>> private_field(object(), "_request_id") is None
        True
    """
    cls = type(obj)
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kind(cls)
    if kind == _DICT:  # a dict has no attributes of its own
        return None
    if kind in (_PLAIN, _DATA) and not _class_has(cls, key):
        return obj.__dict__.get(key)
    if kind == _PYDANTIC:
        # The SDKs set ``_request_id`` as a plain attribute (it lands in ``__dict__``); a
        # declared private attribute lives in ``__pydantic_private__``.
        found = obj.__dict__.get(key)
        if found is None:
            private = obj.__pydantic_private__
            found = private.get(key) if private else None
        return found
    return getattr(obj, key, None)


def field_view(obj: Any) -> Any:
    """A mapping of a dict's, pydantic model's or data object's fields (read it, never
    write) that answers :func:`get_field` and :func:`has_field` of any public name as
    ``obj`` would; else ``obj``.

    Example:
        >>> field_view({"input_tokens": 3})["input_tokens"]
        3
    """
    cls = type(obj)
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kind(cls)
    if kind == _PYDANTIC:
        extra = obj.__pydantic_extra__
        return {**obj.__dict__, **extra} if extra else obj.__dict__
    if kind == _DATA:  # its class defines no public name: its __dict__ answers them all
        return obj.__dict__
    return obj
