"""What a failed call records about its exception, with content capture off and on.

Exception messages often echo the request (the prompt, a document, a tool argument), so with
content capture off a span keeps no free message text: only the exception's class, the HTTP
status and the provider's error code and type when the exception carries them (OpenAI's and
Anthropic's ``APIStatusError``: ``status_code``, ``code``, ``type``, ``body["error"]``; httpx and
requests errors: ``response.status_code``), each a short identifier. With content capture on it
keeps ``"Class: message"`` (cut to 2,000 characters); secrets are masked when it is written.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

MAX_MESSAGE = 2000
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def _attr(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # a property that raises
        return None


def _identifier(value: Any) -> str | None:
    """``value`` as a short code (``rate_limit_exceeded``, ``429``), or None if it is free text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _IDENTIFIER.match(value):
        return value
    return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (``status_code``, or its ``response``'s).

    Example:
        >>> class E(Exception): status_code = 429
        >>> http_status(E()), http_status(ValueError())
        (429, None)
    """
    for holder in (exc, _attr(exc, "response")):
        status = _attr(holder, "status_code")
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            return status
    return None


def error_summary(exc: BaseException) -> str:
    """The exception without its message: class, HTTP status, provider error code and type.

    Example:
        >>> class RateLimitError(Exception):
        ...     status_code, code, type = 429, "rate_limit_exceeded", "requests"
        >>> error_summary(RateLimitError("Rate limit reached for prompt 'my secret plan'"))
        'RateLimitError (HTTP 429, code=rate_limit_exceeded, type=requests)'
        >>> error_summary(ValueError("the user's text"))
        'ValueError'
    """
    parts = []
    status = http_status(exc)
    if status is not None:
        parts.append(f"HTTP {status}")
    code = _identifier(_attr(exc, "code"))
    kind = _identifier(_attr(exc, "type"))
    body = _attr(exc, "body")
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict):  # Anthropic: {"type": "error", "error": {"type": ..., ...}}
        code = code or _identifier(inner.get("code"))
        kind = kind or _identifier(inner.get("type"))
    if code is not None:
        parts.append(f"code={code}")
    if kind is not None:
        parts.append(f"type={kind}")
    name = type(exc).__name__
    return f"{name} ({', '.join(parts)})" if parts else name


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<str() of the exception failed>"


def error_description(exc: BaseException, capture_content: bool) -> str:
    """The span status description (stored as ``spans.error_message``).

    Example:
        >>> error_description(KeyError("prompt text"), False)
        'KeyError'
        >>> error_description(KeyError("prompt text"), True)
        "KeyError: 'prompt text'"
    """
    if not capture_content:
        return error_summary(exc)
    return f"{type(exc).__name__}: {_message(exc)}"[:MAX_MESSAGE]


def exception_attributes(exc: BaseException, capture_content: bool) -> dict[str, str]:
    """Attributes of the span's ``exception`` event (what an OTLP exporter sends).

    With content off: ``exception.message`` is :func:`error_summary` and
    ``exception.stacktrace`` holds the frames only (file, line, function and source line of
    each), without the message or any chained exception's message. With content on: the message
    and the full traceback. Secrets in both are masked before they leave the process.

    Example:
        >>> sorted(exception_attributes(ValueError("x"), False))
        ['exception.escaped', 'exception.message', 'exception.stacktrace', 'exception.type']
    """
    cls = type(exc)
    module = cls.__module__
    qualname = cls.__qualname__
    full_name = qualname if module in (None, "builtins") else f"{module}.{qualname}"
    if capture_content:
        message = _message(exc)[:MAX_MESSAGE]
        stack = "".join(traceback.format_exception(cls, exc, exc.__traceback__))
    else:
        message = error_summary(exc)
        frames = traceback.format_tb(exc.__traceback__) if exc.__traceback__ else []
        stack = "Traceback (most recent call last):\n" + "".join(frames) + full_name
    return {
        "exception.type": full_name,
        "exception.message": message,
        "exception.stacktrace": stack,
        "exception.escaped": "False",
    }
