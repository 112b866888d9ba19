"""Prices per model and the cost of one call.

Prices come from the ``genai-prices`` package, which ships its data (no network), with the
price that applied on the day of the call. User overrides (:meth:`PriceBook.add`) win. Every
cost carries the ``price_version`` that produced it, so history can be re-priced. A model with
no known price costs ``None`` (unpriced), never a silent 0, and is warned about once.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp_types

log = logging.getLogger("llmobs_nb")

GENAI_PRICES_VERSION = genai_prices.__version__


class UnknownModelError(LookupError):
    """No price is known for a model."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens for one model, valid between two dates (None = open-ended).

    ``cached_input_mtok`` and ``cache_write_mtok`` default to the input price and
    ``reasoning_mtok`` to the output price, which is how providers bill when they list none.
    """

    model: str
    input_mtok: float
    output_mtok: float
    cached_input_mtok: float | None = None
    cache_write_mtok: float | None = None
    reasoning_mtok: float | None = None
    provider: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    version: str = ""
    source: str = "user"
    # genai-prices tiered prices (e.g. long-context rates): cost is then computed by the package.
    _tiered: Any = None

    def cost(
        self,
        input_tokens: int | None,
        output_tokens: int | None,
        cached_input_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> float | None:
        """USD for one call; ``input_tokens`` includes cached input (OTel convention).

        Example:
            >>> Price("gpt-4o", input_mtok=2.5, output_mtok=10).cost(1000, 500)
            0.0075
        """
        if input_tokens is None and output_tokens is None:
            return None
        inp = input_tokens or 0
        out = output_tokens or 0
        cached = cached_input_tokens or 0
        written = cache_write_tokens or 0
        reasoning = reasoning_tokens or 0
        if self._tiered is not None:
            usage = genai_prices.Usage(
                input_tokens=inp,
                cache_read_tokens=cached,
                cache_write_tokens=written,
                output_tokens=out,
            )
            return float(self._tiered.calc_price(usage)["total_price"])
        cached_rate = self.input_mtok if self.cached_input_mtok is None else self.cached_input_mtok
        write_rate = self.input_mtok if self.cache_write_mtok is None else self.cache_write_mtok
        reasoning_rate = self.output_mtok if self.reasoning_mtok is None else self.reasoning_mtok
        # Reasoning tokens are part of output tokens; they only change the bill at their own rate.
        total = (
            (inp - cached - written) * self.input_mtok
            + cached * cached_rate
            + written * write_rate
            + (out - reasoning) * self.output_mtok
            + reasoning * reasoning_rate
        )
        return round(total / 1_000_000, 12)

    def applies(self, at: datetime | None) -> bool:
        if at is None:
            return True
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_to is None or at < self.valid_to


def _rate(value: Any) -> tuple[float | None, bool]:
    """(base USD per Mtok, whether the price is tiered) of one genai-prices field."""
    if value is None:
        return None, False
    if isinstance(value, Decimal | int | float):
        return float(value), False
    base = getattr(value, "base", None)
    return (float(base) if base is not None else None), True


def _price_from_genai(
    provider: gp_types.Provider, model: gp_types.ModelInfo, at: datetime
) -> Price | None:
    mp = model.get_prices(at)
    fields = mp.__dict__
    input_rate, t1 = _rate(fields.get("input_mtok"))
    output_rate, t2 = _rate(fields.get("output_mtok"))
    if input_rate is None or output_rate is None:
        return None
    cached, t3 = _rate(fields.get("cache_read_mtok"))
    written, t4 = _rate(fields.get("cache_write_mtok"))
    reasoning, t5 = _rate(fields.get("output_reasoning_mtok"))
    tiered = any((t1, t2, t3, t4, t5))
    return Price(
        model=model.id,
        provider=provider.id,
        input_mtok=input_rate,
        output_mtok=output_rate,
        cached_input_mtok=cached,
        cache_write_mtok=written,
        reasoning_mtok=reasoning,
        version=f"genai-prices {GENAI_PRICES_VERSION}:{provider.id}/{model.id}",
        source="genai-prices",
        _tiered=mp if tiered else None,
    )


class PriceBook:
    """Resolves the price of a model on a date: user overrides first, then genai-prices.

    Example:
        >>> book = PriceBook()
        >>> round(book.cost("gpt-4o", input_tokens=1000, output_tokens=500)[0], 6)
        0.0075
        >>> book.add("my-finetune", input_mtok=1.0, output_mtok=2.0)
        >>> book.cost("my-finetune", input_tokens=1_000_000, output_tokens=0)[0]
        1.0
    """

    def __init__(self, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self._overrides: dict[str, list[Price]] = {}
        self._cache: dict[tuple[str, str | None, date], Price | None] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self.unpriced: set[str] = set()
        for model, spec in (overrides or {}).items():
            self.add(model, **spec)

    def add(
        self,
        model: str,
        *,
        input_mtok: float,
        output_mtok: float,
        cached_input_mtok: float | None = None,
        cache_write_mtok: float | None = None,
        reasoning_mtok: float | None = None,
        provider: str | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> None:
        """Add or override a price (USD per million tokens), optionally for a date range."""
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, got {model!r}")
        rates = {
            "input_mtok": input_mtok,
            "output_mtok": output_mtok,
            "cached_input_mtok": cached_input_mtok,
            "cache_write_mtok": cache_write_mtok,
            "reasoning_mtok": reasoning_mtok,
        }
        for name, rate in rates.items():
            if rate is not None and (not isinstance(rate, int | float) or not rate >= 0):
                raise ValueError(f"{name}={rate!r} for {model!r} must be a number ≥ 0")
        stamp = (valid_from or datetime(1970, 1, 1, tzinfo=UTC)).date().isoformat()
        price = Price(
            model=model,
            provider=provider,
            valid_from=valid_from,
            valid_to=valid_to,
            version=f"user:{model}@{stamp}",
            source="user",
            **rates,  # type: ignore[arg-type]
        )
        with self._lock:
            self._overrides.setdefault(model.lower(), []).append(price)
            self._cache.clear()
            self.unpriced.discard(model)
            self._warned.discard(model)

    def lookup(
        self, model: str, provider: str | None = None, at: datetime | None = None
    ) -> Price | None:
        """The price of ``model`` on the date of ``at`` (default now), or None if unknown."""
        at = at or datetime.now(UTC)
        key = (model, provider, at.date())
        try:
            return self._cache[key]
        except KeyError:
            pass
        price = self._resolve(model, provider, at)
        with self._lock:
            self._cache[key] = price
        return price

    def _resolve(self, model: str, provider: str | None, at: datetime) -> Price | None:
        for price in reversed(self._overrides.get(model.lower(), [])):
            if price.applies(at) and (price.provider in (None, provider) or provider is None):
                return price
        snapshot = data_snapshot.get_snapshot()
        try:
            gp_provider, gp_model = snapshot.find_provider_model(model, None, provider, None)
        except LookupError:
            if provider is None:
                return None
            try:  # a provider name genai-prices does not know: match on the model alone
                gp_provider, gp_model = snapshot.find_provider_model(model, None, None, None)
            except LookupError:
                return None
        return _price_from_genai(gp_provider, gp_model, at)

    def find(
        self, model: str, provider: str | None = None, at: datetime | None = None
    ) -> Price | None:
        """:meth:`lookup`, warning once per model when it has no known price.

        Example:
            >>> PriceBook().find("gpt-4o").input_mtok
            2.5
        """
        price = self.lookup(model, provider, at)
        if price is None:
            self._warn_unpriced(model)
        return price

    def cost(
        self,
        model: str | None,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cached_input_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        provider: str | None = None,
        at: datetime | None = None,
    ) -> tuple[float | None, str | None]:
        """(USD, price version) of one call; (None, None) when the model has no known price."""
        if not isinstance(model, str) or not model:
            return None, None
        price = self.find(model, provider, at)
        if price is None:
            return None, None
        return (
            price.cost(
                input_tokens,
                output_tokens,
                cached_input_tokens,
                cache_write_tokens,
                reasoning_tokens,
            ),
            price.version,
        )

    def _warn_unpriced(self, model: str) -> None:
        self.unpriced.add(model)
        if model in self._warned:
            return
        self._warned.add(model)
        warnings.warn(
            f"no price known for model {model!r}: its calls get cost_usd NULL. Add one with "
            f"obs.prices.add({model!r}, input_mtok=..., output_mtok=...) or pass "
            f"prices={{{model!r}: {{'input_mtok': ..., 'output_mtok': ...}}}} to init().",
            UnpricedModelWarning,
            stacklevel=2,
        )
        log.warning("unpriced model %r: cost_usd is NULL for its calls", model)


class UnpricedModelWarning(UserWarning):
    """A model has no known price; its calls are stored with cost NULL."""
